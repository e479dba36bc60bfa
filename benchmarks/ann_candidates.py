"""The approximate nearest-neighbour libraries ``bench_scale.py --compare-ann`` measures.

Each candidate builds a cosine index (inner product on L2-normalised rows) with ONE thread
(a multi-threaded HNSW build inserts in a run-dependent order: answers would change between
runs) and answers with a search-time knob swept over a few values. Run one per process so the
peak memory is the candidate's own.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np


def _size(save) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index")
        save(path)
        return os.path.getsize(path)


def faiss_hnsw(X: np.ndarray, seed: int, M: int = 32, ef_construction: int = 80):
    import faiss

    faiss.omp_set_num_threads(1)
    index = faiss.IndexHNSWFlat(X.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t = time.perf_counter()
    index.add(X)
    built = time.perf_counter() - t

    def search(Q, k, knob):
        index.hnsw.efSearch = max(knob, k)
        return index.search(Q, k)[1]

    return built, search, (32, 64, 128), _size(lambda p: faiss.write_index(index, p)), f"M={M}, efConstruction={ef_construction}; knob efSearch"


def faiss_ivf(X: np.ndarray, seed: int, nlist: int = 1024):
    import faiss

    faiss.omp_set_num_threads(1)
    quantizer = faiss.IndexFlatIP(X.shape[1])
    index = faiss.IndexIVFFlat(quantizer, X.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    t = time.perf_counter()
    index.train(X)
    index.add(X)
    built = time.perf_counter() - t

    def search(Q, k, knob):
        index.nprobe = knob
        return index.search(Q, k)[1]

    return built, search, (8, 16, 32, 64), _size(lambda p: faiss.write_index(index, p)), f"nlist={nlist}; knob nprobe"


def hnswlib_hnsw(X: np.ndarray, seed: int, M: int = 32, ef_construction: int = 80):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=X.shape[1])
    index.init_index(max_elements=len(X), M=M, ef_construction=ef_construction, random_seed=seed)
    index.set_num_threads(1)
    t = time.perf_counter()
    index.add_items(X, np.arange(len(X)))
    built = time.perf_counter() - t

    def search(Q, k, knob):
        index.set_ef(max(knob, k))
        return index.knn_query(Q, k=k)[0]

    return built, search, (32, 64, 128), _size(index.save_index), f"M={M}, ef_construction={ef_construction}; knob ef"


def usearch_hnsw(X: np.ndarray, seed: int, M: int = 32, ef_construction: int = 80, dtype: str = "f32"):
    from usearch.index import Index

    index = Index(ndim=X.shape[1], metric="ip", dtype=dtype, connectivity=M, expansion_add=ef_construction)
    t = time.perf_counter()
    index.add(np.arange(len(X)), X, threads=1)
    built = time.perf_counter() - t

    def search(Q, k, knob):
        index.expansion_search = max(knob, k)
        found = index.search(Q, k, threads=1)
        return np.asarray(found.keys).reshape(len(Q), k)

    return built, search, (32, 64, 128), _size(index.save), f"connectivity={M}, expansion_add={ef_construction}, {dtype}; knob expansion_search"


CANDIDATES = {"faiss-hnsw": faiss_hnsw, "faiss-ivf": faiss_ivf, "hnswlib": hnswlib_hnsw, "usearch": usearch_hnsw}
