"""Downloading a Keras dataset into the Keras cache, exactly where Keras' own loader puts it.

``keras.datasets.mnist.load_data()`` downloads ``mnist.npz`` with ``keras.utils.get_file``
from Keras' origin, checks its SHA-256 and keeps it as ``<Keras home>/datasets/mnist.npz``.
:func:`download_keras_dataset` does the same download (same origin, same hash, same folder and
file name, so Keras and :mod:`engine.data.builtin` both find the file afterwards) without
importing Keras: importing it imports TensorFlow, which takes seconds and hundreds of MB. It
also does what ``get_file`` does not: progress for a window, prompt cancelling, and an atomic
write (a temporary file beside the target, fsync, ``os.replace``), so a cancelled, cut or
damaged download never leaves a partial ``mnist.npz`` that a later load would trip over.

``keras.datasets.fashion_mnist.load_data()`` downloads four gzip IDX files from the same
origin folder into ``<Keras home>/datasets/fashion-mnist/`` (Keras gives no hash; these are
checked against the MD5 sums Zalando publishes for them). They are fetched one after the other,
each atomically; the progress counts the bytes of all four, and the set counts as cached only
when all four are there.

``python -m engine.data.download mnist`` runs it as a child process (the window's Download
button does): it prints ``progress DONE TOTAL`` lines, then ``done PATH``, or ``error MESSAGE``
and exits 2. SIGTERM cancels it (its temporary file is removed).

Only the downloads listed in :data:`KERAS_DOWNLOADS` exist; ``url`` and ``sha256`` can be
given (tests point them at a local server; one per file, in the table's order), the file
names and folder cannot.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.errors import DataError

__all__ = [
    "KERAS_DOWNLOADS",
    "DownloadCancelled",
    "KerasDownload",
    "KerasFile",
    "cached_file",
    "download_keras_dataset",
    "download_target",
    "download_targets",
    "keras_download_dir",
    "partial_path",
]

#: How long a connection may stay silent (connecting, or between two reads), in seconds.
TIMEOUT_S = 30.0
#: Bytes read at a time: small enough that a cancel is seen within milliseconds.
CHUNK = 64 * 1024


@dataclass(frozen=True)
class KerasFile:
    """One file of a download.

    Attributes
    ----------
    fname : str
        Its path in the Keras datasets folder (``get_file``'s ``cache_subdir`` below
        ``datasets`` and its ``fname``): ``"mnist.npz"``,
        ``"fashion-mnist/train-images-idx3-ubyte.gz"``.
    url : str
        Keras' origin.
    hash : str
        The file's digest (hex) by ``algorithm``.
    size : int
        Its size in bytes.
    algorithm : {"sha256", "md5"}
        As ``get_file``'s ``hash_algorithm``.
    """

    fname: str
    url: str
    hash: str
    size: int
    algorithm: str = "sha256"


@dataclass(frozen=True)
class KerasDownload:
    """What a ``keras.datasets`` loader downloads: one file, or several (``more``).

    Attributes
    ----------
    title : str
        For messages ("MNIST").
    fname : str
        The (first) file's path in the Keras datasets folder (see :attr:`KerasFile.fname`).
    url : str
        Keras' origin of the first file.
    sha256 : str
        The first file's digest (hex): Keras' ``file_hash``; an MD5 sum when
        ``hash_algorithm`` says so.
    size : int
        The first file's size in bytes.
    more : tuple of KerasFile
        The other files, fetched after the first.
    hash_algorithm : {"sha256", "md5"}
        The first file's digest algorithm.
    """

    title: str
    fname: str
    url: str
    sha256: str
    size: int
    more: tuple[KerasFile, ...] = ()
    hash_algorithm: str = "sha256"

    @property
    def files(self) -> tuple[KerasFile, ...]:
        """Every file, the first one first."""
        first = KerasFile(self.fname, self.url, self.sha256, self.size, self.hash_algorithm)
        return (first, *self.more)

    @property
    def total_size(self) -> int:
        """All the files' bytes (for the button's "30 MB" before anything is fetched)."""
        return sum(f.size for f in self.files)


_KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: ``keras/src/datasets/fashion_mnist.py``'s files, in its order, with Zalando's MD5 sums and
#: sizes (github.com/zalandoresearch/fashion-mnist).
_FASHION = (
    ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29_515),
    ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
    ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5_148),
    ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4_422_102),
)
_FASHION_FILES = tuple(
    KerasFile(f"fashion-mnist/{name}", _KERAS_ORIGIN + name, md5, size, "md5")
    for name, md5, size in _FASHION
)

#: As in ``keras/src/datasets/mnist.py`` and ``fashion_mnist.py`` (a test compares them with
#: the installed Keras).
KERAS_DOWNLOADS: dict[str, KerasDownload] = {
    "mnist": KerasDownload(
        "MNIST",
        "mnist.npz",
        _KERAS_ORIGIN + "mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        11_490_434,
    ),
    "fashion_mnist": KerasDownload(
        "Fashion-MNIST",
        _FASHION_FILES[0].fname,
        _FASHION_FILES[0].url,
        _FASHION_FILES[0].hash,
        _FASHION_FILES[0].size,
        more=_FASHION_FILES[1:],
        hash_algorithm="md5",
    ),
}


class DownloadCancelled(DataError):
    """The download was cancelled (nothing was written to the cache)."""


def _info(name: str) -> KerasDownload:
    info = KERAS_DOWNLOADS.get(name)
    if info is None:
        known = ", ".join(sorted(KERAS_DOWNLOADS))
        raise DataError(f"no download is known for the dataset {name!r} (known: {known})")
    return info


def keras_download_dir(create: bool = True) -> pathlib.Path:
    """The folder ``keras.utils.get_file`` downloads datasets to.

    Keras' home is ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when the home folder is
    not writable); importing Keras creates it. ``get_file`` uses ``<home>/datasets``, or
    ``/tmp/.keras/datasets`` when the Keras home is not writable.

    Parameters
    ----------
    create : bool
        Create the folders, as Keras does (errors are left to the caller's write).
    """
    from engine.data.builtin import keras_home

    base = keras_home()
    if create:
        try:
            base.mkdir(parents=True, exist_ok=True)  # what ``import keras`` does
        except OSError:
            pass
    if not os.access(base, os.W_OK):
        tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        base = pathlib.Path(tmp) / ".keras"
    folder = base / "datasets"
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
    return folder


def download_target(name: str, create: bool = True) -> pathlib.Path:
    """Where the download of ``name`` ends up (``<Keras datasets folder>/<fname>``; the first
    file of a download of several)."""
    return keras_download_dir(create) / _info(name).fname


def download_targets(name: str, create: bool = True) -> list[pathlib.Path]:
    """Where each file of the download of ``name`` ends up, in the table's order."""
    folder = keras_download_dir(create)
    return [folder / f.fname for f in _info(name).files]


def partial_path(target: pathlib.Path, pid: int | None = None) -> pathlib.Path:
    """The temporary file a download by process ``pid`` (default: this one) writes first: a
    hidden name beside ``target`` that no loader looks for. A parent that killed the child
    removes it by this name."""
    return target.with_name(f".{target.name}.{os.getpid() if pid is None else pid}.part")


def cached_file(name: str) -> pathlib.Path | None:
    """The file of ``name`` already in the Keras cache (where the loaders look), or None;
    for a download of several files, the first, and only when every one is there. Only looks
    (a stat per file and folder); the files are not read or checked."""
    from engine.data.builtin import _find_cached

    found = [_find_cached(f.fname) for f in _info(name).files]
    return found[0] if all(p is not None for p in found) else None


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or parts.path or url


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer in time"
    text = getattr(reason, "strerror", None) or str(reason)
    return text or type(reason).__name__


def _file_digest(path: pathlib.Path, algorithm: str = "sha256") -> str | None:
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def download_keras_dataset(
    name: str,
    progress_cb: Callable[[int, int | None], None] | None = None,
    cancel_flag: Callable[[], bool] | None = None,
    *,
    url: str | Sequence[str] | None = None,
    sha256: str | Sequence[str] | None = None,
    timeout: float = TIMEOUT_S,
) -> pathlib.Path:
    """Download a Keras dataset into the Keras cache (see the module docstring).

    Parameters
    ----------
    name : str
        A key of :data:`KERAS_DOWNLOADS` (``"mnist"``, ``"fashion_mnist"``).
    progress_cb : callable, optional
        ``progress_cb(done, total)`` after each block: bytes written so far and the size the
        server announced (None when it announced none). For several files both count all of
        them (the files still to come by the table's sizes).
    cancel_flag : callable, optional
        Polled before each block (``threading.Event().is_set`` will do); when it returns true
        the download stops and :class:`DownloadCancelled` is raised.
    url, sha256 : str or sequence of str, optional
        Instead of Keras' origin and hash (tests serve a small file from 127.0.0.1): one
        string for the first file, or one per file in the table's order (a digest in the
        file's own algorithm).
    timeout : float
        Seconds a connection may stay silent.

    Returns
    -------
    Path
        The (first) file in the cache. A file with the right hash there already is not
        downloaded again.

    Raises
    ------
    DataError
        ``"could not download MNIST: ..."``: no connection, an HTTP error, a cut or damaged
        download, a cache folder that cannot be written. Nothing of the failed file is left in
        the cache (files of the set that were complete before stay: they are checked).
    DownloadCancelled
        ``cancel_flag`` turned true (or SIGTERM in the child process).
    """
    info = _info(name)
    files = list(info.files)
    urls = [url] if isinstance(url, str) else list(url or [])
    hashes = [sha256] if isinstance(sha256, str) else list(sha256 or [])
    for i, file in enumerate(files):
        files[i] = KerasFile(
            file.fname,
            urls[i] if i < len(urls) and urls[i] else file.url,
            (hashes[i] if i < len(hashes) and hashes[i] else file.hash).lower(),
            file.size,
            file.algorithm,
        )
    folder = keras_download_dir()
    done_before = 0
    first: pathlib.Path | None = None
    for i, file in enumerate(files):
        later = sum(f.size for f in files[i + 1 :])

        def progress(written: int, total: int | None, _base=done_before, _later=later) -> None:
            if progress_cb is None:
                return
            if total is None:
                progress_cb(_base + written, None)
            else:
                progress_cb(_base + written, _base + total + _later)

        title = info.title if len(files) == 1 else f"{info.title} ({pathlib.Path(file.fname).name})"
        target = _download_file(
            info.title, title, file, folder / file.fname, progress, cancel_flag, timeout
        )
        done_before += target.stat().st_size
        first = first or target
    assert first is not None
    return first


def _download_file(
    title: str,
    what: str,
    file: KerasFile,
    target: pathlib.Path,
    progress_cb: Callable[[int, int | None], None],
    cancel_flag: Callable[[], bool] | None,
    timeout: float,
) -> pathlib.Path:
    """One file into ``target``, atomically, checked by its digest."""
    url, digest_hex, algorithm = file.url, file.hash, file.algorithm
    host = _host(url)
    fail = f"could not download {what}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # get_file's cache_subdir
    except OSError:
        pass  # the write below says what is wrong
    if target.is_file() and _file_digest(target, algorithm) == digest_hex:
        size = target.stat().st_size
        progress_cb(size, size)
        return target

    def cancelled() -> bool:
        return cancel_flag is not None and bool(cancel_flag())

    part = partial_path(target)
    done = False
    try:
        if cancelled():
            raise DownloadCancelled(f"the download of {title} was cancelled")
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http/file)
        except urllib.error.HTTPError as exc:
            raise DataError(f"{fail}: {host} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DataError(f"{fail}: no connection to {host} ({_reason(exc)})") from None
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            # Four times the real file at most: a server sending gigabytes is not Keras'.
            limit = max(4 * file.size, 1 << 20)
            if total is not None and total > limit:
                raise DataError(f"{fail}: {host} offers {total} bytes, not a {title} file")
            free = shutil.disk_usage(target.parent).free
            if total is not None and total > free:
                raise DataError(
                    f"{fail}: {target.parent} has {free} bytes free, the file needs {total}"
                )
            digest = hashlib.new(algorithm)
            written = 0
            try:
                out = open(part, "wb")
            except OSError as exc:
                raise DataError(f"{fail}: cannot write {part} ({_reason(exc)})") from None
            with out:
                while True:
                    if cancelled():
                        raise DownloadCancelled(f"the download of {title} was cancelled")
                    try:
                        block = response.read(CHUNK)
                    except (OSError, ValueError) as exc:  # reset, stalled, IncompleteRead
                        raise DataError(
                            f"{fail}: the connection to {host} broke off after {written} "
                            f"bytes ({_reason(exc) or type(exc).__name__})"
                        ) from None
                    if not block:
                        break
                    written += len(block)
                    if written > limit:
                        raise DataError(f"{fail}: {host} sent more than {limit} bytes")
                    digest.update(block)
                    try:
                        out.write(block)
                    except OSError as exc:
                        raise DataError(f"{fail}: cannot write {part} ({_reason(exc)})") from None
                    progress_cb(written, total)
                if total is not None and written != total:
                    raise DataError(
                        f"{fail}: the connection to {host} broke off after {written} of "
                        f"{total} bytes"
                    )
                if digest.hexdigest() != digest_hex:
                    name = pathlib.PurePosixPath(file.fname).name
                    label = "SHA-256" if algorithm == "sha256" else algorithm.upper()
                    raise DataError(
                        f"{fail}: the file from {host} is damaged or not Keras' {name} "
                        f"(its {label} is {digest.hexdigest()[:12]}…, Keras expects "
                        f"{digest_hex[:12]}…)"
                    )
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise DataError(f"{fail}: cannot write {part} ({_reason(exc)})") from None
        try:
            os.replace(part, target)
        except OSError as exc:
            raise DataError(f"{fail}: cannot write {target} ({_reason(exc)})") from None
        done = True
        return target
    finally:
        if not done:
            try:
                part.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass  # nothing more can be done; the hidden name is never loaded


def _main(argv: list[str]) -> int:
    """The child process: ``NAME [--url URL] [--sha256 HEX]``; see the module docstring."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m engine.data.download")
    parser.add_argument("name", choices=sorted(KERAS_DOWNLOADS))
    parser.add_argument("--url", action="append", help="one per file, in the table's order")
    parser.add_argument("--sha256", action="append", help="one per file (its own algorithm)")
    args = parser.parse_args(argv)

    def on_term(_signum, _frame) -> None:
        # Raised where the download is (even inside a blocked read): its finally removes
        # the temporary file.
        raise DownloadCancelled("the download was cancelled")

    signal.signal(signal.SIGTERM, on_term)
    last = [0.0]

    def progress(written: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.05 or (total is not None and written >= total):
            last[0] = now
            print(f"progress {written} {-1 if total is None else total}", flush=True)

    try:
        path = download_keras_dataset(args.name, progress, url=args.url, sha256=args.sha256)
    except DownloadCancelled as exc:
        print(f"cancelled {exc}", flush=True)
        return 3
    except DataError as exc:
        print(f"error {exc}", flush=True)
        return 2
    print(f"done {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
