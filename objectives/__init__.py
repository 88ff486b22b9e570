"""Trial functions: each receives a config, a `report(epoch, metrics)` and a checkpoint folder.

The TensorFlow objective (`objectives.tabular`) arrives with `tune train`.
"""
