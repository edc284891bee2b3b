"""Published Matbench leaderboard numbers, committed as data (see the CSV header)."""
