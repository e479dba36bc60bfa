import json

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from artsig.neighbours import (
    NeighbourIndex,
    StaleIndexError,
    index_folder,
    index_for,
    load_or_build,
    read_embedding_folder,
)


def clustered(n: int, dim: int = 48, centres: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centres, dim))
    return (C[rng.integers(0, centres, n)] + 0.6 * rng.normal(size=(n, dim))).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


@pytest.mark.parametrize("method", ["hnsw", "ivf"])
def test_approximate_recall_against_exact(method):
    X = clustered(5000)
    queries = clustered(200, seed=1)
    exact = NeighbourIndex(method="exact").fit(X)
    approx = NeighbourIndex(method=method).fit(X)
    assert approx.kind.startswith("approximate") and exact.kind == "exact"
    assert recall(approx.search(queries, 10)[0], exact.search(queries, 10)[0]) >= 0.95


@pytest.mark.parametrize(("metric", "sk_metric"), [("cosine", "cosine"), ("l2", "euclidean")])
def test_exact_below_the_limit_equals_sklearn(metric, sk_metric):
    X = clustered(600, dim=20)
    index = NeighbourIndex(metric=metric, exact_limit=1000).fit(X)
    assert index.method_ == "exact"
    rows, dist = index.search(X[:40], 8)
    want_dist, want_rows = NearestNeighbors(n_neighbors=8, metric=sk_metric, algorithm="brute").fit(X).kneighbors(X[:40])
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(dist, want_dist, atol=1e-5)


def test_auto_switches_to_the_graph_above_the_limit():
    X = clustered(300, dim=8)
    assert NeighbourIndex(exact_limit=300).fit(X).method_ == "exact"
    assert NeighbourIndex(exact_limit=299).fit(X).method_ == "hnsw"


def test_query_by_ids_leaves_the_work_out_and_frames_are_tidy():
    X = clustered(400, dim=16)
    ids = np.array([f"w{i:03d}" for i in range(400)])
    index = NeighbourIndex(method="hnsw").fit(X, ids)
    found, dist = index.query(["w005", "w123"], k=4)
    assert found.shape == dist.shape == (2, 4)
    assert "w005" not in found[0] and "w123" not in found[1]
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    with_self, _ = index.query(["w005"], k=4, exclude_self=False)
    assert with_self[0, 0] == "w005"
    frame = index.query_frame(["w005", "w123"], k=4)
    assert list(frame.columns) == ["query_id", "rank", "neighbour_id", "distance"]
    assert len(frame) == 8 and frame["rank"].tolist() == [1, 2, 3, 4] * 2
    by_vector, _ = index.query(X[5], k=5)  # a vector query keeps the work itself
    assert by_vector[0, 0] == "w005"
    with pytest.raises(KeyError, match="not in the index"):
        index.query(["nope"])


def test_same_vectors_and_seed_give_the_same_answers():
    X = clustered(2000, dim=32)
    queries = clustered(100, dim=32, seed=3)
    a = NeighbourIndex(method="hnsw", seed=4, ef_search=16).fit(X).search(queries, 10)
    b = NeighbourIndex(method="hnsw", seed=4, ef_search=16).fit(X).search(queries, 10)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("method", ["exact", "hnsw", "ivf"])
def test_save_and_load_give_identical_answers(tmp_path, method):
    X = clustered(1500, dim=24)
    ids = np.array([f"id{i}" for i in range(1500)])
    index = NeighbourIndex(metric="cosine", method=method, nprobe=4).fit(X, ids)
    index.save(tmp_path / "index")
    meta = json.loads((tmp_path / "index" / "index.json").read_text())
    assert meta["method"] == method and meta["n"] == 1500 and meta["dim"] == 24
    loaded = NeighbourIndex.load(tmp_path / "index", vectors=X, ids=ids)
    for a, b in zip(index.query(X[:50], 10), loaded.query(X[:50], 10)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(index.query(["id3"], 5)[0], loaded.query(["id3"], 5)[0])


def test_stale_index_is_detected_and_rebuilt(tmp_path):
    X = clustered(500, dim=12)
    folder = tmp_path / "index"
    first = load_or_build(folder, X, method="hnsw")
    stamp = (folder / "index.json").stat().st_mtime_ns
    again = load_or_build(folder, X, method="hnsw")
    assert (folder / "index.json").stat().st_mtime_ns == stamp  # fresh: read, not rebuilt
    np.testing.assert_array_equal(first.search(X[:5], 3)[0], again.search(X[:5], 3)[0])
    changed = X.copy()
    changed[0] += 1.0
    with pytest.raises(StaleIndexError, match="other vectors"):
        NeighbourIndex.load(folder, vectors=changed)
    rebuilt = load_or_build(folder, changed, method="hnsw")
    assert rebuilt.fingerprint_ != first.fingerprint_
    assert NeighbourIndex.load(folder, vectors=changed).fingerprint_ == rebuilt.fingerprint_
    load_or_build(folder, changed, method="exact")  # other parameters: rebuilt too
    assert json.loads((folder / "index.json").read_text())["method"] == "exact"


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="metric"):
        NeighbourIndex(metric="manhattan")
    with pytest.raises(ValueError, match="2-D"):
        NeighbourIndex().fit(np.zeros(5))
    with pytest.raises(ValueError, match="unique"):
        NeighbourIndex().fit(np.eye(3), ids=["a", "a", "b"])
    with pytest.raises(ValueError, match="columns"):
        NeighbourIndex().fit(np.eye(3)).search(np.ones((1, 4)))
    with pytest.raises(RuntimeError, match="not fitted"):
        NeighbourIndex().search(np.eye(3))


def test_embedding_folder_is_read_and_indexed_beside_it(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = clustered(30, dim=6)
    shards = []
    for i, part in enumerate((slice(0, 20), slice(20, 30))):
        name = f"part-{i:05d}.parquet"
        ids = [f"img{j}" for j in range(30)][part]
        vector = pa.FixedSizeListArray.from_arrays(pa.array(X[part].ravel(), pa.float32()), 6)
        table = pa.table({"image_id": ids, "sha256": ["0" * 64] * len(ids), "path": ids, "vector": vector})
        pq.write_table(table, tmp_path / name)
        shards.append({"file": name, "rows": len(ids)})
    (tmp_path / "manifest.json").write_text(json.dumps({"features": "f", "dim": 6, "n_works": 30, "shards": shards, "complete": True}))
    vectors, ids = read_embedding_folder(tmp_path)
    np.testing.assert_array_equal(vectors, X)
    assert ids.tolist() == [f"img{j}" for j in range(30)]
    index = index_for(tmp_path)
    assert (tmp_path / "index" / "index.json").is_file() and index_folder(tmp_path) == tmp_path / "index"
    assert load_or_build(index_folder(tmp_path), vectors, ids).fingerprint_ == index.fingerprint_
    assert index.query(["img4"], k=3)[0].shape == (1, 3)
    assert isinstance(index.query_frame(["img4"], k=3), pd.DataFrame)
