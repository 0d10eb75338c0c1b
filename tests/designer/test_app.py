"""The minimal main window: the project's summary, screenshots, errors, and no TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from designer import app
from engine.errors import NNDError
from engine.graph import build_graph
from engine.project import load_project

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "resources" / "examples" / "seed_mlp.json"
USER = Qt.ItemDataRole.UserRole


def table_rows(table) -> list[list]:
    """Each row's cells: the raw number (UserRole) where there is one, else the text."""
    rows = []
    for r in range(table.rowCount()):
        row = []
        for c in range(table.columnCount()):
            item = table.item(r, c)
            raw = item.data(USER)
            row.append(raw if raw is not None else item.text())
        rows.append(row)
    return rows


def test_seed_paths_point_at_the_shipped_example():
    assert app.SEED_PROJECT_PATH == SEED
    assert SEED.is_file()


def test_window_shows_seed_rows_and_totals(qtbot):
    window = app.create_window(SEED)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    assert window.windowTitle() == "NN Designer — Seed MLP"
    table = window.summary_panel
    assert window.centralWidget() is table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["Layer", "Class", "Output shape", "Params", "FLOPs"]

    graph = build_graph(load_project(SEED))
    expected = [
        [row.name, row.class_name, app.format_shape(row.output_shape), row.params, row.flops]
        for row in graph.summary()
    ]
    expected.append(["Total", "", "", graph.total_params, graph.total_flops])
    assert table_rows(table) == expected

    # The seed network in Keras' own terms: 784 -> Dense(128) -> Dropout -> Dense(10).
    rows = table_rows(table)
    assert [r[0] for r in rows][:1] == ["hidden"]
    assert [r[1] for r in rows[:-1]] == ["Dense", "Dropout", "Dense"]
    assert [r[2] for r in rows[:-1]] == ["(None, 128)", "(None, 128)", "(None, 10)"]
    assert [r[3] for r in rows] == [100_480, 0, 1_290, 101_770]
    assert rows[-1][4] == sum(r[4] for r in rows[:-1])
    assert table.item(0, 3).text() == "100,480"

    status = window.statusBar().currentMessage()
    assert "3 layers" in status and "101,770 parameters" in status


def test_default_project_is_the_seed(qtbot):
    window = app.create_window()
    qtbot.addWidget(window)
    assert window.windowTitle() == "NN Designer — Seed MLP"
    assert table_rows(window.summary_panel)[-1][3] == 101_770


def test_table_is_read_only(qtbot):
    window = app.create_window(SEED)
    qtbot.addWidget(window)
    table = window.summary_panel
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            assert not table.item(r, c).flags() & Qt.ItemFlag.ItemIsEditable


@pytest.mark.parametrize("size", [None, (640, 400)])
def test_screenshot_writes_png_of_requested_size(qapp, tmp_path, size):
    out = tmp_path / "window.png"
    if size is None:
        app.screenshot(SEED, out)
        size = (1600, 1000)
    else:
        app.screenshot(SEED, out, size=size)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == size


def test_screenshot_after_training_shows_the_last_metrics(qapp, tmp_path, monkeypatch):
    digits = ROOT / "resources" / "examples" / "seed_mlp_digits.json"
    shown = []
    original = app.MainWindow.show_training

    def spy(window, trainer):
        original(window, trainer)
        shown.append((trainer, window.statusBar().currentMessage()))

    monkeypatch.setattr(app.MainWindow, "show_training", spy)
    out = tmp_path / "trained.png"
    app.screenshot(digits, out, size=(800, 500), train_epochs=1)
    assert QImage(str(out)).size().toTuple() == (800, 500)
    ((trainer, status),) = shown
    assert trainer.epochs_done == 1 and trainer.error is None
    assert len(trainer.history["loss"]) == 1
    assert f"after 1 epochs: loss {trainer.history['loss'][-1]:.4g}" in status


def test_status_line_shows_training_metrics(qtbot):
    window = app.create_window(SEED)
    qtbot.addWidget(window)

    class FakeTrainer:
        epochs_done = 2
        history = {"loss": [0.9, 0.51234], "accuracy": [0.5, 0.875]}
        error = None

    window.show_training(FakeTrainer())
    status = window.statusBar().currentMessage()
    assert status.startswith(window.status_text)
    assert status.endswith("after 2 epochs: loss 0.5123, accuracy 0.875")


def write_bad_json(tmp_path: Path) -> Path:
    path = tmp_path / "broken.json"
    path.write_text('{"format_version": 1, "name": ', encoding="utf-8")
    return path


def write_invalid_network(tmp_path: Path) -> Path:
    data = json.loads(SEED.read_text(encoding="utf-8"))
    data["model"]["layers"][0]["config"]["units"] = -3
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("make", [write_bad_json, write_invalid_network])
def test_screenshot_raises_on_bad_project(qapp, tmp_path, make):
    out = tmp_path / "never.png"
    with pytest.raises(NNDError):
        app.screenshot(make(tmp_path), out)
    assert not out.exists()


@pytest.mark.parametrize("make", [write_bad_json, write_invalid_network])
def test_main_reports_bad_project_in_a_dialog(qapp, tmp_path, monkeypatch, make):
    shown = []
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text))
    )
    assert app.main(str(make(tmp_path))) == 2
    assert len(shown) == 1 and shown[0].startswith("Could not open the project.")
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, app.MainWindow)]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_showing_the_window_does_not_import_tensorflow():
    code = """
        import json
        import sys

        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from designer import app

        qapp = QApplication(sys.argv[:1])
        shown = []

        def look_then_quit():
            shown.extend(w.windowTitle() for w in qapp.topLevelWidgets() if w.isVisible())
            qapp.quit()

        QTimer.singleShot(0, look_then_quit)
        rc = app.main(sys.argv[1])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print(json.dumps({"rc": rc, "shown": shown, "heavy": heavy}))
    """
    done = run_python(code, str(SEED))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "shown": ["NN Designer — Seed MLP"], "heavy": []}


def test_module_entry_point_has_help():
    done = subprocess.run(
        [sys.executable, "-m", "designer", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "project" in done.stdout
