"""The `tune` command: parse the command line, call the library, map its errors to exit
codes. No logic of its own lives here."""
