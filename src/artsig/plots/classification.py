"""Figures of the classification chapter: results per row, learning curves, confusion matrix,
per-class scores, and the best- and worst-classified test images."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from artsig.plots.common import montage

WEIGHT_COLOURS = {True: "#4c72b0", False: "#c44e52"}


def results_bars(table: pd.DataFrame, metrics: tuple[str, ...] = ("accuracy", "f1"), title: str | None = None) -> plt.Figure:
    """Test accuracy and macro-F1 per row, blue for rows that started from pretrained weights,
    red for rows that started from random weights, hatched for the frozen-probe baseline; the
    dashed line is chance (1 / classes)."""
    rows = table["row"].tolist()[::-1]
    pretrained = table["pretrained"].tolist()[::-1]
    baseline = (table["baseline"].fillna(False) if "baseline" in table else pd.Series(False, index=table.index)).astype(bool).tolist()[::-1]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics) + 1.5, 0.34 * len(rows) + 1.3), sharey=True, squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        values = table[metric].to_numpy()[::-1]
        bars = ax.barh(rows, values, color=[WEIGHT_COLOURS[bool(p)] for p in pretrained])
        for bar, is_base in zip(bars, baseline):
            if is_base:  # the frozen-probe baseline: hatched
                bar.set_hatch("///")
                bar.set_edgecolor("white")
        for y, v in enumerate(values):
            ax.text(v + 0.01, y, f"{v:.2f}", va="center", fontsize=7)
        if "n_classes" in table:
            ax.axvline(1.0 / table["n_classes"].iloc[0], ls="--", color="0.4", lw=1)
        ax.set_xlim(0, 1.08)
        ax.set_xlabel(f"test {metric}")
        ax.tick_params(axis="y", labelsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in WEIGHT_COLOURS.values()]
    handles.append(plt.Line2D([], [], ls="--", color="0.4", lw=1))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, ["pretrained start", "random start", "chance"], fontsize=8, loc="lower center", ncol=3, frameon=False)
    return fig


def learning_curves(curves: pd.DataFrame, ncols: int = 4, metric: str = "loss") -> plt.Figure:
    """One panel per row: training and validation ``metric`` per epoch. Frozen rows show the
    head's training; fine-tuned rows that started with a head stage show it in grey before
    the dotted line. The marker is the epoch whose weights were kept (lowest val loss)."""
    rows = list(dict.fromkeys(curves["row"]))
    nrows = int(np.ceil(len(rows) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.2 * nrows), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        c = curves[curves["row"] == row].reset_index(drop=True)
        x = np.arange(1, len(c) + 1)
        last = c["stage"].iloc[-1]
        first = c["stage"] != last
        if first.any():
            ax.plot(x[first], c.loc[first, metric], color="0.7", lw=1)
            ax.plot(x[first], c.loc[first, f"val_{metric}"], color="0.7", lw=1, ls="--")
            ax.axvline(first.sum() + 0.5, color="0.5", ls=":", lw=1)
        main = ~first
        ax.plot(x[main], c.loc[main, metric], color="#4c72b0", lw=1.4, label="train")
        ax.plot(x[main], c.loc[main, f"val_{metric}"], color="#dd8452", lw=1.4, label="validation")
        kept = c.index[main & c["best"]]
        if len(kept):
            ax.scatter(x[kept[-1]], c.loc[kept[-1], f"val_{metric}"], color="k", zorder=3, s=14)
        ax.set_title(row, fontsize=8)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.tick_params(labelsize=7)
        ax.set_xlabel("epoch", fontsize=7)
    axes.flat[0].legend(fontsize=7)
    axes.flat[0].set_ylabel(metric, fontsize=8)
    fig.tight_layout()
    return fig


def confusion_heatmap(confusion: pd.DataFrame, title: str | None = None, normalise: bool = True) -> plt.Figure:
    """Confusion matrix (rows true, columns predicted), shares per true class when ``normalise``."""
    m = confusion.to_numpy().astype(float)
    shown = m / np.maximum(m.sum(axis=1, keepdims=True), 1) if normalise else m
    labels = [str(c).replace("_", " ") for c in confusion.index]
    n = len(labels)
    fig, ax = plt.subplots(figsize=(0.55 * n + 2.2, 0.5 * n + 1.6))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7, color="white" if shown[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class" if normalise else "images")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def per_class_bars(report: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Precision, recall and F1 per class, grouped bars."""
    classes = [str(c).replace("_", " ") for c in report["class"]]
    y = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(6.5, 0.42 * len(classes) + 1.2))
    for i, (metric, colour) in enumerate(zip(("precision", "recall", "f1"), ("#4c72b0", "#55a868", "#dd8452"))):
        ax.barh(y + (i - 1) * 0.27, report[metric], height=0.27, color=colour, label=metric)
    ax.set_yticks(y, classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("test score")
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def examples(best: pd.DataFrame, worst: pd.DataFrame, ncols: int = 8, size: int = 128) -> plt.Figure:
    """Top row(s): the test images the model is surest about and gets right; bottom: those it
    puts least probability on the true class. Captions: true -> predicted (p of the prediction);
    green border = correct, red = wrong."""
    frames = pd.concat([best, worst], ignore_index=True)
    captions = [
        f"{t.replace('_', ' ')}\n→ {p.replace('_', ' ')} ({q:.2f})"
        for t, p, q in zip(frames["true"], frames["predicted"], frames["p_predicted"])
    ]
    borders = ["#2ca02c" if t == p else "#d62728" for t, p in zip(frames["true"], frames["predicted"])]
    fig = montage(frames["path"].tolist(), captions, ncols=ncols, tile=1.45, size=size, borders=borders)
    return fig
