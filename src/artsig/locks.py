"""File locks for caches that two runs may share (atomic writes are :func:`artsig.store.atomic_write`).

A cache file ``X`` is guarded by ``.locks/X.lock`` beside it (``fcntl.flock``: released by the kernel when a
process dies, so a killed run never leaves a stale lock). Writers take it exclusively and
write through a temporary file renamed over ``X``, so a reader sees the old file or the new
one, never half of one. Where ``fcntl`` does not exist (Windows) writes are still atomic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file guarding ``path``: ``.locks/<name>.lock`` beside it, so folders a user opens
    (an exported thumbnail folder) hold only their own files."""
    path = Path(path)
    return path.parent / ".locks" / (path.name + ".lock")


@contextmanager
def file_lock(path: str | os.PathLike, shared: bool = False) -> Iterator[None]:
    """Hold the lock of ``path``: exclusive for writers, ``shared`` for readers; blocks until free."""
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def __getattr__(name: str):
    """``artsig.locks.atomic_write`` is :func:`artsig.store.atomic_write` (it moved there; old imports keep working)."""
    if name == "atomic_write":
        from artsig.store import atomic_write

        return atomic_write
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
