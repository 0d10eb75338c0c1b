"""The seed document's code, for tests that compare NN Designer with it."""

from __future__ import annotations

import numpy as np


class SeedPerceptron:
    """The seed document's Perceptron, verbatim."""

    def __init__(self, learning_rate=0.01, n_iterations=1000):
        self.learning_rate = learning_rate
        self.n_iterations = n_iterations

    def fit(self, X, y):
        self.weights = np.zeros(1 + X.shape[1])
        for _ in range(self.n_iterations):
            for xi, target in zip(X, y):  # noqa: B905 (the seed, verbatim)
                update = self.learning_rate * (target - self.predict(xi))
                self.weights[1:] += update * xi
                self.weights[0] += update

    def net_input(self, X):
        return np.dot(X, self.weights[1:]) + self.weights[0]

    def predict(self, X):
        return np.where(self.net_input(X) >= 0.0, 1, -1)
