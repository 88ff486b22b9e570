"""The tabular objective's Keras side: config, preprocessing layers, models, optimizers,
the training loop, export and prediction. Importing `tuner.tabular.model.config` is cheap; the
other modules import TensorFlow."""
