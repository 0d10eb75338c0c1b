"""Issue 7's "done means", as a user does it in the main window: drop a spreadsheet's CSV on
the window, pick the target column, Match network to data, Play, and see the decision boundary
on two chosen features of four (and on the principal components); the same file with one
broken cell names that cell and keeps the data that was there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from designer.document import Document
from engine.project import load_project

pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60_000
SPECIES = ("setosa", "versicolor", "virginica")


def spreadsheet_csv(path: Path, broken: tuple[int, str] | None = None) -> Path:
    """An iris-like export from a spreadsheet: the class first (so the default target, the
    last column, is wrong), a BOM, semicolons and decimal commas; ``broken=(row, value)``
    puts ``value`` in the third column of line ``row`` (the header is line 1, as a
    spreadsheet numbers them)."""
    rng = np.random.default_rng(3)
    lines = ["Species;Sepal length;Sepal width;Petal length;Petal width"]
    for i in range(60):
        c = i % 3
        v = rng.normal(size=4) * 0.25 + [5.0 + 0.6 * c, 3.2 - 0.3 * c, 1.5 + 2.2 * c, 0.2 + c]
        cells = [SPECIES[c]] + [f"{x:.2f}".replace(".", ",") for x in v]
        if broken is not None and broken[0] == i + 2:
            cells[2] = broken[1]
        lines.append(";".join(cells))
    path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_drop_pick_target_match_play_and_the_boundary_on_chosen_features(
    qtbot, make_window, tmp_path, drag_drop
):
    csv = spreadsheet_csv(tmp_path / "flowers.csv")
    window = make_window(load_project(ROOT / "resources" / "examples" / "xor.json"))
    doc: Document = window.document
    panel = window.dataset.panel
    train = window.training

    assert drag_drop(window, csv)[0]
    qtbot.waitUntil(lambda: doc.data["dataset"].get("path") == str(csv), timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: panel.dataset is not None and panel.loader.current is None, timeout=TIMEOUT
    )
    # The last column is the default target; the user picks "Species".
    combo = panel.target_field.combo
    combo.setCurrentIndex(combo.findText("Species", Qt.MatchFlag.MatchStartsWith))
    qtbot.waitUntil(
        lambda: (
            panel.dataset is not None
            and panel.dataset.n_classes == 3
            and panel.loader.current is None
        ),
        timeout=TIMEOUT,
    )
    assert panel.dataset.class_names == list(SPECIES)
    panel.match_button.click()
    model = doc.data["model"]
    assert model["input_shape"] == [4]
    assert model["layers"][-1]["config"]["units"] == 3
    assert doc.valid

    # Two of four features, chosen in the Dataset panel, reach the boundary view.
    panel.set_projection({"kind": "features", "features": [2, 3]})
    assert train.projection_choice == {"kind": "features", "features": [2, 3]}
    train.docks["boundary"].raise_()
    train.play()
    qtbot.waitUntil(lambda: train.finished_runs >= 1 and train.state == "idle", timeout=TIMEOUT)
    train.render_views(all_views=True)
    view = train.boundary
    pts = train.info.points
    assert pts["axis_labels"] == ("Petal length", "Petal width")
    assert view.plot.getAxis("bottom").labelText == "Petal length"
    assert view.plane_row.isVisibleTo(view) and "other 2 features" in view.caption.text()
    assert view.boundary_image.shape == (80, 80, 3)
    # Trained on well-separated petals: the map's classes split the plane where the points lie.
    x0, x1, y0, y1 = pts["extent"]
    assert x0 < 1.5 < 5.9 < x1 and y0 < 0.2 < 2.2 < y1
    assert len(np.unique(view.boundary_image.argmax(axis=-1))) == 3

    # Choosing the principal components above the boundary: the panel follows, the worker
    # draws the new plane on the trained model.
    before = train.snapshot.step
    view.plane_combo.setCurrentIndex(view.plane_combo.findData("pca"))
    assert panel.projection_choice == {"kind": "pca"}
    qtbot.waitUntil(
        lambda: train.info.points["projection"] == {"kind": "pca"} and train.snapshot is not None,
        timeout=TIMEOUT,
    )
    assert train.info.points["axis_labels"][0].startswith("PC1 (")
    assert train.snapshot.step == before  # the same weights, on another plane
    assert not view.x_combo.isVisibleTo(view)
    # And back to two features picked in the view's own boxes.
    view.plane_combo.setCurrentIndex(view.plane_combo.findData("features"))
    view.y_combo.setCurrentIndex(view.y_combo.findText("Sepal width"))
    qtbot.waitUntil(lambda: train.info.points["axis_labels"][1] == "Sepal width", timeout=TIMEOUT)
    assert panel.projection_choice == train.info.points["projection"]

    # The same file with a broken cell: the panel names it, the project keeps its data.
    broken = spreadsheet_csv(tmp_path / "flowers_broken.csv", broken=(42, "n/a"))
    assert drag_drop(window, broken)[0]
    qtbot.waitUntil(lambda: panel.error_box.isVisibleTo(panel), timeout=TIMEOUT)
    text = panel.error_label.text()
    assert "flowers_broken.csv" in text and "row 42" in text and "Sepal width" in text
    assert "n/a" in text
    assert doc.data["dataset"]["path"] == str(csv)
