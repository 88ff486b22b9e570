"""The sweep's Optuna study, its single source of truth: the storage and its journal,
the one-driver lock, and the queries over it (ranking, leaderboard, status, best)."""
