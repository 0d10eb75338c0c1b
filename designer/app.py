"""The application entry points: :func:`main` (the designer window) and :func:`screenshot`.

Nothing here imports TensorFlow: the window needs only the engine's shape inference, and the
TensorFlow backend and Keras export import it when they are used.

``NNDESIGNER_STARTUP_PROBE=<time.time() at launch>`` makes :func:`main` print
``startup_s=<seconds>`` when the window first paints, then quit (the start-up benchmark).
"""

from __future__ import annotations

import os
import sys
import time
from os import PathLike
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from designer.settings import APPLICATION, ORGANIZATION

APP_NAME = "NN Designer"
RESOURCES_DIR = Path(__file__).resolve().parents[1] / "resources"
SEED_PROJECT_PATH = RESOURCES_DIR / "examples" / "seed_mlp.json"
STARTUP_PROBE_ENV = "NNDESIGNER_STARTUP_PROBE"
THEME_ENV = "NNDESIGNER_THEME"


def create_application(argv: list[str]) -> QApplication:
    """The QApplication (the existing one if any), named, crisp on fractional-DPI screens and
    with a readable base font."""
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (125 %, 150 %) render at their true size instead of rounded.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName("nndesigner")
    from designer.theme import ensure_readable_font

    ensure_readable_font(app)
    from designer.gc_policy import collect_on_ui_thread

    collect_on_ui_thread()
    return app


def create_window(project_path: str | PathLike | None = None, **options):
    """A main window for ``project_path`` (default: the seed project); needs a QApplication.

    ``options`` go to :class:`~designer.main_window.MainWindow` (settings, recovery_dir,
    autosave_ms). Raises :class:`~engine.errors.NNDError` when the file cannot be read.
    """
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine.project import load_project

    project = load_project(project_path) if project_path is not None else None
    return MainWindow(Document(project), **options)


class _StartupProbe(QObject):
    """Prints the seconds from ``t0`` to the first paint of ``widget``, then quits."""

    def __init__(self, widget, t0: float) -> None:
        super().__init__(widget)
        self.t0 = t0
        self.done = False
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # Qt override
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            # Reported once this paint has finished.
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        print(f"startup_s={time.time() - self.t0:.3f}", flush=True)
        QApplication.instance().quit()


def main(project_path: str | None = None) -> int:
    """Run the designer on ``project_path`` (default: the seed project); the exit status.

    A file that cannot be opened is reported in a dialog and the window opens on the seed
    project instead. After a crash the window first offers to recover the autosave.
    """
    app = create_application(sys.argv[:1])
    from designer.document import Document
    from designer.main_window import MainWindow
    from designer.recovery import default_recovery_dir
    from designer.settings import add_recent_file, app_settings, theme_mode
    from designer.theme import apply_theme
    from engine.errors import NNDError
    from engine.project import load_project

    settings = app_settings()
    apply_theme(app, os.environ.get(THEME_ENV) or theme_mode(settings))
    error = None
    project = None
    if project_path is not None:
        try:
            project = load_project(project_path)
        except NNDError as exc:
            error = exc
    window = MainWindow(Document(project), settings=settings, recovery_dir=default_recovery_dir())
    if project is not None:
        add_recent_file(settings, project.path)
    probe = os.environ.get(STARTUP_PROBE_ENV)
    if probe:
        _StartupProbe(window.canvas.viewport(), float(probe))
    window.show()
    if not probe:

        def after_show() -> None:
            if error is not None:
                window.show_open_error(error)
            window.offer_recovery()

        QTimer.singleShot(0, after_show)
    rc = app.exec()
    if window.recovery is not None:
        window.recovery.close(remove_file=not window.document.dirty)
    _dispose(app, window)
    return rc


def _dispose(app: QApplication, window) -> None:
    """Hide and delete ``window``, leaving no quit request behind.

    Closing the last window posts a Quit event; one still queued when the event loop has
    ended would be delivered by the next ``processEvents`` and make every later event loop
    return at once (in a test session, or a host application that goes on after us)."""
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    try:
        window.hide()
        window.deleteLater()
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    finally:
        app.setQuitOnLastWindowClosed(quit_on_close)
    QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)


def screenshot(
    project_path: str | PathLike | None,
    out_png: str | PathLike,
    size: tuple[int, int] = (1600, 1000),
    train_epochs: int = 0,
) -> None:
    """Render the main window for ``project_path`` offscreen to a PNG of exactly ``size``.

    With ``train_epochs`` > 0 the project is first trained that many epochs (headless, on its
    own backend) and the status bar shows the last epoch's metrics. The theme is light, or
    ``$NNDESIGNER_THEME`` (light/dark). Creates an offscreen QApplication when none exists;
    an existing application gets its style and palette back afterwards. Raises
    :class:`~engine.errors.NNDError` when the project cannot be opened or trained and
    :class:`OSError` when the PNG cannot be written.
    """
    from engine.cli import SCREENSHOT_SIDE
    from engine.errors import NNDError

    lo, hi = SCREENSHOT_SIDE
    if not all(isinstance(v, int) and lo <= v <= hi for v in size):
        # Qt aborts on a 0x0 window and runs out of memory on a 100000x100000 image.
        raise NNDError(f"a screenshot's sides must be from {lo} to {hi} pixels, got {size}")
    # "-platform offscreen" only applies to an application created here; an existing one
    # (a test's, say) keeps its platform.
    app = create_application([APP_NAME, "-platform", "offscreen"])
    from designer.theme import apply_theme, restore_state, save_state

    saved_theme = save_state(app)
    apply_theme(app, os.environ.get(THEME_ENV) or "light")
    window = None
    try:
        window = create_window(project_path)
        width, height = size
        # Laid out and painted like a shown window, without appearing on any screen.
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.resize(width, height)
        window.show()
        window.apply_default_sizes()
        if train_epochs > 0:
            # Trained in the window itself, so the live views show the run.
            ctl = window.training
            if not ctl.train_blocking(train_epochs) and ctl.errors:
                from engine.errors import NNDError

                raise NNDError(ctl.errors[-1])
        QApplication.processEvents()
        window.canvas.fit_all()
        QApplication.processEvents()
        image = window.grab().toImage()
        if (image.width(), image.height()) != (width, height):  # a high-DPI screen
            image = image.scaled(
                width,
                height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        if not image.save(str(out_png), "PNG"):
            raise OSError(f"could not write the screenshot to {out_png}")
    finally:
        if window is not None:
            window.document.set_clean()  # nothing to ask: the file is untouched
            window.close()
            _dispose(app, window)
        restore_state(app, saved_theme)
