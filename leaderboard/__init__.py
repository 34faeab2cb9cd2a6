"""The live leaderboard: tallies cached in Redis, fanned out to viewers."""
