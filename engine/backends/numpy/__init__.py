"""The NumPy reference backend: losses, optimizers and a steppable model in pure NumPy."""
