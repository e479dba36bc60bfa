"""Figures of the DCEC chapter: training curves, reconstructions, cluster montages, compositions, k sweeps."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from artsig.plots.common import sample_rows

METHOD_COLOURS = {"DCEC": "#d62728", "CAE+KMeans": "#ff7f0e", "DEC": "#1f77b4", "EfficientNet+KMeans": "#2ca02c"}


def training_curves(pretrain: pd.DataFrame, clustering: pd.DataFrame, method: str = "DCEC") -> plt.Figure:
    """Left: reconstruction error per pretraining epoch (column ``model`` tells the autoencoders
    apart). Middle: the clustering phase's KL and reconstruction losses per iteration of
    ``method`` for each k. Right: the share of changed assignments at each target update."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for name, part in pretrain.groupby("model", sort=False):
        axes[0].plot(part["epoch"], part["reconstruction"], marker="o", ms=3, label=name)
    axes[0].set(xlabel="epoch", ylabel="reconstruction MSE", title="pretraining", yscale="log")
    axes[0].legend(fontsize=8)
    steps = clustering[(clustering["method"] == method) & clustering["kl"].notna()]
    updates = clustering[(clustering["method"] == method) & clustering["changed"].notna()]
    for i, (k, part) in enumerate(steps.groupby("k")):
        colour = f"C{i}"
        axes[1].plot(part["iteration"], part["kl"], color=colour, label=f"KL, k={k}")
        axes[1].plot(part["iteration"], part["reconstruction"], color=colour, ls="--", label=f"reconstruction, k={k}")
    axes[1].set(xlabel="iteration", ylabel="loss", title=f"{method}: joint training", yscale="log")
    axes[1].legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    for i, (k, part) in enumerate(updates.groupby("k")):
        axes[2].plot(part["iteration"], part["changed"], marker="o", color=f"C{i}", label=f"k={k}")
    axes[2].set(xlabel="iteration", ylabel="share of assignments changed", title="stopping criterion")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def reconstructions(originals: np.ndarray, reconstructed: Sequence[np.ndarray], names: Sequence[str], n: int = 8) -> plt.Figure:
    """First row: ``n`` original images; one row per model below with its reconstructions."""
    n = min(n, len(originals))
    rows = [originals[:n], *[r[:n] for r in reconstructed]]
    labels = ["original", *names]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n + 1.2, 1.3 * len(rows)), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(row[c])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig


def cluster_montage(catalog: pd.DataFrame, assignments: pd.DataFrame, method: str, k: int, per_cluster: int = 8, seed: int = 0,
                    describe: Sequence[str] = ("style", "genre"), tile: float = 1.1, size: int = 96) -> plt.Figure:
    """One row per cluster with ``per_cluster`` seeded random members; the row label gives the
    cluster's size and its most common class of each column in ``describe`` (with its share)."""
    part = assignments[(assignments["method"] == method) & (assignments["k"] == k)]
    if part.empty:
        raise ValueError(f"no assignments for method={method!r}, k={k}")
    merged = part.merge(catalog.astype({"image_id": str}), on="image_id", how="left")
    describe = [c for c in describe if c in merged and merged[c].notna().any()]
    rows = []
    for cluster in sorted(merged["cluster"].unique()):
        members = merged[merged["cluster"] == cluster]
        text = [f"cluster {cluster} (n={len(members)})"]
        for column in describe:
            shares = members[column].value_counts(normalize=True)
            text.append(f"{str(shares.index[0]).replace('_', ' ')} {shares.iloc[0]:.0%}")
        rows.append(("\n".join(text), members))
    fig = sample_rows(rows, per_cluster, seed, tile, size, label_width=2.2, fontsize=7.5)
    fig.set_figheight(fig.get_figheight() + 0.4)
    fig.suptitle(f"{method}, k = {k}", fontsize=10)
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    return fig


def composition_bars(tables: dict[str, pd.DataFrame], title: str | None = None) -> plt.Figure:
    """Stacked bars: for each table (clusters x classes, rows summing to 1) one panel, one bar per cluster.

    Returns None when ``tables`` is empty (a collection without the labels)."""
    if not tables:
        return None
    fig, axes = plt.subplots(1, len(tables), figsize=(5.6 * len(tables), 0.35 * max(len(t) for t in tables.values()) + 2.2), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items()):
        colours = plt.get_cmap("tab20")(np.linspace(0, 1, 20))[: table.shape[1]] if table.shape[1] > 10 else None
        table.rename(columns=lambda c: str(c).replace("_", " ")).plot.barh(stacked=True, ax=ax, width=0.8, color=colours, legend=False)
        ax.set(xlabel=f"share of the cluster by {name}", ylabel="cluster", xlim=(0, 1))
        ax.invert_yaxis()
        ax.legend(fontsize=7, ncol=1 if table.shape[1] <= 10 else 2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sweep(internal: pd.DataFrame, external: pd.DataFrame, labels: Sequence[str] | None = None) -> plt.Figure:
    """Top row: silhouette and Calinski-Harabasz against k, solid in each method's own space,
    dashed in the common (pretrained-feature) space. Bottom row: NMI against k for each label."""
    labels = list(labels) if labels is not None else list(dict.fromkeys(external["label"]))
    ncols = max(3, len(labels))
    fig, axes = plt.subplots(2, ncols, figsize=(4.3 * ncols, 6.6), squeeze=False)
    for ax, metric in zip(axes[0], ("silhouette", "calinski_harabasz")):
        for method, part in internal.groupby("method", sort=False):
            for space, style in (("own", "-"), ("common", "--")):
                p = part[part["space"] == space].sort_values("k")
                ax.plot(p["k"], p[metric], ls=style, marker="o", ms=3, color=METHOD_COLOURS.get(method), label=f"{method} ({space})")
        ax.set(xlabel="k", title=metric.replace("_", "-"))
        if metric == "calinski_harabasz":
            ax.set_yscale("log")
    for ax in axes[0, 2:]:
        ax.axis("off")
    handles, names = axes[0, 0].get_legend_handles_labels()
    axes[0, 2].legend(handles, names, fontsize=8, loc="center left", frameon=False, title="method (space)")
    for ax, label in zip(axes[1], labels):
        part = external[external["label"] == label]
        for method, p in part.groupby("method", sort=False):
            p = p.sort_values("k")
            ax.plot(p["k"], p["nmi"], marker="o", ms=3, color=METHOD_COLOURS.get(method), label=method)
        ax.set(xlabel="k", ylabel="NMI", title=f"agreement with {label}")
    if labels:
        axes[1, 0].legend(fontsize=7)
    for ax in axes[1, len(labels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
