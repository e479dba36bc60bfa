"""Nearest neighbours at scale: one index class, exact for small collections, FAISS HNSW above.

:class:`NeighbourIndex` is fitted on vectors and their ids, answers the ``k`` nearest ids and
distances of vectors or of ids of the index, and is saved beside the embedding shards
(``<embeddings folder>/index/``: ``index.json`` describing it, with a fingerprint of the
vectors, so an index built from other vectors is detected and rebuilt)::

    index = NeighbourIndex(metric="cosine", seed=0).fit(X, ids)
    ids_, dist = index.query(X[:5], k=10)            # (5, 10) ids and distances
    index.query(["img-0001"], k=10)                   # by id, the work itself left out
    index.query_frame(["img-0001"], k=10)             # tidy: query_id, rank, neighbour_id, distance
    index.save(folder); NeighbourIndex.load(folder, vectors=X, ids=ids)   # StaleIndexError if X changed
    load_or_build(folder, X, ids)                      # the saved one when fresh, else fit and save

Up to ``exact_limit`` vectors (and with ``method="exact"``) the search is exact: one matrix
product and a stable sort, so ties go to the lower row and small results equal scikit-learn's
``NearestNeighbors`` (brute force). Above, ``method="auto"`` builds a FAISS HNSW graph
(``IndexHNSWFlat``, ``M=32``, ``efConstruction=80``, ``efSearch=128``: recall@10 0.995 on the
100k drawn vectors; 0.96 on 5k noisy 48-d blobs, where ``efSearch=64`` gave only 0.89).

Why FAISS HNSW (``benchmarks/bench_scale.py --compare-ann``: 100k drawn 1280-d vectors, 1,000
held-out queries, cosine, one build thread, M=32 / construction depth 80 for every HNSW, 2 cores
shared with other work, load 4-8; table in the README):

=================  ========  ==============================================  ===================
library            build     recall@10 / ms per query at depth 32, 64, 128  install
=================  ========  ==============================================  ===================
FAISS HNSW         224 s     0.940 / 1.4, 0.979 / 2.1, 0.995 / 3.5            abi3 wheel
FAISS IVF (1024)   95 s      0.903 / 2.7, 0.967 / 4.1, 0.991 / 7.6 (nprobe)  (same package)
hnswlib            211 s     0.938 / 1.0, 0.980 / 1.8, 0.995 / 2.8            sdist: compiles
USearch            347 s     0.938 / 2.2, 0.980 / 3.1, 0.995 / 4.1            wheel + numkong
=================  ========  ==============================================  ===================

The HNSW implementations answer alike at equal search depth and are close in speed on this
loaded machine; FAISS installs as one manylinux wheel without a compiler (hnswlib has no
Python 3.11 wheel) and gives IVF and exact flat search in the same package.

Determinism: a multi-threaded HNSW build inserts vectors in a run-dependent order, so the graph
(and the rare approximate answers) could differ between runs. The graph is therefore built with
ONE thread: same vectors (same order), same parameters, same answers. Searching is
per-query independent and uses :func:`artsig.determinism.threads` threads. HNSW's level draws
come from FAISS' own fixed generator; ``seed`` is kept in the description and the fingerprint
for the methods that draw (IVF's k-means).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from . import store

__all__ = ["NeighbourIndex", "StaleIndexError", "METHODS", "METRICS", "load_or_build", "index_for", "index_folder", "read_embedding_folder",
           "vectors_fingerprint"]

METRICS = ("cosine", "l2", "ip")
METHODS = ("auto", "exact", "hnsw", "ivf")
FORMAT = 1
#: rows of queries searched at once by the exact method (bounds the (queries, N) similarity block)
QUERY_BLOCK = 1024


class StaleIndexError(RuntimeError):
    """A saved index was built from other vectors or ids than those it is checked against."""


class NeighbourIndex:
    """Nearest neighbours of vectors: exact below ``exact_limit`` rows, FAISS HNSW above.

    ``metric``: ``"cosine"`` (rows L2-normalised, distance ``1 - cos``), ``"l2"`` (Euclidean
    distance) or ``"ip"`` (inner product of the rows as given, distance ``1 - x.y``: the cosine
    distance of rows already of unit length, without normalising them again).
    ``method``: ``"auto"`` (exact up to ``exact_limit`` rows, else ``"hnsw"``), ``"exact"``,
    ``"hnsw"`` (``M``, ``ef_construction``, ``ef_search``) or ``"ivf"`` (``nlist`` lists,
    ``nprobe`` searched; seeded k-means).
    """

    def __init__(self, metric: str = "cosine", method: str = "auto", seed: int = 0, exact_limit: int = 20_000,
                 M: int = 32, ef_construction: int = 80, ef_search: int = 128, nlist: int | None = None, nprobe: int = 32):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.metric = metric
        self.method = method
        self.seed = seed
        self.exact_limit = exact_limit
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.nlist = nlist
        self.nprobe = nprobe

    # --- fitting --------------------------------------------------------------------------------

    def params(self) -> dict:
        """The constructor's parameters (what a saved index must match to be reused)."""
        return dict(metric=self.metric, method=self.method, seed=self.seed, exact_limit=self.exact_limit, M=self.M,
                    ef_construction=self.ef_construction, ef_search=self.ef_search, nlist=self.nlist, nprobe=self.nprobe)

    def fit(self, X: np.ndarray, ids: Sequence | np.ndarray | None = None) -> NeighbourIndex:
        """Index the rows of ``X`` (float, 2-D) under ``ids`` (default: ``"0"``, ``"1"``, ...)."""
        X = _check_vectors(X, "X")
        ids = np.arange(len(X)).astype(str) if ids is None else np.asarray(ids).astype(str)
        if ids.shape != (len(X),):
            raise ValueError(f"ids has {ids.size} entries but X has {len(X)} rows")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique: the same id names two rows")
        self.ids_ = ids
        self.fingerprint_ = vectors_fingerprint(X, ids)
        self.dim_ = X.shape[1]
        self.method_ = self.method if self.method != "auto" else ("exact" if len(X) <= self.exact_limit else "hnsw")
        self._row = {v: i for i, v in enumerate(ids)}
        self._faiss = self.vectors_ = None
        if self.method_ == "exact":
            self.vectors_ = np.array(self._space(X), dtype=np.float32, copy=True)
        else:  # FAISS keeps the only copy of the vectors
            self._faiss = self._build(self._space(X))
        return self

    def _space(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.metric == "cosine":
            X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), np.float32(1e-12))
        return X

    def _build(self, X: np.ndarray):
        faiss = _faiss()
        kind = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        with _faiss_threads(1):  # one thread: insertion order fixed, the graph the same every run
            if self.method_ == "hnsw":
                index = faiss.IndexHNSWFlat(X.shape[1], int(self.M), kind)
                index.hnsw.efConstruction = int(self.ef_construction)
                index.add(X)
            else:
                nlist = int(self.nlist or max(1, min(4 * int(np.sqrt(len(X))), len(X) // 39)))
                quantizer = faiss.IndexFlatL2(X.shape[1]) if self.metric == "l2" else faiss.IndexFlatIP(X.shape[1])
                index = faiss.IndexIVFFlat(quantizer, X.shape[1], nlist, kind)
                index.cp.seed = int(self.seed)
                index.train(X)
                index.add(X)
                index.make_direct_map()  # queries by id read their vector back
        return index

    # --- searching ------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"exact"`` or the approximate method, in words (e.g. for a chapter's printout)."""
        self._check_fitted()
        return "exact" if self.method_ == "exact" else f"approximate (FAISS {self.method_.upper()})"

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.ids_)

    def search(self, vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, distances)``, each ``(n, min(k, N))``: the nearest indexed rows of each vector, nearest first."""
        self._check_fitted()
        Q = self._space(_check_vectors(np.atleast_2d(vectors), "vectors", dim=self.dim_))
        k = min(int(k), len(self.ids_))
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if self.method_ == "exact":
            return self._exact(Q, k)
        if self.method_ == "hnsw":
            self._faiss.hnsw.efSearch = max(int(self.ef_search), k)
        else:
            self._faiss.nprobe = int(self.nprobe)
        from .determinism import threads

        with _faiss_threads(threads()):
            scores, rows = self._faiss.search(Q, k)
        if (rows < 0).any():
            raise RuntimeError(f"the {self.method_} index found fewer than k={k} neighbours for some queries: "
                               f"raise ef_search (now {self.ef_search}) or nprobe (now {self.nprobe})")
        return rows.astype(np.int64), self._distance(scores, squared=True)

    def _exact(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows_out, dist_out = [], []
        for start in range(0, len(Q), QUERY_BLOCK):
            q = Q[start:start + QUERY_BLOCK]
            if self.metric == "l2":  # in float64: float32 loses the small distances to cancellation
                q, x = q.astype(np.float64), self.vectors_.astype(np.float64)
                score = (q * q).sum(1)[:, None] - 2.0 * (q @ x.T) + (x * x).sum(1)[None]
                rows = np.argsort(score, axis=1, kind="stable")[:, :k]
            else:
                score = q @ self.vectors_.T
                rows = np.argsort(-score, axis=1, kind="stable")[:, :k]
            rows_out.append(rows)
            dist_out.append(self._distance(np.take_along_axis(score, rows, axis=1), squared=True))
        return np.concatenate(rows_out), np.concatenate(dist_out)

    def _distance(self, score: np.ndarray, squared: bool) -> np.ndarray:
        """Distances from FAISS / exact scores: squared L2 -> L2; inner product -> ``1 - ip``."""
        if self.metric == "l2":
            score = np.maximum(np.asarray(score, dtype=np.float64), 0.0)
            return (np.sqrt(score) if squared else score).astype(np.float32)
        return np.maximum(np.float32(1.0) - np.asarray(score, dtype=np.float32), np.float32(0.0))

    def query(self, items, k: int = 10, exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, distances)``, each ``(n, k)``, of the ``k`` nearest works to each query.

        ``items`` is a numeric array of vectors (one query per row; a 1-D array is one query) or
        an id / a list of ids of the index (compared as strings: pass numeric ids as a list, a
        numeric array is read as vectors); with ids, the work itself is left out of its own
        answer unless ``exclude_self=False``.
        """
        vectors, self_rows = self._queries(items)
        exclude = self_rows is not None if exclude_self is None else bool(exclude_self and self_rows is not None)
        k = min(int(k), len(self.ids_) - (1 if exclude else 0))
        rows, dist = self.search(vectors, k + (1 if exclude else 0))
        if exclude:
            rows, dist = _drop_self(rows, dist, self_rows, k)
        return self.ids_[rows], dist

    def query_frame(self, items, k: int = 10, exclude_self: bool | None = None) -> pd.DataFrame:
        """:meth:`query` as a tidy table: ``query_id`` (the id, or the row of a query vector), ``rank``, ``neighbour_id``, ``distance``."""
        found, dist = self.query(items, k, exclude_self)
        _, self_rows = self._queries(items)
        names = self.ids_[self_rows] if self_rows is not None else np.arange(len(found)).astype(str)
        n, kk = found.shape
        return pd.DataFrame({"query_id": np.repeat(names, kk), "rank": np.tile(np.arange(1, kk + 1), n),
                             "neighbour_id": found.ravel(), "distance": dist.ravel().astype(np.float64)})

    def _queries(self, items) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_fitted()
        if isinstance(items, np.ndarray) and items.dtype.kind in "fiu":
            return np.atleast_2d(items), None
        names = [items] if isinstance(items, str) else list(items)
        missing = [v for v in names if str(v) not in self._row]
        if missing:
            raise KeyError(f"{len(missing)} query id(s) not in the index, e.g. {missing[0]!r}")
        rows = np.array([self._row[str(v)] for v in names], dtype=np.int64)
        if self._faiss is None:
            return self.vectors_[rows], rows
        return self._faiss.reconstruct_batch(rows).reshape(len(rows), self.dim_), rows

    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise RuntimeError("this NeighbourIndex is not fitted yet: call fit(X, ids) or NeighbourIndex.load(folder)")

    # --- saving ---------------------------------------------------------------------------------

    def describe(self) -> dict:
        """What ``index.json`` holds: format, library, parameters, size, and the vectors' fingerprint."""
        self._check_fitted()
        library = "numpy"
        if self._faiss is not None:
            library = f"faiss {_faiss().__version__}"
        return dict(format=FORMAT, library=library, method=self.method_, params=self.params(), n=len(self.ids_),
                    dim=int(self.dim_), fingerprint=self.fingerprint_)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the index to ``folder`` (``index.json`` last, so a half-written index reads as missing)."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store.atomic_write(folder / "ids.npy", lambda tmp: np.save(tmp, self.ids_, allow_pickle=False))
        if self._faiss is None:
            store.atomic_write(folder / "vectors.npy", lambda tmp: np.save(tmp, self.vectors_, allow_pickle=False))
        else:
            store.atomic_write(folder / "faiss.index", lambda tmp: _faiss().write_index(self._faiss, str(tmp)))
        text = json.dumps(self.describe(), indent=2, sort_keys=True)
        store.atomic_write(folder / "index.json", lambda tmp: Path(tmp).write_text(text + "\n"))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, vectors: np.ndarray | None = None, ids=None) -> NeighbourIndex:
        """A saved index; with ``vectors`` (and ``ids``) it must have been built from them, else :class:`StaleIndexError`."""
        folder = Path(folder)
        meta_path = folder / "index.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: no saved neighbour index there (NeighbourIndex.save writes it)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise StaleIndexError(f"{meta_path}: index format {meta.get('format')!r}, this version reads {FORMAT}")
        if vectors is not None:
            wanted = vectors_fingerprint(_check_vectors(vectors, "vectors"), None if ids is None else np.asarray(ids).astype(str))
            if wanted != meta["fingerprint"]:
                raise StaleIndexError(f"{meta_path}: built from other vectors or ids (fingerprint {meta['fingerprint']}, these give {wanted})")
        index = cls(**meta["params"])
        index.ids_ = np.load(folder / "ids.npy", allow_pickle=False)
        index._row = {v: i for i, v in enumerate(index.ids_)}
        index.fingerprint_ = meta["fingerprint"]
        index.dim_ = int(meta["dim"])
        index.method_ = meta["method"]
        index._faiss = index.vectors_ = None
        if index.method_ == "exact":
            index.vectors_ = np.load(folder / "vectors.npy", allow_pickle=False)
            shape = index.vectors_.shape
        else:
            index._faiss = _faiss().read_index(str(folder / "faiss.index"))
            if index.method_ == "ivf":
                index._faiss.make_direct_map()
            shape = (index._faiss.ntotal, index._faiss.d)
        if len(index.ids_) != meta["n"] or shape != (meta["n"], index.dim_):
            raise StaleIndexError(f"{folder}: index files disagree with index.json ({meta['n']} rows of {index.dim_})")
        return index


def vectors_fingerprint(X: np.ndarray, ids: np.ndarray | None) -> str:
    """The key of an index's input: the float32 vectors and their ids as strings (default ``"0"``, ``"1"``, ...)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    ids = np.arange(len(X)).astype(str) if ids is None else np.asarray(ids).astype(str)
    return store.fingerprint("neighbours", X, ids)


def load_or_build(folder: str | os.PathLike, X: np.ndarray, ids=None, progress: bool = False, **params) -> NeighbourIndex:
    """The index saved in ``folder`` when it was built from ``X`` / ``ids`` with ``params``; else fit, save and return a new one."""
    wanted = NeighbourIndex(**params)
    fingerprint = vectors_fingerprint(_check_vectors(X, "X"), None if ids is None else np.asarray(ids).astype(str))
    meta_path = Path(folder) / "index.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            fresh = meta.get("format") == FORMAT and meta.get("fingerprint") == fingerprint and meta.get("params") == wanted.params()
        except (ValueError, OSError):
            fresh = False
        if fresh:
            try:
                return NeighbourIndex.load(folder)
            except (StaleIndexError, OSError, ValueError, RuntimeError):
                pass  # damaged files: rebuild below
    if ids is None:
        ids = np.arange(len(X)).astype(str)
    index = wanted.fit(X, ids)
    index.save(folder)
    return index


def index_for(embeddings_folder: str | os.PathLike, **params) -> NeighbourIndex:
    """The index of an ``embed`` output folder, saved in its ``index/`` (built, or rebuilt when stale, on first use)."""
    vectors, ids = read_embedding_folder(embeddings_folder)
    return load_or_build(index_folder(embeddings_folder), vectors, ids, **params)


def index_folder(embeddings_folder: str | os.PathLike) -> Path:
    """Where the index of an embeddings folder (``<data>/embeddings/<dataset>/<features>/``) is saved."""
    return Path(embeddings_folder) / "index"


def read_embedding_folder(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, image_ids)`` of an ``embed`` output folder, through :func:`artsig.embedding.read_embeddings`
    (which says how to finish an incomplete folder)."""
    from .embedding import read_embeddings

    frame, vectors = read_embeddings(folder)
    return vectors, frame["image_id"].astype(str).to_numpy()


# --- internals ----------------------------------------------------------------------------------


def _check_vectors(X, name: str, dim: int | None = None) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or len(X) < 1 or X.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a 2-D numeric array with at least one row, got shape {X.shape} ({X.dtype})")
    if dim is not None and X.shape[1] != dim:
        raise ValueError(f"{name} have {X.shape[1]} columns, the index was fitted on {dim}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return X


def _drop_self(rows: np.ndarray, dist: np.ndarray, self_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each answer without its own query row (the last one dropped when the query is not among them)."""
    keep = rows != self_rows[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(rows, order, axis=1), np.take_along_axis(dist, order, axis=1)


def _faiss():
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss-cpu is in requirements.txt
        raise ImportError("the approximate neighbour index needs faiss-cpu (pip install -r requirements.txt)") from err
    return faiss


@contextmanager
def _faiss_threads(n: int):
    """FAISS' OpenMP thread count set to ``n`` for a block, then restored."""
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(n))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
