"""The live Keras code of the project: the export text, read-only, with a copy button.

The text comes from ``engine.export.keras_code.keras_code(project)`` (imported lazily, so the
panel works before that module exists) or from the ``code_fn`` given. Updates are debounced so
that typing in the inspector stays fluid.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable

from PySide6.QtCore import QRegularExpression, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import error_color
from designer.plots.theme import is_dark
from engine.errors import NNDError

DEBOUNCE_MS = 150
UNAVAILABLE_TEXT = "Keras code export is not available yet."
CodeFn = Callable[[object], str]


def default_code_fn() -> CodeFn | None:
    """``engine.export.keras_code.keras_code``, or None while that module does not exist."""
    try:
        from engine.export.keras_code import keras_code
    except ImportError:
        return None
    return keras_code


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, strings (triple-quoted too), comments, numbers and decorators."""

    def __init__(self, document: QTextDocument, dark: bool = False) -> None:
        super().__init__(document)
        colors = (
            {
                "keyword": "#c678dd",
                "builtin": "#56b6c2",
                "string": "#98c379",
                "comment": "#7f848e",
                "number": "#d19a66",
                "decorator": "#e5c07b",
                "call": "#61afef",
            }
            if dark
            else {
                "keyword": "#0033b3",
                "builtin": "#00627a",
                "string": "#067d17",
                "comment": "#8c8c8c",
                "number": "#1750eb",
                "decorator": "#9e880d",
                "call": "#00627a",
            }
        )

        def fmt(name: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(colors[name]))
            if bold:
                f.setFontWeight(700)
            f.setFontItalic(italic)
            return f

        self.formats = {
            "keyword": fmt("keyword", bold=True),
            "builtin": fmt("builtin"),
            "string": fmt("string"),
            "comment": fmt("comment", italic=True),
            "number": fmt("number"),
            "decorator": fmt("decorator"),
            "call": fmt("call"),
        }
        words = "|".join(keyword.kwlist)
        builtins = "print|len|range|list|dict|tuple|int|float|str|bool|zip|enumerate|open"
        self.rules = [
            (QRegularExpression(r"\b[A-Za-z_]\w*(?=\()"), self.formats["call"]),
            (QRegularExpression(rf"\b({words})\b"), self.formats["keyword"]),
            (QRegularExpression(rf"\b({builtins})\b(?=\()"), self.formats["builtin"]),
            (
                QRegularExpression(r"\b(0[xX][0-9a-fA-F_]+|\d[\d_]*\.?\d*([eE][-+]?\d+)?|\.\d+)\b"),
                self.formats["number"],
            ),
            (QRegularExpression(r"^\s*@[\w.]+"), self.formats["decorator"]),
        ]
        # Strings and comments last: they win over everything inside them.
        self._string_or_comment = re.compile(
            r"""(?P<tri>[rRbBfFuU]{0,2}(\"\"\"|'''))|(?P<str>[rRbBfFuU]{0,2}("(\\.|[^"\\])*"|'(\\.|[^'\\])*'))|(?P<comment>\#.*)"""
        )

    def highlightBlock(self, text: str) -> None:  # Qt override
        for pattern, form in self.rules:
            it = pattern.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(), m.capturedLength(), form)
        # Block state 1 or 2: inside a triple-quoted string opened with """ or '''.
        self.setCurrentBlockState(0)
        start = 0
        state = self.previousBlockState()
        if state in (1, 2):
            quote = '"""' if state == 1 else "'''"
            end = text.find(quote)
            if end < 0:
                self.setFormat(0, len(text), self.formats["string"])
                self.setCurrentBlockState(state)
                return
            self.setFormat(0, end + 3, self.formats["string"])
            start = end + 3
        while start < len(text):
            m = self._string_or_comment.search(text, start)
            if not m:
                break
            if m.group("tri"):
                quote = m.group(2)
                end = text.find(quote, m.end())
                if end < 0:
                    self.setFormat(m.start(), len(text) - m.start(), self.formats["string"])
                    self.setCurrentBlockState(1 if quote == '"""' else 2)
                    return
                self.setFormat(m.start(), end + 3 - m.start(), self.formats["string"])
                start = end + 3
            elif m.group("str"):
                self.setFormat(m.start(), m.end() - m.start(), self.formats["string"])
                start = m.end()
            else:
                self.setFormat(m.start(), len(text) - m.start(), self.formats["comment"])
                return


class CodePanel(QWidget):
    """The project's Keras code, refreshed (debounced) after every edit.

    Parameters
    ----------
    document : Document
    code_fn : callable(Project) -> str, optional
        The exporter; ``engine.export.keras_code.keras_code`` when omitted (if it exists).
        An :class:`~engine.errors.NNDError` it raises is shown instead of the code.

    Attributes
    ----------
    editor : QPlainTextEdit
        The code (read-only).
    message_label : QLabel
        Shown instead of the code when there is none (invalid project, export refused,
        exporter missing).
    copy_button : QPushButton
    """

    def __init__(
        self, document, code_fn: CodeFn | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.code_fn = code_fn if code_fn is not None else default_code_fn()
        self._code = ""

        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.editor.setFont(font)
        self.editor.setTabStopDistance(4 * self.editor.fontMetrics().horizontalAdvance(" "))
        self.highlighter = PythonHighlighter(self.editor.document(), dark=is_dark(self))

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setMargin(8)
        self._message_page = QWidget()
        page = QVBoxLayout(self._message_page)
        page.setContentsMargins(0, 0, 0, 0)
        page.addWidget(self.message_label)
        page.addStretch(1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.editor)
        self.stack.addWidget(self._message_page)

        self.title = QLabel("Keras code")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.copy_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_now)
        document.changed.connect(self.schedule_refresh)
        self.refresh_now()

    # ------------------------------------------------------------------ queries
    def code_text(self) -> str:
        """The code shown ('' when a message is shown instead)."""
        return self._code

    def message_text(self) -> str:
        """The message shown instead of the code ('' when code is shown)."""
        return "" if self._code else self.message_label.text()

    @property
    def pending(self) -> bool:
        """True while a refresh is scheduled but not yet done."""
        return self._timer.isActive()

    # ------------------------------------------------------------------ actions
    def schedule_refresh(self) -> None:
        self._timer.start()

    def refresh_now(self) -> None:
        """Recompute the code now (normally called by the debounce timer)."""
        self._timer.stop()
        doc = self.document
        if self.code_fn is None:
            self._show_message(UNAVAILABLE_TEXT, error=False)
            return
        if doc.problems:
            self._show_message(
                "The project has problems, so there is no code to show yet:\n"
                + "\n".join(f"• {p}" for p in doc.problems[:5])
                + (f"\n(and {len(doc.problems) - 5} more)" if len(doc.problems) > 5 else "")
            )
            return
        try:
            code = self.code_fn(doc.project)
        except NNDError as exc:
            self._show_message(str(exc))
            return
        except Exception as exc:  # a bug in the exporter must not take the panel down
            self._show_message(f"The Keras export failed unexpectedly: {exc!r}")
            return
        self._show_code(code)

    def copy(self) -> None:
        """Put the code on the clipboard."""
        if self._code:
            QApplication.clipboard().setText(self._code)

    # ------------------------------------------------------------------ view
    def _show_code(self, code: str) -> None:
        self._code = code
        if self.editor.toPlainText() != code:
            bar = self.editor.verticalScrollBar()
            h_bar = self.editor.horizontalScrollBar()
            v, h = bar.value(), h_bar.value()
            self.editor.setPlainText(code)
            bar.setValue(v)
            h_bar.setValue(h)
        self.stack.setCurrentWidget(self.editor)
        self.copy_button.setEnabled(True)

    def _show_message(self, text: str, error: bool = True) -> None:
        self._code = ""
        self.message_label.setText(text)
        color = error_color(self) if error else "palette(placeholder-text)"
        self.message_label.setStyleSheet(f"color: {color};")
        self.stack.setCurrentWidget(self._message_page)
        self.copy_button.setEnabled(False)
