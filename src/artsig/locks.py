"""File locks and atomic writes for caches that two runs may share.

A cache file ``X`` is guarded by ``.locks/X.lock`` beside it (``fcntl.flock``: released by the kernel when a
process dies, so a killed run never leaves a stale lock). Writers take it exclusively and
write through a temporary file renamed over ``X``, so a reader sees the old file or the new
one, never half of one. Where ``fcntl`` does not exist (Windows) writes are still atomic.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator

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


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], lock: bool = True) -> None:
    """Call ``write(tmp)`` then rename ``tmp`` over ``path``, holding ``path``'s lock throughout
    (``lock=False`` when the caller already holds it: a second flock in one process would wait forever)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    with file_lock(path) if lock else nullcontext():
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
