"""The README's Backprop-mode screenshots, rendered offscreen from the XOR example (and a CNN).

``python -m designer.stepper.screenshots docs`` writes ``stepper_forward.png`` (a forward
phase), ``stepper_backward.png`` (a backward phase) and ``stepper_math.png`` (the math panel
of two pinned neurons and a pinned weight after the update); with ``--cnn``, Backprop mode on
the cnn_digits example at 1366×768: ``stepper_cnn_forward.png``, ``stepper_cnn_backward.png``
and ``stepper_cnn_update.png`` (feature maps, gradient maps, filters).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from designer.theme import offscreen_app

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def _settle(app: QApplication) -> None:
    for _ in range(3):
        app.processEvents()


def render_docs(out_dir: str | Path, project_path: str | Path | None = None) -> list[Path]:
    """Render the three screenshots into ``out_dir``; returns their paths."""
    from designer.canvas.view import NetworkView
    from designer.document import Document
    from designer.stepper.controller import attach_stepper
    from designer.stepper.panel import MathBrowser
    from engine.explain import explain_neuron, explain_weight
    from engine.project import load_project

    app = offscreen_app()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = Document(load_project(project_path or RESOURCES / "examples" / "xor.json"))
    window = QMainWindow()
    window.document = doc
    window.setWindowTitle("NN Designer — Backprop mode")
    window.setCentralWidget(NetworkView(doc))
    controller = attach_stepper(window)
    controller.dock.setMinimumWidth(640)
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(1600, 1000)
    window.show()
    _settle(app)
    controller.set_active(True)
    _settle(app)
    panel, view = controller.panel, controller.view
    written = []

    def shot(name: str) -> None:
        _settle(app)
        view.fit()
        _settle(app)
        path = out / name
        window.grab().save(str(path), "PNG")
        written.append(path)

    panel.next_phase()  # Forward hidden
    view.pin_neuron("hidden", 1)
    shot("stepper_forward.png")
    while not (
        panel.session.current.phase == "backward" and panel.session.current.layer == "hidden"
    ):
        panel.next_phase()
    shot("stepper_backward.png")
    panel.run_to_end()

    # The math of one neuron and one weight after the update, in full, side by side.
    session = panel.session
    sheet = QWidget()
    sheet.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    row = QHBoxLayout(sheet)
    browsers = []
    for title, exp in (
        ("Pinned neuron: hidden unit 2", explain_neuron(session, "hidden", 0, 1)),
        ("Pinned neuron: the output (loss and δ)", explain_neuron(session, "output", 0, 0)),
        ("Pinned weight: output w₂,₁ (after the update)", explain_weight(session, "output", 1, 0)),
    ):
        col = QVBoxLayout()
        label = QLabel(f"<b>{title}</b>")
        col.addWidget(label)
        browser = MathBrowser()
        browser.set_explanation(exp)
        browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        browser.setFixedWidth(700)
        col.addWidget(browser)
        row.addLayout(col)
        browsers.append(browser)
    sheet.show()
    _settle(app)
    height = max(int(b.document().size().height()) + 12 for b in browsers)
    for b in browsers:
        b.setFixedHeight(height)
    sheet.adjustSize()
    _settle(app)
    path = out / "stepper_math.png"
    sheet.grab().save(str(path), "PNG")
    written.append(path)
    sheet.close()
    controller.set_active(False)
    window.close()
    return written


def render_cnn(
    out_dir: str | Path, project_path: str | Path | None = None, size=(1366, 768)
) -> list[Path]:
    """Backprop mode on a CNN (the cnn_digits example by default) in a window of ``size``, as
    the designer lays it out (view and math panel side by side): ``stepper_cnn_forward.png``
    (the first convolution's feature maps, a pixel pinned), ``stepper_cnn_backward.png`` (its
    gradient maps) and ``stepper_cnn_update.png`` (its filters before, after and Δw)."""
    import numpy as np

    from designer.document import Document
    from designer.stepper.controller import attach_stepper
    from engine.project import load_project

    app = offscreen_app()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = Document(load_project(project_path or RESOURCES / "examples" / "cnn_digits.json"))
    window = QMainWindow()
    window.document = doc
    window.setWindowTitle("NN Designer — Backprop mode")
    window.setCentralWidget(QLabel())
    controller = attach_stepper(window, central=True)
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(*size)
    window.show()
    _settle(app)
    controller.set_active(True)
    _settle(app)
    panel, view = controller.panel, controller.view
    session = panel.session
    graph = session.graph
    conv = next(n for n in graph.nodes if n.layer_type.filter_weight and n.layer_type.image_input)
    written = []

    def go(phase: str, name: str, file: str) -> None:
        while (session.current is None or (session.current.phase, session.current.layer)
               != (phase, name)):  # fmt: skip
            panel.next_phase()
        _settle(app)
        view.fit()
        _settle(app)
        path = out / file
        window.grab().save(str(path), "PNG")
        written.append(path)

    while session.current is None or session.current.layer != conv.name:
        panel.next_phase()
    a = session.current.data["a"][0]
    view.pin_neuron(conv.name, int(np.argmax(a.reshape(-1))))  # its most active pixel
    go("forward", conv.name, "stepper_cnn_forward.png")
    go("backward", conv.name, "stepper_cnn_backward.png")
    go("update", conv.name, "stepper_cnn_update.png")
    controller.set_active(False)
    window.close()
    return written


if __name__ == "__main__":  # pragma: no cover
    args = [a for a in sys.argv[1:] if a != "--cnn"]
    render = render_cnn if "--cnn" in sys.argv[1:] else render_docs
    for p in render(args[0] if args else "docs"):
        print(f"Wrote {p}")
