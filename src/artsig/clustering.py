"""Unsupervised clustering of feature matrices, and its comparison with known labels.

The flow of the clustering chapter::

    Z = prepare(X)                              # standardise + PCA, the space clustered
    ks = k_scan(Z)                              # inertia and silhouette for k = 2..12
    k = pick_k(ks)["silhouette"]                # or ["elbow"]
    labels = cluster(Z, "kmeans", k=k)
    table, assignments, scans = compare(features, catalog)   # every extractor x method

Methods: ``kmeans``, ``gmm`` (Gaussian mixture, soft: :func:`gmm_fit` gives the
responsibilities), ``optics`` and ``hdbscan`` (density-based, find their own number of
clusters and mark noise ``-1``), ``agglomerative`` (Ward). OPTICS is quadratic in time: above
``max_points`` it either refuses with a clear message or, with ``subsample=True``, fits a seeded
subsample and gives every other point the cluster of its nearest fitted neighbour.

Large collections (more than :data:`LARGE_LIMIT` rows, 20,000 by default; ``large_limit``
changes it) switch by size to methods that scale (``benchmarks/bench_scale.py`` times them on
100k works, README): k-means becomes mini-batch k-means (``kmeans_large``; the k scan
``kmeans_scan_large``); the Gaussian mixture is fitted on a seeded sample of
:data:`GMM_FIT_SAMPLE` rows and predicts every row; the density method is HDBSCAN by
``fast_hdbscan`` (``hdbscan_large``: Boruvka on a kd-tree, reproducible) on the first
:data:`DENSITY_COMPONENTS` principal components of the clustering space (a kd-tree stays exact
and fast in few dimensions; on all 50 ``fast_hdbscan`` goes through an approximate kNN graph and
took longer for the same clusters). OPTICS and Ward are quadratic: :func:`compare` leaves them
out above the limit (a warning names them) and the density method is HDBSCAN. Below the limit
nothing changes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from . import metrics as M
from . import scoring, store
from .scoring import date_buckets, label_frame

__all__ = [
    "METHODS",
    "prepare",
    "prepare_for",
    "Reducer",
    "k_scan",
    "pick_k",
    "cluster",
    "gmm_fit",
    "label_frame",
    "date_buckets",
    "compare",
    "summary_wide",
    "embed_2d",
    "composition",
    "influences",
    "most_mixed",
    "representatives",
    "true_k_baseline",
    "baseline_verdicts",
    "recipe_scores",
    "optics_limit",
    "recipe_summary",
    "LARGE_LIMIT",
    "is_large",
]

METHODS = ("kmeans", "gmm", "optics", "hdbscan", "agglomerative")
#: above this many rows :func:`cluster`, :func:`k_scan` and :func:`compare` use the methods that scale
LARGE_LIMIT = 20_000
#: the methods with a large-collection form (OPTICS and Ward have none: quadratic)
LARGE_METHODS = ("kmeans", "gmm", "hdbscan")
#: rows the Gaussian mixture is fitted on above :data:`LARGE_LIMIT` (a seeded sample; every row is predicted)
GMM_FIT_SAMPLE = 50_000
#: leading principal components HDBSCAN clusters above :data:`LARGE_LIMIT`
DENSITY_COMPONENTS = 10
CACHE_VERSION = "2"  # bump when a method's numbers or a stored table's columns change
SIZE_LIMITS = {"optics": 2000, "agglomerative": 20000, "hdbscan": 200000}


def prepare(X: np.ndarray, n_components: int | None = 50, seed: int = 0, standardize: bool = True) -> np.ndarray:
    """The space clustering works in: standardised columns, then PCA to ``n_components``.

    Removes constant columns first. Deterministic for a given ``seed``. See :class:`Reducer`.
    """
    return Reducer(n_components=n_components, standardize=standardize, seed=seed).fit_transform(X)


class Reducer(TransformerMixin, BaseEstimator):
    """Drop constant columns, standardise, then PCA to ``n_components``: the space clustering works in.

    A fitted reducer maps new rows with the training columns' means, scales and components.
    """

    def __init__(self, n_components: int | None = 50, standardize: bool = True, seed: int = 0):
        self.n_components = n_components
        self.standardize = standardize
        self.seed = seed

    def fit(self, X: np.ndarray, y=None) -> Reducer:
        """Learn the kept columns, their means and scales, and the PCA (when it reduces)."""
        self._fit(X)
        return self

    def fit_transform(self, X: np.ndarray, y=None) -> np.ndarray:
        """Fit and map ``X`` in one pass (the PCA's own fit_transform, as :func:`prepare` always did)."""
        return self._fit(X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Map rows with the fitted columns, scales and components."""
        if not hasattr(self, "keep_"):
            raise RuntimeError("this Reducer is not fitted yet: call fit(X) first")
        X = self._check(X, min_rows=1)[:, self.keep_]
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"features have {X.shape[1]} kept columns, the reducer was fitted on {len(self.mean_)}")
        if self.standardize:
            X = (X - self.mean_) / self.scale_
        if self.pca_ is not None:
            X = self.pca_.transform(X)
        return np.ascontiguousarray(X)

    def _check(self, X: np.ndarray, min_rows: int = 3) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < min_rows:
            raise ValueError(f"features must be a 2-D array with at least {min_rows} rows, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("features contain NaN or infinite values")
        return X

    def _fit(self, X: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        if self.n_components is not None and (not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1):
            raise ValueError(f"n_components={self.n_components!r}: expected a positive integer or None")
        X = self._check(X)
        self.n_features_in_ = X.shape[1]
        self.keep_ = X.std(0) > 1e-12
        X = X[:, self.keep_]
        self.mean_, self.scale_ = X.mean(0), X.std(0)
        if self.standardize:
            X = (X - self.mean_) / self.scale_
        self.pca_ = None
        if self.n_components is not None and X.shape[1] > self.n_components:
            k = min(self.n_components, len(X) - 1)
            self.pca_ = PCA(n_components=k, svd_solver="randomized", random_state=self.seed)
            X = self.pca_.fit_transform(X)
        return np.ascontiguousarray(X)


def is_large(n: int, large_limit: int | None = None) -> bool:
    """Whether ``n`` rows are a large collection (more than ``large_limit``, default :data:`LARGE_LIMIT`)."""
    return n > (LARGE_LIMIT if large_limit is None else int(large_limit))


def k_scan(Z: np.ndarray, k_values: Iterable[int] = range(2, 13), seed: int = 0, n_init: int = 1,
           large_limit: int | None = None) -> pd.DataFrame:
    """KMeans for every k: ``k, inertia, silhouette`` (the elbow and silhouette plots; the cheap
    ``kmeans_scan`` setting of :data:`artsig.scoring.SETTINGS`, mini-batch above ``large_limit`` rows)."""
    rows = []
    setting = "kmeans_scan_large" if is_large(len(Z), large_limit) else "kmeans_scan"
    for k in k_values:
        if k >= len(Z):
            break
        km = scoring.clusterer(setting, int(k), seed=seed, n_init=n_init).fit(Z)
        rows.append(dict(k=int(k), inertia=float(km.inertia_), silhouette=M.silhouette(Z, km.labels_, seed=seed)))
    return pd.DataFrame(rows)


def pick_k(scan: pd.DataFrame) -> dict[str, int]:
    """``{"elbow": k, "silhouette": k}`` from a :func:`k_scan` table.

    The elbow is the k farthest below the straight line joining the first and last points of
    the (normalised) inertia curve (the "kneedle" rule); the silhouette choice is its maximum.
    """
    if scan.empty:
        raise ValueError("empty k scan: need at least one k smaller than the number of points")
    k = scan["k"].to_numpy(dtype=float)
    y = scan["inertia"].to_numpy(dtype=float)
    if len(k) < 3:
        elbow = int(k[0])
    else:
        kn = (k - k.min()) / (k.max() - k.min())
        yn = (y - y.min()) / max(y.max() - y.min(), 1e-12)
        line = 1 - kn  # inertia falls from 1 to 0
        elbow = int(k[int(np.argmax(line - yn))])
    best = int(scan.loc[scan["silhouette"].idxmax(), "k"]) if scan["silhouette"].notna().any() else elbow
    return {"elbow": elbow, "silhouette": best}


def gmm_fit(Z: np.ndarray, k: int, seed: int = 0, covariance_type: str = "diag") -> tuple[np.ndarray, np.ndarray]:
    """Gaussian mixture: hard labels and the responsibilities ``(N, k)`` (rows sum to 1)."""
    gmm = scoring.clusterer("gmm", int(k), seed=seed, covariance_type=covariance_type).fit(Z)
    proba = gmm.predict_proba(Z)
    return proba.argmax(1), proba


def _guard(method: str, n: int, max_points: int | None, subsample: bool) -> int | None:
    limit = SIZE_LIMITS.get(method) if max_points is None else max_points
    if limit is None or n <= limit:
        return None
    if not subsample:
        raise ValueError(
            f"{method} on {n} points exceeds max_points={limit} (its cost grows quadratically); "
            f"pass subsample=True to fit a seeded sample of {limit} points and assign the rest "
            f"to their nearest neighbour's cluster, or raise max_points"
        )
    return limit


def cluster(
    Z: np.ndarray,
    method: str,
    k: int | None = None,
    seed: int = 0,
    max_points: int | None = None,
    subsample: bool = False,
    min_cluster_size: int | None = None,
    large_limit: int | None = None,
) -> np.ndarray:
    """Cluster labels (``-1`` = noise) of the rows of ``Z`` by one of :data:`METHODS`.

    ``k`` is needed by kmeans, gmm and agglomerative; density methods pick their own number.
    ``max_points`` / ``subsample`` control the size guard (defaults in :data:`SIZE_LIMITS`);
    each method's settings are those of :data:`artsig.scoring.SETTINGS`. Above ``large_limit``
    rows (default :data:`LARGE_LIMIT`) kmeans, gmm and hdbscan use their large-collection form
    (module docstring); optics and agglomerative keep the size guard.
    """
    Z = np.asarray(Z)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("kmeans", "gmm", "agglomerative") and (k is None or k < 2):
        raise ValueError(f"{method} needs k >= 2 clusters, got k={k}")
    n = len(Z)
    if method in LARGE_METHODS and is_large(n, large_limit):
        return cluster_large(Z, method, k=k, seed=seed, min_cluster_size=min_cluster_size)
    limit = _guard(method, n, max_points, subsample)
    rows = np.arange(n)
    if limit is not None:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    Zfit = Z[rows]
    if method == "gmm":
        labels = np.asarray(gmm_fit(Zfit, int(k), seed)[0], dtype=int)
    else:
        density = {"min_cluster_size": min_cluster_size} if method in ("optics", "hdbscan") else {}
        labels = scoring.fit_partition(Zfit, method, k=k, seed=seed, **density)
    if limit is None:
        return labels
    from sklearn.neighbors import NearestNeighbors

    out = np.empty(n, dtype=int)
    out[rows] = labels
    rest = np.setdiff1d(np.arange(n), rows)
    nn = NearestNeighbors(n_neighbors=1).fit(Zfit)
    out[rest] = labels[nn.kneighbors(Z[rest], return_distance=False)[:, 0]]
    return out


def cluster_large(Z: np.ndarray, method: str, k: int | None = None, seed: int = 0, min_cluster_size: int | None = None,
                  fit_sample: int = GMM_FIT_SAMPLE, density_components: int = DENSITY_COMPONENTS) -> np.ndarray:
    """Cluster labels of a large collection by the methods that scale (what :func:`cluster` uses above the limit).

    ``kmeans``: mini-batch k-means; ``gmm``: the ``gmm`` setting fitted on a seeded sample of
    ``fit_sample`` rows, every row predicted; ``hdbscan``: fast_hdbscan on the first
    ``density_components`` columns of ``Z`` (``Z`` from :func:`prepare`: its leading principal components).
    """
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if method not in LARGE_METHODS:
        raise ValueError(f"method must be one of {LARGE_METHODS} for a large collection, got {method!r}")
    if method in ("kmeans", "gmm") and (k is None or k < 2):
        raise ValueError(f"{method} needs k >= 2 clusters, got k={k}")
    if method == "kmeans":
        return scoring.fit_partition(Z, "kmeans_large", k=k, seed=seed)
    if method == "gmm":
        rows = np.arange(len(Z))
        if len(Z) > fit_sample:
            rows = np.sort(np.random.default_rng(seed).choice(len(Z), size=int(fit_sample), replace=False))
        model = scoring.clusterer("gmm", int(k), seed=seed).fit(Z[rows])
        return np.asarray(model.predict(Z), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's and sklearn's notices while the kd-tree compiles
        D = np.ascontiguousarray(Z[:, :density_components])
        return scoring.fit_partition(D, "hdbscan_large", seed=seed, min_cluster_size=min_cluster_size)


def _standardize_for(name: str, standardize) -> bool:
    if isinstance(standardize, str):
        if standardize != "auto":
            raise ValueError(f"standardize must be True, False, 'auto' or a mapping, got {standardize!r}")
        from .features import standardize_default

        return standardize_default(name)
    if isinstance(standardize, Mapping):
        return bool(standardize.get(name, True))
    return bool(standardize)


def prepare_for(name: str, X: np.ndarray, n_components: int | None = 50, seed: int = 0) -> np.ndarray:
    """:func:`prepare` with the standardisation the extractor ``name`` calls for."""
    return prepare(X, n_components=n_components, seed=seed, standardize=_standardize_for(name, "auto"))


def compare(
    features: Mapping[str, np.ndarray],
    catalog: pd.DataFrame,
    methods: Sequence[str] = METHODS,
    k: str | int = "silhouette",
    k_values: Iterable[int] = range(2, 13),
    n_components: int = 50,
    seed: int = 0,
    labels: pd.DataFrame | None = None,
    max_points: Mapping[str, int] | None = None,
    subsample: bool = True,
    standardize: bool | Mapping[str, bool] | str = "auto",
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
    large_limit: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every feature set x every method, scored by internal and external metrics.

    Returns three tidy tables:

    - ``scores``: ``extractor, method, k, metric, kind, label, value, n_clusters, noise``
      (:func:`artsig.scoring.score_partition`'s long table: ``label`` is None for internal
      metrics; external ones have one row per label column);
    - ``assignments``: ``image_id`` plus one column ``"<extractor>/<method>"`` of cluster ids;
    - ``scans``: the k scans, ``extractor, k, inertia, silhouette`` (+ the chosen ks).

    ``k`` is ``"silhouette"``, ``"elbow"`` or a number used for every feature set.
    ``standardize="auto"`` standardises each feature set's columns unless its extractor says
    not to (PCA scores: :func:`artsig.features.standardize_default`).
    With ``cache_dir`` the three tables are stored there, keyed by the features, labels and
    every parameter, so an identical rerun reads them back instead of clustering again; each
    finished feature set is stored as it ends, so a killed run restarted with the same
    parameters redoes only the feature sets it had not finished.

    Above ``large_limit`` works (default :data:`LARGE_LIMIT`) the methods that scale are used
    (module docstring): optics and agglomerative are left out with a warning, kmeans, gmm and
    hdbscan take their large-collection form.
    """
    from tqdm import tqdm

    labels = label_frame(catalog) if labels is None else labels.reset_index(drop=True)
    large = is_large(len(catalog), large_limit)
    if large:
        dropped = [m for m in methods if m not in LARGE_METHODS]
        methods = [m for m in methods if m in LARGE_METHODS]
        if dropped:
            warnings.warn(f"{len(catalog)} works is above the large-collection limit ({large_limit or LARGE_LIMIT}): "
                          f"{', '.join(dropped)} left out (quadratic); the density method is hdbscan", stacklevel=2)
    settings = dict(methods=list(methods), k=k, k_values=list(k_values), n_components=n_components, seed=seed,
                    max_points=dict(max_points or {}), subsample=subsample)
    key = paths = None
    if cache_dir is not None:
        std_key = {n: _standardize_for(n, standardize) for n in features}
        size_key = ["large", large_limit or LARGE_LIMIT, GMM_FIT_SAMPLE, DENSITY_COMPONENTS] if large else []  # small keys unchanged
        key = store.fingerprint(CACHE_VERSION, dict(features), labels, catalog["image_id"].astype(str).to_numpy(), *settings.values(), std_key, *size_key)
        paths = [store.cache_path(cache_dir, f"compare-{part}", key, ".parquet") for part in ("scores", "assignments", "scans")]
        if all(p.exists() for p in paths):
            return tuple(pd.read_parquet(p) for p in paths)  # type: ignore[return-value]
    rows, scans, parts = [], [], {}
    assign = {"image_id": catalog["image_id"].astype(str).to_numpy()}
    bar = tqdm(total=len(features) * len(methods), desc="clustering", disable=not progress, leave=False)
    for name, X in features.items():
        if len(X) != len(catalog):
            raise ValueError(f"features {name!r} have {len(X)} rows but the catalog has {len(catalog)}")
        if key is not None:  # a run killed part-way resumes after the last finished feature set
            parts[name] = [store.cache_path(cache_dir, f"compare-part-{part}", store.fingerprint(key, name), ".parquet") for part in ("rows", "assign", "scan")]
        done = _finished_part(parts.get(name))
        if done is None:
            done = _cluster_feature_set(name, X, labels, standardize, bar, large_limit=large_limit, **settings)
            for frame, path in zip(done, parts.get(name, ())):
                store.save_frame(path, frame)
        else:
            bar.update(len(methods))
        rows.extend(done[0].to_dict("records"))
        assign.update({c: done[1][c].to_numpy() for c in done[1].columns})
        scans.append(done[2])
    bar.close()
    scan_table = pd.concat(scans, ignore_index=True)[["extractor", "k", "inertia", "silhouette", "k_elbow", "k_silhouette"]]
    result = (pd.DataFrame(rows), pd.DataFrame(assign), scan_table)
    if paths is not None:
        for frame, path in zip(result, paths):
            store.save_frame(path, frame)
        for path in (p for group in parts.values() for p in group):
            path.unlink(missing_ok=True)  # the whole result is stored; the per-feature-set parts are not needed
    return result


def _finished_part(paths: Sequence[Path] | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """The stored rows, assignments and scan of one finished feature set of :func:`compare`, if all are there."""
    if not paths or not all(p.exists() for p in paths):
        return None
    return tuple(pd.read_parquet(p) for p in paths)  # type: ignore[return-value]


def _cluster_feature_set(
    name: str, X: np.ndarray, labels: pd.DataFrame, standardize, bar, *, methods: Sequence[str], k: str | int,
    k_values: list[int], n_components: int, seed: int, max_points: Mapping[str, int], subsample: bool,
    large_limit: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One feature set of :func:`compare`: reduce, scan k, cluster with every method and score it."""
    Z = prepare(X, n_components=n_components, seed=seed, standardize=_standardize_for(name, standardize))
    scan = k_scan(Z, k_values, seed=seed, large_limit=large_limit)
    chosen = pick_k(scan)
    k_used = int(k) if not isinstance(k, str) else chosen[k]
    rows, assign = [], {}
    for method in methods:
        lab = cluster(Z, method, k=k_used, seed=seed, max_points=max_points.get(method), subsample=subsample, large_limit=large_limit)
        assign[f"{name}/{method}"] = lab
        base = dict(extractor=name, method=method, k=k_used if method in ("kmeans", "gmm", "agglomerative") else np.nan)
        rows.extend(scoring.score_partition(lab, Z, labels, seed=seed, **base).to_dict("records"))
        bar.update(1)
    scan = scan.assign(extractor=name, k_elbow=chosen["elbow"], k_silhouette=chosen["silhouette"])
    return pd.DataFrame(rows), pd.DataFrame(assign), scan


def summary_wide(scores: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """The scores as one row per (extractor, method), a column per metric (``nmi_style`` ...):
    :func:`artsig.scoring.wide` of :func:`compare`'s long table."""
    return scoring.wide(scores, ["extractor", "method"], meta=["n_clusters", "noise"], decimals=decimals)


def embed_2d(
    Z: np.ndarray,
    method: str = "umap",
    seed: int = 0,
    n_neighbors: int = 15,
    perplexity: float = 30.0,
    max_iter: int = 500,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """A 2-D map of the rows of ``Z`` by UMAP or t-SNE (seeded: same seed, same map).

    With ``cache_dir`` the map is stored there, keyed by ``Z`` and the parameters.
    """
    if method not in ("umap", "tsne"):
        raise ValueError(f"method must be 'umap' or 'tsne', got {method!r}")
    if cache_dir is not None:
        key = store.fingerprint(CACHE_VERSION, np.asarray(Z), method, seed, n_neighbors, perplexity, max_iter)
        path = store.cache_path(cache_dir, f"embed-{method}", key, ".npy")
        return store.cached(path, lambda: embed_2d(Z, method, seed, n_neighbors, perplexity, max_iter))
    if method == "umap":
        from .torch_compat import import_umap

        umap = import_umap()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=0.1, random_state=seed, n_jobs=1)
            return reducer.fit_transform(Z).astype(np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(perplexity, max(2.0, (len(Z) - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=1, max_iter=max(250, max_iter))
        return tsne.fit_transform(Z).astype(np.float32)


def composition(labels: np.ndarray, classes: Sequence, normalize: bool = True) -> pd.DataFrame:
    """Cluster x class counts (or row shares): what each cluster is made of."""
    table = pd.crosstab(pd.Series(np.asarray(labels), name="cluster"), pd.Series(np.asarray(classes, dtype=object), name="class"))
    return table.div(table.sum(1), axis=0) if normalize else table


def influences(proba: np.ndarray, index: int, top: int = 3) -> pd.DataFrame:
    """A painting's strongest mixture components: ``cluster, responsibility`` (largest first)."""
    p = np.asarray(proba)[index]
    order = np.argsort(-p, kind="stable")[:top]
    return pd.DataFrame({"cluster": order.astype(int), "responsibility": p[order]})


def most_mixed(proba: np.ndarray) -> int:
    """The row whose responsibilities are spread most evenly (largest entropy): a painting between groups."""
    p = np.asarray(proba, dtype=np.float64)
    entropy = -(p * np.log(np.clip(p, 1e-300, None))).sum(1)
    return int(np.argmax(entropy))


def representatives(Z: np.ndarray, labels: np.ndarray, cluster_id: int, n: int = 8) -> np.ndarray:
    """Indices of the ``n`` members of a cluster nearest its mean (the typical members)."""
    members = np.flatnonzero(np.asarray(labels) == cluster_id)
    if len(members) == 0:
        return members
    centre = Z[members].mean(0)
    d = ((Z[members] - centre) ** 2).sum(1)
    return members[np.argsort(d, kind="stable")[:n]]


# --- the chapter's baselines and the feature recipes ------------------------------------------------


def true_k_baseline(X: np.ndarray, labels: pd.DataFrame, extractor: str, seed: int = 0, space: str = "l2") -> tuple[pd.DataFrame, dict]:
    """K-means at k = the number of classes of each label column, on frozen features ``X`` (the baseline).

    Returns ``(table, partitions)``: ``extractor, method, label, k, nmi`` per label (rows with the
    label known) and ``{label: cluster ids over all rows}`` (-1 where the label is unknown).
    """
    if len(X) != len(labels):
        raise ValueError(f"features {extractor!r} have {len(X)} rows but the labels have {len(labels)}")
    rows, parts = [], {}
    for col in labels.columns:
        known = labels[col].notna().to_numpy()
        y = labels.loc[known, col].astype(str).to_numpy()
        k = int(pd.Series(y).nunique())
        if k < 2 or k >= known.sum():
            continue
        value, lab = scoring.kmeans_nmi(np.asarray(X)[known], y, k=k, space=space, seed=seed)
        full = np.full(len(X), -1, dtype=int)
        full[known] = lab
        parts[col] = full
        rows.append(dict(extractor=extractor, method=f"kmeans (k = classes, {space})", label=col, k=k, nmi=value))
    return pd.DataFrame(rows, columns=["extractor", "method", "label", "k", "nmi"]), parts


def baseline_verdicts(scores: pd.DataFrame, assignments: pd.DataFrame, baseline: pd.DataFrame, parts: Mapping[str, np.ndarray],
                      labels: pd.DataFrame, seed: int = 0, n_boot: int = 300) -> pd.DataFrame:
    """The best unsupervised NMI of :func:`compare` per label against the k-means-at-true-k baseline.

    One row per label: ``label, best, nmi_best, baseline, nmi_baseline, margin, low, high, outcome,
    verdict`` (a paired bootstrap over the works, :func:`artsig.comparison.bootstrap_statistic`).
    """
    from .comparison import bootstrap_statistic

    nmi = scores[(scores["metric"] == "nmi") & scores["value"].notna()]
    rows = []
    for _, base in baseline.iterrows():
        col = base["label"]
        cand = nmi[nmi["label"] == col].sort_values("value", ascending=False, kind="stable")
        if cand.empty or col not in parts:
            continue
        top = cand.iloc[0]
        known = labels[col].notna().to_numpy()
        y = labels.loc[known, col].astype(str).to_numpy()
        best_part = assignments[f"{top['extractor']}/{top['method']}"].to_numpy()[known]
        base_part = parts[col][known]
        k_text = "" if pd.isna(top["k"]) else f", k = {int(top['k'])}"
        name_a = f"{top['extractor']} / {top['method']}{k_text}"
        name_b = f"k-means at k = {int(base['k'])} on {base['extractor']}"
        stat = _paired_nmi(y, best_part, base_part)
        cmp = bootstrap_statistic(stat, len(y), name_a, name_b,
                                  f"NMI with {col}", n_boot=n_boot, seed=seed)
        tried = cand["k"].dropna()
        caveat = ""
        if len(tried) and int(base["k"]) > tried.max():  # e.g. hundreds of artists against a k scan up to 12
            caveat = (f" (the baseline's k = {int(base['k'])} is above every k the methods tried, at most {int(tried.max())};"
                      " NMI tends to rise with k, so this comparison favours the baseline)")
        rows.append(dict(label=col, best=name_a, nmi_best=cmp.mean_a, baseline=name_b, nmi_baseline=cmp.mean_b, margin=cmp.difference,
                         low=cmp.low, high=cmp.high, outcome=cmp.outcome, verdict=f"{col}: {cmp.sentence()}{caveat}"))
    return pd.DataFrame(rows)


def optics_limit(n: int, quick_limit: int, full: bool, affordable: int = 1000) -> int:
    """OPTICS' sample size: ``quick_limit`` in the quick profile; every point in the full one up to ``affordable``."""
    return max(int(quick_limit), min(int(n), int(affordable))) if full else int(quick_limit)


def _paired_nmi(y: np.ndarray, a: np.ndarray, b: np.ndarray):
    """``rows -> (NMI(y, a), NMI(y, b))`` on those rows, for a paired bootstrap."""
    from .comparison import nmi_fast

    return lambda r: (nmi_fast(y[r], a[r]), nmi_fast(y[r], b[r]))


def recipe_scores(features: Mapping[str, np.ndarray], catalog: pd.DataFrame, labels: Sequence[str] = ("style", "artist"),
                  min_count: int = 20, spaces: Sequence[str] = scoring.SPACES, seed: int = 0, progress: bool = True,
                  cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Each feature recipe scored as the feature study does: a frozen probe and k-means at the true k.

    For every label, only the classes with at least ``min_count`` works take part. Long table:
    ``recipe, label, classes, works, metric, value`` with metrics ``probe_accuracy``,
    ``probe_macro_f1`` (:func:`artsig.scoring.frozen_probe`) and ``nmi_kmeans_<space>``
    (:func:`artsig.scoring.kmeans_nmi` at k = the number of classes). With ``cache_dir`` the
    table is stored there, keyed by the features, the labels and the parameters.
    """
    if cache_dir is not None:
        cols = [c for c in labels if c in catalog.columns]
        key = store.fingerprint(CACHE_VERSION, dict(features), catalog[cols].astype(str), list(labels), min_count, list(spaces), seed)
        path = store.cache_path(cache_dir, "recipes", key, ".parquet")
        return store.cached(path, lambda: recipe_scores(features, catalog, labels, min_count, spaces, seed, progress))
    from tqdm import tqdm

    rows = []
    bar = tqdm(total=len(features) * len(labels), desc="feature recipes", disable=not progress, leave=False)
    for col in labels:
        if col not in catalog.columns:
            bar.update(len(features))
            continue
        y = catalog[col].astype(object).where(catalog[col].notna(), None)
        counts = y.dropna().astype(str).value_counts()
        keep = y.notna().to_numpy() & y.astype(str).isin(counts[counts >= min_count].index).to_numpy()
        yk = y[keep].astype(str).to_numpy()
        if pd.Series(yk).nunique() < 2:
            bar.update(len(features))
            continue
        base = dict(label=col, classes=int(pd.Series(yk).nunique()), works=int(keep.sum()))
        for name, X in features.items():
            Xk = np.asarray(X)[keep]
            probe = scoring.frozen_probe(Xk, yk, seed=seed)
            values = {"probe_accuracy": probe["accuracy"], "probe_macro_f1": probe["macro_f1"]}
            values.update({f"nmi_kmeans_{sp}": scoring.kmeans_nmi(Xk, yk, space=sp, seed=seed)[0] for sp in spaces})
            rows.extend(dict(recipe=name, **base, metric=m, value=v) for m, v in values.items())
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows, columns=["recipe", "label", "classes", "works", "metric", "value"])


def recipe_summary(table: pd.DataFrame, baseline: str = "efficientnet_lite0", decimals: int = 3) -> pd.DataFrame:
    """:func:`recipe_scores` as one row per recipe (columns ``<label> <metric>``) with each metric's margin over ``baseline``."""
    scores = table[table["metric"] != "seconds_per_image"]
    wide = scores.assign(column=scores["label"] + " " + scores["metric"]).pivot_table(
        index="recipe", columns="column", values="value", sort=False)
    wide = wide[list(dict.fromkeys(scores["label"] + " " + scores["metric"]))]
    if baseline in wide.index:
        margins = (wide - wide.loc[baseline]).add_suffix(" margin")
        wide = pd.concat([wide, margins], axis=1)
    return wide.round(decimals)
