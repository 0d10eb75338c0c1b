"""How much memory this process may really use, and refusing allocations that cannot fit.

The machine's RAM is only an upper bound: a process may be held to less by its address-space
limit (``RLIMIT_AS``, ``ulimit -v``) or by its cgroup (``memory.max`` on cgroup v2,
``memory.limit_in_bytes`` on v1, as containers and systemd units set). :func:`memory_limit` is
the smallest of them. Readers of untrusted files call :func:`check_allocation` with the size a
header *claims* before allocating it, so a 792-byte file cannot ask for 3.6 TiB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import NNDError

# Of the limit, how much one allocation (or one training run) may take; the rest is the
# interpreter, Qt, TensorFlow and the copies NumPy makes on the way.
DEFAULT_FRACTION = 0.8

_CGROUP_FILES = (
    "memory.max",  # cgroup v2
    "memory.limit_in_bytes",  # cgroup v1
)


@dataclass(frozen=True)
class MemoryLimit:
    """The binding memory limit: ``nbytes`` and what sets it (``"the machine's RAM"``...)."""

    nbytes: int
    source: str

    def describe(self) -> str:
        return f"{format_bytes(self.nbytes)} ({self.source})"


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; binary units, as ``free -h`` prints them."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def physical_memory() -> int | None:
    """Total RAM in bytes, or None when the platform cannot tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _rlimit_as() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return int(soft)


def _cgroup_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory limit of this process's cgroup (v2 or v1), or None when unlimited/unknown."""
    candidates: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, rel = parts
        rel = rel.lstrip("/")
        if hierarchy == "0" and controllers == "":  # v2 unified
            candidates.append(root / rel)
        elif "memory" in controllers.split(","):  # v1
            candidates.append(root / "memory" / rel)
    candidates += [root, root / "memory"]
    best: int | None = None
    for folder in candidates:
        for name in _CGROUP_FILES:
            try:
                text = (folder / name).read_text().strip()
            except OSError:
                continue
            if not text.isdigit():  # "max"
                continue
            value = int(text)
            # cgroup v1 says "unlimited" with a huge page-aligned number.
            if value >= 1 << 60:
                continue
            best = value if best is None else min(best, value)
    return best


def memory_limit() -> MemoryLimit | None:
    """The smallest of the machine's RAM, ``RLIMIT_AS`` and the cgroup's limit (None if none
    is known)."""
    found: list[MemoryLimit] = []
    ram = physical_memory()
    if ram:
        found.append(MemoryLimit(ram, "the machine's memory"))
    rl = _rlimit_as()
    if rl:
        found.append(MemoryLimit(rl, "this process's address-space limit, ulimit -v"))
    cg = _cgroup_limit()
    if cg:
        found.append(MemoryLimit(cg, "this process's cgroup memory limit"))
    return min(found, key=lambda m: m.nbytes) if found else None


def check_allocation(
    nbytes: float, what: str, where: str | None = None, fraction: float = DEFAULT_FRACTION
) -> None:
    """Refuse to allocate ``nbytes`` for ``what`` when it cannot fit in the memory limit.

    Raises
    ------
    NNDError
        Naming ``what``, its size and the limit (``where`` prefixes the message).
    """
    limit = memory_limit()
    if limit is None or nbytes <= limit.nbytes * fraction:
        return
    raise NNDError(
        f"{what} would need {format_bytes(nbytes)} of memory, more than can be had here: "
        f"the limit is {limit.describe()}",
        where,
    )


def out_of_memory_message(what: str) -> str:
    """The sentence for a MemoryError caught while doing ``what``."""
    limit = memory_limit()
    tail = f"; the limit here is {limit.describe()}" if limit else ""
    return f"ran out of memory while {what}{tail}. Try smaller data, a smaller batch or network"
