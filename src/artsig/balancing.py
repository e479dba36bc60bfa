"""Balancing and splitting, as the classification studies did: keep the top-K classes of a
label, undersample every class to the same size with a seed, split stratified train/val/test.

The split of a collection is :func:`collection_split` (its own ``split`` column when it has one,
a validation part carved out of train when it has none, else one seeded stratified split of the
whole catalog); the data chapter writes it once (:func:`split_path`) and every later chapter
reads it with :func:`load_split`. A collection with its own split is balanced within each split
(:func:`balance` with ``split=``), never re-split."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

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
    split: pd.Series | None = None,
) -> pd.DataFrame:
    """Top-K classes of ``label``, undersampled to equal size, with a stratified ``split`` column.

    With ``split`` (the collection's own split, aligned to ``catalog``) each split is balanced by
    itself (:func:`undersample_within_splits`) and keeps its images: nothing is re-split.
    """
    keep = top_k_classes(catalog, label, top_k)
    subset = catalog[catalog[label].isin(keep)]
    if split is not None:
        subset = subset.assign(split=split.reindex(subset.index).to_numpy())
        return undersample_within_splits(subset, label, per_class, min_per_class, fractions, seed).reset_index(drop=True)
    balanced = undersample(subset, label, per_class=per_class, min_per_class=min_per_class, seed=seed)
    balanced["split"] = stratified_split(balanced, label, fractions, seed=seed)
    return balanced.reset_index(drop=True)


def undersample_within_splits(
    catalog: pd.DataFrame,
    label: str,
    per_class: int | None = None,
    min_per_class: int = 10,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> pd.DataFrame:
    """Undersample every class to the same size inside each split of the ``split`` column; a split's
    cap is its share (``fractions``) of ``per_class``. A class below ``min_per_class`` in all raises."""
    counts = class_counts(catalog, label)
    if counts.min() < min_per_class:
        raise CatalogError(
            f"label={label!r}: class {counts.idxmin()!r} has {counts.min()} images but balancing needs {min_per_class} per class "
            f"(min_per_class={min_per_class}); lower min_per_class / top_k or add images"
        )
    parts = []
    for offset, (name, share) in enumerate(zip(SPLITS, fractions)):
        part = catalog[catalog["split"] == name]
        if part.empty:
            continue
        sizes = part[label].value_counts().reindex(counts.index, fill_value=0)
        if sizes.min() == 0:
            raise CatalogError(f"label={label!r}: class {sizes.idxmin()!r} has no image in the {name!r} split; lower top_k or add images")
        cap = max(1, int(round(per_class * share))) if per_class else None
        parts.append(undersample(part, label, per_class=min(cap or sizes.min(), sizes.min()), min_per_class=1, seed=seed + offset))
    return pd.concat(parts).sort_index()


SPLITS = ("train", "val", "test")


def _carve(members: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """One class's members (shuffled) cut into ``len(fractions)`` parts; every part but the first
    gets at least one member while the first keeps one (a class of 1 stays whole in the first)."""
    members = rng.permutation(members)
    n, sizes = len(members), []
    for share in fractions[1:]:
        sizes.append(min(max(1, int(round(share * n))), max(0, n - 1 - sum(sizes))))
    cuts = np.cumsum([n - sum(sizes), *sizes])[:-1]
    return np.split(members, cuts)


def _stratified(frame: pd.DataFrame, label: str, names: tuple[str, ...], fractions: tuple[float, ...], seed: int) -> pd.Series:
    """``names`` assigned per class of ``label`` in ``fractions`` (rows without the label: by chance, same shares)."""
    rng = np.random.default_rng(seed)
    out = pd.Series(index=frame.index, dtype=object)
    keys = frame[label].astype(object).where(frame[label].notna(), "\0unlabelled")
    for _, members in sorted(frame.groupby(keys, sort=True).groups.items(), key=lambda kv: str(kv[0])):
        for name, part in zip(names, _carve(np.asarray(members), fractions, rng)):
            out.loc[part] = name
    return out


def collection_split(
    catalog: pd.DataFrame, label: str, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0
) -> pd.DataFrame:
    """The split of this collection: ``image_id``, ``split`` (train/val/test) and ``source`` (in words).

    A ``split`` column is the split (train for training, val for choosing, test for reporting);
    when it has train and val but no test (WikiArt's ``val`` is its test) val becomes test, and a
    missing val is carved out of train, seeded and stratified by ``label``. Without a ``split``
    column the whole catalog is split once by ``label`` in ``fractions``, seeded.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise CatalogError(f"fractions={fractions}: expected three positive numbers (train, val, test) summing to 1")
    if label not in catalog:
        raise CatalogError(f"label={label!r}: the catalog has no such column; it has {list(catalog.columns)}")
    own = catalog["split"].astype(object) if "split" in catalog and catalog["split"].notna().any() else None
    if own is None:
        split = _stratified(catalog, label, SPLITS, fractions, seed)
        source = f"one seeded stratified split by {label!r} ({' / '.join(f'{f:.0%}' for f in fractions)}, seed {seed})"
    else:
        split = own.where(own.isin(SPLITS), "train")
        source = "the collection's own split"
        if not (split == "test").any():
            split = split.replace({"val": "test"})
            source += " (its val part is used as test)"
        if not (split == "val").any():
            train = catalog[split == "train"]
            share = fractions[1] / (fractions[0] + fractions[1])
            split.loc[train.index] = _stratified(train, label, ("train", "val"), (1 - share, share), seed)
            source += f"; validation carved out of train ({share:.0%}, stratified by {label!r}, seed {seed})"
    return pd.DataFrame({"image_id": catalog["image_id"].astype(str).to_numpy(), "split": split.to_numpy(), "source": source})


def split_path(dataset: str, results_dir: str | os.PathLike = "../results") -> Path:
    """Where the data chapter (01) writes the split of ``dataset`` (``split.parquet``)."""
    from artsig.paths import dataset_slug

    return Path(results_dir) / dataset_slug(dataset) / "data" / "split.parquet"


def load_split(
    catalog: pd.DataFrame,
    label: str,
    path: str | os.PathLike | None = None,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    verbose: bool = True,
) -> pd.DataFrame:
    """The split of this collection as the data chapter wrote it (``path``, see :func:`split_path`),
    aligned to ``catalog``; made here with :func:`collection_split` (and said so) when the file is
    absent or does not cover the catalog's images."""
    why = "no path given"
    if path is not None and Path(path).is_file():
        table = pd.read_parquet(path)
        ids = catalog["image_id"].astype(str)
        missing = ~ids.isin(table["image_id"].astype(str))
        if not missing.any():
            return table.set_index(table["image_id"].astype(str)).loc[ids].reset_index(drop=True)
        why = f"{int(missing.sum())} of this catalog's images are not in it"
    elif path is not None:
        why = f"{Path(path).name} not found"
    made = collection_split(catalog, label, fractions, seed)
    if verbose:
        print(f"no split from the data chapter ({why}): made here: {made['source'].iloc[0]}")
    return made


def distribution(before: pd.DataFrame, after: pd.DataFrame, label: str, top: int | None = None) -> pd.DataFrame:
    """Tidy counts per class before and after balancing (``stage``, ``class``, ``images``); with
    ``top`` only the ``top`` largest classes (before) are named, the rest summed in one "other" bar."""
    frames = []
    named = class_counts(before, label).index[:top].tolist() if top else None
    for stage, frame in (("before", before), ("after", after)):
        counts = class_counts(frame, label)
        if named is not None and len(class_counts(before, label)) > len(named):
            rest = counts.drop([c for c in named if c in counts.index])
            counts = counts.reindex(named, fill_value=0)
            counts[f"other ({len(class_counts(before, label)) - len(named)} classes)"] = int(rest.sum())
        counts = counts.rename_axis("class").reset_index(name="images")
        counts.insert(0, "stage", stage)
        frames.append(counts)
    return pd.concat(frames, ignore_index=True)


def balance_or_reason(catalog: pd.DataFrame, label: str, split: pd.DataFrame | None = None, **settings) -> tuple[pd.DataFrame | None, str | None]:
    """:func:`balance` (``settings``: top_k, per_class, min_per_class, seed), or None and the reason
    in words when the collection is too small to balance: a small collection is not stopped.

    ``split`` (:func:`collection_split`) is kept when the collection brought its own split
    (balanced within each part); otherwise the balanced subset is split as the original study did.
    """
    own = split is not None and "split" in catalog and catalog["split"].notna().any()
    split = pd.Series(split["split"].to_numpy(), index=catalog.index) if own else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per_class lowered to the smallest class: said by the caller's table
            return balance(catalog, label, split=split, **settings), None
    except CatalogError as error:
        return None, f"no balanced table: {error}"
