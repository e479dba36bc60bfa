"""The catalog: one DataFrame row per image, the same schema for every collection.

Columns: ``image_id``, ``path`` (absolute), ``width``, ``height``, ``sha256``, and whichever
labels exist among ``artist``, ``style``, ``genre``, ``date``, ``split``, ``motif``.
Building a catalog opens every image once; files that cannot be used are skipped, logged with
the reason, and listed in the data-quality table, never dropped silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from artsig.images import IMAGE_SUFFIXES, ImageError, open_rgb

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image_id", "path", "width", "height", "sha256")
LABEL_COLUMNS = ("artist", "style", "genre", "date", "split", "motif")
SPLITS = ("train", "val", "test")
QUALITY_COLUMNS = ("file", "issue", "detail")


class CatalogError(ValueError):
    """A catalog or collection that does not fit the schema; the message says what and where."""


def validate_catalog(catalog: pd.DataFrame, source: str = "catalog") -> pd.DataFrame:
    """Check the schema and return the catalog; raise CatalogError naming the column at fault."""
    if not isinstance(catalog, pd.DataFrame):
        raise CatalogError(f"{source}: expected a pandas DataFrame, got {type(catalog).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in catalog.columns]
    if missing:
        raise CatalogError(f"{source}: missing column(s) {missing}; a catalog needs {list(REQUIRED_COLUMNS)}")
    if catalog.empty:
        raise CatalogError(f"{source}: no images")
    if catalog["image_id"].isna().any():
        raise CatalogError(f"{source}: column 'image_id' has empty values")
    duplicated = catalog["image_id"][catalog["image_id"].duplicated()]
    if len(duplicated):
        raise CatalogError(f"{source}: column 'image_id' must be unique; repeated: {duplicated.head(5).tolist()}")
    for column in ("width", "height"):
        if not pd.api.types.is_integer_dtype(catalog[column]) or (catalog[column] <= 0).any():
            raise CatalogError(f"{source}: column '{column}' must hold positive integers")
    bad_hash = ~catalog["sha256"].astype(str).str.fullmatch(r"[0-9a-f]{64}")
    if bad_hash.any():
        raise CatalogError(f"{source}: column 'sha256' must hold hex SHA-256 digests; bad row image_id={catalog['image_id'][bad_hash].iloc[0]!r}")
    if "split" in catalog:
        bad = set(catalog["split"].dropna().unique()) - set(SPLITS)
        if bad:
            raise CatalogError(f"{source}: column 'split' must be one of {SPLITS}; found {sorted(bad)}")
    if "date" in catalog and not pd.api.types.is_numeric_dtype(catalog["date"]):
        raise CatalogError(f"{source}: column 'date' must be a (nullable) integer year")
    return catalog


def label_columns(catalog: pd.DataFrame, categorical_only: bool = False) -> list[str]:
    """The label columns a catalog has, in schema order (``date`` and ``split`` left out if asked)."""
    skip = {"date", "split", "motif"} if categorical_only else set()
    return [c for c in LABEL_COLUMNS if c in catalog.columns and c not in skip and catalog[c].notna().any()]


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes: the image's identity for caches and duplicate checks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _probe(path: Path) -> tuple[int, int, str]:
    img = open_rgb(path)
    return img.width, img.height, sha256_of(path)


def _load_scan_cache(cache_file: Path | None) -> dict[str, tuple]:
    if cache_file is None or not cache_file.exists():
        return {}
    cached = pd.read_parquet(cache_file)
    return {row.path: (row.mtime_ns, row.size, row.width, row.height, row.sha256) for row in cached.itertuples()}


def scan_images(
    records: pd.DataFrame,
    root: str | os.PathLike | None = None,
    source: str = "collection",
    cache_file: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn rows with ``image_id``, ``path`` and labels into a validated catalog.

    Each image is decoded once to measure it and hash it (the result is cached per file by
    modification time and size in ``cache_file``). Returns ``(catalog, quality)`` where
    ``quality`` lists every skipped file and every exact duplicate with the reason.
    """
    from tqdm import tqdm

    if "path" not in records.columns:
        raise CatalogError(f"{source}: no 'path' column")
    records = records.reset_index(drop=True)
    root_path = Path(root).resolve() if root is not None else None
    cache_path = Path(cache_file) if cache_file else None
    cached = _load_scan_cache(cache_path)
    issues: list[dict] = []
    keep, widths, heights, hashes, paths, cache_rows = [], [], [], [], [], []
    for i, raw in enumerate(tqdm(records["path"].tolist(), desc=f"scanning {source}", disable=not progress, leave=False)):
        path = Path(raw)
        if root_path is not None and not path.is_absolute():
            path = root_path / path
        path = path.resolve()
        shown = str(path.relative_to(root_path)) if root_path and path.is_relative_to(root_path) else str(raw)
        if root_path is not None and not path.is_relative_to(root_path):
            issues.append({"file": str(raw), "issue": "outside root", "detail": f"path is outside the collection root {root_path.name}/"})
            continue
        if not path.exists():
            issues.append({"file": shown, "issue": "missing", "detail": "listed but not found on disk"})
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            issues.append({"file": shown, "issue": "unsupported", "detail": f"suffix {path.suffix or '(none)'} is not one of {', '.join(IMAGE_SUFFIXES)}"})
            continue
        stat = path.stat()
        hit = cached.get(str(path))
        if hit and hit[0] == stat.st_mtime_ns and hit[1] == stat.st_size:
            width, height, digest = hit[2], hit[3], hit[4]
        else:
            try:
                width, height, digest = _probe(path)
            except ImageError as exc:
                issues.append({"file": shown, "issue": "unreadable", "detail": str(exc).split(": ", 1)[-1]})
                continue
        keep.append(i)
        widths.append(width)
        heights.append(height)
        hashes.append(digest)
        paths.append(str(path))
        cache_rows.append((str(path), stat.st_mtime_ns, stat.st_size, width, height, digest))
    for issue in issues:
        log.warning("skipped %s: %s (%s)", issue["file"], issue["issue"], issue["detail"])
    if cache_path is not None and cache_rows:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(cache_rows, columns=["path", "mtime_ns", "size", "width", "height", "sha256"])
        tmp = cache_path.with_name(cache_path.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, cache_path)
    if not keep:
        detail = f"; first problem: {issues[0]['file']}: {issues[0]['detail']}" if issues else ""
        raise CatalogError(f"{source}: no readable images{detail}")
    catalog = records.iloc[keep].copy()
    catalog["path"] = paths
    catalog["width"] = np.asarray(widths, dtype=np.int64)
    catalog["height"] = np.asarray(heights, dtype=np.int64)
    catalog["sha256"] = hashes
    if "image_id" not in catalog:
        catalog["image_id"] = [Path(p).stem for p in paths]
    catalog["image_id"] = catalog["image_id"].astype(str)
    if "date" in catalog:
        catalog["date"] = pd.to_numeric(catalog["date"], errors="coerce").astype("Int64")
    ordered = list(REQUIRED_COLUMNS) + [c for c in LABEL_COLUMNS if c in catalog] + [
        c for c in catalog.columns if c not in REQUIRED_COLUMNS and c not in LABEL_COLUMNS
    ]
    catalog = catalog[ordered].reset_index(drop=True)
    duplicates = catalog[catalog["sha256"].duplicated(keep="first")]
    first_by_hash = catalog.drop_duplicates("sha256").set_index("sha256")["image_id"]
    for row in duplicates.itertuples():
        issues.append({"file": row.image_id, "issue": "duplicate", "detail": f"same bytes as {first_by_hash[row.sha256]}"})
    quality = pd.DataFrame(issues, columns=list(QUALITY_COLUMNS))
    return validate_catalog(catalog, source), quality


def summarize(catalog: pd.DataFrame) -> pd.DataFrame:
    """One row per label column: how many images carry it and how many classes it has."""
    rows = [{"column": "images", "labelled": len(catalog), "classes": np.nan, "largest": "", "smallest": ""}]
    for column in label_columns(catalog):
        values = catalog[column].dropna()
        if column == "date":
            rows.append({"column": column, "labelled": len(values), "classes": np.nan,
                         "largest": f"latest {int(values.max())}", "smallest": f"earliest {int(values.min())}"})
            continue
        counts = values.value_counts()
        rows.append({"column": column, "labelled": len(values), "classes": len(counts),
                     "largest": f"{counts.index[0]} ({counts.iloc[0]})", "smallest": f"{counts.index[-1]} ({counts.iloc[-1]})"})
    table = pd.DataFrame(rows)
    table["classes"] = table["classes"].astype("Int64")
    return table


def choose_label(catalog: pd.DataFrame, preferred: str) -> str:
    """``preferred`` when the catalog has it, else the first categorical label it does have.

    A user's folder collection carries only the label its folders name, so a chapter asking
    for ``genre`` runs on ``style`` (say) instead of failing; the caller should say so.
    """
    if preferred in catalog.columns and catalog[preferred].notna().any():
        return preferred
    available = label_columns(catalog, categorical_only=True)
    if not available:
        raise CatalogError(f"label={preferred!r}: the catalog has no label column at all; expected one of {list(LABEL_COLUMNS)}")
    log.warning("label %r not in this catalog; using %r", preferred, available[0])
    return available[0]
