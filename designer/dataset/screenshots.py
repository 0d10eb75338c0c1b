"""The README's Dataset-panel screenshots, rendered offscreen.

``python -m designer.dataset.screenshots docs`` writes

- ``dataset_table.png``: the iris table as a CSV file: the panel with its first rows, beside
  the class balance and the scatter of two chosen features;
- ``dataset_error.png``: the same CSV with one broken cell: the message naming the row and the
  column, the cell highlighted, the project keeping its data;
- ``own_data_training.png``: the whole main window after the CSV was opened, the network
  matched to it and trained: the decision boundary on two chosen features of four (the
  others held at their means).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from designer.theme import offscreen_app

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
PANEL_SIZE = (500, 1060)


def _wait(app: QApplication, condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the data did not load")
        app.processEvents()
        time.sleep(0.005)
    for _ in range(3):
        app.processEvents()


def write_iris_csv(path: Path, broken: tuple[int, int, str] | None = None) -> Path:
    """scikit-learn's iris as a spreadsheet would export it; ``broken=(row, column, text)``
    puts ``text`` into one data row (0-based) and column."""
    from engine.data import load_dataset

    ds = load_dataset({"name": "iris"})
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in ds.feature_names]
    lines = [",".join([*names, "species"])]
    for i, (x, y) in enumerate(zip(ds.x, ds.y, strict=True)):
        cells = [f"{v:.1f}" for v in x] + [ds.class_names[int(y)]]
        if broken is not None and broken[0] == i:
            cells[broken[1]] = broken[2]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _panel(doc, size: tuple[int, int] = PANEL_SIZE):
    from designer.dataset.panel import DatasetPanel

    panel = DatasetPanel(doc)
    panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    panel.resize(*size)
    panel.show()
    return panel


def _compose(left: QImage, right: list[QImage], path: Path) -> None:
    """``left`` beside the ``right`` images stacked."""
    gap = 8
    width = left.width() + gap + max(i.width() for i in right)
    height = max(left.height(), sum(i.height() for i in right) + gap * (len(right) - 1))
    out = QImage(width, height, QImage.Format.Format_ARGB32)
    out.fill(QColor("#d4d4d8"))
    painter = QPainter(out)
    painter.drawImage(QPoint(0, 0), left)
    y = 0
    for image in right:
        painter.drawImage(QPoint(left.width() + gap, y), image)
        y += image.height() + gap
    painter.end()
    out.save(str(path), "PNG")


def render_docs(out_dir: str | Path) -> list[Path]:
    """Render the screenshots into ``out_dir``; returns their paths."""
    from designer.document import Document
    from engine.project import load_project, save_project

    app = offscreen_app()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # A fixed folder: the error message shows the file's path.
    folder = Path(tempfile.gettempdir()) / "flowers"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    try:
        project_file = folder / "flowers.json"
        project = load_project(RESOURCES / "examples" / "xor.json")
        project.data["name"] = "Flowers"
        save_project(project, project_file)
        csv_path = write_iris_csv(folder / "data" / "iris.csv")

        # --- the table, the class balance, the scatter
        doc = Document(load_project(project_file))
        panel = _panel(doc)
        _wait(app, lambda: panel.project_result is not None)
        panel.open_path(csv_path)
        _wait(app, lambda: panel.loader.current is None and panel.pending is None)
        panel.scale_field.combo.setCurrentIndex(1)
        panel.set_projection({"kind": "features", "features": [2, 3]})
        panel.tabs.setCurrentWidget(panel.table_view)
        _wait(app, lambda: True)
        left = panel.grab().toImage()
        shots = []
        for widget in (panel.balance_view, panel.scatter_tab):
            panel.tabs.setCurrentWidget(widget)
            _wait(app, lambda: True)
            shots.append(panel.tabs.grab().toImage())
        path = out / "dataset_table.png"
        _compose(left, shots, path)
        written.append(path)

        # --- a broken cell
        broken = write_iris_csv(folder / "data" / "iris_edited.csv", (57, 1, "n/a"))
        panel.open_path(broken)
        _wait(app, lambda: panel.loader.current is None and panel.pending_result is not None)
        panel.tabs.setCurrentWidget(panel.table_view)
        _wait(app, lambda: True)
        path = out / "dataset_error.png"
        panel.grab().save(str(path), "PNG")
        written.append(path)
        panel.discard_pending()
        panel.shutdown()
        panel.close()

        # --- the main window: open the CSV, match the network, train, the boundary
        path = out / "own_data_training.png"
        _train_on_csv(app, project_file, csv_path, path)
        written.append(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return written


def _train_on_csv(app: QApplication, project_file: Path, csv_path: Path, out: Path) -> None:
    """Issue 7's "done means" in the real main window, saved as one picture."""
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine.project import load_project

    window = MainWindow(Document(load_project(project_file)))
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(1600, 1000)
    window.show()
    _wait(app, lambda: True)
    panel = window.dataset.panel
    window.dataset.open_data_file(csv_path)
    _wait(app, lambda: panel.loader.current is None and panel.pending is None)
    panel.scale_field.combo.setCurrentIndex(1)  # standardize
    panel.match_network()
    panel.set_projection({"kind": "features", "features": [2, 3]})
    training = window.training
    training.docks["boundary"].raise_()
    if not training.train_blocking(60, timeout_s=300):
        raise RuntimeError("training did not finish: " + "; ".join(training.errors))
    _wait(app, lambda: True)
    training.render_views(all_views=True)
    _wait(app, lambda: True)
    window.grab().save(str(out), "PNG")
    window.document.set_clean()
    window.close()
    panel.shutdown()


if __name__ == "__main__":
    for p in render_docs(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(p)
