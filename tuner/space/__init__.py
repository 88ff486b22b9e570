"""The space file: its YAML with line numbers, its data model (`SweepSpec`), and its
checks, which run before any trial starts."""
