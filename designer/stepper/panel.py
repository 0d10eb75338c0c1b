"""The Backprop panel: step controls, the phase strip, the math panel and the checks.

The panel owns the :class:`~engine.stepper.StepSession` of the document's project (built by
:meth:`StepperPanel.start`). Next phase / Previous phase / Run to end of step / Next step /
Reset drive it; the phase strip shows where the step is; the math panel explains the pinned
neuron or weight (or, while nothing is pinned, the active layer's first unit) with the trace's
numbers; "Check gradients" and "Compare with TensorFlow" fill the checks table; "Save this
step" writes the trace JSON and a PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLayoutItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from designer.canvas.paint import blend, is_dark
from designer.gc_policy import collect_on_ui_thread
from designer.panels.fields import make_error_label
from designer.stepper.colors import GRADE_COLORS, PASS_COLOR
from designer.stepper.math_html import PHASE_COLORS, explanation_html, placeholder_html
from engine.errors import NNDError
from engine.explain import Explanation, explain_neuron, explain_param, explain_weight, fmt
from engine.gradcheck import FLOOR_SIGMAS, TOO_SMALL
from engine.graph import INPUT
from engine.stepper import StepSession, gradcheck_grade

# The gradient check's "too small to judge" is no verdict against the network: grey, as skipped.
_GRADE_COLORS = {**GRADE_COLORS, TOO_SMALL: GRADE_COLORS["skipped"]}
KIND_TITLES = {"forward": "FORWARD", "loss": "LOSS", "backward": "BACKWARD", "update": "UPDATE"}
# The most the panel asks of its dock: it scrolls below this, rather than raising the window's
# minimum size (issue 13: a panel must never push the window off a 1366×768 screen).
MIN_PANEL_SIZE = QSize(260, 220)


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto the next row when the width runs out (Qt's own
    flow layout example): a row of buttons that never forces its container wider than its
    widest button."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:  # Qt override
        self._items.append(item)

    def count(self) -> int:  # Qt override
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # Qt override
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # Qt override
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # Qt override
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # Qt override
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:  # Qt override
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:  # Qt override
        w = sum(i.sizeHint().width() for i in self._visible()) + self.spacing() * max(
            len(self._visible()) - 1, 0
        )
        h = max((i.sizeHint().height() for i in self._visible()), default=0)
        return QSize(w, h)

    def minimumSize(self) -> QSize:  # Qt override
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if i.widget() is None or not i.widget().isHidden()]

    def _arrange(self, rect: QRect, apply: bool) -> int:
        x, y, row_h = rect.x(), rect.y(), 0
        gap = self.spacing()
        for item in self._visible():
            hint = item.sizeHint()
            if x > rect.x() and x + hint.width() > rect.right() + 1:
                x, y, row_h = rect.x(), y + row_h + gap, 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + gap
            row_h = max(row_h, hint.height())
        return y + row_h - rect.y()


# --------------------------------------------------------------------------------- the strip
class PhaseStrip(QWidget):
    """One cell per phase of a step (forward per layer → loss → backward per layer → update
    per layer), wrapped over rows; the phase shown is filled with its colour, phases already
    computed are tinted, the rest outlined. Clicking a computed phase shows it again."""

    phase_clicked = Signal(int)

    CELL_H = 38
    MIN_CELL_W = 78
    GAP = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plan: list[tuple[str, str | None]] = []
        self.current = -1
        self.computed = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_plan(self, plan: list[tuple[str, str | None]]) -> None:
        self._plan = list(plan)
        self.updateGeometry()
        self.update()

    def set_state(self, current: int, computed: int) -> None:
        self.current, self.computed = current, computed
        self.update()

    def labels(self) -> list[str]:
        return [f"{k.capitalize()} {n}" if n else "Loss" for k, n in self._plan]

    def cell_state(self, i: int) -> str:
        """``"current"``, ``"done"`` (computed, can be shown again) or ``"todo"``."""
        if i == self.current:
            return "current"
        return "done" if i < self.computed else "todo"

    def _columns(self, width: int | None = None) -> int:
        width = width or self.width()
        return max(1, min(len(self._plan) or 1, (width + self.GAP) // (self.MIN_CELL_W + self.GAP)))

    def _rects(self) -> list[QRectF]:
        cols = self._columns()
        w = (self.width() - self.GAP * (cols - 1)) / cols
        return [
            QRectF(
                (i % cols) * (w + self.GAP),
                (i // cols) * (self.CELL_H + self.GAP),
                w,
                self.CELL_H,
            )
            for i in range(len(self._plan))
        ]

    def hasHeightForWidth(self) -> bool:  # Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # Qt override
        rows = -(-max(len(self._plan), 1) // self._columns(width))
        return rows * self.CELL_H + (rows - 1) * self.GAP

    def sizeHint(self) -> QSize:  # Qt override
        return QSize(480, self.heightForWidth(480))

    def minimumSizeHint(self) -> QSize:  # Qt override
        return QSize(self.MIN_CELL_W, self.CELL_H)

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        h = self.heightForWidth(self.width())
        if self.height() != h:
            self.setFixedHeight(h)

    def paintEvent(self, event) -> None:  # Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.72, 7.0))
        small.setBold(True)
        normal = QFont(self.font())
        normal.setPointSizeF(max(self.font().pointSizeF() * 0.9, 8.0))
        for i, rect in enumerate(self._rects()):
            kind, layer = self._plan[i]
            hue = QColor(PHASE_COLORS[kind])
            state = self.cell_state(i)
            if state == "current":
                fill, fg, pen = hue, QColor("#ffffff"), QPen(hue, 2)
            elif state == "done":
                fill, fg, pen = blend(base, hue, 0.16), text, QPen(blend(base, hue, 0.5), 1)
            else:
                fill = base
                fg = blend(text, base, 0.5)
                pen = QPen(blend(text, base, 0.75), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
            painter.setPen(fg if state != "done" else hue.darker(120) if not is_dark() else hue)
            painter.setFont(small)
            top = QRectF(rect.x(), rect.y() + 3, rect.width(), rect.height() / 2 - 2)
            painter.drawText(top, Qt.AlignmentFlag.AlignCenter, KIND_TITLES[kind])
            painter.setPen(fg)
            painter.setFont(normal)
            bottom = QRectF(
                rect.x() + 3, rect.center().y(), rect.width() - 6, rect.height() / 2 - 3
            )
            label = layer if layer else "L"
            elided = painter.fontMetrics().elidedText(
                label, Qt.TextElideMode.ElideRight, int(bottom.width())
            )
            painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, elided)
        painter.end()

    def index_at(self, pos) -> int:
        for i, rect in enumerate(self._rects()):
            if rect.contains(pos):
                return i
        return -1

    def mouseMoveEvent(self, event) -> None:  # Qt override
        i = self.index_at(event.position())
        if i >= 0:
            self.setToolTip(
                self.labels()[i]
                + ("" if i < self.computed else " (not computed yet: use Next phase)")
            )
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event) -> None:  # Qt override
        i = self.index_at(event.position())
        if i >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.phase_clicked.emit(i)
            event.accept()
            return
        super().mousePressEvent(event)


# --------------------------------------------------------------------------------- the math
class MathBrowser(QTextBrowser):
    """Shows an explanation; hovering a number shows its full precision, clicking copies it."""

    copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.numbers = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._copy)
        self.setMouseTracking(True)

    def set_explanation(self, exp: Explanation | None, placeholder: str = "") -> None:
        dark = is_dark()
        if exp is None:
            self.numbers = []
            self.setHtml(placeholder_html(placeholder, dark))
            return
        text, self.numbers = explanation_html(exp, dark)
        self.setHtml(text)

    def number_at(self, pos):
        href = self.anchorAt(pos)
        if href.startswith("n:"):
            k = int(href[2:])
            if k < len(self.numbers):
                return self.numbers[k]
        return None

    def tooltip_for(self, num) -> str:
        if num.source is None:
            what = "a hyper-parameter" if num.param else "computed here from the numbers shown"
        else:
            phase, layer, key, index = num.source
            where = {
                "batch": "the step's batch",
                "start": f"weights of '{layer}' when the step began",
                "start_opt": f"optimizer slot of '{layer}' when the step began",
            }.get(phase, f"the trace: {phase}" + (f" '{layer}'" if layer else ""))
            what = f"{where}, {key}{list(index)}"
        return f"{num.exact}\n({what}; click to copy)"

    def event(self, event) -> bool:  # Qt override
        if event.type() == event.Type.ToolTip:
            num = self.number_at(self.viewport().mapFromGlobal(event.globalPos()))
            if num is not None:
                QToolTip.showText(event.globalPos(), self.tooltip_for(num), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def _copy(self, url) -> None:
        href = url.toString()
        if href.startswith("n:"):
            k = int(href[2:])
            if k < len(self.numbers):
                QGuiApplication.clipboard().setText(self.numbers[k].exact)
                self.copied.emit(self.numbers[k].exact)


class _CompareWorker(QThread):
    """Runs the TensorFlow comparison off the UI thread (importing TensorFlow takes seconds)."""

    def __init__(self, session: StepSession, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.report = None
        self.error: str | None = None

    def run(self) -> None:  # Qt override (runs in the worker thread)
        try:
            self.report = self.session.compare_tensorflow()
        except NNDError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken TensorFlow can raise anything
            self.error = f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------- the panel
class StepperPanel(QWidget):
    """Controls and explanations of the Backprop mode.

    Signals
    -------
    session_changed : a new session was started (or the session ended: ``session`` is None).
    phase_changed : the phase shown changed (or the step did).
    sample_changed(int) : the sample shown in a mini-batch changed.
    pinned_changed(object) : ``("neuron", layer, unit)``, ``("weight", layer, i, j)``,
        ``("param", layer, weight, index)`` or None.
    checks_finished(str) : "gradients" or "tensorflow" results are in the checks table.
    status_message(str) : a transient message for the status bar.
    """

    session_changed = Signal()
    phase_changed = Signal()
    sample_changed = Signal(int)
    pinned_changed = Signal(object)
    checks_finished = Signal(str)
    status_message = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepper_panel")
        self.document = document
        self.session: StepSession | None = None
        #: ``(snapshot, label)`` to start the steps from (the training scrubber's epoch), or
        #: None: the project's weights.
        self.start_snapshot: tuple | None = None
        #: The first step's batch (rows of the training split): a watchpoint's, or None.
        self.start_rows = None
        self.sample = 0
        self.pinned: tuple | None = None
        self.explanation: Explanation | None = None
        self.error = ""
        self.view_grabber: Callable[[], QPixmap] | None = None
        self.last_report = None
        #: The last gradient check's overall verdict ("pass", "warn", "fail", "too small to
        #: judge", "skipped"; "" before any or after an error).
        self.gradcheck_verdict = ""
        self._worker: _CompareWorker | None = None
        self._tf_reason = "no session"

        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_label = make_error_label(self)

        self.previous_button = QPushButton("◀ Previous phase")
        self.previous_button.setToolTip("Show the previous phase again (nothing is recomputed)")
        self.next_button = QPushButton("Next phase ▶")
        self.next_button.setToolTip("Compute and show the next phase (Right arrow in the view)")
        self.next_button.setDefault(True)
        self.run_button = QPushButton("Run to end of step »")
        self.run_button.setToolTip("Compute the remaining phases; the update is applied")
        self.step_button = QPushButton("Next step")
        self.step_button.setToolTip("Finish this step if needed, then load the next batch")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip(
            "Start over from the project's weights (trained, else initial) and the first sample"
        )
        self.previous_button.clicked.connect(self.previous_phase)
        self.next_button.clicked.connect(self.next_phase)
        self.run_button.clicked.connect(self.run_to_end)
        self.step_button.clicked.connect(self.next_step)
        self.reset_button.clicked.connect(self.reset)

        self.one_sample_radio = QRadioButton("One sample")
        self.batch_radio = QRadioButton("Mini-batch of")
        self.one_sample_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.one_sample_radio)
        group.addButton(self.batch_radio)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(2, 4096)
        self.batch_spin.setValue(4)
        self.batch_spin.setEnabled(False)
        self.batch_radio.toggled.connect(self._granularity_changed)
        self.batch_spin.valueChanged.connect(self._granularity_changed)
        self.sample_label = QLabel("Show sample")
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(1, 1)
        self.sample_spin.valueChanged.connect(lambda v: self.set_sample(v - 1))

        self.strip = PhaseStrip()
        self.strip.phase_clicked.connect(self.go_to)

        self.math_header = QLabel("")
        self.math_header.setTextFormat(Qt.TextFormat.RichText)
        self.math_header.setWordWrap(True)
        self.unpin_button = QPushButton("Unpin")
        self.unpin_button.setToolTip("Follow the active layer again")
        self.unpin_button.clicked.connect(self.unpin)
        self.math_view = MathBrowser()
        self.math_view.setMinimumHeight(160)
        self.math_view.setMinimumWidth(200)
        self.math_view.copied.connect(
            lambda v: self.status_message.emit(f"Copied {v} to the clipboard")
        )

        self.gradcheck_button = QPushButton("Check gradients")
        self.gradcheck_button.setToolTip(
            "Central differences (float64) on this batch vs backprop, per weight array"
        )
        self.gradcheck_button.clicked.connect(self.check_gradients)
        self.tf_button = QPushButton("Compare with TensorFlow")
        self.tf_button.clicked.connect(self.compare_tensorflow)
        self.tf_reason = QLabel("")
        self.tf_reason.setWordWrap(True)
        self.tf_reason.setVisible(False)
        self.checks_table = QTableWidget(0, 5)
        self.checks_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.checks_table.verticalHeader().setVisible(False)
        self.checks_table.setAlternatingRowColors(True)
        self.checks_table.setWordWrap(False)
        header = self.checks_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.checks_table.setVisible(False)
        self.checks_table.setMaximumHeight(180)
        self.checks_label = QLabel("")
        self.checks_label.setWordWrap(True)
        self.checks_label.setTextFormat(Qt.TextFormat.RichText)

        self.save_button = QPushButton("Save this step…")
        self.save_button.setToolTip("The trace as JSON (as `nndesigner trace` writes) and a PNG")
        self.save_button.clicked.connect(self._ask_save)

        # Rows of controls wrap in a narrow dock instead of widening it.
        controls = FlowLayout()
        for button in (
            self.previous_button,
            self.next_button,
            self.run_button,
            self.step_button,
            self.reset_button,
        ):
            controls.addWidget(button)
        gran = FlowLayout(spacing=6)
        for w in (self.one_sample_radio, self.batch_radio, self.batch_spin):
            gran.addWidget(w)
        gran.addWidget(self.sample_label)
        gran.addWidget(self.sample_spin)
        math_top = QHBoxLayout()
        math_top.addWidget(self.math_header, 1)
        math_top.addWidget(self.unpin_button, 0, Qt.AlignmentFlag.AlignTop)

        self.checks_box = checks = QGroupBox("Checks")
        cl = QVBoxLayout(checks)
        cb = FlowLayout()
        cb.addWidget(self.gradcheck_button)
        cb.addWidget(self.tf_button)
        cl.addLayout(cb)
        cl.addWidget(self.tf_reason)
        cl.addWidget(self.checks_label)
        cl.addWidget(self.checks_table)
        checks.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        # Everything sits in a scroll area: when the dock is smaller than what the panel needs,
        # it scrolls; the layout is never squeezed below its minimum (where Qt overlaps the
        # widgets: "Checks" over the formula box), and the dock never asks the window for more.
        self.content = QWidget()
        self.content.setObjectName("stepper_content")
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addLayout(controls)
        layout.addLayout(gran)
        layout.addWidget(self.strip)
        layout.addLayout(math_top)
        layout.addWidget(self.math_view, 1)
        layout.addWidget(checks)
        layout.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("stepper_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setWidget(self.content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self._update_controls()
        self._show_math()

    def minimumSizeHint(self) -> QSize:  # Qt override
        return super().minimumSizeHint().boundedTo(MIN_PANEL_SIZE)

    def sizeHint(self) -> QSize:  # Qt override
        # What the content would like, within what a docked panel may reasonably ask for.
        want = self.content.sizeHint() + QSize(
            self.scroll.verticalScrollBar().sizeHint().width(), 0
        )
        return want.boundedTo(QSize(520, 900))

    # ------------------------------------------------------------------ session
    def start(self) -> bool:
        """Build a session for the document's project. False (with :attr:`error` set and
        shown) when the project is invalid or its data cannot be loaded."""
        self.stop()
        doc = self.document
        try:
            if doc.graph is None or not doc.valid:
                raise NNDError(doc.invalid_reason() or "the project is not valid")
            snap, label = self.start_snapshot or (None, "")
            rows = self.start_rows
            if rows is not None and len(rows) > 1 and not self.batch_radio.isChecked():
                self.batch_radio.setChecked(True)  # the watchpoint's whole batch
            if rows is not None and len(rows) > 1:
                self.batch_spin.setValue(len(rows))
            self.session = StepSession(
                doc.project,
                doc.graph,
                batch_size=self._batch_size(),
                start=snap,
                start_label=label,
                first_rows=rows,
            )
        except NNDError as exc:
            self.session = None
            self.error = str(exc)
            self.error_label.setText(self.error)
            self.error_label.setVisible(True)
            self._after_session()
            return False
        self.error = ""
        self.error_label.setVisible(False)
        self.sample = 0
        self.pinned = None
        self.checks_table.setVisible(False)
        self.checks_label.setText("")
        self._after_session()
        return True

    def stop(self) -> None:
        if self._worker is not None and self._worker.isRunning():
            self._worker.wait()
        if self.session is not None:
            self.session.close()
        self.session = None
        self._after_session()

    def _after_session(self) -> None:
        s = self.session
        self.strip.set_plan(s.plan() if s is not None else [])
        perceptron = s is not None and s.perceptron
        for w in (self.one_sample_radio, self.batch_radio):
            w.setEnabled(s is not None and not perceptron)
        self.batch_spin.setEnabled(
            s is not None and not perceptron and self.batch_radio.isChecked()
        )
        if perceptron:
            self.one_sample_radio.setToolTip(
                "The seed's Perceptron learns one sample at a time (its rule is per sample)"
            )
        reason = s.tensorflow_problem() if s is not None else "no session"
        self._tf_reason = reason
        self.tf_button.setEnabled(s is not None and not reason)
        self.tf_button.setToolTip(
            reason or "The same step from the same weights on the TensorFlow backend, compared"
        )
        shown = reason if s is not None else ""
        self.tf_reason.setText(
            f"<span style='color:palette(placeholder-text)'>{shown}</span>" if shown else ""
        )
        self.tf_reason.setVisible(bool(shown))
        self.session_changed.emit()
        self._moved()

    def _batch_size(self) -> int:
        return self.batch_spin.value() if self.batch_radio.isChecked() else 1

    def _granularity_changed(self, *_args) -> None:
        self.batch_spin.setEnabled(self.batch_radio.isChecked() and self.session is not None)
        if self.session is None:
            return
        self.session.batch_size = self._batch_size()
        if self.session.at_start:
            # Nothing of this step is computed yet: take the new batch right away.
            self.session.rebatch()
            self._moved()
        else:
            self.status_message.emit("The new batch size applies from the next step")

    # ------------------------------------------------------------------ moves
    def _busy(self) -> bool:
        return self._worker is not None and self._worker.isRunning()

    def next_phase(self) -> None:
        if self.session is not None and not self._busy():
            self.session.next()
            self._moved()

    def previous_phase(self) -> None:
        if self.session is not None and not self._busy():
            self.session.previous()
            self._moved()

    def run_to_end(self) -> None:
        if self.session is not None and not self._busy():
            self.session.run_to_end()
            self._moved()

    def next_step(self) -> None:
        if self.session is not None and not self._busy():
            self.session.next_step()
            self.sample = min(self.sample, len(self.session.batch_x) - 1)
            self._moved()

    def reset(self) -> None:
        if self.session is not None and not self._busy():
            self.session.batch_size = self._batch_size()
            self.session.reset()
            self._moved()

    def go_to(self, index: int) -> None:
        """Show an already computed phase again (never computes anything)."""
        s = self.session
        if s is not None and not self._busy() and -1 <= index < len(s.phases):
            s.index = index
            self._moved()

    def set_sample(self, sample: int) -> None:
        s = self.session
        if s is None:
            return
        sample = max(0, min(int(sample), len(s.batch_x) - 1))
        if sample != self.sample:
            self.sample = sample
            if self.sample_spin.value() != sample + 1:
                self.sample_spin.setValue(sample + 1)
            self.sample_changed.emit(sample)
            self._show_math()

    def _moved(self) -> None:
        s = self.session
        if s is not None:
            self.sample = min(self.sample, len(s.batch_x) - 1)
            self.sample_spin.blockSignals(True)
            self.sample_spin.setRange(1, len(s.batch_x))
            self.sample_spin.setValue(self.sample + 1)
            self.sample_spin.blockSignals(False)
            self.strip.set_state(s.index, len(s.phases))
        else:
            self.strip.set_state(-1, 0)
        many = s is not None and len(s.batch_x) > 1
        self.sample_label.setVisible(many)
        self.sample_spin.setVisible(many)
        self._update_status()
        self._update_controls()
        self._show_math()
        self.phase_changed.emit()

    def _update_status(self) -> None:
        s = self.session
        if s is None:
            self.status_label.setText("<b>Backprop stepper</b> — no session")
            return
        rows = s.batch_indices + 1
        if len(rows) == 1:
            samples = f"sample {rows[0]}"
        elif np.all(np.diff(rows) == 1):
            samples = f"samples {rows[0]}–{rows[-1]}"
        elif np.all(np.diff(rows) % s.n_samples == 1):  # wrapped around the end
            samples = f"samples {rows[0]}–{s.n_samples}, 1–{rows[-1]}"
        else:  # a shuffled batch (a watchpoint's): its rows, a few of them
            shown = ", ".join(str(r) for r in rows[:4])
            samples = f"{len(rows)} samples (rows {shown}{', …' if len(rows) > 4 else ''})"
        loss = s.event("loss")
        loss_text = ""
        if loss is not None:
            label = "misclassified" if s.perceptron else "loss"
            loss_text = f" · {label} <b>{fmt(loss.data['value'])}</b>"
        if s.index < 0:
            where = "ready"
        else:
            where = f"phase {s.index + 1}/{s.total_phases}: <b>{s.strip()[s.index]}</b>"
        applied = (
            f" · <span style='color:{PASS_COLOR}'>update applied</span>" if s.committed else ""
        )
        self.status_label.setText(
            f"<b>Step {s.step_number}</b> · {samples} of {s.n_samples} · {where}{loss_text}"
            f"{applied}<br><span style='color:palette(placeholder-text)'>"
            f"{s.optimizer_class}, {s.loss_name or 'perceptron rule'}, {s.dtype}; started from "
            f"{s.weights_source}</span>"
        )

    def _update_controls(self) -> None:
        s = self.session
        busy = self._busy()
        on = s is not None and not busy
        self.previous_button.setEnabled(on and s.index >= 0)
        self.next_button.setEnabled(on and not s.at_end)
        self.run_button.setEnabled(on and not s.at_end)
        self.step_button.setEnabled(on)
        self.reset_button.setEnabled(on)
        self.save_button.setEnabled(on)
        perceptron_reason = "the Perceptron's 'sign' activation has no gradient to check"
        grad_ok = on and not s.perceptron
        self.gradcheck_button.setEnabled(grad_ok)
        if s is not None and s.perceptron:
            self.gradcheck_button.setToolTip(perceptron_reason)
        self.tf_button.setEnabled(on and not self._tf_reason)
        self.unpin_button.setEnabled(self.pinned is not None)

    # ------------------------------------------------------------------ math
    def pin_neuron(self, layer: str, unit: int) -> None:
        self.pinned = ("neuron", layer, int(unit))
        self.pinned_changed.emit(self.pinned)
        self._show_math()
        self._update_controls()

    def pin_weight(self, layer: str, i: int, j: int) -> None:
        self.pinned = ("weight", layer, int(i), int(j))
        self.pinned_changed.emit(self.pinned)
        self._show_math()
        self._update_controls()

    def pin_param(self, layer: str, weight: str, index) -> None:
        """Pin entry ``index`` of any weight of ``layer`` (a filter's pixel, a moving
        statistic): the math panel explains its gradient and update."""
        self.pinned = ("param", layer, str(weight), tuple(int(k) for k in index))
        self.pinned_changed.emit(self.pinned)
        self._show_math()
        self._update_controls()

    def unpin(self) -> None:
        self.pinned = None
        self.pinned_changed.emit(None)
        self._show_math()
        self._update_controls()

    def followed(self) -> tuple | None:
        """What the math panel explains: the pinned item, else the active layer's first
        unit (its first weight during its update)."""
        if self.pinned is not None:
            return self.pinned
        s = self.session
        if s is None:
            return None
        if s.index < 0:
            return ("neuron", INPUT, 0)
        kind, layer = s.plan()[s.index]
        layer = layer or s.graph.output
        node = s.graph.by_name[layer]
        if kind == "update" and node.layer_type.fully_connected:
            return ("weight", layer, 0, 0)
        if kind == "update":
            # The filter weight's first entry, else the first trainable weight's.
            weights = [w for w in node.weights if w.trainable] or list(node.weights)
            named = [w for w in weights if w.name == node.layer_type.filter_weight]
            if named or weights:
                w = (named or weights)[0]
                return ("param", layer, w.name, (0,) * len(w.shape))
        return ("neuron", layer, 0)

    def _show_math(self) -> None:
        s = self.session
        item = self.followed()
        if s is None or item is None:
            self.explanation = None
            self.math_header.setText("")
            self.math_view.set_explanation(
                None, self.error or "Start Backprop mode to see the math of each neuron."
            )
            return
        if item[0] == "neuron":
            self.explanation = explain_neuron(s, item[1], self.sample, item[2])
        elif item[0] == "param":
            self.explanation = explain_param(s, item[1], item[2], item[3], self.sample)
        else:
            self.explanation = explain_weight(s, item[1], item[2], item[3], self.sample)
        if self.pinned is not None:
            head = "<b>Pinned</b>"
        else:
            head = (
                "<b>Following the active layer</b> "
                "<span style='color:palette(placeholder-text)'>— click a neuron or an edge in "
                "the view to pin it</span>"
            )
        self.math_header.setText(
            head + "<br><span style='color:palette(placeholder-text); font-size:small'>Blue "
            "numbers are the engine's own (hover for full precision, click to copy); black ones "
            "are worked out here so you can follow.</span>"
        )
        self.math_view.set_explanation(self.explanation)

    def math_text(self) -> str:
        """The math panel's text as shown."""
        return self.math_view.toPlainText()

    # ------------------------------------------------------------------ checks
    def check_gradients(self) -> None:
        s = self.session
        if s is None:
            return
        try:
            checks = s.check_gradients()
        except NNDError as exc:
            self.gradcheck_verdict = ""
            self.checks_label.setText(str(exc))
            self.checks_table.setVisible(False)
            self.checks_finished.emit("gradients")
            return
        grades = [gradcheck_grade(c.max_rel_error, c.checked, c.too_small) for c in checks]
        self._fill_table(
            ["weight", "worst rel. error", "checked", "too small / kink", "result"],
            [
                (
                    [
                        f"{c.layer}/{c.weight}",
                        f"{c.max_rel_error:.2e}" if c.judged else "—",
                        str(c.checked),
                        f"{c.too_small} / {c.skipped}",
                    ],
                    g,
                )
                for c, g in zip(checks, grades, strict=True)
            ],
        )
        t = self.checks_table
        t.horizontalHeaderItem(1).setToolTip(
            "|backprop − numerical| / max(|backprop|, |numerical|, floor / 1e-6), over the "
            "entries large enough to judge"
        )
        t.horizontalHeaderItem(3).setToolTip(
            "Entries whose gradients both sit below the floor that the loss's round-off sets "
            "(too small to judge, never a failure) / entries skipped because a perturbation "
            "crossed a kink (ReLU at 0 and the like)"
        )
        for r, c in enumerate(checks):
            t.item(r, 1).setToolTip(
                f"worst |backprop − numerical| {c.max_abs_error:.3g}; absolute floor "
                f"{c.floor:.3g} ({FLOOR_SIGMAS:g}× the numerical gradient's round-off)"
            )
        judged = [c for c, g in zip(checks, grades, strict=True) if g in ("pass", "warn", "fail")]
        worst = max((c.max_rel_error for c in judged), default=0.0)
        small = grades.count(TOO_SMALL)
        if "fail" in grades or "warn" in grades or "pass" in grades:
            verdict = "fail" if "fail" in grades else "warn" if "warn" in grades else "pass"
            detail = (
                f"largest relative error {worst:.2e} (pass ≤ 1e-6, warn &lt; 1e-4, above the "
                "floor that the loss's round-off sets)"
            )
            if small:
                detail += f"; {small} weight array(s) too small to judge"
        elif small:
            verdict = TOO_SMALL
            detail = (
                "every gradient sits below the floor that the loss's round-off sets for central "
                "differences, so nothing contradicts backprop (a batch with samples the network "
                "gets wrong has larger gradients)"
            )
        else:
            verdict = "skipped"
            detail = "every perturbation crossed a kink (ReLU at 0 or the like)"
        self.gradcheck_verdict = verdict
        self.checks_label.setText(
            f"<b style='color:{_GRADE_COLORS[verdict]}'>Gradient check: {verdict.upper()}</b> — "
            f"backprop vs central differences (float64) on this step's batch of "
            f"{len(s.batch_x)}; {detail}."
        )
        self.checks_finished.emit("gradients")

    def compare_tensorflow(self) -> None:
        s = self.session
        if s is None or self._busy():
            return
        self.checks_label.setText("Comparing with TensorFlow (the first import takes a while)…")
        collect_on_ui_thread()  # before the thread allocates (see designer.gc_policy)
        self._worker = _CompareWorker(s, self)
        self._worker.finished.connect(self._compare_done)
        self._update_controls()
        self.tf_button.setEnabled(False)
        self._worker.start()

    def _compare_done(self) -> None:
        worker = self._worker
        self._worker = None
        self._update_controls()
        if worker is None:
            return
        worker.deleteLater()
        if worker.error is not None:
            self.checks_label.setText(worker.error)
            self.checks_table.setVisible(False)
            self.checks_finished.emit("tensorflow")
            return
        report = worker.report
        self.last_report = report
        self._fill_table(
            ["layer", "quantity", "max abs diff", "max rel diff", "result"],
            [
                (
                    [r.layer, r.quantity, f"{r.max_abs:.2e}", f"{r.max_rel:.2e}"],
                    "pass" if r.ok else "fail",
                )
                for r in report.rows
            ],
        )
        verdict = "pass" if report.ok else "fail"
        notes = " ".join(report.notes)
        self.checks_label.setText(
            f"<b style='color:{GRADE_COLORS[verdict]}'>TensorFlow: "
            f"{'the engines agree' if report.ok else 'the engines DIFFER'}</b> — "
            f"{report.tensorflow_version}, {report.dtype}, batch of {report.batch_size}. "
            f"Loss NumPy {fmt(report.loss_numpy)}, TensorFlow {fmt(report.loss_tensorflow)}. "
            f"<span style='color:palette(placeholder-text)'>{notes}</span>"
        )
        self.checks_finished.emit("tensorflow")

    def _fill_table(self, headers: list[str], rows: list[tuple[list[str], str]]) -> None:
        t = self.checks_table
        t.clear()
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.setRowCount(len(rows))
        for r, (cells, grade) in enumerate(rows):
            for c, text in enumerate([*cells, grade]):
                item = QTableWidgetItem(text)
                if c == len(cells):
                    color = QColor(_GRADE_COLORS[grade])
                    item.setForeground(color)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setData(Qt.ItemDataRole.UserRole, grade)
                elif c > 0 and text[:1].isdigit():
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                t.setItem(r, c, item)
        t.setVisible(True)

    # ------------------------------------------------------------------ saving
    def _ask_save(self) -> None:
        s = self.session
        if s is None:
            return
        name = f"{s.project.name}-step{s.step_number}.json".replace(" ", "_").replace("/", "_")
        start = str((s.project.base_dir or Path.cwd()) / name)
        path, _ = QFileDialog.getSaveFileName(self, "Save this step", start, "Trace JSON (*.json)")
        if path:
            try:
                json_path, png_path = self.save_step(path)
            except (NNDError, OSError) as exc:
                self.error_label.setText(str(exc))
                self.error_label.setVisible(True)
                return
            self.status_message.emit(f"Saved {json_path.name} and {png_path.name}")

    def save_step(self, path: str | Path) -> tuple[Path, Path]:
        """Write the step's trace to ``path`` (.json) and the view to the same name .png.

        Raises NNDError when the trace holds NaN/inf or cannot be written, OSError when the PNG
        cannot be written."""
        if self.session is None:
            raise NNDError("no step to save: Backprop mode is off")
        json_path = Path(path)
        if json_path.suffix.lower() != ".json":
            json_path = json_path.with_suffix(".json")
        png_path = json_path.with_suffix(".png")
        self.session.save_json(json_path)
        pixmap = self.view_grabber() if self.view_grabber is not None else self.grab()
        if not pixmap.save(str(png_path), "PNG"):
            raise OSError(f"could not write {png_path}")
        return json_path, png_path
