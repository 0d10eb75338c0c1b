"""Persistent user settings (QSettings): window layout (one arrangement per workspace), recent
files, the last folder used, theme.

Tests and tools must never write the real user settings: set ``NNDESIGNER_SETTINGS_DIR`` to a
folder and :func:`app_settings` keeps everything in ``<folder>/nndesigner.ini`` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "nndesigner"
APPLICATION = "NN Designer"
SETTINGS_DIR_ENV = "NNDESIGNER_SETTINGS_DIR"
MAX_RECENT = 8

KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"
KEY_RECENT = "files/recent"
KEY_THEME = "view/theme"
KEY_WORKSPACE = "workspace/current"
KEY_LAST_FOLDER = "files/last_folder"


def app_settings() -> QSettings:
    """The application's settings: the user's own, or a private ini file when
    ``NNDESIGNER_SETTINGS_DIR`` is set."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "nndesigner.ini"), QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def _as_list(value) -> list[str]:
    # An ini file gives a 1-element list back as a plain string, and nothing as None.
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def recent_files(settings: QSettings | None) -> list[str]:
    if settings is None:
        return []
    return _as_list(settings.value(KEY_RECENT))[:MAX_RECENT]


def add_recent_file(settings: QSettings | None, path: str | Path) -> list[str]:
    """Put ``path`` first in the recent files; returns the new list."""
    if settings is None:
        return []
    text = str(Path(path).resolve())
    files = [text, *(f for f in recent_files(settings) if f != text)][:MAX_RECENT]
    settings.setValue(KEY_RECENT, files)
    return files


def remove_recent_file(settings: QSettings | None, path: str | Path) -> list[str]:
    if settings is None:
        return []
    text = str(Path(path).resolve())
    files = [f for f in recent_files(settings) if f != text]
    settings.setValue(KEY_RECENT, files)
    return files


def theme_mode(settings: QSettings | None) -> str:
    """``"system"``, ``"light"`` or ``"dark"``."""
    value = settings.value(KEY_THEME, "system") if settings is not None else "system"
    return value if value in ("system", "light", "dark") else "system"


def set_theme_mode(settings: QSettings | None, mode: str) -> None:
    if settings is not None:
        settings.setValue(KEY_THEME, mode)
