"""Contests and their candidates."""
