"""metrics: small functions on arrays, checked against hand-computed cases."""

import numpy as np
import pytest

from artsig import metrics as M


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    y = np.repeat([0, 1], 20)
    return X, y


def test_perfect_partition_scores():
    X, y = blobs()
    assert M.silhouette(X, y) > 0.9
    assert M.davies_bouldin(X, y) < 0.1
    assert M.calinski_harabasz(X, y) > 1000
    labels = np.where(y == 0, "a", "b")
    assert M.nmi(labels, y) == pytest.approx(1.0)
    assert M.ari(labels, y) == pytest.approx(1.0)
    assert M.purity(labels, y) == pytest.approx(1.0)


def test_purity_by_hand():
    truth = ["a", "a", "b", "b", "b", "c"]
    clusters = [0, 0, 0, 1, 1, 1]
    # cluster 0: majority a (2 of 3); cluster 1: majority b (2 of 3)
    assert M.purity(truth, clusters) == pytest.approx(4 / 6)


def test_noise_and_degenerate_partitions():
    X, y = blobs()
    noisy = y.copy()
    noisy[:5] = -1
    assert np.isfinite(M.silhouette(X, noisy))
    assert np.isnan(M.silhouette(X, np.zeros(len(X), int)))
    assert np.isnan(M.davies_bouldin(X, np.full(len(X), -1)))
    internal = M.internal_metrics(X, y)
    assert set(internal) == set(M.INTERNAL)


def test_missing_true_labels_are_ignored():
    truth = np.array(["a", None, "b", "b", None], dtype=object)
    clusters = np.array([0, 1, 1, 1, 0])
    assert M.nmi(truth, clusters) == pytest.approx(1.0)
    ext = M.external_metrics(truth, clusters)
    assert set(ext) == set(M.EXTERNAL) and ext["purity"] == pytest.approx(1.0)
    assert np.isnan(M.nmi([None, None], [0, 1]))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="rows"):
        M.silhouette(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="rows"):
        M.nmi(["a"], [0, 1])


def test_silhouette_subsample_is_seeded():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    lab = (X[:, 0] > 0).astype(int)
    a = M.silhouette(X, lab, sample_size=100, seed=3)
    assert a == M.silhouette(X, lab, sample_size=100, seed=3)


def test_silhouette_precomputed_with_noise():
    from sklearn.metrics import pairwise_distances

    X, y = blobs()
    D = pairwise_distances(X)
    noisy = y.copy()
    noisy[:3] = -1
    assert M.silhouette(D, noisy, metric="precomputed") == pytest.approx(M.silhouette(X, noisy))
    assert M.silhouette(D, y, metric="precomputed", sample_size=20, seed=1) == pytest.approx(
        M.silhouette(X, y, sample_size=20, seed=1))
