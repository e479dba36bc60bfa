"""Balancing and splitting, as the classification studies did: keep the top-K classes of a
label, undersample every class to the same size with a seed, split stratified train/val/test."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from artsig.catalog import CatalogError


def class_counts(catalog: pd.DataFrame, label: str) -> pd.Series:
    """Images per class of ``label``, largest first (ties by name, so the order is stable)."""
    if label not in catalog:
        raise CatalogError(f"label={label!r}: the catalog has no such column; it has {list(catalog.columns)}")
    counts = catalog[label].dropna().value_counts()
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def top_k_classes(catalog: pd.DataFrame, label: str, top_k: int | None) -> list:
    """The ``top_k`` most frequent classes of ``label`` (all when ``top_k`` is None)."""
    counts = class_counts(catalog, label)
    if top_k is not None and top_k < 2:
        raise CatalogError(f"top_k={top_k}: need at least 2 classes to classify")
    return counts.index[: top_k or len(counts)].tolist()


def undersample(catalog: pd.DataFrame, label: str, per_class: int | None = None, min_per_class: int = 10, seed: int = 0) -> pd.DataFrame:
    """Draw the same number of images from every class: ``per_class`` at most (the smallest class
    size when it is None or when the smallest class holds fewer, with a warning saying so), so a
    small collection is balanced rather than refused. A class below ``min_per_class`` raises."""
    counts = class_counts(catalog, label)
    target = int(per_class) if per_class else int(counts.min())
    if target > counts.min() >= min_per_class:
        warnings.warn(
            f"label={label!r}: class {counts.idxmin()!r} has {counts.min()} images, fewer than per_class={per_class}; "
            f"every class is balanced to {counts.min()} images",
            stacklevel=2,
        )
        target = int(counts.min())
    short = counts[counts < max(target, min_per_class)]
    if len(short):
        raise CatalogError(
            f"label={label!r}: class {short.index[0]!r} has {short.iloc[0]} images but balancing needs "
            f"{max(target, min_per_class)} per class (per_class={per_class}, min_per_class={min_per_class}); "
            "lower min_per_class / top_k or add images"
        )
    rng = np.random.default_rng(seed)
    picked = []
    for cls in counts.index:
        members = catalog.index[catalog[label] == cls].to_numpy()
        picked.extend(np.sort(rng.choice(members, size=target, replace=False)))
    return catalog.loc[sorted(picked)].copy()


def stratified_split(catalog: pd.DataFrame, label: str, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0) -> pd.Series:
    """A ``split`` column (train/val/test) with each class divided in the given fractions."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise CatalogError(f"fractions={fractions}: expected three positive numbers (train, val, test) summing to 1")
    rng = np.random.default_rng(seed)
    split = pd.Series(index=catalog.index, dtype=object)
    for cls, members in catalog.groupby(label, sort=True).groups.items():
        members = rng.permutation(np.asarray(members))
        n = len(members)
        n_val = max(1, int(round(fractions[1] * n)))
        n_test = max(1, int(round(fractions[2] * n)))
        if n - n_val - n_test < 1:
            raise CatalogError(f"label={label!r}: class {cls!r} has {n} images, too few for a train/val/test split")
        split.loc[members[:n_test]] = "test"
        split.loc[members[n_test : n_test + n_val]] = "val"
        split.loc[members[n_test + n_val :]] = "train"
    return split


def balance(
    catalog: pd.DataFrame,
    label: str,
    top_k: int | None = None,
    per_class: int | None = None,
    min_per_class: int = 10,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> pd.DataFrame:
    """Top-K classes of ``label``, undersampled to equal size, with a stratified ``split`` column."""
    keep = top_k_classes(catalog, label, top_k)
    subset = catalog[catalog[label].isin(keep)]
    balanced = undersample(subset, label, per_class=per_class, min_per_class=min_per_class, seed=seed)
    balanced["split"] = stratified_split(balanced, label, fractions, seed=seed)
    return balanced.reset_index(drop=True)


def distribution(before: pd.DataFrame, after: pd.DataFrame, label: str) -> pd.DataFrame:
    """Tidy counts per class before and after balancing (``stage``, ``class``, ``images``)."""
    frames = []
    for stage, frame in (("before", before), ("after", after)):
        counts = class_counts(frame, label).rename_axis("class").reset_index(name="images")
        counts.insert(0, "stage", stage)
        frames.append(counts)
    return pd.concat(frames, ignore_index=True)
