"""Fixtures shared by the engine tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tf_ready():
    """Skip the test when TensorFlow cannot be used; else the sentence saying what it runs on."""
    from engine.backends.tensorflow import tensorflow_available

    ok, message = tensorflow_available()
    if not ok:
        pytest.skip(message)
    return message
