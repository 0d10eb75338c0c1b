"""Backprop mode reads well at small sizes: in the view no caption, unit, loss box or banner
overlaps another, and every value pill holds its whole number; in the panel no widget overlaps
another at dock sizes, and the panel never asks for more than a small minimum size."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from designer.document import Document
from designer.stepper.panel import StepperPanel
from designer.stepper.view import (
    PILL_FONT,
    BackpropView,
    NeuronItem,
    _font,
    fitted_value,
    pill_width,
)
from engine import edits
from engine.project import load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
PANEL_CAP = QSize(600, 300)
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def doc_for(name: str) -> Document:
    return Document(load_project(EXAMPLES / f"{name}.json"))


@pytest.fixture(params=[10.0, 13.0], ids=["10pt", "13pt"])
def app_font(request, qapp):
    """The application font at the window's own size (theme.MIN_POINT_SIZE) and larger."""
    before = qapp.font()
    font = qapp.font()
    font.setPointSizeF(request.param)
    qapp.setFont(font)
    yield request.param
    qapp.setFont(before)


@pytest.fixture
def wired(qtbot):
    def make(
        doc: Document, size: tuple[int, int] = (900, 500)
    ) -> tuple[StepperPanel, BackpropView]:
        panel = StepperPanel(doc)
        view = BackpropView()
        qtbot.addWidget(panel)
        qtbot.addWidget(view)
        view.resize(*size)
        panel.session_changed.connect(lambda: view.set_session(panel.session))
        panel.phase_changed.connect(view.refresh)
        assert panel.start(), panel.error
        view.show()
        qtbot.waitExposed(view)
        return panel, view

    return make


def view_rects(view: BackpropView) -> list[tuple[str, object]]:
    """Scene rectangles of everything that must stand clear of everything else."""
    out = []
    for name, col in view.columns.items():
        out.append((f"{name} name", col.header.sceneBoundingRect()))
        out.append((f"{name} caption", col.legend.sceneBoundingRect()))
        for item in col.neurons:
            out.append((f"{name}[{item.unit}]", item.mapRectToScene(item.shape().boundingRect())))
        if col.heatmap is not None:
            out.append((f"{name} heatmap", col.heatmap.sceneBoundingRect()))
    out.append(("loss box", view.loss_box.sceneBoundingRect()))
    out.append(("banner", view.banner.sceneBoundingRect()))
    return out


def overlaps(rects: list[tuple[str, object]]) -> list[tuple[str, str]]:
    return [(a, b) for (a, ra), (b, rb) in itertools.combinations(rects, 2) if ra.intersects(rb)]


def pill_problems(view: BackpropView) -> list[str]:
    metrics = QFontMetricsF(_font(PILL_FONT))
    bad = []
    for col in view.columns.values():
        for item in col.neurons:
            if item.pill and item.value is not None:
                if metrics.horizontalAdvance(item.text()) > item.text_rect().width():
                    bad.append(f"{item.layer}[{item.unit}] {item.text()!r}")
    return bad


def as_decimal(text: str) -> Decimal:
    """Read back a number as :func:`engine.explain.fmt` writes it (a Decimal: a rounded
    mantissa may lie just past the float range)."""
    text = text.replace("−", "-")
    if "×10" in text:
        mantissa, exp = text.split("×10")
        return Decimal(f"{mantissa}e{exp.translate(SUPERSCRIPT)}")
    return Decimal(text)


# --------------------------------------------------------------------------------- the view
@pytest.mark.parametrize("example", ["xor", "iris", "spiral", "skip_connection"])
@pytest.mark.parametrize("size", [(900, 500), (560, 360)])
def test_no_caption_or_unit_overlaps_in_any_phase(app_font, wired, example, size):
    panel, view = wired(doc_for(example), size)
    seen = 0
    while True:
        assert overlaps(view_rects(view)) == [], f"phase {panel.session.index}"
        assert pill_problems(view) == []
        seen += 1
        if panel.session.at_end:
            break
        panel.next_phase()
    assert seen == panel.session.total_phases + 1  # every phase was looked at, and "ready"


def test_a_long_layer_name_is_elided_with_its_full_name_in_the_tooltip(wired):
    doc = doc_for("xor")
    long = "a_hidden_layer_with_a_name_far_too_long_for_any_column_caption"
    assert doc.edit("Rename", lambda d: edits.rename_layer(d, "hidden", long))
    panel, view = wired(doc)
    header = view.columns[long].header
    assert header.text() != long and "…" in header.text()
    assert header.toolTip() == long
    assert overlaps(view_rects(view)) == []


def test_captions_stay_apart_whatever_the_colour_scale(app_font, wired):
    # The widest scale caption the view reserves room for, in every column at once.
    panel, view = wired(doc_for("iris"))
    for col in view.columns.values():
        col.legend.setText(view._legend_text(col, "δ", -8.888e-88))
        w = col.legend.boundingRect().width()
        col.legend.setPos(col.x - w / 2, col.legend.pos().y())
    assert overlaps(view_rects(view)) == []


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([-1.311e-5, -1.2345e-300, -99999.5, 5e-324, -8.888e-88, 1.0 / 3.0]),
    )
)
def test_a_pill_value_is_shortened_never_cut(qapp, value):
    width = pill_width() - 16
    text = fitted_value(value, width)
    assert QFontMetricsF(_font(PILL_FONT)).horizontalAdvance(text) <= width, text
    back = as_decimal(text)
    if value == 0:
        assert back == 0
    else:
        # At least one significant digit survives: within 6 % (a 1-digit rounding).
        assert abs(back - Decimal(value)) <= Decimal("0.06") * abs(Decimal(value)), (value, text)


def test_a_pill_wide_enough_for_the_usual_small_numbers(app_font):
    # "−1.311×10⁻⁵" (issue 13) fits whole, all four digits.
    item = NeuronItem(None, "x", 0, True, QColor("#2563eb"), pill_width())
    item.value = -1.311e-5
    assert item.text() == "−1.311×10⁻⁵"
    assert (
        QFontMetricsF(_font(PILL_FONT)).horizontalAdvance(item.text()) <= item.text_rect().width()
    )


# --------------------------------------------------------------------------------- the panel
def widget_rects(panel: StepperPanel) -> list[tuple[str, QRect]]:
    """The panel's visible leaf widgets, in the scrolled content's coordinates."""
    names = [
        "status_label", "previous_button", "next_button", "run_button", "step_button",
        "reset_button", "one_sample_radio", "batch_radio", "batch_spin", "strip",
        "math_header", "unpin_button", "math_view", "checks_box", "save_button",
    ]  # fmt: skip
    out = []
    for name in names:
        w: QWidget = getattr(panel, name)
        if w.isVisibleTo(panel):
            top_left = w.mapTo(panel.content, w.rect().topLeft())
            out.append((name, QRect(top_left, w.size())))
    return out


def checks_rects(panel: StepperPanel) -> list[tuple[str, QRect]]:
    out = []
    for name in ("gradcheck_button", "tf_button", "checks_label", "checks_table"):
        w: QWidget = getattr(panel, name)
        if w.isVisibleTo(panel):
            out.append((name, QRect(w.mapTo(panel.checks_box, w.rect().topLeft()), w.size())))
    return out


@pytest.mark.parametrize("size", [(300, 420), (420, 700), (900, 500), (600, 300)])
def test_panel_widgets_never_overlap_at_dock_sizes(app_font, qtbot, size):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QWidget())
    panel = StepperPanel(doc_for("xor"))
    dock = QDockWidget("Backprop", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.resize(size[0] + 200, size[1])
    window.show()
    window.resizeDocks([dock], [size[0]], Qt.Orientation.Horizontal)
    qtbot.waitExposed(window)
    assert panel.start()
    for _ in range(3):
        panel.next_phase()
    panel.check_gradients()
    qtbot.waitUntil(lambda: panel.checks_table.isVisible())
    # Layouts settle on the event loop: wait for the scrolled content to take its size.
    content = panel.content
    qtbot.waitUntil(lambda: content.height() >= content.heightForWidth(content.width()))
    rects = widget_rects(panel)
    assert overlaps(rects) == []
    assert overlaps(checks_rects(panel)) == []
    # The checks sit below the formula box, never on it.
    box, math_view = dict(rects)["checks_box"], dict(rects)["math_view"]
    assert box.top() > math_view.bottom()
    for name, rect in rects:  # nothing squeezed below what it needs to show itself
        w = getattr(panel, name)
        assert rect.height() >= min(w.minimumSizeHint().height(), w.sizeHint().height()), name
    # The panel asks its dock for little: it scrolls instead of raising the window's minimum.
    hint = panel.minimumSizeHint()
    assert hint.width() <= PANEL_CAP.width() and hint.height() <= PANEL_CAP.height()
    assert dock.minimumSizeHint().height() <= PANEL_CAP.height() + 40


def test_panel_minimum_size_stays_small_after_long_texts(qtbot):
    panel = StepperPanel(doc_for("iris"))
    qtbot.addWidget(panel)
    panel.resize(320, 400)
    panel.show()
    assert panel.start()
    panel.run_to_end()
    panel.check_gradients()
    panel.error_label.setText("x" * 400)  # a long error must wrap, not widen the panel
    panel.error_label.setVisible(True)
    hint = panel.minimumSizeHint()
    assert hint.width() <= PANEL_CAP.width() and hint.height() <= PANEL_CAP.height()


def test_the_view_and_strip_ask_for_little(wired):
    panel, view = wired(doc_for("spiral"), (400, 300))
    for widget in (view, panel.strip, panel.math_view, panel):
        hint = widget.minimumSizeHint()
        assert hint.width() <= PANEL_CAP.width() and hint.height() <= PANEL_CAP.height(), widget
