"""The store: stable fingerprints, atomic writes that never leave half a file, compute-once caches."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig import locks, paths, store


@dataclasses.dataclass
class Recipe:
    name: str
    lr: float
    sizes: tuple = (1, 2)


PARTS = (
    "text", b"bytes", 3, 2.5, None, True, Path("a/b"),
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array(["x", None], dtype=object),
    pd.DataFrame({"a": [1, 2], "b": ["u", "v"]}), pd.Series([1.0, 2.0], name="s"),
    {"z": 1, "a": [1, 2]}, [1, "two"], {3, 1, 2}, Recipe("r", 0.1), np.int64(7),
)


def test_fingerprint_is_stable_across_calls_and_processes():
    here = store.fingerprint(*PARTS)
    assert here == store.fingerprint(*PARTS)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_store import PARTS; from artsig import store;"
        "print(store.fingerprint(*PARTS))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}  # a different str hash seed must not matter
    other = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True, env=env, check=True)
    assert other.stdout.strip() == here


@pytest.mark.parametrize(
    "a, b",
    [
        (1, "1"), (1, 1.0), (1, True), ([1], 1), ("ab", ["a", "b"]), (("a", "b"), ("ab",)), (b"x", "x"),
        (np.zeros(4, np.float32), np.zeros(4, np.float64)), (np.zeros(4), np.zeros((2, 2))), (np.zeros(4), np.ones(4)),
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [1, 2]})), (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [2, 1]})),
        ({"a": 1}, {"a": 2}), ({"a": 1}, {"b": 1}), (Recipe("r", 0.1), Recipe("r", 0.2)), (None, "null"),
    ],
)
def test_fingerprint_differs_when_content_differs(a, b):
    assert store.fingerprint(a) != store.fingerprint(b)


def test_fingerprint_ignores_mapping_order_and_object_identity():
    assert store.fingerprint({"a": 1, "b": 2}) == store.fingerprint({"b": 2, "a": 1})
    assert store.fingerprint(np.arange(5)[::2]) == store.fingerprint(np.array([0, 2, 4]))  # a view hashes as its values
    assert store.fingerprint(pd.DataFrame({"a": [1]}, index=[5])) == store.fingerprint(pd.DataFrame({"a": [1]}))
    assert len(store.fingerprint("x", length=24)) == 24


def test_fingerprint_refuses_what_it_cannot_read():
    with pytest.raises(TypeError, match="object"):
        store.fingerprint(object())


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert store.file_digest(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_atomic_write_never_leaves_a_partial_file_when_the_writer_raises(tmp_path):
    target = tmp_path / "cache" / "x.npy"
    store.save_array(target, np.arange(3))

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.atomic_write(target, broken)
    np.testing.assert_array_equal(np.load(target), np.arange(3))  # the old file, untouched
    assert sorted(p.name for p in target.parent.iterdir()) == [".locks", "x.npy"]  # no temporary file left
    with pytest.raises(RuntimeError):
        store.atomic_write(tmp_path / "new.bin", broken)
    assert not (tmp_path / "new.bin").exists()


def test_temporary_path_keeps_every_suffix(tmp_path):
    tmp = store.temporary_path(tmp_path / "model.weights.h5")
    assert tmp.parent == tmp_path and tmp.name.startswith(".model.weights.h5.") and tmp.name.endswith(".tmp.weights.h5")


def test_locks_atomic_write_is_the_stores():
    assert locks.atomic_write is store.atomic_write
    from artsig.locks import atomic_write

    assert atomic_write is store.atomic_write


def test_typed_writers_round_trip_and_damaged_files_read_as_missing(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(store.load_frame(store.save_frame(tmp_path / "t.parquet", frame)), frame)
    store.save_frame(tmp_path / "t.csv", frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), frame)
    assert store.load_pickle(store.save_pickle(tmp_path / "p.pkl", {"k": [1, 2]})) == {"k": [1, 2]}
    store.save_arrays(tmp_path / "z.npz", {"a": np.arange(2)})
    with np.load(tmp_path / "z.npz") as z:
        np.testing.assert_array_equal(z["a"], np.arange(2))
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    assert store.load_array(tmp_path / "bad.npy") is None
    assert store.load_pickle(tmp_path / "bad.pkl") is None
    assert store.load_array(tmp_path / "missing.npy") is None


def test_cached_computes_once_then_reads_back(tmp_path):
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(4, dtype=np.float32) * len(calls)

    path = store.cache_path(tmp_path / "c", "thing", store.fingerprint("inputs"), ".npy")
    first = store.cached(path, compute)
    second = store.cached(path, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32
    path.write_bytes(b"torn")  # a damaged file is recomputed, not trusted
    store.cached(path, compute)
    assert len(calls) == 2


def test_cached_needs_a_format_for_an_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix '.xyz'"):
        store.cached(tmp_path / "a.xyz", lambda: 1)


def test_atomic_symlink_replaces_an_old_link(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    link = store.atomic_symlink(a, tmp_path / "links" / "l")
    store.atomic_symlink(b, link)
    assert link.read_text() == "b"
    assert [p.name for p in link.parent.iterdir()] == ["l"]


def test_cache_layout(tmp_path):
    folder = store.cache_dir(tmp_path, "features")
    assert folder == tmp_path / "cache" / "features" and folder.is_dir()
    assert paths.cache_dir(tmp_path, "features") == folder
    assert store.cache_path(folder, "embed-umap", "abc", ".npy") == folder / "embed-umap-abc.npy"
