"""The space in Optuna's terms: distributions, suggestions, samplers and pruners."""
