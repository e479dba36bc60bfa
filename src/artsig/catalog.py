"""The catalog: one DataFrame row per image, the same schema for every collection.

Columns: ``image_id``, ``path`` (absolute), ``width``, ``height``, ``sha256``, and whichever
labels exist among ``artist``, ``style``, ``genre``, ``date``, ``split``, ``motif``.
Building a catalog opens every image once; files that cannot be used are skipped, logged with
the reason, and listed in the data-quality table (``file``, ``issue``, ``detail``, ``action``),
never dropped silently; files kept with a repair (first frame of many, reduced resolution, a
name that is not UTF-8) and exact duplicates are listed there too, with ``action`` "kept".
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from stat import S_ISREG

import numpy as np
import pandas as pd

from artsig import store
from artsig.images import IMAGE_SUFFIXES, ImageError, read_image
from artsig.locks import file_lock

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image_id", "path", "width", "height", "sha256")
LABEL_COLUMNS = ("artist", "style", "genre", "date", "split", "motif")
SPLITS = ("train", "val", "test")
QUALITY_COLUMNS = ("file", "issue", "detail", "action")


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
    """The SHA-256 of a file's bytes: the image's identity for caches and duplicate checks (:func:`artsig.store.file_digest`)."""
    return store.file_digest(path)


def readable_name(text: str) -> str:
    """A file name as printable text: bytes that are not UTF-8 (surrogate-escaped) shown as Latin-1."""
    return "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in str(text))


def is_utf8_name(text: str) -> bool:
    """Whether a path string is valid Unicode (False for a name with non-UTF-8 bytes)."""
    try:
        str(text).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def name_alias(path: Path, folder: Path) -> Path:
    """A symbolic link with a UTF-8 name to a file whose name is not UTF-8 (created once, atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = store.fingerprint(os.fsencode(path), length=12)
    stem = re.sub(r"[^\w.-]+", "_", readable_name(path.stem)).strip("_") or "image"
    alias = folder / f"{stem}-{digest}{readable_name(path.suffix).lower()}"
    if not (alias.is_symlink() and os.readlink(alias) == os.fsdecode(path)):
        store.atomic_symlink(path, alias)
    return alias


def _default_alias_dir(cache_path: Path | None) -> Path:
    if cache_path is not None:
        return cache_path.parent / "aliases"
    return Path(os.environ.get("ARTSIG_ALIASES", Path.home() / ".cache" / "artsig" / "aliases"))


def _probe(path: Path, max_pixels: int | None) -> tuple[int, int, str, str]:
    img, info = read_image(path, max_pixels)
    return info["width"], info["height"], sha256_of(path), "; ".join(info["notes"])


def _load_scan_cache(cache_file: Path | None) -> dict[str, tuple]:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        with file_lock(cache_file, shared=True):
            cached = pd.read_parquet(cache_file)
    except (OSError, ValueError) as exc:  # a damaged cache is rebuilt, not trusted
        log.warning("scan cache %s unreadable (%s); rescanning", cache_file, exc)
        return {}
    if "notes" not in cached:
        return {}
    return {row.path: (row.mtime_ns, row.size, row.width, row.height, row.sha256, row.notes) for row in cached.itertuples()}


def _write_scan_cache(cache_path: Path, rows: list[tuple]) -> None:
    """Write this scan's rows to the cache file, atomically and under its lock."""
    frame = pd.DataFrame(rows, columns=["path", "mtime_ns", "size", "width", "height", "sha256", "notes"])
    store.save_frame(cache_path, frame)


def _check_file(path: Path, root_path: Path | None) -> tuple[str, str] | None:
    """The reason a listed path cannot be catalogued before it is opened, or None."""
    if path.is_symlink() and not path.exists():
        return "broken link", f"symbolic link to {readable_name(os.readlink(path))}, which does not exist"
    resolved = path.resolve()
    if root_path is not None and not resolved.is_relative_to(root_path):
        return "outside root", f"path is outside the collection root {root_path.name}/"
    if not resolved.exists():
        return "missing", "listed but not found on disk"
    if resolved.is_dir():
        if not os.access(resolved, os.R_OK | os.X_OK):
            return "permission denied", "folder cannot be listed, so its files were not scanned"
        return "not a file", "a folder where an image file was expected"
    if resolved.suffix.lower() not in IMAGE_SUFFIXES:
        return "unsupported", f"suffix {readable_name(resolved.suffix) or '(none)'} is not one of {', '.join(IMAGE_SUFFIXES)}"
    return None


def scan_images(
    records: pd.DataFrame,
    root: str | os.PathLike | None = None,
    source: str = "collection",
    cache_file: str | os.PathLike | None = None,
    progress: bool = True,
    max_pixels: int | None = None,
    alias_dir: str | os.PathLike | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn rows with ``image_id``, ``path`` and labels into a validated catalog.

    Each image is decoded once to measure it and hash it (the result is cached per file by
    modification time and size in ``cache_file``). Returns ``(catalog, quality)`` where
    ``quality`` names, once each, every skipped file, every exact duplicate and every file kept
    with a repair (first frame of many, reduced resolution, a name that is not UTF-8), with the
    reason. One bad file never stops the scan. Files above ``max_pixels`` (default
    ``ARTSIG_MAX_PIXELS`` or 1 gigapixel) are listed as "too large". A row whose ``_issue``
    column is set (a loader's finding, e.g. an unreadable folder) is listed with that issue.
    """
    from tqdm import tqdm

    if "path" not in records.columns:
        raise CatalogError(f"{source}: no 'path' column")
    records = _readable_records(records)
    root_path = Path(root).resolve() if root is not None else None
    cache_path = Path(cache_file) if cache_file else None
    aliases = Path(alias_dir) if alias_dir else _default_alias_dir(cache_path)
    cached = _load_scan_cache(cache_path)
    preset = records.pop("_issue") if "_issue" in records else pd.Series([None] * len(records))
    issues: list[dict] = []
    notes: dict[int, list[tuple[str, str]]] = {}
    keep, scanned = [], []
    for i, raw in enumerate(tqdm(records["path"].tolist(), desc=f"scanning {source}", disable=not progress, leave=False)):
        shown, outcome = _scan_file(raw, preset.iloc[i], root_path, aliases, cached, max_pixels)
        if isinstance(outcome, tuple):
            issues.append({"file": shown, "issue": outcome[0], "detail": outcome[1], "action": "skipped"})
            continue
        if outcome["notes"]:
            notes[len(keep)] = outcome["notes"]
        keep.append(i)
        scanned.append(outcome)
    for issue in issues:
        log.warning("skipped %s: %s (%s)", issue["file"], issue["issue"], issue["detail"])
    _save_scan_cache(cache_path, scanned)
    if not keep:
        detail = f"; first problem: {issues[0]['file']}: {issues[0]['detail']}" if issues else ""
        raise CatalogError(f"{source}: no readable images{detail}")
    catalog = _scanned_catalog(records, keep, scanned)
    issues += _kept_with_notes(catalog, notes, records, keep, root_path)
    quality = pd.DataFrame(issues, columns=list(QUALITY_COLUMNS))
    return validate_catalog(catalog, source), quality


def _readable_records(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` renumbered, with text labels whose bytes are not UTF-8 shown readably (paths untouched)."""
    records = records.reset_index(drop=True)
    for column in records.columns:
        if column != "path" and records[column].dtype == object:
            records[column] = records[column].map(lambda v: readable_name(v) if isinstance(v, str) and not is_utf8_name(v) else v)
    return records


def _scan_file(raw, preset, root_path: Path | None, aliases: Path, cached: dict, max_pixels: int | None) -> tuple[str, tuple[str, str] | dict]:
    """Measure and hash one file: ``(shown name, (issue, detail))`` when it is skipped, else
    ``(shown name, {"path", "width", "height", "sha256", "notes", "cache_row"})``."""
    raw = os.fsdecode(raw) if isinstance(raw, (bytes, os.PathLike)) else str(raw)
    path = Path(raw)
    if root_path is not None and not path.is_absolute():
        path = root_path / path
    shown = readable_name(path.relative_to(root_path) if root_path and path.is_relative_to(root_path) else raw)
    if isinstance(preset, str) and preset:
        issue, _, detail = preset.partition(": ")
        return shown, (issue, detail)
    try:
        problem = _check_file(path, root_path)
        if problem:
            return shown, problem
        path = path.resolve()
        stat = path.stat()
        if not S_ISREG(stat.st_mode):
            return shown, ("not a file", "a special file (FIFO, socket or device), not an image file")
        if stat.st_size == 0:
            return shown, ("empty file", "0 bytes")
        file_notes = []
        usable = path
        if not is_utf8_name(str(path)):
            usable = name_alias(path, aliases)
            file_notes.append(("name not UTF-8", f"name bytes are not UTF-8 (shown as Latin-1); read through the link {usable.name}"))
        hit = cached.get(str(usable))
        if hit and hit[0] == stat.st_mtime_ns and hit[1] == stat.st_size:
            width, height, digest, note = hit[2], hit[3], hit[4], hit[5]
        else:
            width, height, digest, note = _probe(usable, max_pixels)
    except ImageError as exc:
        return shown, (exc.kind, str(exc).split(": ", 1)[-1])
    except FileNotFoundError:
        return shown, ("vanished", "deleted or moved while the collection was being scanned")
    except PermissionError:
        return shown, ("permission denied", "the file cannot be read by this user")
    except Exception as exc:  # one odd file never stops the scan
        return shown, ("unreadable", f"{type(exc).__name__}: {exc}")
    for part in filter(None, str(note or "").split("; ")):
        file_notes.append(("multi-frame" if "frames" in part else "large", part))
    return shown, {
        "path": str(usable), "width": int(width), "height": int(height), "sha256": digest, "notes": file_notes,
        "cache_row": (str(usable), stat.st_mtime_ns, stat.st_size, int(width), int(height), digest, note or ""),
    }


def _save_scan_cache(cache_path: Path | None, scanned: list[dict]) -> None:
    """Keep the measurements of the scanned files; a cache that cannot be written only warns."""
    rows = [s["cache_row"] for s in scanned]
    if cache_path is not None and rows:
        try:
            _write_scan_cache(cache_path, rows)
        except OSError as exc:
            log.warning("scan cache %s not written (%s)", cache_path, exc)


def _scanned_catalog(records: pd.DataFrame, keep: list[int], scanned: list[dict]) -> pd.DataFrame:
    """The kept rows with their resolved paths, sizes and hashes, in the schema's column order."""
    catalog = records.iloc[keep].copy()
    catalog["path"] = [s["path"] for s in scanned]
    catalog["width"] = np.asarray([s["width"] for s in scanned], dtype=np.int64)
    catalog["height"] = np.asarray([s["height"] for s in scanned], dtype=np.int64)
    catalog["sha256"] = [s["sha256"] for s in scanned]
    if "image_id" not in catalog:
        catalog["image_id"] = [readable_name(Path(records["path"].iloc[i]).stem) for i in keep]
    catalog["image_id"] = catalog["image_id"].astype(str)
    if "date" in catalog:
        catalog["date"] = pd.to_numeric(catalog["date"], errors="coerce").astype("Int64")
    ordered = list(REQUIRED_COLUMNS) + [c for c in LABEL_COLUMNS if c in catalog] + [
        c for c in catalog.columns if c not in REQUIRED_COLUMNS and c not in LABEL_COLUMNS
    ]
    return catalog[ordered].reset_index(drop=True)


def _kept_with_notes(catalog: pd.DataFrame, notes: dict[int, list[tuple[str, str]]], records: pd.DataFrame, keep: list[int], root_path: Path | None) -> list[dict]:
    """Quality rows for kept files: repairs noted while scanning, then exact duplicates of earlier files."""
    first_by_hash = catalog.drop_duplicates("sha256").set_index("sha256")["image_id"]
    for row in catalog[catalog["sha256"].duplicated(keep="first")].itertuples():
        notes.setdefault(row.Index, []).append(("duplicate", f"same bytes as {first_by_hash[row.sha256]}"))
    issues = []
    for position in sorted(notes):
        kinds, details = zip(*notes[position])
        shown_kept = catalog["image_id"].iloc[position] if kinds == ("duplicate",) else readable_name(_shown(records["path"].iloc[keep[position]], root_path))
        issues.append({"file": shown_kept, "issue": ", ".join(kinds), "detail": "; ".join(details), "action": "kept"})
    return issues


def _shown(raw, root_path: Path | None) -> str:
    path = Path(os.fsdecode(raw))
    if root_path is not None and not path.is_absolute():
        return str(path)
    return str(path.relative_to(root_path)) if root_path and path.is_relative_to(root_path) else str(path)


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


def describe_labels(catalog: pd.DataFrame) -> str:
    """The catalog's size and labels in one line, for a chapter's opening (e.g. ``2183 images;
    labels: style (19 classes, 40-240 works each), artist (325 classes, 1-187), date (1310 dated, 1450-1925)``)."""
    parts = []
    for column in (c for c in label_columns(catalog) if c != "split"):  # the split is said on its own line
        values = catalog[column].dropna()
        if column == "date":
            parts.append(f"date ({len(values)} dated, {int(values.min())}-{int(values.max())})")
            continue
        counts = values.value_counts()
        share = "" if len(values) == len(catalog) else f", {len(values)} labelled"
        parts.append(f"{column} ({len(counts)} classes, {counts.min()}-{counts.max()} works each{share})")
    return f"{len(catalog)} images; labels: {', '.join(parts) if parts else 'none'}"


#: which label a chapter falls back to when the one it asks for is missing: the label of a few
#: well-filled classes first (style, genre), the artist (often hundreds of names) last
LABEL_PREFERENCE = ("style", "genre", "artist")


def choose_label(catalog: pd.DataFrame, preferred: str) -> str:
    """``preferred`` when the catalog has it, else the first categorical label it does have, in the
    order of :data:`LABEL_PREFERENCE` (style, genre, then artist, then any other).

    A user's folder collection carries only the label its folders name, so a chapter asking
    for ``genre`` runs on ``style`` (say) instead of failing; the caller should say so.
    """
    if preferred in catalog.columns and catalog[preferred].notna().any():
        return preferred
    available = label_columns(catalog, categorical_only=True)
    if not available:
        raise CatalogError(f"label={preferred!r}: the catalog has no label column at all; expected one of {list(LABEL_COLUMNS)}")
    rank = {name: i for i, name in enumerate(LABEL_PREFERENCE)}
    chosen = sorted(available, key=lambda c: rank.get(c, len(rank)))[0]
    log.warning("label %r not in this catalog; using %r", preferred, chosen)
    return chosen
