"""The annotation loop: export proposed clusters, read the annotator's decisions, add the links.

1. :func:`export_clusters` writes ``clusters.csv`` (one row per image and cluster, with an
   empty ``decision`` column) and ``clusters.html`` (a page of thumbnails per cluster, with the
   thumbnails in a folder beside it, so it opens offline in any browser).
2. The annotator fills ``decision`` with ``accept`` (the image belongs to the cluster's motif)
   or ``reject``; blank rows are left undecided. :func:`simulate_annotations` does this from a
   benchmark's ground truth instead, so the book's default run can close the loop.
3. :func:`read_annotations` checks the file; :func:`accepted_pairs` turns the accepted images
   of each cluster into pairs, which :func:`artsig.links.add_links` adds to the links.

A file that already holds decisions is never overwritten without ``overwrite=True``.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from artsig.catalog import CatalogError
from artsig.links import pairs_within_groups

log = logging.getLogger(__name__)

ANNOTATION_COLUMNS = ("cluster", "image_id", "decision")
EXPORT_COLUMNS = ("cluster", "image_id", "path", "date", "known_links_in_cluster", "decision")
DECISIONS = {"accept": "accept", "accepted": "accept", "yes": "accept", "y": "accept", "1": "accept", "true": "accept", "x": "accept",
             "reject": "reject", "rejected": "reject", "no": "reject", "n": "reject", "0": "reject", "false": "reject", "": ""}


class AnnotationError(CatalogError):
    """An annotation file that cannot be used; the message names the file and row."""


def _has_decisions(path: Path) -> bool:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return True  # unknown content: treat as the user's
    return "decision" not in table or (table["decision"].str.strip() != "").any()


def _refuse_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite and _has_decisions(path):
        raise FileExistsError(
            f"{path} already exists and holds annotations; refusing to overwrite them. "
            "Read it with read_annotations(), move it away, or pass overwrite=True."
        )


def cluster_table(labels: np.ndarray, catalog: pd.DataFrame, known_links: pd.DataFrame | None = None, order: np.ndarray | None = None) -> pd.DataFrame:
    """One row per clustered image: cluster, image_id, path, date, known links inside its cluster."""
    from artsig.links import linking

    labels = np.asarray(labels)
    if len(labels) != len(catalog):
        raise ValueError(f"labels has {len(labels)} entries but the catalog {len(catalog)} images")
    table = pd.DataFrame({"cluster": labels, "image_id": catalog["image_id"].astype(str).to_numpy(), "path": catalog["path"].astype(str).to_numpy()})
    table["date"] = catalog["date"].to_numpy() if "date" in catalog else pd.NA
    table = table[table["cluster"] >= 0]
    known = 0
    if known_links is not None and len(known_links):
        cluster_of = dict(zip(table["image_id"], table["cluster"]))
        pos = linking(known_links)
        counts: dict[str, int] = {}
        for a, b in zip(pos["image_id_a"], pos["image_id_b"]):
            if a in cluster_of and cluster_of.get(a) == cluster_of.get(b):
                counts[a] = counts.get(a, 0) + 1
                counts[b] = counts.get(b, 0) + 1
        known = table["image_id"].map(counts).fillna(0).astype(int)
    table["known_links_in_cluster"] = known
    table["decision"] = ""
    sort = ["cluster", "date", "image_id"] if table["date"].notna().any() else ["cluster", "image_id"]
    return table.sort_values(sort, kind="stable").reset_index(drop=True)[list(EXPORT_COLUMNS)]


def export_clusters(table: pd.DataFrame, folder: str | os.PathLike, name: str = "clusters", thumb_size: int = 128,
                    overwrite: bool = False, title: str = "Proposed clusters") -> tuple[Path, Path]:
    """Write ``<name>.csv`` (to fill in) and ``<name>.html`` (thumbnails per cluster, offline).

    Refuses (``FileExistsError``) to replace a CSV that already holds decisions unless
    ``overwrite``. Thumbnails go to ``<folder>/<name>_thumbnails/`` and are linked relatively.
    """
    from artsig.images import thumbnail

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / f"{name}.csv", folder / f"{name}.html"
    _refuse_overwrite(csv_path, overwrite)
    thumbs = folder / f"{name}_thumbnails"
    table.to_csv(csv_path, index=False)
    sections = []
    for cluster, members in table.groupby("cluster", sort=True):
        cells = []
        for row in members.itertuples():
            thumb = thumbnail(row.path, size=thumb_size, cache_dir=thumbs)
            caption = html.escape(str(row.image_id)) + (f"<br>{int(row.date)}" if pd.notna(row.date) else "")
            cells.append(f'<figure><img src="{html.escape(thumb.parent.name)}/{html.escape(thumb.name)}" loading="lazy" '
                         f'alt="{html.escape(str(row.image_id))}"><figcaption>{caption}</figcaption></figure>')
        known = int((members["known_links_in_cluster"] > 0).sum())
        sections.append(f'<section><h2>Cluster {int(cluster)} <small>{len(members)} images, {known} already linked</small></h2>'
                        f'<div class="grid">{"".join(cells)}</div></section>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 6px; }}
figure {{ margin: 0; width: {thumb_size}px; font-size: 11px; text-align: center; }}
img {{ max-width: {thumb_size}px; max-height: {thumb_size}px; border: 1px solid #ccc; }}
h2 small {{ font-weight: normal; color: #666; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{table['cluster'].nunique()} clusters, {len(table)} images. Mark each image in <code>{html.escape(csv_path.name)}</code>:
<code>accept</code> if it shares the cluster's motif, <code>reject</code> if not (blank = undecided).</p>
{''.join(sections)}
</body></html>
"""
    html_path.write_text(page, encoding="utf-8")
    return csv_path, html_path


def simulate_annotations(table: pd.DataFrame, catalog: pd.DataFrame, truth_links: pd.DataFrame, annotate_splits: tuple[str, ...] | None = ("train",)) -> pd.DataFrame:
    """Fill ``decision`` from ground truth, as an annotator who knows every true link would.

    In each cluster the annotator accepts the images of the largest true family (connected
    component of ``truth_links`` with at least two members in the cluster) and rejects the
    others; a cluster without such a family is rejected whole. Only images whose catalog
    ``split`` is in ``annotate_splits`` are decided (others stay blank), so validation and test
    images never enter training.
    """
    from artsig.links import components

    truth = components(catalog, truth_links)
    out = table.copy()
    family = out["image_id"].map(truth)
    eligible = np.ones(len(out), dtype=bool)
    if annotate_splits is not None:
        split = out["image_id"].map(dict(zip(catalog["image_id"].astype(str), catalog["split"])))
        eligible = split.isin(annotate_splits).to_numpy()
    decisions = np.array([""] * len(out), dtype=object)
    for rows in out.groupby("cluster").groups.values():
        rows = np.asarray([out.index.get_loc(r) for r in rows])
        counts = family.iloc[rows].value_counts()
        best = counts.index[0] if len(counts) and counts.iloc[0] >= 2 else None
        decisions[rows] = np.where(family.iloc[rows].to_numpy() == best, "accept", "reject")
    out["decision"] = np.where(eligible, decisions, "")
    return out


def write_annotations(table: pd.DataFrame, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an annotation table; an existing file with other decisions is never replaced silently.

    Writing the very same content again is allowed (a rerun); anything else needs ``overwrite``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = table.to_csv(index=False)
    if path.exists() and not overwrite:
        if path.read_text() == text:
            return path
        _refuse_overwrite(path, overwrite)
    path.write_text(text)
    return path


def read_annotations(path: str | os.PathLike, catalog: pd.DataFrame, on_error: str = "raise") -> pd.DataFrame:
    """Read an annotation CSV (``cluster, image_id, decision`` at least) and check every row.

    Decisions are normalised to ``accept`` / ``reject`` / blank (``yes``/``no``/``1``/``0``...
    accepted). Unknown image ids, non-integer clusters and unknown decisions raise an error
    naming the file and line, or are logged and skipped with ``on_error="skip"``.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file {path}: not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"annotation file {path}: not a readable CSV ({exc})") from None
    missing = [c for c in ANNOTATION_COLUMNS if c not in raw]
    if missing:
        raise AnnotationError(f"annotation file {path.name}: missing column(s) {missing}; expected {list(ANNOTATION_COLUMNS)}")
    known = set(catalog["image_id"].astype(str))
    rows, seen = [], set()
    for line, (cluster, image_id, decision) in enumerate(zip(raw["cluster"], raw["image_id"], raw["decision"]), start=2):
        image_id, decision_key = image_id.strip(), decision.strip().lower()
        problem = None
        if not cluster.strip().lstrip("-").isdigit():
            problem = f"cluster {cluster!r} is not an integer"
        elif image_id not in known:
            problem = f"unknown image id {image_id!r} (not in the catalog)"
        elif decision_key not in DECISIONS:
            problem = f"decision {decision!r} is not accept / reject (or blank)"
        elif (int(cluster), image_id) in seen:
            problem = f"image {image_id!r} listed twice in cluster {cluster.strip()}"
        if problem:
            message = f"annotation file {path.name}, line {line}: {problem}"
            if on_error == "raise":
                raise AnnotationError(message)
            log.warning("skipped %s", message)
            continue
        seen.add((int(cluster), image_id))
        rows.append((int(cluster), image_id, DECISIONS[decision_key]))
    return pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))


def accepted_pairs(annotations: pd.DataFrame) -> pd.DataFrame:
    """Every pair of images accepted in the same cluster, as POSITIVE links."""
    return pairs_within_groups(annotations[annotations["decision"] == "accept"], "cluster")


def annotation_summary(annotations: pd.DataFrame) -> dict:
    """Counts of a decided table: clusters, rows, accepted, rejected, undecided, pairs."""
    decision = annotations["decision"]
    return {"clusters": int(annotations["cluster"].nunique()), "rows": len(annotations), "accepted": int((decision == "accept").sum()),
            "rejected": int((decision == "reject").sum()), "undecided": int((decision == "").sum()), "accepted pairs": len(accepted_pairs(annotations))}
