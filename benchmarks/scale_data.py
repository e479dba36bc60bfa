"""The 100k-work feature set of ``bench_scale.py``: features drawn to match the benchmark's.

How the vectors are drawn (printed by the benchmark as the data's description):

1. the 2,000-image procedural benchmark's EfficientNet-Lite0 features (1280-d, from the
   feature cache: ``features.extract(catalog, "efficientnet_lite0")``) are rotated by a full
   PCA (centred, not scaled);
2. per **artist** (16 artists, each painting in one style, so style follows), the first
   ``n_modes`` principal scores get a seeded Gaussian mixture (2 components, full covariance),
   every further score an independent Gaussian with that artist's mean and the within-artist
   variance pooled over artists;
3. ``n`` works are drawn with the artists' shares of the benchmark, mapped back through the
   PCA and clipped at 0 (the features are averages of ReLU6 maps: non-negative).

So the vectors have the benchmark's class structure (NMI against the drawn artist / style is
meaningful), its spectrum and roughly its share of zeros; they are not images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DESCRIPTION = (
    "features drawn to match the 2,000-image benchmark's EfficientNet-Lite0 features: per artist a seeded "
    "2-component full-covariance GMM on the first {modes} PCA scores, independent Gaussians (artist mean, "
    "pooled within-artist variance) on the other scores, mapped back and clipped at 0; labels = drawn artist and its style"
)


def benchmark_features(data_dir: str = "/work/main/data", name: str = "efficientnet_lite0") -> tuple[np.ndarray, pd.DataFrame]:
    """The benchmark's cached features and its catalog (computed once if not cached)."""
    from artsig import datasets, features

    catalog = datasets.open_dataset("synthetic", data_dir=data_dir, progress=False)
    return features.extract(catalog, name, data_dir=data_dir, progress=False), catalog


def draw_features(X: np.ndarray, catalog: pd.DataFrame, n: int, seed: int = 0, n_modes: int = 48,
                  label: str = "artist") -> tuple[np.ndarray, pd.DataFrame]:
    """``n`` float32 vectors drawn like the rows of ``X``, and their labels (``artist``, ``style``)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    pca = PCA(svd_solver="full").fit(X)
    S = pca.transform(X)
    classes = catalog[label].astype(str).to_numpy()
    names, counts = np.unique(classes, return_counts=True)
    means = np.stack([S[classes == c].mean(0) for c in names])
    within = np.concatenate([S[classes == c] - means[i] for i, c in enumerate(names)])
    pooled_sd = within.std(0)
    drawn = rng.choice(len(names), size=n, p=counts / counts.sum())
    out = np.empty((n, X.shape[1]), dtype=np.float32)
    for i, c in enumerate(names):
        rows = np.flatnonzero(drawn == i)
        if not len(rows):
            continue
        gmm = GaussianMixture(2, covariance_type="full", reg_covar=1e-3, random_state=seed + i).fit(S[classes == c, :n_modes])
        head = gmm.sample(len(rows))[0][rng.permutation(len(rows))]  # sample() groups by component
        tail = means[i, n_modes:] + rng.standard_normal((len(rows), S.shape[1] - n_modes)) * pooled_sd[n_modes:]
        out[rows] = np.maximum(pca.inverse_transform(np.hstack([head, tail])), 0.0)
    style_of = catalog.groupby(label)["style"].first() if "style" in catalog else None
    labels = pd.DataFrame({label: names[drawn]})
    if style_of is not None:
        labels["style"] = style_of.reindex(names[drawn]).to_numpy()
    return out, labels


def describe(X: np.ndarray) -> dict:
    """A few statistics to set the drawn features beside the real ones."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1)
    return {"mean": round(float(X.mean()), 4), "sd": round(float(X.std()), 4), "zeros": round(float((X == 0).mean()), 3),
            "norm_mean": round(float(norms.mean()), 2), "norm_sd": round(float(norms.std()), 2)}
