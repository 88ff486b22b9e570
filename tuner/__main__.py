"""`python -m tuner` is the same command as `tune`, and survives Ray's `tune` script."""

from tuner.cli.app import main

if __name__ == "__main__":
    main()
