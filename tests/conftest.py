"""Settings for the whole test suite, applied before any test imports Qt or TensorFlow."""

from __future__ import annotations

import os

# GUI tests run headless (Qt's offscreen platform) unless the caller chose a platform.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# TensorFlow's C++ start-up messages bury the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    from hypothesis import settings
except ImportError:  # hypothesis comes with the "test" extra; plain pytest still runs
    pass
else:
    # CI machines are small and shared: a slow example there is not a failure.
    settings.register_profile("ci", deadline=None, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")
