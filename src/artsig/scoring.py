"""One vocabulary for clustering: which labels to score against, how to cluster, how to score.

- :func:`label_frame` / :func:`label_names`: the one rule choosing the label columns a
  partition is compared with (the wanted columns the catalog has, ``period`` derived from
  ``date``, each with at least two known classes);
- :data:`SETTINGS`, :func:`clusterer`, :func:`fit_partition`: every k-means, Gaussian-mixture,
  OPTICS, HDBSCAN and agglomerative model of the library, with its settings in one place;
- :func:`score_partition`, :func:`score_many`: one partition scored against the features
  (internal metrics) and every label column (external metrics) as one tidy long table,
  ``<id columns>, metric, kind, label, value, n_clusters, noise``;
- :func:`wide`: that table pivoted for display (one row per partition, a column per metric).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics as M

__all__ = [
    "DEFAULT_LABELS",
    "SETTINGS",
    "SCORE_COLUMNS",
    "label_frame",
    "label_names",
    "date_buckets",
    "clusterer",
    "fit_partition",
    "score_partition",
    "score_many",
    "wide",
    "frozen_probe",
    "cluster_space",
    "kmeans_nmi",
    "SPACES",
]

DEFAULT_LABELS = ("style", "genre", "artist", "period")
SCORE_COLUMNS = ("metric", "kind", "label", "value", "n_clusters", "noise")

# Every clustering model's settings. Keys are setting names; "estimator" says which model.
# Several k-means settings exist because each was tuned for its use and the chapters' checked
# numbers depend on them; unifying them would change those numbers:
# - "kmeans": the clustering chapter's partitions (3 restarts);
# - "kmeans_scan": the cheap k scan of the elbow / silhouette plots (1 restart per k);
# - "kmeans_representations": chapter 04's ranking of representations (4 restarts);
# - "kmeans_dcec": DCEC / DEC centroid initialisation and the KMeans baselines of chapter 05
#   (20 restarts, as Guo et al.).
# OPTICS and HDBSCAN take ``min_cluster_size`` from the data size when not given
# (max(5, n // 100)); OPTICS' ``min_samples`` defaults to that same size.
SETTINGS: dict[str, dict] = {
    "kmeans": {"estimator": "kmeans", "n_init": 3},
    "kmeans_scan": {"estimator": "kmeans", "n_init": 1},
    "kmeans_representations": {"estimator": "kmeans", "n_init": 4},
    "kmeans_dcec": {"estimator": "kmeans", "n_init": 20},
    "gmm": {"estimator": "gmm", "covariance_type": "diag", "n_init": 2, "reg_covar": 1e-4},
    "agglomerative": {"estimator": "agglomerative", "linkage": "ward"},
    "optics": {"estimator": "optics", "xi": 0.05},
    "hdbscan": {"estimator": "hdbscan", "min_samples": 5, "copy": True},
    # collections above clustering.LARGE_LIMIT works (clustering.cluster switches by size):
    # mini-batch k-means, and HDBSCAN by fast_hdbscan (Boruvka on a kd-tree, reproducible order)
    "kmeans_large": {"estimator": "minibatch_kmeans", "n_init": 3, "batch_size": 4096},
    "kmeans_scan_large": {"estimator": "minibatch_kmeans", "n_init": 1, "batch_size": 4096},
    "hdbscan_large": {"estimator": "fast_hdbscan", "min_samples": 5, "reproducible": True},
}
NEEDS_K = ("kmeans", "minibatch_kmeans", "gmm", "agglomerative")


# --- labels -------------------------------------------------------------------------------------


def date_buckets(dates: pd.Series, n: int = 4) -> pd.Series:
    """Periods from years: ``n`` quantile buckets named by their year span (``"1871-1902"``)."""
    years = pd.to_numeric(pd.Series(dates), errors="coerce")
    known = years.dropna()
    if known.nunique() < 2:
        return pd.Series([None] * len(years), index=years.index, dtype=object)
    edges = np.unique(np.quantile(known, np.linspace(0, 1, n + 1)).round())
    bucket = pd.cut(years, edges, include_lowest=True, duplicates="drop")
    names = {iv: f"{int(np.ceil(iv.left)) if i else int(edges[0])}-{int(iv.right)}" for i, iv in enumerate(bucket.cat.categories)}
    return bucket.map(names).astype(object).where(years.notna(), None)


def label_frame(catalog: pd.DataFrame, wanted: Sequence[str] | None = None, n_periods: int = 4) -> pd.DataFrame:
    """The label columns partitions are scored against, one rule for every chapter.

    Keeps the ``wanted`` columns (default :data:`DEFAULT_LABELS`) the catalog has, in that
    order, ``period`` made from ``date`` (quantile buckets), each with at least two known
    classes; missing values become ``None``. Rows follow the catalog (index reset).
    """
    wanted = list(DEFAULT_LABELS if wanted is None else wanted)
    out = {}
    for col in dict.fromkeys(wanted):
        if col == "period" and "period" not in catalog.columns:
            if "date" in catalog.columns:
                out["period"] = date_buckets(catalog["date"], n_periods).to_numpy()
        elif col in catalog.columns:
            out[col] = catalog[col].astype(object).where(catalog[col].notna(), None).to_numpy()
    frame = pd.DataFrame(out, index=catalog.index)
    keep = [c for c in frame.columns if frame[c].dropna().nunique() >= 2]
    return frame[keep].reset_index(drop=True)


def label_names(catalog: pd.DataFrame, wanted: Sequence[str] | None = None) -> list[str]:
    """The names :func:`label_frame` keeps (same rule), for code that reads the catalog itself."""
    return list(label_frame(catalog, wanted).columns)


# --- clustering ---------------------------------------------------------------------------------


def clusterer(setting: str, k: int | None = None, seed: int = 0, n_points: int | None = None, **overrides):
    """The unfitted scikit-learn model of a :data:`SETTINGS` entry, with ``overrides`` on top.

    ``k`` is needed by k-means, Gaussian mixtures and agglomerative clustering; ``n_points``
    (the rows to be clustered) sets OPTICS' and HDBSCAN's default ``min_cluster_size``.
    """
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    params = {**SETTINGS[setting], **overrides}
    estimator = params.pop("estimator")
    if estimator in NEEDS_K and (k is None or k < 2):
        raise ValueError(f"{setting} needs k >= 2 clusters, got k={k}")
    if estimator in ("optics", "hdbscan", "fast_hdbscan") and params.get("min_cluster_size") is None:
        if n_points is None:
            raise ValueError(f"{setting}: pass min_cluster_size or n_points (the number of rows clustered)")
        params["min_cluster_size"] = max(5, int(n_points) // 100)
    if estimator == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=int(k), random_state=seed, **params)
    if estimator == "minibatch_kmeans":
        from sklearn.cluster import MiniBatchKMeans

        return MiniBatchKMeans(n_clusters=int(k), random_state=seed, **params)
    if estimator == "fast_hdbscan":
        from fast_hdbscan import HDBSCAN as FastHDBSCAN

        return FastHDBSCAN(**params)
    if estimator == "gmm":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(n_components=int(k), random_state=seed, **params)
    if estimator == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=int(k), **params)
    if estimator == "optics":
        from sklearn.cluster import OPTICS

        params.setdefault("min_samples", params["min_cluster_size"])
        return OPTICS(**params)
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(**params)


def fit_partition(Z: np.ndarray, setting: str, k: int | None = None, seed: int = 0, **overrides) -> np.ndarray:
    """Cluster ids (``-1`` = noise) of the rows of ``Z`` under a :data:`SETTINGS` entry."""
    model = clusterer(setting, k=k, seed=seed, n_points=len(Z), **overrides)
    return np.asarray(model.fit_predict(Z), dtype=int)


# --- scores -------------------------------------------------------------------------------------


def score_partition(
    partition: np.ndarray,
    features: np.ndarray | None = None,
    labels: pd.DataFrame | None = None,
    *,
    distances: np.ndarray | None = None,
    seed: int = 0,
    sample_size: int | None = 5000,
    internal: Sequence[str] = M.INTERNAL,
    external: Sequence[str] = M.EXTERNAL,
    **ids,
) -> pd.DataFrame:
    """One partition scored as a tidy long table: ``<ids>, metric, kind, label, value, n_clusters, noise``.

    Internal metrics (``kind="internal"``, ``label=None``) judge it on ``features``; the
    silhouette uses ``distances`` (a square distance matrix of the same rows, no sampling) when
    given, which saves recomputing it for many partitions of one space. External metrics
    (``kind="external"``) compare it with every column of ``labels`` (rows with a missing
    label are left out). ``ids`` (e.g. ``method="kmeans", k=5``) name the partition.
    """
    partition = np.asarray(partition)
    base = {**ids, "n_clusters": len(set(partition.tolist()) - {-1}), "noise": float((partition == -1).mean()) if len(partition) else float("nan")}
    rows = []
    if features is not None or distances is not None:
        values = {}
        if "silhouette" in internal:
            values["silhouette"] = (M.silhouette(distances, partition, sample_size=None, metric="precomputed") if distances is not None
                                    else M.silhouette(features, partition, sample_size=sample_size, seed=seed))
        if features is not None:
            if "davies_bouldin" in internal:
                values["davies_bouldin"] = M.davies_bouldin(features, partition)
            if "calinski_harabasz" in internal:
                values["calinski_harabasz"] = M.calinski_harabasz(features, partition)
        rows += [{**base, "metric": m, "kind": "internal", "label": None, "value": values[m]} for m in internal if m in values]
    if labels is not None:
        if len(labels) != len(partition):
            raise ValueError(f"labels have {len(labels)} rows but the partition has {len(partition)}")
        unknown = [m for m in external if m not in M.EXTERNAL]
        if unknown:
            raise ValueError(f"external metrics must be among {M.EXTERNAL}, got {unknown}")
        score = {"nmi": M.nmi, "ari": M.ari, "purity": M.purity}
        for col in labels.columns:
            truth = labels[col].to_numpy()
            rows += [{**base, "metric": m, "kind": "external", "label": col, "value": score[m](truth, partition)} for m in external]
    columns = [*ids, *SCORE_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def score_many(runs: Iterable[Mapping], **shared) -> pd.DataFrame:
    """Several partitions stacked: each run is a dict of :func:`score_partition` arguments
    (``partition``, ``features``, ids ...) completing the ``shared`` ones."""
    tables = [score_partition(**{**shared, **run}) for run in runs]
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(SCORE_COLUMNS))


def wide(scores: pd.DataFrame, index: Sequence[str], meta: Sequence[str] = (), decimals: int | None = None) -> pd.DataFrame:
    """A long score table as one row per ``index`` value, a column per metric.

    Columns are the ``meta`` columns (first value of each group), then the metrics in order of
    first appearance, named ``<metric>_<label>`` for external ones (just ``<metric>`` when
    ``label`` is part of ``index``). Values are taken as they are (no averaging).
    """
    index = list(index)
    labelled = scores["label"].notna() & (scores["label"] != "") & ("label" not in index)
    column = np.where(labelled, scores["metric"] + "_" + scores["label"].astype(str), scores["metric"])
    s = scores.assign(_column=column)
    order = list(pd.unique(s["_column"]))
    rows = []
    for key, part in s.groupby(index, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(index, key))
        row.update({m: part[m].iloc[0] for m in meta})
        row.update(zip(part["_column"], part["value"]))
        rows.append(row)
    table = pd.DataFrame(rows, columns=[*index, *meta, *order]).set_index(index)
    return table.round(decimals) if decimals is not None else table


# --- the frozen-feature baselines -----------------------------------------------------------------

SPACES = ("l2", "whiten")


def frozen_probe(X: np.ndarray, y, seed: int = 0, test_fraction: float = 0.3, C: float = 1.0) -> dict:
    """The frozen-probe baseline: L2-normalised rows, logistic regression, seeded stratified split.

    Returns ``accuracy, macro_f1, classes, train, test`` on the held-out rows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).astype(str)
    if len(X) != len(y):
        raise ValueError(f"features have {len(X)} rows but the labels have {len(y)}")
    counts = pd.Series(y).value_counts()
    if len(counts) < 2 or counts.min() < 2:
        raise ValueError(f"a probe needs at least 2 classes with 2+ works each; smallest class has {counts.min()}")
    Z = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    train, test = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y)
    pred = LogisticRegression(C=C, max_iter=3000).fit(Z[train], y[train]).predict(Z[test])
    return {"accuracy": float((pred == y[test]).mean()), "macro_f1": float(f1_score(y[test], pred, average="macro")),
            "classes": int(len(counts)), "train": int(len(train)), "test": int(len(test))}


def cluster_space(X: np.ndarray, space: str = "l2", n_components: int = 50, seed: int = 0) -> np.ndarray:
    """Rows ready for k-means: ``"l2"`` (L2-normalised) or ``"whiten"`` (PCA-whitened to ``n_components``, then L2)."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    Z = np.asarray(X, dtype=np.float64)
    if space == "whiten":
        from sklearn.decomposition import PCA

        k = min(n_components, len(Z) - 1, Z.shape[1])
        Z = PCA(n_components=k, whiten=True, svd_solver="randomized", random_state=seed).fit_transform(Z)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def kmeans_nmi(X: np.ndarray, y, k: int | None = None, space: str = "l2", seed: int = 0) -> tuple[float, np.ndarray]:
    """K-means (the ``kmeans`` setting) at ``k`` (default: the number of classes of ``y``) in
    :func:`cluster_space`, and its NMI with ``y``: ``(nmi, cluster ids)``."""
    y = np.asarray(y).astype(str)
    k = int(pd.Series(y).nunique()) if k is None else int(k)
    labels = fit_partition(cluster_space(X, space, seed=seed), "kmeans", k=k, seed=seed)
    return float(M.nmi(y, labels)), labels
