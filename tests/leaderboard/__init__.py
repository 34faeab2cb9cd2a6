"""Tests of the live leaderboard."""
