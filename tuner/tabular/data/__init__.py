"""The data layer: CSV/LIBSVM → TFRecord data sets with a schema, and the tf.data reader.

Kept import-free on purpose: the CLI imports submodules lazily so that bad input is
reported without paying for TensorFlow.
"""
