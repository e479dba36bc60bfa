"""Figures every chapter uses: image montages and class-count bars."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from artsig.images import load_image


def montage(
    images: Sequence | np.ndarray,
    labels: Sequence[str] | None = None,
    ncols: int = 8,
    tile: float = 1.4,
    title: str | None = None,
    size: int = 160,
    borders: Sequence[str | None] | None = None,
) -> plt.Figure:
    """A grid of images (paths or HxWx3 arrays) with optional captions and coloured borders."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(tile * ncols, tile * nrows + (0.4 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, item in enumerate(images):
        ax = axes.flat[i]
        pixels = item if isinstance(item, np.ndarray) else load_image(item, size, "letterbox")
        ax.imshow(pixels)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=7, pad=2)
        if borders is not None and borders[i]:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor(borders[i])
                spine.set_linewidth(3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(pad=0.3)
    return fig


def sample_rows(groups: Sequence[tuple[str, pd.DataFrame]], per_row: int, seed: int = 0, tile: float = 1.2,
                size: int = 128, label_width: float = 1.2, fontsize: float = 9) -> plt.Figure:
    """One row per ``(label, members)`` pair showing ``per_row`` seeded random members (by ``path``)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(groups), per_row, figsize=(tile * per_row + label_width, tile * len(groups)), squeeze=False)
    for row, (label, members) in enumerate(groups):
        picked = members.iloc[np.sort(rng.choice(len(members), size=min(per_row, len(members)), replace=False))]
        for col in range(per_row):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(picked):
                ax.imshow(load_image(picked["path"].iloc[col], size, "letterbox"))
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=fontsize)
    return fig


def montage_by(catalog: pd.DataFrame, column: str, per_group: int = 6, seed: int = 0, tile: float = 1.2, caption: str | None = None) -> plt.Figure:
    """One row per class of ``column`` with ``per_group`` random examples (seeded)."""
    groups = sorted(catalog[column].dropna().unique(), key=str)
    fig = sample_rows([(str(g).replace("_", " "), catalog[catalog[column] == g]) for g in groups], per_group, seed, tile)
    if caption:
        fig.suptitle(caption, fontsize=10)
    fig.tight_layout(pad=0.2)
    return fig


def class_bars(table: pd.DataFrame, x: str = "class", y: str = "images", hue: str | None = "stage", title: str | None = None, ax=None) -> plt.Axes:
    """Horizontal bars of counts per class (e.g. before / after balancing)."""
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.28 * table[x].nunique() + 1.2))
    sns.barplot(data=table, y=x, x=y, hue=hue, ax=ax, orient="h")
    ax.set_ylabel("")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
