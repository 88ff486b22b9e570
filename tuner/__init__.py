"""tuner: hyperparameter sweeps for TensorFlow models.

Importing the package must stay cheap (no TensorFlow, Ray or MLflow): the CLI's help
and bad-input errors are promised to return in well under a second.
"""

__version__ = "0.1.0"
