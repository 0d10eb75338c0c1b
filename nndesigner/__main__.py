"""``python -m nndesigner [PROJECT | COMMAND ...]``: what the ``nndesigner`` command does."""

from __future__ import annotations

import sys

from nndesigner.launcher import main

if __name__ == "__main__":
    sys.exit(main())
