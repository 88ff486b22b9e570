"""The built-in tabular objective and everything TensorFlow: the TFRecord data layer,
the Keras models and their training, export and serving, the GPU and runtime settings.
Nothing outside this package imports TensorFlow."""
