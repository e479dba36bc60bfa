"""Figures of the data chapter: label distributions and the motif propagation timeline."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def label_distributions(catalog: pd.DataFrame, columns: list[str], max_classes: int = 20) -> plt.Figure:
    """One bar chart per label column: images per class, largest first; past ``max_classes``
    classes the rest are summed in one grey "other" bar (an artist label may have hundreds)."""
    rows = min(max_classes + 1, max(catalog[c].nunique() for c in columns))
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 0.26 * rows + 1.5), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        counts = catalog[column].value_counts()
        shown = counts.head(max_classes)
        names = [str(c).replace("_", " ") for c in shown.index]
        values = shown.to_list()
        colours = ["#4c72b0"] * len(values)
        if len(counts) > max_classes:
            names.append(f"other ({len(counts) - max_classes} classes)")
            values.append(int(counts.iloc[max_classes:].sum()))
            colours.append("0.6")
        ax.barh(names[::-1], values[::-1], color=colours[::-1])
        if len(counts) > max_classes:  # the "other" bar may dwarf the named ones: clip it and write its count
            ax.set_xlim(0, 1.25 * max(values[:-1]))
            ax.text(1.02 * max(values[:-1]), 0, f"{values[-1]} images", va="center", fontsize=7)
        ax.set_title(f"{column} ({catalog[column].nunique()} classes)", fontsize=10)
        ax.set_xlabel("images")
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def motif_timeline(catalog: pd.DataFrame, max_families: int = 15) -> plt.Figure:
    """Each motif family on its own row: its works by date, coloured by style, joined in time order."""
    members = catalog[catalog["motif"].notna()].copy()
    order = members.groupby("motif")["date"].min().sort_values(kind="stable").index[:max_families]
    members = members[members["motif"].isin(order)]
    styles = sorted(members["style"].dropna().unique()) if "style" in members else []
    colours = dict(zip(styles, plt.cm.tab10(np.linspace(0, 1, max(len(styles), 1)))))
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(order) + 1.4))
    for row, family in enumerate(order):
        works = members[members["motif"] == family].sort_values("date", kind="stable")
        ax.plot(works["date"], [row] * len(works), color="0.75", zorder=1)
        for work in works.itertuples():
            ax.scatter(work.date, row, color=colours.get(getattr(work, "style", None), "k"), s=40, zorder=2, edgecolor="k", linewidth=0.4)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel("date")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=s.replace("_", " ")) for s, c in colours.items()]
    if handles:
        ax.legend(handles=handles, fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left", title="style", title_fontsize=8)
    ax.set_title("Motif families over time (first work on the left)", fontsize=10)
    fig.tight_layout()
    return fig
