"""A user's own training program as a sweep's objective, tuned as it is: run with each
trial's params as command-line flags, its metrics read as it runs (its output lines,
the TensorBoard event files it writes, or `tuner.report`), stopped when pruned.

`spec` (what a space file's `objective: {command: …}` says, checked before anything
runs), `command` (a trial's argv), `lines` / `events` / `channel` (the three routes of
its metrics), `collect` (one epoch stream out of them), `runner` (the process's life:
the objective function the engine runs like any other).
"""
