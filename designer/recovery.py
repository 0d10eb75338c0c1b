"""Crash safety: autosave files for recovery, and clean-up after interrupted saves.

Autosave
    While a document has unsaved changes the window writes it, every minute, to its own
    recovery file ``autosave-<session>.nnd`` in the recovery folder (never over the user's
    file): a normal ``.nnd`` (spec, weights, history) with one more entry, ``recovery.json``,
    naming the original file, the project and the time. Each session holds a lock file
    (``QLockFile``) beside it, so a second running instance never offers a live session's
    file. A clean exit, a save, or a return to the saved state removes the session's file.
    After a crash the file stays with a stale lock: the next start offers to recover it.

    The folder is ``QStandardPaths.AppDataLocation/recovery``, or ``$NNDESIGNER_RECOVERY_DIR``.

Interrupted saves
    :func:`engine.project.atomic_write` writes ``.<name>.<pid>-<host>.<random>.tmp`` beside
    the target and renames it over the target, so a killed save leaves the old file intact
    plus at most one such temp file. Every save (:func:`engine.project.save_project`, and
    :func:`save_project_cleanly` here) first removes the leftovers of earlier interrupted saves
    of the same file whose writer is gone (:func:`engine.project.is_stale_temp_file`: never
    the temp file of a save still running), so litter never accumulates. The recovery folder's
    autosave temp files are tidied the same way when a session starts (:meth:`orphans`).

This module imports Qt only inside :class:`RecoveryStore` (the lock), so a headless process can
use :func:`save_project_cleanly`.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.errors import NNDError
from engine.project import (
    Project,
    atomic_write,
    load_project,
    project_bytes,
    read_json_entry,
    save_project,
    temp_files_of,
)
from engine.project import remove_stale_temp_files as _remove_stale

RECOVERY_DIR_ENV = "NNDESIGNER_RECOVERY_DIR"
AUTOSAVE_INTERVAL_MS = 60_000
META_ENTRY = "recovery.json"
PREFIX = "autosave-"
SUFFIX = ".nnd"


# ---------------------------------------------------------------------- interrupted saves
def temp_files_for(path: str | os.PathLike) -> list[Path]:
    """Temp files that :func:`engine.project.atomic_write` leaves beside ``path`` when a save
    is interrupted (``.<name>.*.tmp``), stale or not."""
    return temp_files_of(path)


def remove_stale_temp_files(path: str | os.PathLike) -> int:
    """Delete the temp files of earlier interrupted saves of ``path`` whose writer is gone
    (a running save's temp file stays); how many went."""
    return _remove_stale(path)


def save_project_cleanly(project: Project, path: str | os.PathLike) -> Path:
    """:func:`engine.project.save_project` after removing earlier interrupted saves' temp
    files. Raises :class:`ProjectError` as ``save_project`` does."""
    remove_stale_temp_files(path)
    return save_project(project, path)


# ---------------------------------------------------------------------- autosave
def default_recovery_dir() -> Path:
    """``$NNDESIGNER_RECOVERY_DIR``, else ``<AppDataLocation>/recovery``."""
    env = os.environ.get(RECOVERY_DIR_ENV)
    if env:
        return Path(env)
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "recovery"


@dataclass
class RecoveryEntry:
    """A recovery file left by a session that did not end cleanly.

    ``error`` is set (and ``project_name`` is the file name) when the file cannot be read.
    """

    path: Path
    project_name: str
    original_path: Path | None
    saved_at: datetime
    error: str = ""

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def describe(self) -> str:
        """One paragraph for the recovery prompt."""
        when = self.saved_at.strftime("%Y-%m-%d %H:%M:%S")
        where = f"“{self.original_path}”" if self.original_path else "a project never saved"
        if self.error:
            return f"An autosave from {when} cannot be read: {self.error}"
        return f"“{self.project_name}” ({where}), autosaved at {when}"


def read_meta(path: Path) -> dict:
    """The ``recovery.json`` of an autosave, read with :func:`load_project`'s checks and bounds
    (an autosave folder is as untrusted as any file). Raises ProjectError."""
    meta = read_json_entry(path, META_ENTRY)
    if not isinstance(meta, dict):
        raise ValueError(f"{META_ENTRY} is not an object")
    return meta


def recovery_bytes(project: Project, original: Path | None) -> bytes:
    """The project as ``.nnd`` bytes with a ``recovery.json`` entry added."""
    payload = project_bytes(project, SUFFIX)
    meta = {
        "original_path": str(original) if original else None,
        "project_name": project.name,
        "saved_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "pid": os.getpid(),
    }
    buf = io.BytesIO(payload)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(META_ENTRY, json.dumps(meta, indent=2) + "\n")
    return buf.getvalue()


class RecoveryStore:
    """One session's recovery file in ``folder``, and the files crashed sessions left there.

    Parameters
    ----------
    folder : Path
        Created when first needed.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.session = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.path = self.folder / f"{PREFIX}{self.session}{SUFFIX}"
        self._lock = None
        self._claimed: dict[Path, object] = {}

    # ------------------------------------------------------------------ own file
    def _ensure_lock(self) -> None:
        if self._lock is not None:
            return
        from PySide6.QtCore import QLockFile

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.path) + ".lock")
        lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
        lock.tryLock(0)
        self._lock = lock

    def write(self, project: Project, original: Path | None) -> Path:
        """Autosave ``project`` (whose own file is ``original``); atomic. Raises ProjectError."""
        self._ensure_lock()
        atomic_write(self.path, recovery_bytes(project, original))
        return self.path

    def exists(self) -> bool:
        return self.path.exists()

    def remove(self) -> None:
        """Delete this session's recovery file (after a save or a clean exit)."""
        try:
            self.path.unlink()
        except OSError:
            pass

    def close(self, remove_file: bool = True) -> None:
        """End the session: remove its file (unless told otherwise) and release its lock.

        ``close(remove_file=False)`` leaves the file as a crash would (tests use it)."""
        if remove_file:
            self.remove()
        for path in list(self._claimed):
            self.release(path)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    # ------------------------------------------------------------------ crashed sessions
    def orphans(self) -> list[RecoveryEntry]:
        """Recovery files of sessions that ended without cleaning up, newest first.

        Each returned file is claimed (its lock taken) so that no other instance offers it at
        the same time; :meth:`discard`, :meth:`adopted` or :meth:`release` end the claim. Files
        of sessions still running are skipped."""
        if not self.folder.is_dir():
            return []
        from PySide6.QtCore import QLockFile

        self._remove_stale_temp_files()
        entries = []
        for lock_path in self.folder.glob(f"{PREFIX}*{SUFFIX}.lock"):
            # A crashed session that had nothing to recover leaves only its lock: tidy it.
            path = lock_path.with_name(lock_path.name[: -len(".lock")])
            if not path.exists() and path != self.path:
                lock = QLockFile(str(lock_path))
                lock.setStaleLockTime(0)
                if lock.tryLock(0):
                    lock.unlock()  # removes the lock file
        for path in self.folder.glob(f"{PREFIX}*{SUFFIX}"):
            if path == self.path:
                continue
            if path not in self._claimed:
                lock = QLockFile(str(path) + ".lock")
                lock.setStaleLockTime(0)
                if not lock.tryLock(0):
                    continue  # a live session
                self._claimed[path] = lock
            entries.append(_entry(path))
        entries.sort(key=lambda e: e.saved_at, reverse=True)
        return entries

    def _remove_stale_temp_files(self) -> None:
        """Autosaves killed mid-write leave ``.autosave-<session>.nnd.<pid>-<host>.<r>.tmp``;
        each session has its own name, so no later save of it would ever remove them."""
        targets = set()
        for tmp in self.folder.glob(f".{PREFIX}*{SUFFIX}.*.tmp"):
            stem = tmp.name[1:]
            cut = stem.find(SUFFIX + ".")
            if cut > 0:
                targets.add(self.folder / stem[: cut + len(SUFFIX)])
        for target in targets:
            _remove_stale(target)

    def load(self, entry: RecoveryEntry) -> Project:
        """The autosaved project, with ``path`` set to its original file (None if untitled).
        Raises ProjectError when the file is damaged."""
        project = load_project(entry.path)
        project.path = entry.original_path
        return project

    def discard(self, entry: RecoveryEntry) -> None:
        try:
            entry.path.unlink()
        except OSError:
            pass
        self.release(entry.path)

    def adopted(self, entry: RecoveryEntry) -> None:
        """The entry's content now lives in this session (already autosaved): drop its file."""
        self.discard(entry)

    def release(self, path: Path) -> None:
        lock = self._claimed.pop(Path(path), None)
        if lock is not None:
            lock.unlock()


def _entry(path: Path) -> RecoveryEntry:
    try:
        stamp = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except OSError:
        stamp = datetime.now().astimezone()
    try:
        meta = read_meta(path)
        original = meta.get("original_path")
        saved = meta.get("saved_at")
        return RecoveryEntry(
            path=path,
            project_name=str(meta.get("project_name") or "Untitled"),
            original_path=Path(original) if original else None,
            saved_at=datetime.fromisoformat(saved) if isinstance(saved, str) else stamp,
        )
    except (NNDError, OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        return RecoveryEntry(path, path.name, None, stamp, error=str(exc) or type(exc).__name__)
