"""Visual links: pairs of images known to share a composition, and their train/val/test split.

A links table is a DataFrame with one row per pair: ``image_id_a``, ``image_id_b`` (ids of the
catalog) and ``type``, one of :data:`LINK_TYPES`:

``POSITIVE``   the two works share a motif (one copies, quotes or derives from the other)
``DUPLICATE``  two reproductions of the same work
``NEGATIVE``   an annotator checked the pair and found no link

The default run takes the links of the procedural benchmark (its motif families); a collection
without known links gets weak ones between works that share a label (:func:`weak_links`, e.g. the
same artist; chosen by :func:`choose_positives`); a user brings
a CSV in the morphograph format of the EPFL Replica project: two image ids and a type per row
(column names ``img1_uid, img2_uid, type`` as in the Replica export, or ``image_id_a,
image_id_b, type``; see :data:`COLUMN_ALIASES`).

Links are split by connected component of the positive graph, so no test image is ever linked
(or even seen) in training: :func:`split_by_component`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from artsig.catalog import SPLITS, CatalogError

log = logging.getLogger(__name__)

LINK_TYPES = ("POSITIVE", "DUPLICATE", "NEGATIVE")
LINKING_TYPES = ("POSITIVE", "DUPLICATE")  # the types that make two images a match
LINK_COLUMNS = ("image_id_a", "image_id_b", "type")
COLUMN_ALIASES = {
    "image_id_a": ("image_id_a", "img1_uid", "img1", "image_a", "uid_a", "id_a", "source", "image1"),
    "image_id_b": ("image_id_b", "img2_uid", "img2", "image_b", "uid_b", "id_b", "target", "image2"),
    "type": ("type", "link_type", "label", "relation"),
}
TYPE_ALIASES = {"POSITIVE": "POSITIVE", "POS": "POSITIVE", "LINK": "POSITIVE", "DUPLICATE": "DUPLICATE", "DUP": "DUPLICATE", "NEGATIVE": "NEGATIVE", "NEG": "NEGATIVE"}


class LinksError(CatalogError):
    """A links table or file that does not fit the catalog; the message names the file and row."""


# --- reading and validating -----------------------------------------------------------------


def read_links(file: str | os.PathLike, catalog: pd.DataFrame, on_error: str = "raise") -> pd.DataFrame:
    """Read a morphograph CSV (two image ids and a type per row) and validate it against ``catalog``.

    ``on_error="raise"`` stops at the first bad row with one error naming the file and row;
    ``"skip"`` logs each bad row (file, row, reason) and keeps the others.
    """
    file = Path(file)
    if not file.is_file():
        raise LinksError(f"links file {file}: not found")
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise LinksError(f"links file {file}: not a readable CSV ({exc})") from None
    lowered = {c.strip().lower(): c for c in raw.columns}
    rename = {}
    for column, aliases in COLUMN_ALIASES.items():
        found = next((lowered[a] for a in aliases if a in lowered), None)
        if found is None:
            raise LinksError(f"links file {file}: no column for {column!r}; expected one of {list(aliases)}, found {list(raw.columns)}")
        rename[found] = column
    table = raw.rename(columns=rename)[list(LINK_COLUMNS)]
    # row numbers as a spreadsheet shows them: header is line 1
    table.index = pd.RangeIndex(2, len(table) + 2)
    return validate_links(table, catalog, source=f"links file {file.name}", on_error=on_error, row_label="line")


def validate_links(links: pd.DataFrame, catalog: pd.DataFrame, source: str = "links", on_error: str = "raise", row_label: str = "row") -> pd.DataFrame:
    """Check a links table: known image ids, no self-link, no repeated pair, known type.

    Types are upper-cased and common aliases accepted (``pos``, ``dup``...). Returns a clean
    table (``image_id_a``, ``image_id_b``, ``type``; ids as str, each pair once) with a fresh index.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not isinstance(links, pd.DataFrame):
        raise LinksError(f"{source}: expected a DataFrame, got {type(links).__name__}")
    missing = [c for c in LINK_COLUMNS if c not in links.columns]
    if missing:
        raise LinksError(f"{source}: missing column(s) {missing}; a links table needs {list(LINK_COLUMNS)}")
    known = set(catalog["image_id"].astype(str))
    seen: dict[tuple[str, str], object] = {}
    keep_rows, types = [], []
    for index, a, b, kind in zip(links.index, links["image_id_a"], links["image_id_b"], links["type"]):
        a, b = str(a).strip(), str(b).strip()
        problem = None
        canonical = TYPE_ALIASES.get(str(kind).strip().upper())
        if a not in known:
            problem = f"unknown image id {a!r} (not in the catalog)"
        elif b not in known:
            problem = f"unknown image id {b!r} (not in the catalog)"
        elif a == b:
            problem = f"self-link: {a!r} is linked to itself"
        elif canonical is None:
            problem = f"unknown type {kind!r}; expected one of {', '.join(LINK_TYPES)}"
        else:
            pair = (a, b) if a < b else (b, a)
            if pair in seen:
                problem = f"duplicate pair {pair[0]!r} - {pair[1]!r} (already on {row_label} {seen[pair]})"
            else:
                seen[pair] = index
        if problem:
            message = f"{source}, {row_label} {index}: {problem}"
            if on_error == "raise":
                raise LinksError(message)
            log.warning("skipped %s", message)
            continue
        keep_rows.append(pair)
        types.append(canonical)
    table = pd.DataFrame(keep_rows, columns=["image_id_a", "image_id_b"])
    table["type"] = types
    return table.reset_index(drop=True)


def links_from_column(catalog: pd.DataFrame, column: str = "motif") -> pd.DataFrame:
    """POSITIVE links between every two images that share a non-empty value of ``column``."""
    if column not in catalog:
        raise LinksError(f"catalog has no column {column!r} to derive links from")
    return pairs_within_groups(catalog.dropna(subset=[column]), column)


def pairs_within_groups(table: pd.DataFrame, group_column: str) -> pd.DataFrame:
    """POSITIVE links between every two distinct ``image_id`` of each group of ``group_column``
    (groups and ids in sorted order, each pair once)."""
    rows = []
    for _, group in table.groupby(group_column, sort=True):
        ids = sorted(group["image_id"].astype(str).unique())
        rows += [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    pairs = pd.DataFrame(rows, columns=["image_id_a", "image_id_b"]).drop_duplicates(ignore_index=True)
    pairs["type"] = "POSITIVE"
    return pairs


POSITIVE_SOURCES = ("auto", "motif", "artist", "style", "genre")
AUTO_POSITIVES = ("motif", "artist", "style", "genre")  # without links_file, the first label a collection has


def weak_links(catalog: pd.DataFrame, column: str, per_work: int = 10, seed: int = 0) -> pd.DataFrame:
    """POSITIVE links between works that share a value of ``column`` (weak links: same artist,
    same style...), at most about ``per_work`` partners per work.

    A group of up to ``per_work + 1`` works is linked pair by pair; a larger one gets a ring over a
    seeded shuffle (so the group stays one connected component, which is what the split and the
    retrieval scores use) plus ``per_work - 2`` random partners per work. Each pair once.
    """
    if column not in catalog:
        raise LinksError(f"catalog has no column {column!r} to derive links from; it has {list(catalog.columns)}")
    if per_work < 2:
        raise ValueError(f"per_work must be >= 2, got {per_work}")
    rng = np.random.default_rng(seed)
    rows: set[tuple[str, str]] = set()
    for _, group in catalog.dropna(subset=[column]).groupby(column, sort=True):
        ids = sorted(group["image_id"].astype(str).unique())
        if len(ids) <= per_work + 1:
            rows.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1:])
            continue
        order = [ids[i] for i in rng.permutation(len(ids))]
        pairs = list(zip(order, order[1:] + order[:1]))
        for i, a in enumerate(order):
            others = rng.choice(len(order) - 1, size=per_work - 2, replace=False)
            pairs += [(a, order[j + (j >= i)]) for j in others]
        rows.update((a, b) if a < b else (b, a) for a, b in pairs)
    table = pd.DataFrame(sorted(rows), columns=["image_id_a", "image_id_b"])
    table["type"] = "POSITIVE"
    return table


def linked_groups(catalog: pd.DataFrame, column: str) -> int:
    """How many values of ``column`` are shared by at least two works."""
    if column not in catalog:
        return 0
    counts = catalog[column].dropna().value_counts()
    return int((counts >= 2).sum())


def choose_positives(catalog: pd.DataFrame, dataset: str = "synthetic", links_file: str | os.PathLike | None = None, positives: str = "auto") -> str:
    """Where a run's links come from: ``"file"`` (``links_file``), ``"benchmark"`` (its motif
    families) or the label column whose shared values link works (``positives``; ``"auto"``: the
    first of :data:`AUTO_POSITIVES` with at least 3 groups of two or more works).

    Raises :class:`artsig.book.ChapterSkipped` naming ``links_file`` and ``positives`` when the
    collection has no way to link works.
    """
    if positives not in POSITIVE_SOURCES:
        raise LinksError(f"positives={positives!r}: expected one of {', '.join(POSITIVE_SOURCES)}")
    if links_file:
        return "file"
    if dataset == "synthetic" and positives in ("auto", "motif"):
        return "benchmark"
    candidates = AUTO_POSITIVES if positives == "auto" else (positives,)
    for column in candidates:
        if linked_groups(catalog, column) >= 3:
            return column
    from artsig.book import ChapterSkipped

    have = [c for c in AUTO_POSITIVES if c in catalog]
    raise ChapterSkipped(
        f"dataset={dataset!r} has no links and no label column to derive weak ones from (positives={positives!r}; it has "
        f"{have or 'no labels'}, each needs 3 values shared by 2 or more works): pass links_file=<CSV with img1_uid, img2_uid, type> "
        "(the morphograph format) or positives=artist|style|genre")


def describe_positives(source: str) -> str:
    """What counts as a link in a run, in words, for the page."""
    if source == "file":
        return "the links of links_file (known visual links)"
    if source == "benchmark":
        return "the benchmark's motif families (a composition copied, mirrored, cropped, rescaled or restyled)"
    if source == "motif":
        return "works that share a motif (the collection's motif column)"
    return (f"works of the same {source} (weak links derived from the {source} column: this collection has no known "
            f"visual links, so retrieval is scored on finding other works of the query's {source})")


def load_links(
    catalog: pd.DataFrame,
    dataset: str = "synthetic",
    links_file: str | os.PathLike | None = None,
    data_dir: str | os.PathLike = "../data",
    n_images: int = 2000,
    image_size: int = 256,
    seed: int = 0,
    on_error: str = "raise",
    positives: str = "auto",
) -> pd.DataFrame:
    """The links of a run, from :func:`choose_positives`: a user's morphograph CSV, the
    benchmark's motif links, the works sharing a motif, or weak links between works sharing a
    label (:func:`weak_links`, e.g. the same artist).
    """
    source = choose_positives(catalog, dataset, links_file, positives)
    if source == "file":
        return read_links(links_file, catalog, on_error=on_error)
    if source == "benchmark":
        from artsig.datasets import synthetic_links

        raw = synthetic_links(data_dir, n_images=n_images, image_size=image_size, seed=seed)
        return validate_links(raw, catalog, source="benchmark links", on_error=on_error)
    if source == "motif":
        return links_from_column(catalog, "motif")
    return weak_links(catalog, source, seed=seed)


# --- graph: components and split ------------------------------------------------------------


def linking(links: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that make a match (POSITIVE and DUPLICATE)."""
    return links[links["type"].isin(LINKING_TYPES)]


def components(catalog: pd.DataFrame, links: pd.DataFrame) -> pd.Series:
    """Connected component of every image under the positive links (index: image_id).

    Unlinked images are components of one; ids are numbered by first image in catalog order.
    Links to images outside ``catalog`` (e.g. a subset of the collection) are ignored.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = catalog["image_id"].astype(str).tolist()
    position = {image_id: i for i, image_id in enumerate(ids)}
    pos = linking(links)
    pos = pos[pos["image_id_a"].isin(position) & pos["image_id_b"].isin(position)]
    rows = np.array([position[a] for a in pos["image_id_a"]], dtype=np.int64)
    cols = np.array([position[b] for b in pos["image_id_b"]], dtype=np.int64)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    # renumber in order of first appearance so the ids do not depend on scipy's internals
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return pd.Series(renumber[labels], index=pd.Index(ids, name="image_id"), name="component")


def split_by_component(
    catalog: pd.DataFrame,
    links: pd.DataFrame,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign whole connected components to train / val / test.

    Linked components are shuffled (seeded) and dealt out so that each split gets about its
    fraction of the *linked images*; unlinked images are dealt the same way, so each split also
    holds distractors. Returns ``(catalog, links)`` copies with a ``split`` column (and
    ``component`` on the catalog); a link's split is the split of its images (never mixed).
    A catalog with its own ``split`` column (the collection's) keeps it: :func:`split_by_own_split`.
    """
    if "split" in catalog and catalog["split"].notna().all():
        return split_by_own_split(catalog, links)
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise LinksError(f"split_fractions={list(fractions)}: expected three non-negative numbers (train, val, test) summing to 1")
    component = components(catalog, links)
    sizes = component.value_counts()
    linked = sizes[sizes > 1]
    if len(linked) < 3:
        raise LinksError(f"only {len(linked)} linked component(s) (groups of linked works); need at least 3 to split links into train / val / test: "
                         "add links (links_file) or choose positives= a label shared by more groups of works")
    rng = np.random.default_rng(seed)
    assignment: dict[int, str] = {}
    for pool in (np.sort(linked.index.to_numpy()), np.sort(sizes[sizes == 1].index.to_numpy())):
        pool = pool[rng.permutation(len(pool))]
        weights = sizes.loc[pool].to_numpy()
        targets = fractions * weights.sum()
        filled = np.zeros(3)
        for comp, weight in zip(pool, weights):
            # the split furthest below its target (relative) takes the next component
            gap = (targets - filled) / np.maximum(targets, 1e-9)
            gap[targets == 0] = -np.inf
            choice = int(np.argmax(gap))
            assignment[int(comp)] = SPLITS[choice]
            filled[choice] += weight
    # every split with a positive fraction needs at least one linked component
    linked_splits = {assignment[int(c)] for c in linked.index}
    for i, split in enumerate(SPLITS):
        if fractions[i] > 0 and split not in linked_splits:
            raise LinksError(f"split {split!r} got no linked component of the {len(linked)}; add links (links_file) or change "
                             f"split_fractions={list(fractions)}")
    out = catalog.copy()
    out["component"] = component.reindex(out["image_id"].astype(str)).to_numpy()
    out["split"] = out["component"].map(assignment)
    split_of = dict(zip(out["image_id"].astype(str), out["split"]))
    split_links = links.copy()
    split_a = split_links["image_id_a"].map(split_of)
    split_b = split_links["image_id_b"].map(split_of)
    # NEGATIVE links may join two components of different splits: they stay out of every split
    split_links["split"] = split_a.where(split_a == split_b)
    return out, split_links.reset_index(drop=True)


def describe_split(catalog: pd.DataFrame, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0) -> str:
    """One line for the page: which split :func:`split_by_component` will use for this catalog."""
    if "split" in catalog and catalog["split"].notna().all():
        counts = catalog["split"].value_counts()
        parts = ", ".join(f"{p} {int(counts.get(p, 0))}" for p in SPLITS)
        return f"split: the collection's own ({parts} works; links across parts left out)"
    shares = " / ".join(f"{f:g}" for f in fractions)
    return f"split: by linked component, seeded (seed {seed}, fractions {shares} of the linked works)"


def split_by_own_split(catalog: pd.DataFrame, links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The collection's own ``split`` column is the split: a work keeps its part, links that join
    two parts are left out of every part (``split`` NaN), and components are taken within each
    part, so nothing of a test component is seen in training. Same returns as :func:`split_by_component`."""
    split_of = dict(zip(catalog["image_id"].astype(str), catalog["split"].astype(str)))
    split_links = links.copy()
    split_a = split_links["image_id_a"].astype(str).map(split_of)
    split_b = split_links["image_id_b"].astype(str).map(split_of)
    split_links["split"] = split_a.where(split_a == split_b)
    within = split_links[split_links["split"].notna()]
    out = catalog.copy()
    out["component"] = components(catalog, within).reindex(out["image_id"].astype(str)).to_numpy()
    linked = linking(within)
    for split in SPLITS:
        if (catalog["split"] == split).any() and not (linked["split"] == split).any():
            raise LinksError(f"the collection's own split: part {split!r} has no link between two of its works; "
                             "add links (links_file) or choose positives= a label shared within each part")
    return out, split_links.reset_index(drop=True)


def split_summary(catalog: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Sizes per split: images, linked images, linked components, links by type."""
    rows = []
    for split in SPLITS:
        part = catalog[catalog["split"] == split]
        sizes = part["component"].value_counts()
        row = {"split": split, "images": len(part), "linked images": int(sizes[sizes > 1].sum()), "linked components": int((sizes > 1).sum())}
        in_split = links[links["split"] == split]
        for kind in LINK_TYPES:
            row[f"{kind.lower()} links"] = int((in_split["type"] == kind).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def positive_pairs(links: pd.DataFrame, split: str | None = None) -> pd.DataFrame:
    """The matching pairs (POSITIVE, DUPLICATE), optionally of one split."""
    table = linking(links)
    if split is not None:
        table = table[table["split"] == split]
    return table[["image_id_a", "image_id_b"]].reset_index(drop=True)


def relevance_sets(catalog: pd.DataFrame, links: pd.DataFrame, transitive: bool = True) -> dict[str, set[str]]:
    """For every linked image, the set of images that count as its true matches.

    ``transitive=True`` takes its whole connected component (a motif family is one clique even
    if only a chain of links was annotated); ``False`` only its direct links.
    """
    relevant: dict[str, set[str]] = {}
    if transitive:
        component = components(catalog, links)
        for _, members in component.groupby(component):
            if len(members) > 1:
                ids = set(members.index)
                for image_id in ids:
                    relevant[image_id] = ids - {image_id}
        return relevant
    for a, b in zip(linking(links)["image_id_a"], linking(links)["image_id_b"]):
        relevant.setdefault(a, set()).add(b)
        relevant.setdefault(b, set()).add(a)
    return relevant


def add_links(links: pd.DataFrame, new: pd.DataFrame, kind: str = "POSITIVE", catalog: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Union of ``links`` and the pairs of ``new`` typed ``kind`` (each pair once, order-free).

    Returns ``(table, added)``. With a split ``catalog`` (``split`` column) the new rows get the
    split of their images (none when the two images lie in different splits).
    """
    def key(a, b):
        return (a, b) if a < b else (b, a)

    existing = {key(a, b) for a, b in zip(links["image_id_a"], links["image_id_b"])}
    rows = []
    for a, b in zip(new["image_id_a"].astype(str), new["image_id_b"].astype(str)):
        pair = key(a, b)
        if a != b and pair not in existing:
            existing.add(pair)
            rows.append(pair)
    added = pd.DataFrame(rows, columns=["image_id_a", "image_id_b"])
    added["type"] = kind
    if "split" in links:
        if catalog is not None and "split" in catalog:
            split_of = dict(zip(catalog["image_id"].astype(str), catalog["split"]))
            split_a, split_b = added["image_id_a"].map(split_of), added["image_id_b"].map(split_of)
            added["split"] = split_a.where(split_a == split_b)
        else:
            added["split"] = None
    for column in links.columns:
        if column not in added:
            added[column] = None
    if not len(added):
        return links.reset_index(drop=True), 0
    return pd.concat([links, added[list(links.columns)]], ignore_index=True), len(added)


def hide_links(catalog: pd.DataFrame, links: pd.DataFrame, keep_fraction: float = 0.5, split: str = "train", seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a partly annotated collection: keep the links of ``keep_fraction`` of the
    linked components of ``split``, hide the others (their images stay, unlinked).

    Returns ``(known, hidden)`` links tables; other splits' links are all kept in ``known``.
    """
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    if "split" not in links or "component" not in catalog:
        raise ValueError("run split_by_component first: hide_links needs the 'split' and 'component' columns")
    comp_of = dict(zip(catalog["image_id"].astype(str), catalog["component"]))
    in_split = (links["split"] == split).to_numpy()
    comps = np.unique([comp_of[a] for a in links.loc[in_split, "image_id_a"]])
    rng = np.random.default_rng(seed)
    keep = set(comps[rng.permutation(len(comps))[: max(1, int(round(keep_fraction * len(comps))))]].tolist())
    hidden = in_split & ~links["image_id_a"].map(comp_of).isin(keep).to_numpy()
    return links[~hidden].reset_index(drop=True), links[hidden].reset_index(drop=True)
