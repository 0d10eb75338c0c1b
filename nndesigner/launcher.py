"""``nndesigner [PROJECT]`` opens the app; ``nndesigner COMMAND ...`` runs a subcommand.

The console script's dispatch lives here, above both packages, so that the arrows point one
way: this module imports ``designer`` (only to open the window or draw it for ``screenshot``)
and ``engine.cli`` (everything else); ``engine`` never imports ``designer``. The headless
subcommands import neither Qt nor the designer.
"""

from __future__ import annotations

import sys
from os import PathLike

from engine.cli import SUBCOMMANDS
from engine.cli import main as cli_main


def opens_the_app(argv: list[str]) -> bool:
    """Whether ``argv`` (the arguments after the program name) asks for the window: nothing,
    or a single argument that is neither a subcommand nor an option (a project to open; an
    option such as ``--version`` or ``--help`` is the command line's)."""
    return not argv or (
        len(argv) == 1 and argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")
    )


def render_window(
    project_path: str | PathLike | None,
    out_png: str | PathLike,
    size: tuple[int, int],
    train_epochs: int = 0,
) -> None:
    """Draw the main window to a PNG for ``nndesigner screenshot`` (see
    :func:`designer.app.screenshot`); Qt is imported only now."""
    from designer.app import screenshot

    screenshot(project_path, out_png, size, train_epochs=train_epochs)


def main(argv: list[str] | None = None) -> int:
    """The ``nndesigner`` command; its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if opens_the_app(argv):
        from designer.app import main as app_main

        return app_main(argv[0] if argv else None)
    return cli_main(argv, render_window=render_window)
