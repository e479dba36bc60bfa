"""clustering: methods, k selection, guards, comparison table."""

import numpy as np
import pandas as pd
import pytest

from artsig import clustering as C
from artsig import metrics as M
from artsig import scoring as S


def three_blobs(n=60, seed=0, dim=5):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:3] * 8
    y = np.repeat(np.arange(3), n // 3)
    return centres[y] + rng.normal(0, 0.5, (len(y), dim)), y


def test_prepare_standardises_and_reduces():
    X, _ = three_blobs()
    X = np.hstack([X, np.ones((len(X), 1)), np.random.default_rng(0).normal(size=(len(X), 80))])
    Z = C.prepare(X, n_components=10)
    assert Z.shape == (60, 10)
    np.testing.assert_array_equal(Z, C.prepare(X, n_components=10))
    with pytest.raises(ValueError, match="NaN"):
        C.prepare(np.full((5, 2), np.nan))


def test_k_scan_and_pick_k_find_three():
    X, _ = three_blobs()
    scan = C.k_scan(X, range(2, 7))
    assert list(scan.columns) == ["k", "inertia", "silhouette"]
    chosen = C.pick_k(scan)
    assert chosen == {"elbow": 3, "silhouette": 3}


@pytest.mark.parametrize("method", C.METHODS)
def test_every_method_recovers_blobs(method):
    X, y = three_blobs(n=90)
    lab = C.cluster(X, method, k=3, seed=0, min_cluster_size=10)
    assert lab.shape == y.shape
    from artsig.metrics import ari

    assert ari(y, lab) > 0.9
    np.testing.assert_array_equal(lab, C.cluster(X, method, k=3, seed=0, min_cluster_size=10))


def test_size_guard_and_subsample():
    X, y = three_blobs(n=90)
    with pytest.raises(ValueError, match="max_points=30.*subsample=True"):
        C.cluster(X, "optics", max_points=30)
    lab = C.cluster(X, "optics", max_points=45, subsample=True, min_cluster_size=5)
    assert lab.shape == (90,)
    from artsig.metrics import ari

    assert ari(y, lab) > 0.8


def test_needs_k():
    X, _ = three_blobs()
    with pytest.raises(ValueError, match="k >= 2"):
        C.cluster(X, "kmeans")
    with pytest.raises(ValueError, match="method"):
        C.cluster(X, "spectral", k=3)


def test_gmm_responsibilities_and_influences():
    X, _ = three_blobs()
    lab, proba = C.gmm_fit(X, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    inf = C.influences(proba, 0, top=2)
    assert list(inf.columns) == ["cluster", "responsibility"] and inf["responsibility"].is_monotonic_decreasing


def test_date_buckets_and_label_frame():
    cat = pd.DataFrame({
        "image_id": [str(i) for i in range(8)],
        "style": list("aabbaabb"),
        "genre": ["x"] * 8,  # one class: dropped
        "date": pd.array([1800, 1810, 1850, 1860, 1900, 1910, None, 1990], dtype="Int64"),
    })
    periods = C.date_buckets(cat["date"], n=2)
    assert periods.isna().sum() == 1 and periods.dropna().nunique() == 2
    frame = C.label_frame(cat)
    assert list(frame.columns) == ["style", "period"]


def test_compare_is_tidy_and_deterministic():
    X, y = three_blobs(n=60)
    cat = pd.DataFrame({"image_id": [f"i{i}" for i in range(60)], "style": np.array(list("abc"))[y], "genre": np.array(list("xy"))[y % 2]})
    feats = {"blobs": X, "noise": np.random.default_rng(0).normal(size=(60, 4))}
    scores, assign, scans = C.compare(feats, cat, methods=("kmeans", "hdbscan"), k_values=range(2, 6), progress=False)
    assert list(scores.columns) == ["extractor", "method", "k", "metric", "kind", "label", "value", "n_clusters", "noise"]
    assert set(scores["label"].dropna()) == {"style", "genre"}
    assert scores.loc[scores["kind"] == "internal", "label"].isna().all()
    assert list(assign.columns) == ["image_id", "blobs/kmeans", "blobs/hdbscan", "noise/kmeans", "noise/hdbscan"]
    wide = C.summary_wide(scores)
    assert wide.loc[("blobs", "kmeans"), "nmi_style"] == pytest.approx(1.0)
    again, _, _ = C.compare(feats, cat, methods=("kmeans", "hdbscan"), k_values=range(2, 6), progress=False)
    pd.testing.assert_frame_equal(scores, again)
    assert set(scans["extractor"]) == {"blobs", "noise"}


def test_composition_and_representatives():
    X, y = three_blobs()
    comp = C.composition(y, np.array(list("abc"))[y])
    np.testing.assert_allclose(comp.sum(1), 1.0)
    rep = C.representatives(X, y, 1, n=4)
    assert len(rep) == 4 and (y[rep] == 1).all()


def test_embed_2d_tsne_seeded():
    X, _ = three_blobs(n=30)
    a = C.embed_2d(X, "tsne", seed=0)
    assert a.shape == (30, 2)
    np.testing.assert_array_equal(a, C.embed_2d(X, "tsne", seed=0))


def test_compare_and_embedding_cache(tmp_path, monkeypatch):
    X, y = three_blobs(n=60)
    cat = pd.DataFrame({"image_id": [f"i{i}" for i in range(60)], "style": np.array(list("abc"))[y]})
    first = C.compare({"b": X}, cat, methods=("kmeans",), k_values=range(2, 5), progress=False, cache_dir=tmp_path)
    monkeypatch.setattr(C, "k_scan", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = C.compare({"b": X}, cat, methods=("kmeans",), k_values=range(2, 5), progress=False, cache_dir=tmp_path)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)
    E = C.embed_2d(X, "tsne", cache_dir=tmp_path)
    np.testing.assert_array_equal(E, C.embed_2d(X, "tsne", cache_dir=tmp_path))
    assert len(list(tmp_path.glob("embed-tsne-*.npy"))) == 1


def test_most_mixed():
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    assert C.most_mixed(p) == 1


KILLABLE = """
import os, signal, sys
import numpy as np, pandas as pd
from artsig import clustering as C
cache, kill_at = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
feats = {name: rng.normal(size=(90, 6)) + np.repeat(np.eye(3, 6) * 6, 30, axis=0) * (i + 1) for i, name in enumerate("abc")}
cat = pd.DataFrame({"image_id": [f"i{j}" for j in range(90)], "style": np.repeat(list("xyz"), 30)})
prepared = []
real_prepare = C.prepare
def prepare(X, *args, **kwargs):
    prepared.append(1)
    if str(len(prepared)) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9, mid-run
    return real_prepare(X, *args, **kwargs)
C.prepare = prepare
scores, assign, scans = C.compare(feats, cat, methods=("kmeans", "agglomerative", "optics"), k_values=range(2, 6), progress=False, cache_dir=cache)
pd.to_pickle((scores, assign, scans), os.path.join(cache, "result.pkl"))
print(len(prepared))
"""


@pytest.mark.slow
def test_clustering_scan_resumes_after_sigkill(tmp_path):
    """Killed while clustering the third feature set, a restart redoes only that one and ends with the same numbers."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(cache, kill_at):
        return subprocess.run([sys.executable, "-c", KILLABLE, str(cache), str(kill_at)], capture_output=True, text=True, env=env)

    killed = run(tmp_path / "killed", 3)
    assert killed.returncode == -signal.SIGKILL
    resumed = run(tmp_path / "killed", 0)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.strip() == "1"  # only the unfinished feature set was prepared and clustered again
    whole = run(tmp_path / "whole", 0)
    assert whole.stdout.strip() == "3"
    for got, want in zip(pd.read_pickle(tmp_path / "killed" / "result.pkl"), pd.read_pickle(tmp_path / "whole" / "result.pkl")):
        pd.testing.assert_frame_equal(got, want)
    assert not list((tmp_path / "killed").glob("compare-part-*"))


def test_reducer_is_an_estimator_and_prepare_is_its_fit_transform():
    from sklearn.base import clone

    from artsig.clustering import Reducer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 20))
    X[:, 2] = 4.0
    reducer = Reducer(n_components=5, seed=3)
    assert reducer.get_params() == {"n_components": 5, "standardize": True, "seed": 3}
    copy = clone(reducer.set_params(seed=1))
    assert copy.get_params()["seed"] == 1 and not hasattr(copy, "keep_")
    Z = reducer.fit_transform(X)
    assert np.array_equal(Z, C.prepare(X, 5, seed=1))
    assert not reducer.keep_[2] and Z.shape == (30, 5)
    assert np.allclose(reducer.transform(X), Z, atol=1e-2)  # randomized PCA: fit_transform is U S, transform X V
    with pytest.raises(ValueError, match="n_components"):
        Reducer(n_components=0).fit(X)
    with pytest.raises(RuntimeError, match="not fitted"):
        Reducer().transform(X)


def _labelled_blobs():
    X, y = three_blobs(90)
    labels = pd.DataFrame({"style": np.array(list("abc"))[y], "period": np.where(np.arange(90) % 2, "p", "q")})
    labels.loc[:4, "style"] = None
    return X, labels


def test_true_k_baseline_and_verdicts():
    X, labels = _labelled_blobs()
    catalog = pd.DataFrame({"image_id": [str(i) for i in range(len(X))]})
    base, parts = C.true_k_baseline(X + 5.0, labels, "feat", seed=0)
    row = base.set_index("label").loc["style"]
    assert row["k"] == 3 and row["nmi"] > 0.9 and (parts["style"][:5] == -1).all()
    scores, assignments, _ = C.compare({"feat": X}, catalog, methods=["kmeans"], k=2, k_values=range(2, 4), labels=labels,
                                       progress=False)
    v = C.baseline_verdicts(scores, assignments, base, parts, labels, seed=0).set_index("label")
    assert v.loc["style", "margin"] == pytest.approx(v.loc["style", "nmi_best"] - v.loc["style", "nmi_baseline"])
    assert v.loc["style", "margin"] < 0 and v.loc["style", "outcome"] == "worse"  # k = 2 loses to the true k = 3
    assert "k-means at k = 3 on feat" in v.loc["style", "verdict"]


def test_recipe_scores_keep_large_classes_and_summarise_margins(tmp_path):
    X, y = three_blobs(90)
    catalog = pd.DataFrame({"image_id": [str(i) for i in range(91)], "style": [*np.array(list("abc"))[y], "rare"]})
    X = np.vstack([X, X[:1]]) + 5.0
    feats = {"base": X, "noise": np.random.default_rng(0).normal(size=X.shape)}
    table = C.recipe_scores(feats, catalog, labels=("style", "artist"), min_count=20, progress=False, cache_dir=tmp_path)
    assert set(table["label"]) == {"style"} and (table["classes"] == 3).all() and (table["works"] == 90).all()
    assert table.equals(C.recipe_scores(feats, catalog, labels=("style", "artist"), min_count=20, progress=False, cache_dir=tmp_path))
    wide = C.recipe_summary(table, "base")
    assert wide.loc["base", "style probe_accuracy margin"] == 0
    assert wide.loc["noise", "style nmi_kmeans_l2 margin"] < -0.5


def test_optics_limit():
    assert C.optics_limit(2183, 500, full=False) == 500
    assert C.optics_limit(800, 500, full=True) == 800
    assert C.optics_limit(2183, 500, full=True) == 1000  # OPTICS is quadratic: 2183 points took ~70 s per feature set here


def test_a_verdict_warns_when_the_baseline_k_lies_beyond_the_k_the_methods_tried():
    X, labels = _labelled_blobs()
    catalog = pd.DataFrame({"image_id": [str(i) for i in range(len(X))]})
    base, parts = C.true_k_baseline(X, labels, "feat", seed=0)
    for k, warned in [(2, True), (3, False)]:
        scores, assignments, _ = C.compare({"feat": X}, catalog, methods=["kmeans"], k=k, k_values=range(2, 4), labels=labels,
                                           progress=False)
        verdict = C.baseline_verdicts(scores, assignments, base, parts, labels, seed=0).set_index("label").loc["style", "verdict"]
        assert ("favours the baseline" in verdict) == warned, verdict


def _large_blobs(n=5000, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, 20))
    y = rng.integers(0, k, n)
    return C.prepare(centres[y] + rng.normal(size=(n, 20)), n_components=12, seed=seed), y


@pytest.mark.parametrize("method", C.LARGE_METHODS)
def test_large_collection_path_labels_every_row_deterministically(method):
    Z, y = _large_blobs()
    a = C.cluster(Z, method, k=4, seed=3, large_limit=1000)
    b = C.cluster(Z, method, k=4, seed=3, large_limit=1000)
    assert a.shape == (len(Z),) and a.dtype.kind == "i"
    np.testing.assert_array_equal(a, b)
    assert M.nmi(y, a) > 0.8  # well separated blobs are found by the scaled methods too
    if method == "gmm":  # fitted on a seeded sample, every row predicted
        sampled = C.cluster_large(Z, "gmm", k=4, seed=3, fit_sample=500)
        assert sampled.shape == (len(Z),) and M.nmi(y, sampled) > 0.8


def test_below_the_large_limit_nothing_changes():
    Z, _ = _large_blobs(n=600)
    for method in C.LARGE_METHODS:
        np.testing.assert_array_equal(C.cluster(Z, method, k=4, seed=0), C.cluster(Z, method, k=4, seed=0, large_limit=10**6))
    km = S.fit_partition(Z, "kmeans", k=4, seed=0)
    np.testing.assert_array_equal(C.cluster(Z, "kmeans", k=4, seed=0), km)
    np.testing.assert_array_equal(C.cluster(Z, "kmeans", k=4, seed=0, large_limit=100), S.fit_partition(Z, "kmeans_large", k=4, seed=0))
    assert C.is_large(20_001) and not C.is_large(20_000) and C.is_large(101, large_limit=100)


def test_compare_above_the_large_limit_keeps_the_methods_that_scale():
    Z, y = _large_blobs(n=3000)
    catalog = pd.DataFrame({"image_id": [f"i{i}" for i in range(len(y))], "style": y.astype(str)})
    with pytest.warns(UserWarning, match="optics, agglomerative left out"):
        scores, assignments, scans = C.compare({"f": Z}, catalog, methods=("kmeans", "gmm", "optics", "agglomerative"), k=4,
                                               k_values=range(2, 6), progress=False, large_limit=1000)
    assert set(scores["method"]) == {"kmeans", "gmm"}  # hdbscan (the density method at scale) was not asked for here
    assert list(assignments.columns) == ["image_id", "f/kmeans", "f/gmm"]
    assert len(assignments) == len(y) and scans["k"].tolist() == [2, 3, 4, 5]
