"""The application entry point and, until the real designer window lands, a minimal main window.

The window shows what the engine knows about the project: its summary table (layer, class,
output shape, parameters, FLOPs) with totals, and a status line. Nothing here imports
TensorFlow: building the summary needs only the engine's shape inference.
"""

from __future__ import annotations

import sys
from os import PathLike
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QMainWindow,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from engine.errors import NNDError

APP_NAME = "NN Designer"
RESOURCES_DIR = Path(__file__).resolve().parents[1] / "resources"
SEED_PROJECT_PATH = RESOURCES_DIR / "examples" / "seed_mlp.json"

SUMMARY_HEADERS = ("Layer", "Class", "Output shape", "Params", "FLOPs")
_NUMERIC_COLUMNS = (3, 4)


def format_shape(shape: tuple[int | None, ...]) -> str:
    """Keras' notation for an output shape: the batch dimension shows as ``None``."""
    return "(" + ", ".join(str(d) for d in (None, *shape)) + ")"


class SummaryPanel(QTableWidget):
    """The model summary as a read-only table: one row per layer, then a totals row."""

    def __init__(self, graph, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(SUMMARY_HEADERS))
        self.setHorizontalHeaderLabels(SUMMARY_HEADERS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.show_graph(graph)

    def show_graph(self, graph) -> None:
        rows = graph.summary()
        self.setRowCount(len(rows) + 1)
        for r, row in enumerate(rows):
            cells = (
                row.name,
                row.class_name,
                format_shape(row.output_shape),
                row.params,
                row.flops,
            )
            for c, value in enumerate(cells):
                self.setItem(r, c, self._item(value, c))
        total = len(rows)
        totals = ("Total", "", "", graph.total_params, graph.total_flops)
        bold = QFont()
        bold.setBold(True)
        for c, value in enumerate(totals):
            item = self._item(value, c)
            item.setFont(bold)
            self.setItem(total, c, item)

    @staticmethod
    def _item(value: str | int, column: int) -> QTableWidgetItem:
        if isinstance(value, int):
            item = QTableWidgetItem(f"{value:,}")
            # The raw number, for sorting and for tests that compare with the engine.
            item.setData(Qt.ItemDataRole.UserRole, value)
        else:
            item = QTableWidgetItem(value)
        if column in _NUMERIC_COLUMNS:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        return item


class MainWindow(QMainWindow):
    """The main window for one project: its summary table and a status line."""

    def __init__(self, project, graph, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.graph = graph
        self.setWindowTitle(f"{APP_NAME} — {project.name}")
        self.summary_panel = SummaryPanel(graph, self)
        self.setCentralWidget(self.summary_panel)
        rows = graph.summary()
        path = getattr(project, "path", None)
        source = path.name if path else "built-in seed project"
        self.status_text = (
            f"{len(rows)} layers · {graph.total_params:,} parameters · "
            f"{graph.total_flops:,} FLOPs per sample · {source}"
        )
        self.statusBar().showMessage(self.status_text)
        self.resize(1000, 640)

    def show_training(self, trainer) -> None:
        """Add the last epoch's metrics (or the error that stopped training) to the status."""
        last = ", ".join(
            f"{key} {values[-1]:.4g}" for key, values in trainer.history.items() if values
        )
        text = f"{self.status_text} · after {trainer.epochs_done} epochs: {last or 'no metrics'}"
        if trainer.error is not None:
            text += f" · {trainer.error}"
        self.statusBar().showMessage(text)


def open_project(project_path: str | PathLike | None = None):
    """Load ``project_path`` (default: the seed project) and build its graph.

    Raises
    ------
    NNDError
        When the file cannot be read or describes an invalid network.
    """
    from engine.graph import build_graph
    from engine.project import load_project, seed_project

    project = load_project(project_path) if project_path is not None else seed_project()
    return project, build_graph(project)


def create_window(project_path: str | PathLike | None = None) -> MainWindow:
    """A main window for ``project_path``; needs a QApplication. Raises :class:`NNDError`."""
    project, graph = open_project(project_path)
    return MainWindow(project, graph)


def _application(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv)
    app.setApplicationName(APP_NAME)
    return app


def main(project_path: str | None = None) -> int:
    """Run the designer on ``project_path`` (default: the seed project); the exit status."""
    app = _application(sys.argv[:1])
    try:
        window = create_window(project_path)
    except NNDError as exc:
        QMessageBox.critical(None, APP_NAME, f"Could not open the project.\n\n{exc}")
        return 2
    window.show()
    return app.exec()


def screenshot(
    project_path: str | PathLike | None,
    out_png: str | PathLike,
    size: tuple[int, int] = (1600, 1000),
    train_epochs: int = 0,
) -> None:
    """Render the window for ``project_path`` offscreen to a PNG of exactly ``size`` pixels.

    With ``train_epochs`` > 0 the project is first trained that many epochs (on its own
    backend) and the status line shows the last epoch's metrics. Creates an offscreen
    QApplication when none exists. Raises :class:`NNDError` when the project cannot be opened
    or trained and :class:`OSError` when the PNG cannot be written.
    """
    # "-platform offscreen" only applies to an application created here; an existing one
    # (a test's, say) keeps its platform.
    _application([APP_NAME, "-platform", "offscreen"])
    window = create_window(project_path)
    if train_epochs > 0:
        from engine.training import train_project

        _model, trainer = train_project(window.project, epochs=train_epochs)
        window.show_training(trainer)
    try:
        width, height = size
        # Laid out and painted like a shown window, without appearing on any screen.
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.resize(width, height)
        window.show()
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
        window.close()
