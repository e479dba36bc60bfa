"""Figures of the retrieval and semi-supervised chapters: training curves, query examples,
recall@k, signature maps over time, cluster galleries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from artsig.images import load_image

TRUE_COLOUR = "#2a9d3a"
FALSE_COLOUR = "#c8c8c8"
QUERY_COLOUR = "#1f5fbf"


def training_curves(histories: Mapping[str, pd.DataFrame], title: str | None = None, distances: bool = False) -> plt.Figure:
    """Validation mAP (left) and training loss (right) per epoch, one line per run.

    With ``distances`` a third panel shows the mean squared distance of the training links
    (solid) and of random pairs (dashed): both falling together is a collapse of the signatures.
    """
    fig, axes = plt.subplots(1, 3 if distances else 2, figsize=(13 if distances else 9, 3.2))
    left, right = axes[0], axes[1]
    for i, (name, history) in enumerate(histories.items()):
        colour = f"C{i % 10}"
        left.plot(history["epoch"], history["val_mAP"], marker="o", ms=3, label=name, color=colour)
        trained = history[history["epoch"] > 0]
        right.plot(trained["epoch"], trained["loss"], marker="o", ms=3, label=name, color=colour)
        if distances and {"d_linked", "d_random"} <= set(history.columns):
            axes[2].plot(history["epoch"], history["d_linked"], marker="o", ms=3, color=colour)
            axes[2].plot(history["epoch"], history["d_random"], ls="--", color=colour)
    left.set(xlabel="epoch (0 = pretrained)", ylabel="validation mAP", title="validation mAP")
    right.set(xlabel="epoch", ylabel="mean loss", title="training loss")
    right.set_yscale("log")
    if distances:
        axes[2].set(xlabel="epoch (0 = pretrained)", ylabel="mean squared distance", title="linked pairs (solid), random pairs (dashed)", ylim=(0, None))
    left.legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def recall_curves(table: pd.DataFrame, method_column: str = "signatures", ks: Sequence[int] | None = None, ax=None) -> plt.Axes:
    """Recall@k against k (log scale) for each row of a results table with ``recall@k`` columns."""
    columns = [c for c in table.columns if c.startswith("recall@")]
    ks = ks or [int(c.split("@")[1]) for c in columns]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for _, row in table.iterrows():
        ax.plot(ks, [row[f"recall@{k}"] for k in ks], marker="o", ms=3, label=str(row[method_column]))
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set(xlabel="k (top hits looked at)", ylabel="recall@k (share of true links found)", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def query_examples(catalog: pd.DataFrame, signatures: np.ndarray, relevant: Mapping[str, set], query_ids: Sequence[str], k: int = 6,
                   size: int = 96, tile: float = 1.25, title: str | None = None) -> plt.Figure:
    """One row per query: the query (blue frame), then its top ``k`` hits; true links in green."""
    ids = catalog["image_id"].astype(str).to_numpy()
    paths = catalog["path"].to_numpy()
    row_of = {image_id: i for i, image_id in enumerate(ids)}
    fig, axes = plt.subplots(len(query_ids), k + 1, figsize=(tile * (k + 1), 1.2 * tile * len(query_ids) + 0.4), squeeze=False)
    for r, query in enumerate(query_ids):
        q = row_of[query]
        sims = signatures @ signatures[q]
        sims[q] = -np.inf
        hits = np.argsort(-sims, kind="stable")[:k]
        cells = [(q, QUERY_COLOUR, f"query\n{len(relevant.get(query, ()))} links")]
        cells += [(h, TRUE_COLOUR if ids[h] in relevant.get(query, set()) else FALSE_COLOUR, f"#{i + 1}  {sims[h]:.2f}") for i, h in enumerate(hits)]
        for c, (row, colour, label) in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(load_image(paths[row], size, "letterbox"))
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3 if colour != FALSE_COLOUR else 1)
            ax.set_title(label, fontsize=6.5, pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def signature_map(xy: np.ndarray, labels: np.ndarray, dates: Sequence | None = None, truth: np.ndarray | None = None,
                  title: str | None = None) -> plt.Figure:
    """Two panels of a 2D map of signatures: the clusters (noise in grey), and the dates.

    In the date panel, the members of each cluster are joined in date order (arrows from the
    earliest work on), to show how a composition travels through time.
    """
    labels = np.asarray(labels)
    ncols = 2 if dates is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.4), squeeze=False)
    ax = axes[0, 0]
    noise = labels < 0
    ax.scatter(xy[noise, 0], xy[noise, 1], s=3, c="#dddddd", label="noise", rasterized=True)
    clustered = np.flatnonzero(~noise)
    if len(clustered):
        cmap = plt.get_cmap("tab20")
        colours = cmap((labels[clustered] % 20) / 19)
        ax.scatter(xy[clustered, 0], xy[clustered, 1], s=9, c=colours, edgecolors="k", linewidths=0.2)
    ax.set_title(f"{len(np.unique(labels[~noise]))} clusters ({(~noise).sum()} images), noise in grey", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if dates is not None:
        ax = axes[0, 1]
        dates = np.asarray(pd.to_numeric(pd.Series(dates), errors="coerce"), dtype=float)
        points = ax.scatter(xy[:, 0], xy[:, 1], s=4, c=dates, cmap="viridis", alpha=0.5, rasterized=True)
        for label in np.unique(labels[~noise]):
            members = np.flatnonzero(labels == label)
            members = members[~np.isnan(dates[members])]
            members = members[np.argsort(dates[members], kind="stable")]
            for a, b in zip(members[:-1], members[1:]):
                ax.annotate("", xy=xy[b], xytext=xy[a], arrowprops=dict(arrowstyle="->", lw=0.6, color="#333333", alpha=0.7))
        fig.colorbar(points, ax=ax, label="date", shrink=0.8)
        ax.set_title("dates; arrows join each cluster's works in date order", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def cluster_gallery(table: pd.DataFrame, clusters: Sequence[int], per_cluster: int = 8, size: int = 96, tile: float = 1.15,
                    title: str | None = None) -> plt.Figure:
    """Rows of cluster members (from an export / annotation table); decided rows framed
    green (accept) or red (reject)."""
    fig, axes = plt.subplots(len(clusters), per_cluster, figsize=(tile * per_cluster + 0.8, tile * len(clusters) + 0.4), squeeze=False)
    for r, cluster in enumerate(clusters):
        members = table[table["cluster"] == cluster].head(per_cluster)
        for c in range(per_cluster):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c >= len(members):
                continue
            row = members.iloc[c]
            ax.imshow(load_image(row["path"], size, "letterbox"))
            decision = row.get("decision", "")
            if decision in ("accept", "reject"):
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_edgecolor(TRUE_COLOUR if decision == "accept" else "#d04040")
                    spine.set_linewidth(3)
            date = row.get("date")
            ax.set_title(f"{int(date)}" if pd.notna(date) else str(row["image_id"]), fontsize=6.5, pad=2)
        axes[r, 0].set_ylabel(f"cluster {cluster}", rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig
