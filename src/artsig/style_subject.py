"""Representations that make unsupervised clustering follow style rather than subject.

Features of object-recognition networks are trained to name *what* is painted, so their
clusters follow subject (genre). This module builds alternatives and scores them:

- ``pooled``: globally pooled CNN features (the baseline);
- ``gram``: Gram matrices of early and middle layers (texture / brush statistics, Gatys et al.);
- ``channel_stats``: channel means and standard deviations of the same layers (the statistics
  AdaIN style transfer swaps, Huang & Belongie 2017) — a smaller cousin of the Gram matrix;
- ``combine``: blocks side by side, each scaled to the same total variance;
- subject erasure: :func:`erase_linear` removes every linear direction that predicts the
  subject labels the user has (LEACE, Belrose et al. 2023: after it, all genre means coincide,
  so no linear classifier beats chance on genre); :func:`center_by_group` subtracts each
  genre's mean (the same first-moment idea, without the projection).

:func:`evaluate` clusters each representation with k-means and reports NMI against style,
genre and artist, plus how well a linear probe still reads genre and style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from .clustering import prepare, prepare_for

__all__ = [
    "erase_linear",
    "LeaceEraser",
    "center_by_group",
    "combine",
    "build_representations",
    "evaluate",
    "linear_probe",
    "REPRESENTATIONS",
    "baseline_verdict",
]

CACHE_VERSION = "1"  # bump when a representation's numbers change: cached representations are then rebuilt


def _one_hot(y) -> tuple[np.ndarray, np.ndarray]:
    y = pd.Series(np.asarray(y, dtype=object))
    known = y.notna().to_numpy()
    codes, _ = pd.factorize(y[known].astype(str), sort=True)
    Y = np.zeros((len(y), codes.max() + 1 if len(codes) else 0))
    Y[np.flatnonzero(known), codes] = 1.0
    return Y, known


def erase_linear(X: np.ndarray, y, method: str = "leace", eps: float = 1e-8) -> np.ndarray:
    """Remove the linear information about ``y`` (class labels) from the rows of ``X``.

    ``method="leace"``: the least-squares optimal erasure x -> x - P (x - mean), with P the
    oblique projection onto the whitened cross-covariance between features and one-hot
    labels; afterwards every class has the same feature mean. ``method="mean_diff"``: project
    out the span of the class-mean differences (no whitening; simpler, slightly weaker).
    Rows with a missing label take part in the mean but not in the cross-covariance.
    See :class:`LeaceEraser` for the fitted map that also erases new rows.
    """
    return LeaceEraser(method=method, eps=eps).fit_transform(X, y)


class LeaceEraser(TransformerMixin, BaseEstimator):
    """The linear erasure of :func:`erase_linear` as a fitted map: fit on labelled works, erase any rows.

    ``transform(X)`` is ``X - (X - mean_) @ projection_.T``; with fewer than two classes the
    projection is zero and rows pass through unchanged.
    """

    def __init__(self, method: str = "leace", eps: float = 1e-8):
        self.method = method
        self.eps = eps

    def fit(self, X: np.ndarray, y) -> LeaceEraser:
        """Learn the mean and the projection that carries the linear information about ``y``."""
        if self.method not in ("leace", "mean_diff"):
            raise ValueError(f"method must be 'leace' or 'mean_diff', got {self.method!r}")
        X = np.asarray(X, dtype=np.float64)
        Y, known = _one_hot(y)
        if len(Y) != len(X):
            raise ValueError(f"features have {len(X)} rows but the labels have {len(Y)}")
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(0)
        self.projection_ = np.zeros((X.shape[1], X.shape[1])) if Y.shape[1] < 2 else self._projection(X - self.mean_, Y, known)
        self.n_classes_ = Y.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Erase the fitted directions from the rows of ``X``."""
        if not hasattr(self, "projection_"):
            raise RuntimeError("this LeaceEraser is not fitted yet: call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"features must have {self.n_features_in_} columns, got shape {X.shape}")
        if self.n_classes_ < 2:
            return X.copy()
        if self.method == "mean_diff":  # the basis first: the same rounding as the span projection
            return X - ((X - self.mean_) @ self.basis_) @ self.basis_.T
        return X - (X - self.mean_) @ self.projection_.T

    def _projection(self, Xc: np.ndarray, Y: np.ndarray, known: np.ndarray) -> np.ndarray:
        eps = self.eps
        Xk, Yk = Xc[known], Y[known]
        Yk = Yk - Yk.mean(0)
        cross = Xk.T @ Yk / len(Xk)  # (d, classes)
        if self.method == "mean_diff":
            U, s, _ = np.linalg.svd(cross, full_matrices=False)
            self.basis_ = U[:, s > eps * max(s.max(), eps)]
            return self.basis_ @ self.basis_.T
        cov = Xk.T @ (Xk - Xk.mean(0)) / len(Xk)
        lam, V = np.linalg.eigh(cov)
        keep = lam > eps * lam.max()
        V, lam = V[:, keep], lam[keep]
        W = (V / np.sqrt(lam)) @ V.T  # whitening
        W_inv = (V * np.sqrt(lam)) @ V.T
        U, s, _ = np.linalg.svd(W @ cross, full_matrices=False)
        U = U[:, s > eps * max(s.max(), eps)]
        return W_inv @ U @ U.T @ W


def center_by_group(X: np.ndarray, y) -> np.ndarray:
    """Subtract each group's mean (adding back the overall mean); unlabelled rows are untouched."""
    X = np.asarray(X, dtype=np.float64)
    groups = pd.Series(np.asarray(y, dtype=object))
    out = X.copy()
    mu = X.mean(0)
    for g in groups.dropna().unique():
        rows = (groups == g).to_numpy()
        out[rows] = X[rows] - X[rows].mean(0) + mu
    return out


def combine(
    blocks: Sequence[np.ndarray],
    n_components: int = 50,
    seed: int = 0,
    weights: Sequence[float] | None = None,
    standardize: Sequence[bool] | None = None,
) -> np.ndarray:
    """Blocks side by side after :func:`artsig.clustering.prepare`, each scaled to unit total variance."""
    parts = []
    weights = weights or [1.0] * len(blocks)
    standardize = standardize or [True] * len(blocks)
    for B, w, std in zip(blocks, weights, standardize):
        Z = prepare(B, n_components=n_components, seed=seed, standardize=std)
        Z = Z / np.sqrt((Z.var(0)).sum())
        parts.append(np.sqrt(w) * Z)
    return np.hstack(parts)


REPRESENTATIONS = {
    "pooled": "EfficientNet-Lite0 pooled features (object-recognition baseline)",
    "pooled - genre (LEACE)": "pooled features with every linear genre direction erased",
    "pooled - genre means": "pooled features with each genre's mean subtracted",
    "gram": "Gram matrices of Lite0 stages 2-4 (texture statistics)",
    "channel_stats": "channel means and log-stds of Lite0 stages 2-4 (AdaIN statistics)",
    "pooled + gram": "pooled and Gram blocks, equal weight",
    "gram + stats": "Gram and channel-statistics blocks, equal weight",
    "gram + stats - genre (LEACE)": "Gram and channel statistics, genre directions erased",
    "pooled + gram + stats - genre (LEACE)": "all three blocks, genre directions erased",
    "color_histogram": "HSV colour histogram (no network)",
}


def build_representations(
    features: Mapping[str, np.ndarray],
    subject,
    n_components: int = 50,
    seed: int = 0,
    cache_dir=None,
) -> dict[str, np.ndarray]:
    """The chapter's representations from ``features`` (keys ``efficientnet_lite0``, ``gram``,
    ``channel_stats``, optionally ``color_histogram``) and the subject labels (genre).

    Every representation is a matrix ready for clustering (prepared: standardised + PCA).
    Entries whose inputs are missing are left out. With ``cache_dir`` they are stored there,
    keyed by the features, the subject labels and the parameters: a rerun reads them back.
    """
    if cache_dir is not None:
        from . import store

        key = store.fingerprint(CACHE_VERSION, dict(features), np.asarray(subject), n_components, seed)
        path = store.cache_path(cache_dir, "representations", key, ".pkl")
        return store.cached(path, lambda: build_representations(features, subject, n_components, seed))
    have = set(features)
    prep = {k: prepare_for(k, v, n_components=n_components, seed=seed) for k, v in features.items()}

    def comb(names):
        from .features import standardize_default

        return combine([features[n] for n in names], n_components, seed, standardize=[standardize_default(n) for n in names])

    def erase(Z):
        return erase_linear(Z, subject, "leace")

    if subject is None:  # no subject label: only the representations that need none
        return _label_free(features, prep, comb)

    reps: dict[str, np.ndarray] = {}
    if "efficientnet_lite0" in have:
        reps["pooled"] = prep["efficientnet_lite0"]
        reps["pooled - genre (LEACE)"] = erase(prep["efficientnet_lite0"])
        reps["pooled - genre means"] = center_by_group(prep["efficientnet_lite0"], subject)
    if "gram" in have:
        reps["gram"] = prep["gram"]
    if "channel_stats" in have:
        reps["channel_stats"] = prep["channel_stats"]
    if {"efficientnet_lite0", "gram"} <= have:
        reps["pooled + gram"] = comb(["efficientnet_lite0", "gram"])
    if {"gram", "channel_stats"} <= have:
        both = comb(["gram", "channel_stats"])
        reps["gram + stats"] = both
        reps["gram + stats - genre (LEACE)"] = erase(both)
    if {"efficientnet_lite0", "gram", "channel_stats"} <= have:
        allb = comb(["efficientnet_lite0", "gram", "channel_stats"])
        reps["pooled + gram + stats - genre (LEACE)"] = erase(allb)
    if "color_histogram" in have:
        reps["color_histogram"] = prep["color_histogram"]
    return reps


def _label_free(features: Mapping[str, np.ndarray], prep: Mapping[str, np.ndarray], comb) -> dict[str, np.ndarray]:
    """The representations that use no subject label (a collection without one)."""
    reps = {}
    if "efficientnet_lite0" in features:
        reps["pooled"] = prep["efficientnet_lite0"]
    for name in ("gram", "channel_stats"):
        if name in features:
            reps[name] = prep[name]
    if {"efficientnet_lite0", "gram"} <= set(features):
        reps["pooled + gram"] = comb(["efficientnet_lite0", "gram"])
    if {"gram", "channel_stats"} <= set(features):
        reps["gram + stats"] = comb(["gram", "channel_stats"])
    if "color_histogram" in features:
        reps["color_histogram"] = prep["color_histogram"]
    return reps


def baseline_verdict(representations: Mapping[str, np.ndarray], catalog: pd.DataFrame, table: pd.DataFrame, k: int,
                     label: str = "style", baseline: str = "pooled", seed: int = 0, n_boot: int = 300) -> dict:
    """The best representation by NMI with ``label`` in ``table`` (of :func:`evaluate`) against ``baseline``.

    Both are clustered again exactly as :func:`evaluate` does; a paired bootstrap over the works
    with ``label`` known gives the interval of the NMI difference. Returns ``best, nmi_best,
    baseline, nmi_baseline, margin, low, high, outcome, verdict``.
    """
    from . import scoring
    from .comparison import bootstrap_statistic, nmi_fast

    if baseline not in representations:
        raise ValueError(f"baseline {baseline!r} is not among the representations ({', '.join(representations)})")
    column = f"nmi_{label}"
    if column not in table.columns:
        raise ValueError(f"the table has no {column!r} column: is {label!r} a label of this collection?")
    best = str(table.set_index("representation")[column].idxmax())
    n_init = scoring.SETTINGS["kmeans_representations"]["n_init"]
    known = catalog[label].notna().to_numpy()
    y = catalog.loc[known, label].astype(str).to_numpy()
    parts = [scoring.fit_partition(representations[r], "kmeans_representations", k=int(k), seed=seed, n_init=n_init)[known]
             for r in (best, baseline)]
    cmp = bootstrap_statistic(lambda r: (nmi_fast(y[r], parts[0][r]), nmi_fast(y[r], parts[1][r])), len(y), best,
                              f"{baseline} (baseline)", f"NMI with {label}, k = {int(k)}", n_boot=n_boot, seed=seed)
    return dict(best=best, nmi_best=cmp.mean_a, baseline=baseline, nmi_baseline=cmp.mean_b, margin=cmp.difference, low=cmp.low,
                high=cmp.high, outcome=cmp.outcome, verdict=cmp.sentence())


def erasure_check(table: pd.DataFrame, catalog: pd.DataFrame, subject: str, style: str = "style",
                  baseline: str = "pooled") -> pd.DataFrame:
    """Did erasing ``subject`` remove it and keep ``style``? The linear probes of :func:`evaluate`
    for the baseline and every row that erased the subject, beside chance (the share of the
    largest class among the works with that label). Columns: ``representation, probe_<subject>,
    chance_<subject>, probe_<style>, subject_near_chance`` (within 0.05 of chance)."""
    need = [f"probe_{subject}", f"probe_{style}"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no {', '.join(missing)} column: run evaluate(..., probes=({style!r}, {subject!r}))")
    chance = float(catalog[subject].dropna().astype(str).value_counts(normalize=True).iloc[0])
    rows = table[(table["representation"] == baseline) | table["representation"].str.contains(f"- {subject}", regex=False)]
    out = rows[["representation", *need]].reset_index(drop=True)
    out.insert(2, f"chance_{subject}", chance)
    out["subject_near_chance"] = out[f"probe_{subject}"] <= chance + 0.05
    return out


def linear_probe(Z: np.ndarray, y, seed: int = 0) -> float:
    """Held-out accuracy of a logistic regression reading ``y`` from ``Z`` (a check, not a method).

    :func:`artsig.probing.linear_probe` on the rows whose label is known (70 / 30 stratified split).
    """
    from .probing import linear_probe as probe

    y = pd.Series(np.asarray(y, dtype=object))
    known = y.notna().to_numpy()
    yk = y[known].astype(str).to_numpy()
    counts = pd.Series(yk).value_counts()
    if len(counts) < 2 or counts.min() < 4:
        return float("nan")
    return float(probe(np.asarray(Z)[known], yk, seed=seed)["accuracy"])


def evaluate(
    representations: Mapping[str, np.ndarray],
    catalog: pd.DataFrame,
    k: int,
    seed: int = 0,
    labels: Sequence[str] = ("style", "genre", "artist"),
    probes: Sequence[str] = ("style", "genre"),
    n_init: int | None = None,
    cache_dir=None,
) -> pd.DataFrame:
    """K-means on every representation: NMI / ARI against each label, and linear-probe accuracies.

    Columns: ``representation, k, nmi_<label>..., ari_<label>..., style_minus_genre,
    probe_<label>...`` (probe = held-out logistic-regression accuracy; style labels are used
    only to score, never to build a representation). With ``cache_dir`` the table is stored
    there, keyed by the representations, labels and parameters. Labels follow
    :func:`artsig.scoring.label_names`; k-means is the ``kmeans_representations`` setting of
    :data:`artsig.scoring.SETTINGS` (``n_init`` overrides its restarts).
    """
    from . import scoring, store

    n_init = scoring.SETTINGS["kmeans_representations"]["n_init"] if n_init is None else int(n_init)
    labels = scoring.label_names(catalog, labels)
    path = None
    if cache_dir is not None:
        key = store.fingerprint(dict(representations), catalog[labels].astype(str), int(k), seed, list(labels), list(probes), n_init)
        path = store.cache_path(cache_dir, "style-subject", key, ".parquet")
        if path.exists():
            return pd.read_parquet(path)
    truth = scoring.label_frame(catalog, labels)
    rows = []
    for name, Z in representations.items():
        lab = scoring.fit_partition(Z, "kmeans_representations", k=int(k), seed=seed, n_init=n_init)
        scores = scoring.score_partition(lab, labels=truth, external=("nmi", "ari"), representation=name, k=int(k))
        value = scores.set_index(["metric", "label"])["value"]
        row = {"representation": name, "k": int(k), **{f"{m}_{col}": value[(m, col)] for m in ("nmi", "ari") for col in labels}}
        if "style" in labels and "genre" in labels:
            row["style_minus_genre"] = row["nmi_style"] - row["nmi_genre"]
        for col in probes:
            if col in catalog.columns:
                row[f"probe_{col}"] = linear_probe(Z, catalog[col].to_numpy(), seed=seed)
        rows.append(row)
    table = pd.DataFrame(rows)
    if path is not None:
        store.save_frame(path, table)
    return table
