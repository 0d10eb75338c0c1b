"""Training backends: the NumPy reference backend and the TensorFlow backend."""
