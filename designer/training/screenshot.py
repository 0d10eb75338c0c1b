"""Train a project in a window offscreen and save a screenshot of it with the live views.

``python -m designer.training.screenshot PROJECT OUT.png [--epochs N] [--size 1600x1000]``
(also what the docs' training screenshots are made with). The window is a stand-in main
window (the document and the canvas) with :func:`attach_training`; the real main window makes
the same call.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow

from designer.theme import offscreen_app


class TrainingHost(QMainWindow):
    """A document and its canvas: the parts of the main window training attaches to."""

    def __init__(self, project) -> None:
        super().__init__()
        from designer.canvas.view import NetworkView
        from designer.document import Document

        self.document = Document(project)
        self.canvas = NetworkView(self.document)
        self.setCentralWidget(self.canvas)
        self.setWindowTitle(f"NN Designer — {project.name}")


def train_and_screenshot(
    project_path,
    out_png,
    epochs: int = 20,
    size: tuple[int, int] = (1600, 1000),
    raise_docks: tuple[str, ...] = (),
    keep_open: bool = False,
    timeout_s: float = 600.0,
    edit=None,
):
    """Open ``project_path``, train ``epochs`` epochs live, render every view and save the
    window to ``out_png``. ``raise_docks``: dock keys to bring to the front first (``"tiles"``,
    ``"layers"``...); ``edit``: an optional ``fn(spec) -> spec`` applied as a document edit
    before training. Returns ``(window, controller)`` with ``keep_open`` (the caller closes
    them), else None. Raises RuntimeError when training fails."""
    from designer.training import attach_training
    from engine.project import load_project

    app = offscreen_app(None)
    window = TrainingHost(load_project(project_path))
    if edit is not None:
        window.document.edit("Prepare the screenshot", edit)
    ctrl = attach_training(window)
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(*size)
    window.show()
    app.processEvents()
    ctrl.train_blocking(epochs, timeout_s)
    if ctrl.errors:
        ctrl.shutdown()
        window.document.set_clean()
        window.close()
        raise RuntimeError(ctrl.errors[-1])
    for key in raise_docks:
        ctrl.docks[key].raise_()
    app.processEvents()
    ctrl.render_views(all_views=True)
    for view in ctrl.views():
        if view.isVisible():
            view.refresh(force=True)
    app.processEvents()
    image = window.grab().toImage()
    if (image.width(), image.height()) != tuple(size):
        image = image.scaled(*size, Qt.AspectRatioMode.IgnoreAspectRatio)
    if not image.save(str(out_png), "PNG"):
        raise OSError(f"could not write the screenshot to {out_png}")
    if keep_open:
        return window, ctrl
    ctrl.shutdown()
    window.document.set_clean()
    window.close()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m designer.training.screenshot")
    ap.add_argument("project")
    ap.add_argument("output")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--size", default="1600x1000")
    ap.add_argument("--raise", dest="raise_docks", default="", help="comma-separated dock keys")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    w, h = (int(v) for v in args.size.lower().split("x"))
    docks = tuple(k for k in args.raise_docks.split(",") if k)
    train_and_screenshot(Path(args.project), Path(args.output), args.epochs, (w, h), docks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
