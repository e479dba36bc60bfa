"""Figures of the clustering chapters: k scans, metric heatmaps, compositions, maps, montages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from artsig.images import load_image
from artsig.metrics import HIGHER_IS_BETTER, INTERNAL

__all__ = [
    "k_scan_plot",
    "metric_heatmap",
    "composition_plot",
    "cluster_montage",
    "embedding_plot",
    "influence_plot",
    "style_subject_bars",
]


def k_scan_plot(scans: pd.DataFrame, extractors: Sequence[str] | None = None) -> plt.Figure:
    """Elbow (inertia) and silhouette against k, one column per feature set; chosen k marked."""
    extractors = list(extractors or dict.fromkeys(scans["extractor"]))
    fig, axes = plt.subplots(2, len(extractors), figsize=(2.6 * len(extractors), 4.4), squeeze=False, sharex=True)
    for j, name in enumerate(extractors):
        s = scans[scans["extractor"] == name]
        k_el, k_si = int(s["k_elbow"].iloc[0]), int(s["k_silhouette"].iloc[0])
        ax = axes[0, j]
        ax.plot(s["k"], s["inertia"] / s["inertia"].max(), "o-", ms=3, color="tab:blue")
        ax.axvline(k_el, color="tab:orange", ls="--", lw=1)
        ax.set_title(name, fontsize=9)
        ax.text(0.97, 0.95, f"elbow k={k_el}", transform=ax.transAxes, ha="right", va="top", fontsize=7, color="tab:orange")
        ax = axes[1, j]
        ax.plot(s["k"], s["silhouette"], "o-", ms=3, color="tab:green")
        ax.axvline(k_si, color="tab:red", ls="--", lw=1)
        ax.text(0.97, 0.95, f"best k={k_si}", transform=ax.transAxes, ha="right", va="top", fontsize=7, color="tab:red")
        ax.set_xlabel("k")
    axes[0, 0].set_ylabel("inertia / max")
    axes[1, 0].set_ylabel("silhouette")
    fig.tight_layout()
    return fig


def metric_heatmap(wide: pd.DataFrame, columns: Sequence[str] | None = None, title: str | None = None) -> plt.Figure:
    """Rows = feature set / method, columns = metrics; colour = rank within the column
    (dark = best, whatever the metric's direction), numbers = the raw values."""
    columns = list(columns or [c for c in wide.columns if c not in ("n_clusters", "noise")])
    data = wide[columns].astype(float)
    score = pd.DataFrame(index=data.index)
    for c in columns:
        base = c.split("_")[0] if c not in INTERNAL else c
        higher = HIGHER_IS_BETTER.get(c, HIGHER_IS_BETTER.get(base, True))
        score[c] = data[c].rank(pct=True, ascending=higher)
    fig, ax = plt.subplots(figsize=(0.62 * len(columns) + 2.6, 0.28 * len(data) + 1.4))
    ax.imshow(score.to_numpy(), cmap="viridis", aspect="auto", vmin=0, vmax=1)
    for i in range(len(data)):
        for j in range(len(columns)):
            v = data.iloc[i, j]
            txt = "" if not np.isfinite(v) else (f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}")
            ax.text(j, i, txt, ha="center", va="center", fontsize=6, color="white" if score.iloc[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(data)), [" / ".join(map(str, ix)) if isinstance(ix, tuple) else str(ix) for ix in data.index], fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def composition_plot(labels: np.ndarray, label_frame: pd.DataFrame, columns: Sequence[str] | None = None, max_classes: int = 12) -> plt.Figure:
    """For each label column, stacked bars: the share of each class in every cluster."""
    columns = list(columns or label_frame.columns)
    labels = np.asarray(labels)
    clusters = sorted(set(labels.tolist()))
    fig, axes = plt.subplots(1, len(columns), figsize=(max(3.0, 0.34 * len(clusters) + 1.6) * len(columns), 3.4), squeeze=False)
    for ax, col in zip(axes[0], columns):
        values = label_frame[col].astype(object).where(label_frame[col].notna(), "(none)").astype(str)
        top = values.value_counts().index[:max_classes]
        values = values.where(values.isin(top), "(other)")
        table = pd.crosstab(pd.Series(labels, name="cluster"), values.rename("class").reset_index(drop=True))
        share = table.div(table.sum(1), axis=0)
        cmap = plt.get_cmap("tab20")
        bottom = np.zeros(len(share))
        for i, cls in enumerate(share.columns):
            ax.bar(range(len(share)), share[cls], bottom=bottom, color=cmap(i % 20), label=cls, width=0.85)
            bottom += share[cls].to_numpy()
        ax.set_xticks(range(len(share)), ["noise" if c == -1 else str(c) for c in share.index], fontsize=7)
        ax.set_xlabel("cluster")
        ax.set_ylim(0, 1)
        ax.set_title(col, fontsize=9)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes[0, 0].set_ylabel("share of the cluster")
    fig.tight_layout()
    return fig


def cluster_montage(paths: Sequence[str], labels: np.ndarray, Z: np.ndarray, per_cluster: int = 6, clusters: Sequence[int] | None = None, tile: float = 1.05, size: int = 96, row_titles: Mapping[int, str] | None = None) -> plt.Figure:
    """One row per cluster: its members nearest the cluster mean (the typical works)."""
    from artsig.clustering import representatives

    labels = np.asarray(labels)
    clusters = list(clusters if clusters is not None else sorted(set(labels.tolist()) - {-1}))
    fig, axes = plt.subplots(len(clusters), per_cluster, figsize=(tile * per_cluster + 1.4, tile * len(clusters)), squeeze=False)
    for r, c in enumerate(clusters):
        idx = representatives(Z, labels, c, n=per_cluster)
        for j in range(per_cluster):
            ax = axes[r, j]
            ax.axis("off")
            if j < len(idx):
                ax.imshow(load_image(paths[idx[j]], size, "letterbox"))
        name = (row_titles or {}).get(c, f"cluster {c}\n(n={int((labels == c).sum())})")
        axes[r, 0].text(-0.08, 0.5, name, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=7)
    fig.tight_layout(pad=0.2)
    fig.subplots_adjust(left=0.16)
    return fig


def embedding_plot(maps: Mapping[str, np.ndarray], colour_by: Mapping[str, np.ndarray], point_size: float = 4) -> plt.Figure:
    """A grid: one row per 2-D map (UMAP, t-SNE), one column per colouring (label or cluster)."""
    fig, axes = plt.subplots(len(maps), len(colour_by), figsize=(3.3 * len(colour_by), 3.1 * len(maps)), squeeze=False)
    for i, (map_name, E) in enumerate(maps.items()):
        for j, (col_name, values) in enumerate(colour_by.items()):
            ax = axes[i, j]
            vals = pd.Series(np.asarray(values, dtype=object)).fillna("(none)").astype(str)
            classes = sorted(vals.unique(), key=lambda s: (len(s), s))
            cmap = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
            for c_i, cls in enumerate(classes):
                m = (vals == cls).to_numpy()
                colour = "lightgrey" if cls in ("-1", "(none)") else cmap(c_i % cmap.N)
                ax.scatter(E[m, 0], E[m, 1], s=point_size, color=colour, label=cls, linewidths=0, alpha=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{map_name}, coloured by {col_name}", fontsize=8)
            if len(classes) <= 10:
                ax.legend(fontsize=5, markerscale=2, loc="best", frameon=False)
    fig.tight_layout()
    return fig


def influence_plot(paths: Sequence[str], index: int, proba: np.ndarray, labels: np.ndarray, Z: np.ndarray, top: int = 3, per_cluster: int = 5, size: int = 96, title: str | None = None) -> plt.Figure:
    """A painting (left) and, for its ``top`` mixture components, the responsibility and typical members."""
    from artsig.clustering import influences, representatives

    inf = influences(proba, index, top=top)
    fig = plt.figure(figsize=(1.1 * per_cluster + 2.6, 1.15 * top + 0.4))
    grid = fig.add_gridspec(top, per_cluster + 2, width_ratios=[2.0, 0.3] + [1] * per_cluster)
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(load_image(paths[index], 2 * size, "letterbox"))
    ax.axis("off")
    ax.set_title(title or "the painting", fontsize=8)
    for r, (cluster_id, resp) in enumerate(zip(inf["cluster"], inf["responsibility"])):
        members = [i for i in representatives(Z, labels, cluster_id, n=per_cluster + 1) if i != index][:per_cluster]
        for j in range(per_cluster):
            a = fig.add_subplot(grid[r, 2 + j])
            a.axis("off")
            if j < len(members):
                a.imshow(load_image(paths[members[j]], size, "letterbox"))
            if j == 0:
                a.set_title(f"component {cluster_id}: {resp:.2f}", fontsize=7, loc="left")
    fig.tight_layout(pad=0.3)
    return fig


def style_subject_bars(table: pd.DataFrame, labels: Sequence[str] = ("style", "genre", "artist")) -> plt.Figure:
    """NMI of each representation's clusters against style, genre (and artist): grouped bars."""
    labels = [label for label in labels if f"nmi_{label}" in table.columns]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(table) + 1.2))
    y = np.arange(len(table))
    h = 0.8 / len(labels)
    colours = {"style": "tab:red", "genre": "tab:blue", "artist": "tab:grey"}
    for i, lab in enumerate(labels):
        ax.barh(y + (i - (len(labels) - 1) / 2) * h, table[f"nmi_{lab}"], height=h, label=f"NMI vs {lab}", color=colours.get(lab))
    ax.set_yticks(y, table["representation"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("normalised mutual information of k-means clusters")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
