"""Light and dark themes that follow the system, and a readable base font.

"system" follows the platform's colour scheme (``QStyleHints.colorScheme``, Qt 6.5+) and
changes with it; "light" and "dark" force one. Fusion with an explicit palette is used where
the native style cannot draw a dark scheme itself (Linux and the offscreen platform); on
Windows and macOS the native style follows the scheme Qt is told (Qt 6.8+).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES: tuple[tuple[str, str], ...] = (("system", "System"), ("light", "Light"), ("dark", "Dark"))
MIN_POINT_SIZE = 10.0
_NATIVE_STYLE_PLATFORMS = ("windows", "cocoa")

_current_mode = "system"
_follower_installed = False


def _role(name: str) -> QPalette.ColorRole:
    return getattr(QPalette.ColorRole, name)


def _palette(colors: dict[str, str], disabled: dict[str, str]) -> QPalette:
    pal = QPalette()
    for role, color in colors.items():
        pal.setColor(_role(role), QColor(color))
    for role, color in disabled.items():
        pal.setColor(QPalette.ColorGroup.Disabled, _role(role), QColor(color))
    return pal


def light_palette() -> QPalette:
    """A calm light palette (slate greys, blue accent)."""
    return _palette(
        {
            "Window": "#f3f4f6",
            "WindowText": "#1f2937",
            "Base": "#ffffff",
            "AlternateBase": "#f6f7f9",
            "ToolTipBase": "#ffffff",
            "ToolTipText": "#1f2937",
            "PlaceholderText": "#6b7280",
            "Text": "#111827",
            "Button": "#f3f4f6",
            "ButtonText": "#1f2937",
            "BrightText": "#dc2626",
            "Light": "#ffffff",
            "Midlight": "#e5e7eb",
            "Mid": "#c4c8cf",
            "Dark": "#9ca3af",
            "Shadow": "#6b7280",
            "Highlight": "#2563eb",
            "HighlightedText": "#ffffff",
            "Link": "#2563eb",
            "LinkVisited": "#7c3aed",
            "Accent": "#2563eb",
        },
        {
            "WindowText": "#9ca3af",
            "Text": "#9ca3af",
            "ButtonText": "#9ca3af",
            "Highlight": "#cbd5e1",
        },
    )


def dark_palette() -> QPalette:
    """A Fusion dark palette (neutral greys, blue accent)."""
    return _palette(
        {
            "Window": "#25272b",
            "WindowText": "#e5e7eb",
            "Base": "#1b1d20",
            "AlternateBase": "#222428",
            "ToolTipBase": "#2d3035",
            "ToolTipText": "#e5e7eb",
            "PlaceholderText": "#8b9099",
            "Text": "#e5e7eb",
            "Button": "#2d3035",
            "ButtonText": "#e5e7eb",
            "BrightText": "#f87171",
            "Light": "#3a3d43",
            "Midlight": "#33363b",
            "Mid": "#2a2c31",
            "Dark": "#151618",
            "Shadow": "#000000",
            "Highlight": "#3b82f6",
            "HighlightedText": "#ffffff",
            "Link": "#60a5fa",
            "LinkVisited": "#a78bfa",
            "Accent": "#3b82f6",
        },
        {
            "WindowText": "#6b7078",
            "Text": "#6b7078",
            "ButtonText": "#6b7078",
            "Highlight": "#3a3d43",
        },
    )


def system_is_dark() -> bool:
    """True when the platform asks for a dark colour scheme."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(mode: str) -> str:
    """``"light"`` or ``"dark"`` for a theme mode (``"system"`` asks the platform)."""
    if mode == "system":
        return "dark" if system_is_dark() else "light"
    return "dark" if mode == "dark" else "light"


def current_mode() -> str:
    return _current_mode


def uses_fusion() -> bool:
    return QGuiApplication.platformName() not in _NATIVE_STYLE_PLATFORMS


def ensure_readable_font(app: QApplication) -> None:
    """Raise the application font to at least :data:`MIN_POINT_SIZE` points (Qt's built-in
    default of 9 pt is small on most screens)."""
    font = app.font()
    if 0 < font.pointSizeF() < MIN_POINT_SIZE:
        font.setPointSizeF(MIN_POINT_SIZE)
        app.setFont(font)


def apply_theme(app: QApplication, mode: str = "system") -> str:
    """Apply ``mode`` ("system", "light" or "dark"); returns the scheme now shown.

    Following the system is kept up: a later change of the platform's scheme re-applies it.
    Widgets that paint from the palette (canvas, pyqtgraph plots created afterwards) follow.
    """
    global _current_mode, _follower_installed
    _current_mode = mode if mode in ("system", "light", "dark") else "system"
    scheme = resolve(_current_mode)
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+: tell native styles what to draw
        wanted = {
            "system": Qt.ColorScheme.Unknown,
            "light": Qt.ColorScheme.Light,
            "dark": Qt.ColorScheme.Dark,
        }[_current_mode]
        if not uses_fusion():
            hints.setColorScheme(wanted)
    if uses_fusion():
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")
        app.setPalette(dark_palette() if scheme == "dark" else light_palette())
    if not _follower_installed:
        hints.colorSchemeChanged.connect(lambda _scheme: _follow_system(app))
        _follower_installed = True
    _configure_plots()
    for widget in app.topLevelWidgets():
        widget.update()
    return scheme


def save_state(app: QApplication) -> tuple[str, QPalette, str]:
    """What :func:`restore_state` needs to undo :func:`apply_theme` (screenshots use it)."""
    return app.style().name(), QPalette(app.palette()), _current_mode


def restore_state(app: QApplication, state: tuple[str, QPalette, str]) -> None:
    global _current_mode
    style, pal, mode = state
    if app.style().name().lower() != style.lower():
        app.setStyle(style)
    app.setPalette(pal)
    _current_mode = mode
    _configure_plots()


def _follow_system(app: QApplication) -> None:
    if _current_mode == "system":
        apply_theme(app, "system")


def _configure_plots() -> None:
    # Only once pyqtgraph is loaded: plots made later configure it themselves, and importing
    # it here would cost start-up time.
    if "pyqtgraph" in sys.modules:
        from designer.plots.theme import configure_pyqtgraph

        configure_pyqtgraph()


def offscreen_app(mode: str | None = "light") -> QApplication:
    """The QApplication for rendering screenshots: the running one, or a new one on Qt's
    offscreen platform; with ``mode``, that theme and a readable font (None leaves both)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(["nndesigner", "-platform", "offscreen"])
    if mode is not None:
        apply_theme(app, mode)
        ensure_readable_font(app)
    return app
