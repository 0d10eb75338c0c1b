"""The palette: every layer type with its icon and one-line description, to drag onto the
canvas (or double-click / Enter to add after the selected layer), in groups as Keras groups its
layers (each type's ``group``: "Core", "Convolution", "Reshaping", ...).

A group's header is drawn above its first shown entry (a band of that entry's row, not an entry
of its own), so that it can never be selected, dragged or added; filtering hides a header with
the last entry of its group."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QFont, QFontMetrics, QIcon, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from designer.panels.layer_icons import layer_icon, layer_pixmap
from engine.layers import LAYER_TYPES

LAYER_MIME_TYPE = "application/x-nndesigner-layer"
CLASS_ROLE = Qt.ItemDataRole.UserRole
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 1
KEYWORDS_ROLE = Qt.ItemDataRole.UserRole + 2
GROUP_ROLE = Qt.ItemDataRole.UserRole + 3
#: The header drawn above an entry: its group's name when it is the first shown of its group.
HEADER_ROLE = Qt.ItemDataRole.UserRole + 4
ICON_SIZE = 32

#: Keras' groups of layers, in the order its documentation lists them; a group not named here
#: comes after these, in the order of its first layer type.
GROUP_ORDER = (
    "Core",
    "Activation",
    "Convolution",
    "Pooling",
    "Normalization",
    "Regularization",
    "Reshaping",
    "Merging",
)


def grouped_types() -> list[tuple[str, list[str]]]:
    """The registry's layer types by palette group: (group, class names in registry order),
    the groups in :data:`GROUP_ORDER`."""
    groups: dict[str, list[str]] = {}
    for name, layer_type in LAYER_TYPES.items():
        groups.setdefault(layer_type.group or "Core", []).append(name)
    known = [g for g in GROUP_ORDER if g in groups]
    return [(g, groups[g]) for g in known + [g for g in groups if g not in GROUP_ORDER]]


def header_height(fm: QFontMetrics) -> int:
    """The height of a group header band above an entry."""
    return fm.height() + 10


def layer_mime_data(class_name: str) -> QMimeData:
    """The drag payload for a layer type: ``application/x-nndesigner-layer`` holding the class
    name as UTF-8 (plain text too, so that dropping into a text field writes the name)."""
    mime = QMimeData()
    mime.setData(LAYER_MIME_TYPE, QByteArray(class_name.encode("utf-8")))
    mime.setText(class_name)
    return mime


def class_name_from_mime(mime: QMimeData) -> str | None:
    """The layer class a drop carries, or None when it carries no known layer type."""
    if not mime.hasFormat(LAYER_MIME_TYPE):
        return None
    name = bytes(mime.data(LAYER_MIME_TYPE).data()).decode("utf-8", errors="replace")
    return name if name in LAYER_TYPES else None


class _EntryDelegate(QStyledItemDelegate):
    """Icon, bold class name and a grey one-line description (elided, full text in tooltip)."""

    PAD = 6

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # Qt override
        fm = QFontMetrics(option.font)
        height = max(ICON_SIZE, 3 * fm.height() + 2) + 2 * self.PAD
        if index.data(HEADER_ROLE):
            height += header_height(fm)
        return QSize(200, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        header = index.data(HEADER_ROLE)
        if header:
            band = header_height(QFontMetrics(option.font))
            self._paint_header(painter, option, header, band)
            option = QStyleOptionViewItem(option)
            option.rect = option.rect.adjusted(0, band, 0, 0)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.rect = option.rect
        style = opt.widget.style() if opt.widget else QApplication.style()
        # Background, selection and hover from the style; the content is drawn below.
        opt.text = ""
        opt.icon = QIcon()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)

        rect = option.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        class_name = index.data(CLASS_ROLE)
        icon_rect = QRect(rect.left(), rect.center().y() - ICON_SIZE // 2 + 1, ICON_SIZE, ICON_SIZE)
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(icon_rect, layer_pixmap(class_name, ICON_SIZE, dpr))

        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Active
            if option.state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = option.palette.color(group, text_role)
        sub_color = option.palette.color(
            group,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText,
        )
        text_left = icon_rect.right() + 10
        text_rect = QRect(text_left, rect.top(), rect.right() - text_left, rect.height())
        fm = QFontMetrics(option.font)
        bold = QFont(option.font)
        bold.setBold(True)
        lines = _wrap(fm, index.data(DESCRIPTION_ROLE) or "", text_rect.width(), 2)
        block = (1 + len(lines)) * fm.height() + 2
        top = text_rect.top() + (text_rect.height() - block) // 2
        painter.save()
        painter.setFont(bold)
        painter.setPen(text_color)
        painter.drawText(
            QRect(text_rect.left(), top, text_rect.width(), fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            class_name,
        )
        painter.setFont(option.font)
        painter.setPen(sub_color)
        for i, text in enumerate(lines):
            painter.drawText(
                QRect(
                    text_rect.left(),
                    top + (i + 1) * fm.height() + 2,
                    text_rect.width(),
                    fm.height(),
                ),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                text,
            )
        painter.restore()

    def _paint_header(
        self, painter: QPainter, option: QStyleOptionViewItem, title: str, band: int
    ) -> None:
        """The group's name in small bold letters over a thin rule."""
        rect = QRect(option.rect.left(), option.rect.top(), option.rect.width(), band)
        color = option.palette.color(QPalette.ColorRole.PlaceholderText)
        font = QFont(option.font)
        font.setBold(True)
        font.setCapitalization(QFont.Capitalization.AllUppercase)
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        painter.save()
        painter.setFont(font)
        painter.setPen(color)
        text_rect = rect.adjusted(self.PAD, 2, -self.PAD, -2)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        painter.drawText(text_rect, align, title)
        painter.drawLine(text_rect.left(), rect.bottom(), text_rect.right(), rect.bottom())
        painter.restore()


def _wrap(fm: QFontMetrics, text: str, width: int, max_lines: int) -> list[str]:
    """Word-wrap ``text`` to ``width`` pixels, eliding the last of at most ``max_lines``."""
    words = text.split()
    lines: list[str] = []
    while words and len(lines) < max_lines - 1:
        line = words.pop(0)
        while words and fm.horizontalAdvance(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(line)
    if words:
        lines.append(fm.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width))
    return lines


class _LayerList(QListWidget):
    """The list: drags carry :data:`LAYER_MIME_TYPE`; Enter asks to add the current entry."""

    activated_entry = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(False)  # rows with a group header are taller
        self.setItemDelegate(_EntryDelegate(self))
        self.setMouseTracking(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.itemDoubleClicked.connect(self._on_double_click)
        self._press_on_header = False

    def on_header(self, pos) -> bool:
        """Whether ``pos`` (viewport coordinates) is on a group header band."""
        item = self.itemAt(pos)
        if item is None or not item.data(HEADER_ROLE):
            return False
        rect = self.visualItemRect(item)
        return pos.y() < rect.top() + header_height(QFontMetrics(self.font()))

    def mousePressEvent(self, event) -> None:  # Qt override
        # A header is no entry: a press on it selects nothing and starts no drag.
        self._press_on_header = self.on_header(event.position().toPoint())
        if self._press_on_header:
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # Qt override
        if self._press_on_header and event.buttons():
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # Qt override
        if self._press_on_header:
            self._press_on_header = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # Qt override
        if self.on_header(event.position().toPoint()):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def mimeTypes(self) -> list[str]:  # Qt override
        return [LAYER_MIME_TYPE, "text/plain"]

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # Qt override
        return layer_mime_data(items[0].data(CLASS_ROLE)) if items else QMimeData()

    def startDrag(self, supported: Qt.DropAction) -> None:  # Qt override
        item = self.currentItem()
        if item is None:
            return
        class_name = item.data(CLASS_ROLE)
        drag = QDrag(self)
        drag.setMimeData(layer_mime_data(class_name))
        dpr = self.devicePixelRatioF()
        pixmap = layer_pixmap(class_name, 40, dpr)
        drag.setPixmap(pixmap)
        drag.setHotSpot(pixmap.rect().center() / dpr)
        drag.exec(Qt.DropAction.CopyAction)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            if not self.currentItem().isHidden():
                self.activated_entry.emit(self.currentItem().data(CLASS_ROLE))
                return
        super().keyPressEvent(event)

    def _on_double_click(self, item: QListWidgetItem) -> None:
        self.activated_entry.emit(item.data(CLASS_ROLE))


class PalettePanel(QWidget):
    """The layer types (from :data:`engine.layers.LAYER_TYPES`) with a filter box.

    Signals
    -------
    add_requested(str) : double-click or Enter on an entry (or Enter in the filter box with
        one match): the class name to add after the selected layer.
    """

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter layers…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.set_filter)
        self.filter_edit.returnPressed.connect(self._on_filter_return)
        self.filter_edit.installEventFilter(self)

        self.list = _LayerList()
        self.list.activated_entry.connect(self.add_requested)
        self.groups = grouped_types()
        for group, names in self.groups:
            for name in names:
                layer_type = LAYER_TYPES[name]
                item = QListWidgetItem(layer_icon(name), name)
                item.setData(CLASS_ROLE, name)
                item.setData(DESCRIPTION_ROLE, layer_type.description.replace("`", ""))
                item.setData(KEYWORDS_ROLE, " ".join(("merge" if layer_type.merge else "", group)))
                item.setData(GROUP_ROLE, group)
                item.setToolTip(
                    f"<b>{name}</b> ({group})<br>{layer_type.description}<br>"
                    "<i>Drag onto the canvas, or double-click to add after the selection.</i>"
                )
                self.list.addItem(item)
        self._update_headers()
        if self.list.count():
            self.list.setCurrentRow(0)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list, 1)

    # ------------------------------------------------------------------ queries
    def class_names(self) -> list[str]:
        """Every listed layer class, in registry order (filtered ones included)."""
        listed = {self.list.item(i).data(CLASS_ROLE) for i in range(self.list.count())}
        return [name for name in LAYER_TYPES if name in listed]

    def visible_class_names(self) -> list[str]:
        """The shown layer classes, in registry order."""
        shown = set(self.shown_in_order())
        return [name for name in LAYER_TYPES if name in shown]

    def shown_in_order(self) -> list[str]:
        """The shown layer classes as the list shows them (group by group)."""
        return [
            self.list.item(i).data(CLASS_ROLE)
            for i in range(self.list.count())
            if not self.list.item(i).isHidden()
        ]

    def shown_groups(self) -> list[tuple[str, list[str]]]:
        """The headers shown and the entries under each, top to bottom."""
        out: list[tuple[str, list[str]]] = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.isHidden():
                continue
            if item.data(HEADER_ROLE):
                out.append((item.data(HEADER_ROLE), []))
            out[-1][1].append(item.data(CLASS_ROLE))
        return out

    def _update_headers(self) -> None:
        """Put each group's header on its first shown entry."""
        seen: set[str] = set()
        changed = False
        for i in range(self.list.count()):
            item = self.list.item(i)
            group = item.data(GROUP_ROLE)
            header = ""
            if not item.isHidden() and group not in seen:
                seen.add(group)
                header = group
            if (item.data(HEADER_ROLE) or "") != header:
                item.setData(HEADER_ROLE, header)
                changed = True
        if changed:
            self.list.doItemsLayout()

    def mime_data_for(self, class_name: str) -> QMimeData:
        """The QMimeData a drag of ``class_name`` carries (what the list's drag uses)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(CLASS_ROLE) == class_name:
                return self.list.mimeData([item])
        raise KeyError(f"no layer type {class_name!r} in the palette")

    # ------------------------------------------------------------------ filtering
    def set_filter(self, text: str) -> None:
        """Show the entries whose class name, description or group contains ``text``."""
        needle = text.strip().lower()
        first_visible = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            haystack = " ".join(
                str(item.data(role)) for role in (CLASS_ROLE, DESCRIPTION_ROLE, KEYWORDS_ROLE)
            ).lower()
            hidden = bool(needle) and needle not in haystack
            item.setHidden(hidden)
            if not hidden and first_visible is None:
                first_visible = item
        self._update_headers()
        if self.filter_edit.text() != text:
            self.filter_edit.setText(text)
        current = self.list.currentItem()
        if first_visible is not None and (current is None or current.isHidden()):
            self.list.setCurrentItem(first_visible)

    def _on_filter_return(self) -> None:
        current = self.list.currentItem()
        if current is not None and not current.isHidden():
            self.add_requested.emit(current.data(CLASS_ROLE))

    def eventFilter(self, watched, event) -> bool:  # Qt override
        # Down/Up in the filter box move through the list, so the keyboard never has to leave.
        if watched is self.filter_edit and event.type() == event.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                visible = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
                if visible:
                    row = self.list.currentRow()
                    pos = visible.index(row) if row in visible else -1
                    step = 1 if event.key() == Qt.Key.Key_Down else -1
                    self.list.setCurrentRow(visible[max(0, min(len(visible) - 1, pos + step))])
                return True
        return super().eventFilter(watched, event)
