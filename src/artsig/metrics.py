"""Clustering metrics as small functions on arrays.

Internal metrics judge a partition by the geometry of the features alone
(:func:`silhouette`, :func:`davies_bouldin`, :func:`calinski_harabasz`); external metrics
compare it to known labels (:func:`nmi`, :func:`ari`, :func:`purity`).

Conventions: ``labels`` are cluster ids; ``-1`` marks noise (OPTICS, HDBSCAN). Internal
metrics are computed on the non-noise points and return ``nan`` when fewer than two
clusters remain. External metrics ignore rows whose true label is missing (``None`` /
``NaN``) and count noise as one more cluster, so declaring points noise is not free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "nmi",
    "ari",
    "purity",
    "internal_metrics",
    "external_metrics",
    "INTERNAL",
    "EXTERNAL",
]

INTERNAL = ("silhouette", "davies_bouldin", "calinski_harabasz")
EXTERNAL = ("nmi", "ari", "purity")
# which direction is better, for tables and heatmaps
HIGHER_IS_BETTER = {"silhouette": True, "davies_bouldin": False, "calinski_harabasz": True, "nmi": True, "ari": True, "purity": True}


def _clustered(X: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray] | None:
    X = np.asarray(X)
    labels = np.asarray(labels)
    if len(X) != len(labels):
        raise ValueError(f"features have {len(X)} rows but labels have {len(labels)}")
    keep = labels != -1
    X, labels = X[keep], labels[keep]
    n_clusters = len(np.unique(labels))
    if n_clusters < 2 or n_clusters >= len(labels):
        return None
    return X, labels


def silhouette(X, labels, sample_size: int | None = 5000, seed: int = 0, metric: str = "euclidean") -> float:
    """Mean silhouette in [-1, 1] (higher: tighter, better separated clusters).

    Quadratic in the number of points, so above ``sample_size`` points a seeded sample is used.
    ``metric="precomputed"`` takes a square distance matrix as ``X``.
    """
    from sklearn.metrics import silhouette_score

    X = np.asarray(X)
    labels = np.asarray(labels)
    precomputed = metric == "precomputed"  # X is a square distance matrix: subset rows and columns
    got = _clustered(X, labels)
    if got is None:
        return float("nan")
    keep = labels != -1
    X, labels = (X[np.ix_(keep, keep)], labels[keep]) if precomputed else got
    if sample_size is not None and len(X) > sample_size:
        idx = np.random.default_rng(seed).choice(len(X), size=sample_size, replace=False)
        X, labels = (X[np.ix_(idx, idx)] if precomputed else X[idx]), labels[idx]
        if len(np.unique(labels)) < 2:
            return float("nan")
    return float(silhouette_score(X, labels, metric=metric))


def davies_bouldin(X, labels) -> float:
    """Davies-Bouldin index >= 0 (lower: clusters compact relative to their separation)."""
    from sklearn.metrics import davies_bouldin_score

    got = _clustered(X, labels)
    return float("nan") if got is None else float(davies_bouldin_score(*got))


def calinski_harabasz(X, labels) -> float:
    """Calinski-Harabasz ratio of between- to within-cluster dispersion (higher is better)."""
    from sklearn.metrics import calinski_harabasz_score

    got = _clustered(X, labels)
    return float("nan") if got is None else float(calinski_harabasz_score(*got))


def _known(y_true, labels) -> tuple[np.ndarray, np.ndarray]:
    y = pd.Series(np.asarray(y_true, dtype=object))
    labels = np.asarray(labels)
    if len(y) != len(labels):
        raise ValueError(f"true labels have {len(y)} rows but cluster labels have {len(labels)}")
    keep = y.notna().to_numpy()
    return y[keep].astype(str).to_numpy(), labels[keep]


def nmi(y_true, labels) -> float:
    """Normalised mutual information in [0, 1] (arithmetic normalisation; 1 = same partition)."""
    from sklearn.metrics import normalized_mutual_info_score

    y, c = _known(y_true, labels)
    return float("nan") if len(y) == 0 else float(normalized_mutual_info_score(y, c))


def ari(y_true, labels) -> float:
    """Adjusted Rand index (0 = chance level, 1 = same partition; can be negative)."""
    from sklearn.metrics import adjusted_rand_score

    y, c = _known(y_true, labels)
    return float("nan") if len(y) == 0 else float(adjusted_rand_score(y, c))


def purity(y_true, labels) -> float:
    """Share of points whose cluster's majority label is their own label, in (0, 1].

    Rises with the number of clusters (singletons give 1), so compare it at equal k.
    """
    y, c = _known(y_true, labels)
    if len(y) == 0:
        return float("nan")
    table = pd.crosstab(c, y)
    return float(table.max(axis=1).sum() / len(y))


def internal_metrics(X, labels, sample_size: int | None = 5000, seed: int = 0) -> dict[str, float]:
    """``{"silhouette", "davies_bouldin", "calinski_harabasz"}`` of one partition."""
    return {
        "silhouette": silhouette(X, labels, sample_size=sample_size, seed=seed),
        "davies_bouldin": davies_bouldin(X, labels),
        "calinski_harabasz": calinski_harabasz(X, labels),
    }


def external_metrics(y_true, labels) -> dict[str, float]:
    """``{"nmi", "ari", "purity"}`` of one partition against one label column."""
    return {"nmi": nmi(y_true, labels), "ari": ari(y_true, labels), "purity": purity(y_true, labels)}
