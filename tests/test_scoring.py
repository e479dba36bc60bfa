import numpy as np
import pandas as pd
import pytest

from artsig import metrics as M
from artsig import scoring


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(n, 2)) * 0.2 + np.array([[0, 0], [5, 0], [0, 5]])[y]
    return X, y


def test_long_table_has_one_row_per_metric_and_label():
    X, y = blobs()
    labels = pd.DataFrame({"style": np.array(list("abc"))[y], "genre": np.array(list("xy"))[y % 2]})
    table = scoring.score_partition(y, X, labels, method="kmeans", k=3)
    assert list(table.columns) == ["method", "k", "metric", "kind", "label", "value", "n_clusters", "noise"]
    assert len(table) == len(M.INTERNAL) + len(M.EXTERNAL) * 2
    internal = table[table["kind"] == "internal"]
    assert list(internal["metric"]) == list(M.INTERNAL) and internal["label"].isna().all()
    external = table[table["kind"] == "external"]
    assert external.groupby("label")["metric"].apply(list).to_dict() == {"style": list(M.EXTERNAL), "genre": list(M.EXTERNAL)}
    assert (table["n_clusters"] == 3).all() and (table["noise"] == 0).all() and (table["method"] == "kmeans").all()


def test_perfect_partition_scores_one_and_matches_metrics():
    X, y = blobs()
    table = scoring.score_partition(y, X, pd.DataFrame({"style": y.astype(str)}), seed=0)
    value = table.set_index("metric")["value"]
    assert value["nmi"] == pytest.approx(1.0) and value["ari"] == pytest.approx(1.0) and value["purity"] == pytest.approx(1.0)
    assert value["silhouette"] == M.silhouette(X, y, seed=0)
    assert value["davies_bouldin"] == M.davies_bouldin(X, y)


def test_missing_labels_are_left_out_and_noise_counted():
    X, y = blobs()
    truth = pd.Series(y.astype(str), dtype=object)
    truth[:10] = None
    partition = y.copy()
    partition[:10] = -1  # the unlabelled rows are noise: without them the partition is perfect
    table = scoring.score_partition(partition, X, pd.DataFrame({"style": truth}))
    value = table.set_index("metric")["value"]
    assert value["nmi"] == pytest.approx(1.0)
    assert table["noise"].iloc[0] == pytest.approx(10 / 60) and table["n_clusters"].iloc[0] == 3
    nothing = scoring.score_partition(y, labels=pd.DataFrame({"style": [None] * len(y)}))
    assert nothing["value"].isna().all() and len(nothing) == len(M.EXTERNAL)


def test_precomputed_distances_give_the_same_silhouette():
    from sklearn.metrics import pairwise_distances

    X, y = blobs()
    a = scoring.score_partition(y, X, internal=("silhouette",))
    b = scoring.score_partition(y, X, distances=pairwise_distances(X), internal=("silhouette",))
    assert a["value"].iloc[0] == pytest.approx(b["value"].iloc[0])


def test_wide_round_trips_the_long_table():
    X, y = blobs()
    labels = pd.DataFrame({"style": y.astype(str)})
    long = scoring.score_many([{"partition": y, "method": "a"}, {"partition": y[::-1].copy(), "method": "b"}], features=X, labels=labels)
    table = scoring.wide(long, ["method"], meta=["n_clusters", "noise"])
    assert list(table.columns) == ["n_clusters", "noise", *M.INTERNAL, *(f"{m}_style" for m in M.EXTERNAL)]
    assert list(table.index) == ["a", "b"]
    back = table[[*M.INTERNAL, *(f"{m}_style" for m in M.EXTERNAL)]].stack().to_numpy()
    np.testing.assert_array_equal(back, long["value"].to_numpy())
    by_label = scoring.wide(long[long["kind"] == "external"], ["method", "label"])
    assert list(by_label.columns) == list(M.EXTERNAL)


def test_label_frame_one_rule():
    cat = pd.DataFrame({
        "image_id": list("abcd"),
        "genre": ["x", "y", "x", None],
        "artist": ["m"] * 4,  # one class: says nothing
        "palette": ["p", "q", "p", "q"],
        "date": [1800, 1850, 1900, 1950],
    })
    frame = scoring.label_frame(cat)
    assert list(frame.columns) == ["genre", "period"] and pd.isna(frame["genre"].iloc[3])
    assert scoring.label_names(cat, ("palette", "genre", "missing")) == ["palette", "genre"]


def test_settings_build_every_method():
    X, y = blobs()
    for setting in ("kmeans", "gmm", "agglomerative"):
        assert M.nmi(y, scoring.fit_partition(X, setting, k=3, seed=0)) == pytest.approx(1.0)
    for setting in ("optics", "hdbscan"):
        found = scoring.fit_partition(X, setting, min_cluster_size=5)
        assert len(set(found) - {-1}) >= 3 and found.dtype.kind == "i"
    assert scoring.clusterer("kmeans_scan", 4).n_init == 1
    assert scoring.clusterer("kmeans", 4, n_init=7).n_init == 7
    assert scoring.clusterer("optics", n_points=1000).min_cluster_size == 10
    with pytest.raises(ValueError, match="k >= 2"):
        scoring.clusterer("kmeans")
    with pytest.raises(ValueError, match="setting must be one of"):
        scoring.clusterer("spectral", 3)


def test_frozen_probe_reads_separable_classes_and_rejects_tiny_ones():
    X, y = blobs(90)
    r = scoring.frozen_probe(X + 10.0, y, seed=0)  # shifted: L2-normalised rows still separate
    assert r["accuracy"] > 0.9 and 0.9 < r["macro_f1"] <= 1.0 and r["classes"] == 3 and r["test"] == 27
    assert r == scoring.frozen_probe(X + 10.0, y, seed=0)
    with pytest.raises(ValueError, match="2\\+ works"):
        scoring.frozen_probe(X[:4], np.array([0, 0, 0, 1]))


@pytest.mark.parametrize("space", scoring.SPACES)
def test_kmeans_nmi_at_the_true_k(space):
    X, y = blobs(90)
    value, labels = scoring.kmeans_nmi(X + 10.0, y, space=space, seed=0)
    assert len(set(labels.tolist())) == 3 and value > 0.9
    assert np.allclose(np.linalg.norm(scoring.cluster_space(X, space), axis=1), 1.0)
    with pytest.raises(ValueError, match="space"):
        scoring.cluster_space(X, "nope")
