"""Loaders: one ``dataset`` string picks the collection, every loader returns the same catalog.

=====================  =====================================================================
``synthetic``          the embedded procedural-art benchmark (generated, cached in data/)
``folder:PATH``        ``PATH/<label>/*.jpg`` or ``PATH/<split>/<label>/*.jpg``
``wikiart:PATH``       WikiArt images under PATH with the ArtGAN split CSVs (``csv_dir``)
``best-artworks:PATH`` Kaggle "Best Artworks of All Time": ``artists.csv`` + ``images/<Artist>/``
``csv:FILE``           any CSV with a path column and label columns
=====================  =====================================================================
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pandas as pd

from artsig.catalog import LABEL_COLUMNS, CatalogError, readable_name, scan_images
from artsig.paths import cache_dir, dataset_slug

log = logging.getLogger(__name__)

DATASET_KINDS = ("synthetic", "folder", "wikiart", "best-artworks", "csv")
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test", "testing": "test"}


def parse_dataset(dataset: str) -> tuple[str, Path | None]:
    """Split a dataset spec into its kind and location; raise naming the parameter if malformed."""
    if not isinstance(dataset, str) or not dataset:
        raise CatalogError(f"dataset must be a string such as 'synthetic' or 'folder:/path/to/paintings', got {dataset!r}")
    kind, sep, location = dataset.partition(":")
    kind = kind.strip().lower()
    if kind not in DATASET_KINDS:
        raise CatalogError(f"dataset={dataset!r}: unknown kind {kind!r}; expected one of {', '.join(DATASET_KINDS)}")
    if kind == "synthetic":
        return kind, None
    if not location:
        raise CatalogError(f"dataset={dataset!r}: {kind} needs a location, e.g. '{kind}:/path/to/collection'")
    path = Path(location).expanduser()
    if not path.exists():
        raise CatalogError(f"dataset={dataset!r}: {path} does not exist")
    return kind, path


def check_dataset(dataset: str) -> tuple[str, Path | None]:
    """Check a dataset spec before any work: the location exists and holds something to read."""
    kind, path = parse_dataset(dataset)
    if kind in ("folder", "wikiart", "best-artworks") and not path.is_dir():
        raise CatalogError(f"dataset={dataset!r}: {path} is not a folder; {kind}: takes a folder")
    if kind == "csv" and not path.is_file():
        raise CatalogError(f"dataset={dataset!r}: {path} is not a file; csv: takes a CSV file")
    if kind == "folder":
        subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if not subdirs:
            raise CatalogError(f"dataset={dataset!r}: {path} has no sub-folders; expected {path.name}/<label>/<image files>")
        if not any(f for d in subdirs for _, _, files in os.walk(d, followlinks=True) for f in files if not f.startswith(".")):
            raise CatalogError(f"dataset={dataset!r}: the sub-folders of {path} hold no files; expected images such as *.jpg")
    return kind, path


def absolute_dataset(dataset: str, base: str | os.PathLike | None = None) -> str:
    """``dataset`` with a relative location made absolute against ``base`` (the caller's working
    directory by default): the book's notebooks run in ``notebooks/``, so a path typed relative
    to where the user stands must be resolved before it reaches them."""
    kind, sep, location = str(dataset).partition(":")
    if not sep or kind not in ("folder", "wikiart", "best-artworks", "csv") or not location:
        return dataset
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = Path(base or os.getcwd()) / path
    return f"{kind}:{os.path.normpath(path)}"


def open_dataset(
    dataset: str = "synthetic",
    data_dir: str | os.PathLike = "../data",
    n_images: int = 2000,
    image_size: int = 256,
    seed: int = 0,
    label_column: str = "style",
    csv_dir: str | os.PathLike | None = None,
    path_column: str | None = None,
    progress: bool = True,
    with_quality: bool = False,
    max_pixels: int | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Load a collection as a validated catalog (and its data-quality table if ``with_quality``).

    ``n_images``, ``image_size`` and ``seed`` shape the synthetic benchmark; ``label_column``
    names what the folders of a ``folder:`` collection mean; ``csv_dir`` points at the ArtGAN
    CSVs for ``wikiart:`` (default ``ARTSIG_CSV_DIR``); ``path_column`` names the path column of a
    ``csv:`` file (default ``ARTSIG_PATH_COLUMN`` or ``path``);
    ``max_pixels`` is the pixel cap above which a file is listed as "too large" (default
    ``ARTSIG_MAX_PIXELS`` or 1 gigapixel).
    """
    kind, location = parse_dataset(dataset)
    csv_dir = csv_dir or os.environ.get("ARTSIG_CSV_DIR") or None  # set by `python -m artsig book --set csv_dir=...`
    path_column = path_column or os.environ.get("ARTSIG_PATH_COLUMN") or "path"
    scan_cache = cache_dir(data_dir, "catalogs") / f"{dataset_slug(dataset)}-scan.parquet"
    if kind == "synthetic":
        records, root = synthetic_records(data_dir, n_images, image_size, seed, progress)
    elif kind == "folder":
        records, root = folder_records(location, label_column), location
    elif kind == "wikiart":
        records, root = wikiart_records(location, csv_dir), location
    elif kind == "best-artworks":
        records, root = best_artworks_records(location)
    else:
        records, root = csv_records(location, path_column), location.parent
    catalog, quality = scan_images(records, root=root, source=dataset if kind == "synthetic" else f"{kind} collection", cache_file=scan_cache, progress=progress, max_pixels=max_pixels)
    return (catalog, quality) if with_quality else catalog


# --- synthetic ------------------------------------------------------------------------------


def synthetic_root(data_dir: str | os.PathLike, n_images: int, image_size: int, seed: int) -> Path:
    """The folder of one generated benchmark: one per (count, size, seed)."""
    return Path(data_dir) / f"synthetic-n{n_images}-s{image_size}-seed{seed}"


def synthetic_records(data_dir, n_images: int, image_size: int, seed: int, progress: bool = True) -> tuple[pd.DataFrame, Path]:
    """Generate (or reuse) the procedural benchmark and return its rows and root."""
    from artsig.procedural import generate_benchmark

    root = synthetic_root(data_dir, n_images, image_size, seed)
    metadata, _ = generate_benchmark(root, count=n_images, size=image_size, seed=seed, progress=progress)
    records = metadata.rename(columns={"file": "path"}).copy()
    records["motif"] = records["motif"].where(records["motif"].astype(str).str.len() > 0)
    return records, root.resolve()


def synthetic_links(data_dir, n_images: int = 2000, image_size: int = 256, seed: int = 0) -> pd.DataFrame:
    """The benchmark's links table (pairs of image ids known to share a composition)."""
    from artsig.procedural import generate_benchmark

    _, links = generate_benchmark(synthetic_root(data_dir, n_images, image_size, seed), count=n_images, size=image_size, seed=seed, progress=False)
    return links


# --- ImageFolder ----------------------------------------------------------------------------


def _image_files(folder: Path, unreadable: list[Path] | None = None) -> list[Path]:
    """Every non-hidden file below ``folder`` (broken links included, symlinked folders followed
    once); folders that cannot be listed are appended to ``unreadable``."""
    found: list[Path] = []
    seen: set[str] = set()

    def failed(error: OSError) -> None:
        if unreadable is not None and error.filename is not None:
            unreadable.append(Path(os.fsdecode(error.filename)))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=failed, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return sorted(found)


def folder_records(root: Path, label_column: str = "style") -> pd.DataFrame:
    """Rows for ``root/<label>/*`` or ``root/<split>/<label>/*`` (splits: train/val/test and aliases).

    Files outside a label folder and folders that cannot be listed get a row with an ``_issue``,
    so the scan names them in the data-quality table.
    """
    if not root.is_dir():
        raise CatalogError(f"folder collection {root}: not a directory")
    if label_column in ("image_id", "path", "width", "height", "sha256", "split"):
        raise CatalogError(f"label_column={label_column!r} is reserved; name what the folders mean, e.g. 'style' or 'genre'")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise CatalogError(f"folder collection {root}: no sub-folders; expected {root.name}/<{label_column}>/<image files>")
    split_layout = all(d.name.lower() in SPLIT_ALIASES for d in subdirs)
    rows = []

    def stray(path: Path, issue: str) -> None:
        rows.append({"image_id": str(path.relative_to(root)), "path": str(path.relative_to(root)), "_issue": issue})

    for loose in sorted(p for p in root.iterdir() if not p.is_dir() and not p.name.startswith(".")):
        stray(loose, f"no label folder: a file directly in {root.name}/; expected {root.name}/<{label_column}>/<file>")
    for top in subdirs:
        if split_layout:
            try:
                entries = sorted(top.iterdir())
            except OSError:
                stray(top, "permission denied: folder cannot be listed, so its files were not scanned")
                continue
            label_dirs = [p for p in entries if p.is_dir()]
            for loose in (p for p in entries if not p.is_dir() and not p.name.startswith(".")):
                stray(loose, f"no label folder: a file directly in {top.name}/; expected {top.name}/<{label_column}>/<file>")
        else:
            label_dirs = [top]
        for label_dir in label_dirs:
            unreadable: list[Path] = []
            for file in _image_files(label_dir, unreadable):
                rel = file.relative_to(root)
                row = {"image_id": str(rel.with_suffix("")), "path": str(rel), label_column: label_dir.name}
                if split_layout:
                    row["split"] = SPLIT_ALIASES[top.name.lower()]
                rows.append(row)
            for folder in unreadable:
                stray(folder, "permission denied: folder cannot be listed, so its files were not scanned")
    if not any("_issue" not in row for row in rows):
        raise CatalogError(f"folder collection {root}: the sub-folders hold no files; expected images such as *.jpg")
    return _records_frame(rows)


def _records_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame whose ``path`` column holds any file name, even one that is not UTF-8.

    Other text (ids, labels from folder names) is made readable; the scan makes the path usable.
    """
    paths = [row["path"] for row in rows]
    table = pd.DataFrame([{k: readable_name(v) if isinstance(v, str) else v for k, v in row.items() if k != "path"} for row in rows])
    table.insert(1 if "image_id" in table else 0, "path", pd.Series(paths, dtype=object))
    return table


# --- WikiArt (ArtGAN splits) -----------------------------------------------------------------

_YEAR = re.compile(r"-(1[0-9]{3}|20[0-2][0-9])(?:-\d+)?(?:\(\d+\))?$")


def parse_wikiart_filename(path: str) -> tuple[str, str, int | None]:
    """``Style/claude-monet_water-lilies-1916.jpg`` -> ("Claude Monet", "water lilies", 1916)."""
    stem = Path(path).stem
    artist_slug, _, title_slug = stem.partition("_")
    artist = " ".join(part.capitalize() for part in artist_slug.split("-") if part)
    match = _YEAR.search(title_slug)
    year = int(match.group(1)) if match else None
    title = title_slug[: match.start()] if match else title_slug
    return artist, title.replace("-", " ").strip(), year


def _find_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.csv", folder / f"{stem}.txt"):
        if candidate.is_file():
            return candidate
    raise CatalogError(f"ArtGAN CSVs in {folder}: expected a file named {stem}, {stem}.csv or {stem}.txt")


def read_artgan_classes(file: Path) -> dict[int, str]:
    """Read an ArtGAN ``*_class`` file: ``<index> <name>`` per line."""
    classes = {}
    for number, line in enumerate(file.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        index, _, name = line.partition(" ")
        if not index.isdigit() or not name:
            raise CatalogError(f"{file}, line {number}: expected '<index> <class name>', got {line!r}")
        classes[int(index)] = name.strip()
    return classes


def read_artgan_split(file: Path, classes: dict[int, str]) -> pd.DataFrame:
    """Read an ArtGAN split CSV (``path,class_index`` rows; header, blank lines, ``,,`` and CRLF tolerated)."""
    rows = []
    for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        path, _, index = line.rpartition(",")
        path = path.rstrip(",").strip()
        index = index.strip()
        if not index.isdigit():
            if number <= 2:  # a header such as "(Path to image),, (Groundtruth class)"
                continue
            raise CatalogError(f"{file}, line {number}: expected 'path,class_index', got {line!r}")
        if int(index) not in classes:
            raise CatalogError(f"{file}, line {number}: class index {index} is not in the class list")
        rows.append((path, classes[int(index)]))
    return pd.DataFrame(rows, columns=["path", "label"])


def read_artgan_tasks(csv_dir: str | os.PathLike) -> pd.DataFrame:
    """Join the ArtGAN style / genre / artist tasks on image path into one table of labels.

    ``split`` comes from the style task (which lists every image); ``genre_split`` and
    ``artist_split`` keep the other tasks' own splits. The artist named in the file name and
    the year at its end (``...-1884.jpg``) fill ``artist_name`` and ``date``.
    """
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        raise CatalogError(f"csv_dir {csv_dir}: not a directory; expected the ArtGAN folders Style/, Genre/, Artist/")
    tables = {}
    for task in ("style", "genre", "artist"):
        folder = next((p for p in (csv_dir / task.capitalize(), csv_dir / task, csv_dir) if p.is_dir() and any(p.glob(f"{task}_class*"))), None)
        if folder is None:
            if task == "style":
                raise CatalogError(f"csv_dir {csv_dir}: no Style/style_class.txt found; expected the ArtGAN split files")
            continue
        classes = read_artgan_classes(_find_file(folder, f"{task}_class"))
        parts = []
        for split in ("train", "val"):
            part = read_artgan_split(_find_file(folder, f"{task}_{split}"), classes)
            part[f"{task}_split"] = split
            parts.append(part)
        table = pd.concat(parts, ignore_index=True).rename(columns={"label": task})
        tables[task] = table.drop_duplicates("path")
    merged = tables["style"]
    for task in ("genre", "artist"):
        if task in tables:
            merged = merged.merge(tables[task], on="path", how="left")
    parsed = merged["path"].map(parse_wikiart_filename)
    merged["artist_name"] = [p[0] for p in parsed]
    merged["title"] = [p[1] for p in parsed]
    merged["date"] = pd.array([p[2] for p in parsed], dtype="Int64")
    merged["split"] = merged.pop("style_split")
    merged.insert(0, "image_id", merged["path"].str.replace(r"\.[A-Za-z]+$", "", regex=True))
    return merged


def wikiart_records(image_root: Path, csv_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Rows of a WikiArt image tree labelled by the ArtGAN CSVs (found under the root or given)."""
    if csv_dir is None:
        for candidate in (image_root, image_root.parent, image_root / "wikiart-artgan"):
            if (candidate / "Style").is_dir():
                csv_dir = candidate
                break
        else:
            raise CatalogError(f"wikiart:{image_root}: ArtGAN CSVs not found next to the images; pass csv_dir=<folder with Style/, Genre/, Artist/>")
    table = read_artgan_tasks(csv_dir)
    # the artist task names 23 painters; the file name names every painter
    artist_task = table.pop("artist").str.replace("_", " ") if "artist" in table else None
    table["artist"] = artist_task.fillna(table["artist_name"]) if artist_task is not None else table["artist_name"]
    return table


# --- Best Artworks of All Time ---------------------------------------------------------------


def best_artworks_records(root: Path) -> tuple[pd.DataFrame, Path]:
    """Rows of the Kaggle collection: ``artists.csv`` plus ``images/<Artist_Name>/*.jpg``.

    The artist's ``genre`` column (e.g. "Impressionism,Post-Impressionism") is the movement, so
    it becomes ``style`` (first listed) and ``movements``; ``nationality`` and ``years`` are kept.
    """
    artists_csv = root / "artists.csv"
    if not artists_csv.is_file():
        raise CatalogError(f"best-artworks:{root}: artists.csv not found")
    artists = pd.read_csv(artists_csv)
    for column in ("name", "genre"):
        if column not in artists:
            raise CatalogError(f"{artists_csv}: column {column!r} missing; expected name, years, genre, nationality")
    images = next((p for p in (root / "images" / "images", root / "images", root / "resized" / "resized") if p.is_dir()), None)
    if images is None:
        raise CatalogError(f"best-artworks:{root}: no images/ folder")
    by_folder = {name.replace(" ", "_"): row for name, row in zip(artists["name"], artists.to_dict("records"))}
    rows = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        info = by_folder.get(folder.name) or by_folder.get(folder.name.replace("Albrecht_Du╠êrer", "Albrecht_Dürer"))
        if info is None:
            log.warning("best-artworks: folder %s matches no artist in artists.csv; skipped", folder.name)
            continue
        years = str(info.get("years", ""))
        first_year = re.search(r"\d{4}", years)
        for file in _image_files(folder):
            rows.append({
                "image_id": file.stem, "path": str(file.relative_to(root)), "artist": info["name"],
                "style": str(info["genre"]).split(",")[0].strip(), "movements": info["genre"],
                "nationality": info.get("nationality"), "years": years,
                "artist_born": int(first_year.group()) if first_year else None,
            })
    if not rows:
        raise CatalogError(f"best-artworks:{root}: no images found under {images.relative_to(root)}/<Artist_Name>/")
    return _records_frame(rows), root


# --- any CSV ---------------------------------------------------------------------------------


def csv_records(file: Path, path_column: str = "path") -> pd.DataFrame:
    """Rows from a CSV with a path column (relative to the CSV's folder, or absolute) and labels."""
    try:
        table = pd.read_csv(file)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CatalogError(f"{file}: not a readable CSV ({exc})") from None
    if path_column not in table:
        raise CatalogError(f"{file}: no column {path_column!r} with image paths; columns are {list(table.columns)} (set path_column)")
    table = table.rename(columns={path_column: "path"})
    if "image_id" not in table:
        table.insert(0, "image_id", table["path"].map(lambda p: str(Path(str(p)).with_suffix(""))))
    if "split" in table:
        table["split"] = table["split"].map(lambda s: SPLIT_ALIASES.get(str(s).lower(), s) if pd.notna(s) else s)
    found = [c for c in LABEL_COLUMNS if c in table]
    log.info("%s: label columns %s", file.name, found)
    return table


def describe(dataset: str, n_images: int = 2000, image_size: int = 256, seed: int = 0) -> str:
    """One line naming the collection a table was computed on, for printing above it."""
    kind, _, location = dataset.partition(":")
    if kind == "synthetic":
        return f"procedural-art benchmark (n_images={n_images}, image_size={image_size}, seed={seed})"
    return f"{kind} collection '{Path(location).name}'"
