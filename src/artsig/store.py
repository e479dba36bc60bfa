"""The one store for caches: content fingerprints, atomic writes and the cache folder layout.

Every cache key in the library is a :func:`fingerprint` of what the cached thing depends on;
every cache file is written by :func:`atomic_write` (a temporary file renamed over the target
under the target's lock from :mod:`artsig.locks`), so a reader sees the old file or the new one,
never half of one, and two runs sharing a data folder compute a missing file once.
Cache folders live at ``<data_dir>/cache/<kind>`` (:func:`cache_dir`) and a cached file is
named ``<name>-<key><suffix>`` (:func:`cache_path`). :func:`cached` writes "compute once, keep
by key, reload" once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from artsig.locks import file_lock

__all__ = [
    "STORE_VERSION",
    "fingerprint",
    "file_digest",
    "atomic_write",
    "atomic_symlink",
    "temporary_path",
    "save_array",
    "load_array",
    "save_arrays",
    "save_pickle",
    "load_pickle",
    "save_frame",
    "load_frame",
    "save_torch",
    "load_torch",
    "cache_dir",
    "cache_path",
    "cached",
]

#: bump to invalidate every cache key at once (a change to how :func:`fingerprint` reads a type)
STORE_VERSION = "1"

T = TypeVar("T")

# --------------------------------------------------------------------------------------
# Fingerprints


def fingerprint(*parts: Any, length: int = 16) -> str:
    """A stable hex key of ``parts`` (equal content, equal key, in any process): the name of a cached result.

    Reads str, bytes, numbers, None, paths, numpy arrays (dtype + shape + bytes), DataFrames and
    Series (column names, dtypes and values), mappings (by sorted key), sequences, sets and
    dataclasses (class name and fields); anything else is a ``TypeError``, because a key built from
    a ``repr`` could hold a memory address and never match again.
    """
    digest = hashlib.sha256(f"artsig-store-{STORE_VERSION}".encode())
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()[:length]


def _feed(digest, part: Any) -> None:
    """Add one value to ``digest``, tagged with its kind so ``1``, ``"1"`` and ``[1]`` differ."""
    update = digest.update
    if part is None or isinstance(part, (bool, int, float, str)):
        update(b"j" + json.dumps(part).encode())
    elif isinstance(part, (bytes, bytearray, memoryview)):
        data = bytes(part)
        update(b"b%d:" % len(data) + data)
    elif isinstance(part, os.PathLike):
        update(b"p" + os.fsencode(part))
    elif isinstance(part, np.generic):
        _feed(digest, part.item())
    elif isinstance(part, np.dtype):
        update(b"d" + str(part).encode())
    elif isinstance(part, np.ndarray):
        if part.dtype == object:
            update(b"o%r:" % (part.shape,) + "\x1f".join(map(str, part.ravel().tolist())).encode())
        else:
            array = np.ascontiguousarray(part)
            update(f"a{array.dtype}{array.shape}:".encode())
            update(array.tobytes())
    elif isinstance(part, pd.Series):
        _feed(digest, part.to_frame(name=str(part.name)))
    elif isinstance(part, pd.DataFrame):
        update(b"f" + json.dumps([[str(c), str(t)] for c, t in part.dtypes.items()]).encode())
        update(pd.util.hash_pandas_object(part.astype(str), index=False).to_numpy().tobytes())
    elif dataclasses.is_dataclass(part) and not isinstance(part, type):
        update(b"c" + type(part).__qualname__.encode())
        _feed(digest, {f.name: getattr(part, f.name) for f in dataclasses.fields(part)})
    elif isinstance(part, dict) or hasattr(part, "keys") and hasattr(part, "__getitem__"):
        keys = sorted(part.keys(), key=str)
        update(b"m%d:" % len(keys))
        for key in keys:
            _feed(digest, str(key))
            _feed(digest, part[key])
    elif isinstance(part, (set, frozenset)):
        _feed(digest, sorted(fingerprint(item) for item in part))
    elif isinstance(part, (list, tuple)):
        update(b"l%d:" % len(part))
        for item in part:
            _feed(digest, item)
    else:
        raise TypeError(f"fingerprint cannot read a {type(part).__name__}; pass its content (arrays, frames, plain values)")
    update(b"|")


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (full hex): an image's identity for caches and duplicate checks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Atomic writes


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary file a write of ``path`` goes through: hidden, beside it, unique to this process
    and thread, ending with the target's suffixes (``.npy``, ``.weights.h5``: libraries that check or
    add an ending leave it alone). Hidden: code that globs a cache folder skips names starting with a dot."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp{''.join(path.suffixes)}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], lock: bool = True) -> None:
    """Call ``write(tmp)`` then rename ``tmp`` over ``path``, holding ``path``'s lock throughout
    (``lock=False`` when the caller already holds it: a second flock in one process would wait forever).
    If ``write`` raises, ``path`` is untouched and the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    with file_lock(path) if lock else nullcontext():
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def atomic_symlink(target: str | os.PathLike, link: str | os.PathLike) -> Path:
    """Point the symbolic link ``link`` at ``target``, replacing any old link in one step."""
    link = Path(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(link)
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    finally:
        if tmp.is_symlink():
            tmp.unlink()
    return link


# --------------------------------------------------------------------------------------
# Typed writers and readers (a reader returns None for a missing or damaged file: it is recomputed)

_DAMAGED = (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError, IndexError)


def save_array(path: str | os.PathLike, array: np.ndarray, lock: bool = True) -> Path:
    """Write one array as ``.npy``, atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)

    atomic_write(path, write, lock=lock)
    return Path(path)


def load_array(path: str | os.PathLike) -> np.ndarray | None:
    """Read an ``.npy`` written by :func:`save_array`; None when missing or unreadable."""
    return _read(path, lambda p: np.load(p, allow_pickle=False))


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], lock: bool = True) -> Path:
    """Write several named arrays as one ``.npz``, atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write, lock=lock)
    return Path(path)


def save_pickle(path: str | os.PathLike, value: Any, lock: bool = True) -> Path:
    """Pickle ``value`` (highest protocol), atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)

    atomic_write(path, write, lock=lock)
    return Path(path)


def load_pickle(path: str | os.PathLike) -> Any | None:
    """Read a file written by :func:`save_pickle`; None when missing or unreadable."""

    def read(p: Path) -> Any:
        with open(p, "rb") as handle:
            return pickle.load(handle)

    return _read(path, read)


def save_frame(path: str | os.PathLike, frame: pd.DataFrame, lock: bool = True) -> Path:
    """Write a table as Parquet (or CSV when ``path`` ends in ``.csv``), without its index, atomically."""
    path = Path(path)
    if path.suffix == ".csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False), lock=lock)
    else:
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False), lock=lock)
    return path


def load_frame(path: str | os.PathLike) -> pd.DataFrame | None:
    """Read a Parquet table written by :func:`save_frame`; None when missing or unreadable."""
    return _read(path, pd.read_parquet)


def save_torch(path: str | os.PathLike, value: Any, lock: bool = True) -> Path:
    """``torch.save`` a checkpoint or state dict, atomically."""
    import torch

    atomic_write(path, lambda tmp: torch.save(value, tmp), lock=lock)
    return Path(path)


def load_torch(path: str | os.PathLike) -> Any | None:
    """Read a file written by :func:`save_torch` onto the CPU; None when missing or unreadable."""
    import torch

    return _read(path, lambda p: torch.load(p, map_location="cpu", weights_only=False), damaged=(*_DAMAGED, RuntimeError))


def _read(path: str | os.PathLike, read: Callable[[Path], T], damaged: tuple[type[BaseException], ...] = _DAMAGED) -> T | None:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return read(path)
    except damaged:  # a torn or foreign file is recomputed, never trusted
        return None


# --------------------------------------------------------------------------------------
# Cache folders


def cache_dir(data_dir: str | os.PathLike = "../data", kind: str = "cache") -> Path:
    """A cache folder under the data folder (``<data_dir>/cache/<kind>``), created if missing."""
    path = Path(data_dir) / "cache" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(folder: str | os.PathLike, name: str, key: str, suffix: str) -> Path:
    """The file ``<folder>/<name>-<key><suffix>`` of one cached result (the folder is created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-{key}{suffix}"


_CODECS: dict[str, tuple[Callable[..., Path], Callable[[Path], Any]]] = {
    ".npy": (save_array, load_array),
    ".pkl": (save_pickle, load_pickle),
    ".parquet": (save_frame, load_frame),
}


def cached(
    path: str | os.PathLike,
    compute: Callable[[], T],
    save: Callable[..., object] | None = None,
    load: Callable[[Path], T | None] | None = None,
    lock: bool = True,
) -> T:
    """``load(path)`` if it gives a value, else ``compute()`` once, ``save(path, value, lock=False)`` and return it.

    ``save`` / ``load`` default by suffix (``.npy``, ``.pkl``, ``.parquet``). With ``lock`` a
    second run asking for the same file waits for the first and reads what it wrote.
    """
    path = Path(path)
    if save is None or load is None:
        if path.suffix not in _CODECS:
            raise ValueError(f"cached: no default format for suffix {path.suffix!r}; pass save and load")
        save = save or _CODECS[path.suffix][0]
        load = load or _CODECS[path.suffix][1]
    value = load(path)
    if value is not None:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path) if lock else nullcontext():
        value = load(path)
        if value is None:
            value = compute()
            save(path, value, lock=False)
    return value
