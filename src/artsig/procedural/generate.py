"""The benchmark collection: plan the works, render them in parallel, cache them in a folder.

`generate_benchmark(root, count, size, seed)` writes root/images/<image_id>.jpg,
root/metadata.csv, root/links.csv and root/spec.json, and returns the two tables. The plan
(who painted what, when, in which palette, which works share a motif) depends only on
(count, seed); every image is seeded from (seed, index), so the output is byte-identical
whatever the number of workers. A folder holding the same spec is reused as it is.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from itertools import combinations
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from artsig.locks import file_lock
from artsig.procedural.artists import artists_of
from artsig.procedural.motifs import assign_families, base_view
from artsig.procedural.palettes import PALETTE_NAMES
from artsig.procedural.render import WorkSpec, encode_jpeg, render_spec
from artsig.procedural.styles import STYLES

#: Bump when the generator's output changes: a cached folder of another version is refused.
GENERATOR_VERSION = 1
JPEG_QUALITY = 90

#: Raw shares of the genres and styles: deliberately imbalanced (rarest ~3x rarer than commonest).
GENRE_WEIGHTS: dict[str, float] = {"landscape": 0.25, "portrait": 0.21, "seascape": 0.13, "still_life": 0.12,
                                   "cityscape": 0.12, "interior": 0.09, "abstract": 0.08}
STYLE_WEIGHTS: dict[str, float] = {"impressionism": 0.20, "realism": 0.19, "watercolour": 0.13, "expressionism": 0.12,
                                   "pop_art": 0.10, "ink_hatching": 0.10, "cubism": 0.09, "pointillism": 0.07}
MOTIF_FRACTION = 0.12
FAVOURITE_PALETTE = 0.65  # chance a work uses one of its artist's favourite palettes
_FAVOURITE_P = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
METADATA_COLUMNS = ["image_id", "file", "artist", "style", "genre", "date", "motif", "motif_transform", "palette"]
LINK_COLUMNS = ["image_id_a", "image_id_b", "type"]


def _quota(weights: dict[str, float], count: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly apportioned labels (largest remainder), shuffled."""
    names = list(weights)
    w = np.array([weights[n] for n in names], float)
    raw = w / w.sum() * count
    n = np.floor(raw).astype(int)
    n[np.argsort(-(raw - n), kind="stable")[: count - n.sum()]] += 1
    return rng.permutation(np.repeat(np.array(names, dtype=object), n))


def plan_works(count: int, seed: int) -> tuple[list[dict], list[list[int]]]:
    """The plan of every work (labels, date, palette, seeds, view) and the motif families."""
    rng = np.random.default_rng([seed, 0])
    genres = _quota(GENRE_WEIGHTS, count, rng)
    styles = _quota(STYLE_WEIGHTS, count, rng)
    artists = np.empty(count, dtype=object)
    for style in STYLES:
        idx = np.flatnonzero(styles == style)
        arts = artists_of(style)
        artists[idx] = _quota({a.name: a.share for a in arts}, len(idx), rng)
    works = []
    for i in range(count):
        art = next(a for a in artists_of(styles[i]) if a.name == artists[i])
        if rng.random() < FAVOURITE_PALETTE:
            palette = str(rng.choice(art.palettes, p=_FAVOURITE_P))
        else:
            palette = str(rng.choice(PALETTE_NAMES))
        works.append(dict(index=i, genre=str(genres[i]), style=str(styles[i]), artist=art.name,
                          date=int(rng.integers(art.start, art.end + 1)), palette=palette,
                          composition_key=(seed, 1, i), palette_key=(seed, 2, i), render_key=(seed, 3, i),
                          view=base_view(rng), motif=None, motif_transform=None))
    families = assign_families(works, rng, MOTIF_FRACTION)
    return works, families


def image_id(index: int) -> str:
    """Identifier of the work at `index` ("pa00001" for index 0)."""
    return f"pa{index + 1:05d}"


def work_spec(work: dict) -> WorkSpec:
    """The rendering specification of a planned work."""
    return WorkSpec(work["genre"], work["style"], work["artist"], work["palette"], tuple(work["composition_key"]),
                    tuple(work["palette_key"]), tuple(work["render_key"]), work["view"])


def tables(works: list[dict], families: list[list[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metadata (one row per work) and links (every pair within a family, POSITIVE)."""
    rows = [dict(image_id=image_id(w["index"]), file=f"images/{image_id(w['index'])}.jpg", artist=w["artist"],
                 style=w["style"], genre=w["genre"], date=w["date"], motif=w["motif"],
                 motif_transform=w["motif_transform"], palette=w["palette"]) for w in works]
    metadata = pd.DataFrame(rows, columns=METADATA_COLUMNS)
    pairs = [(image_id(a), image_id(b), "POSITIVE") for fam in families for a, b in combinations(sorted(fam), 2)]
    links = pd.DataFrame(pairs, columns=LINK_COLUMNS).sort_values(["image_id_a", "image_id_b"], ignore_index=True)
    return metadata, links


# --------------------------------------------------------------------------- rendering
def _write_atomic(path: Path, data: bytes) -> None:
    """Write one image through the store's atomic writer (no lock: each worker owns its files)."""
    from artsig.store import atomic_write

    atomic_write(path, lambda tmp: tmp.write_bytes(data), lock=False)


def _render_chunk(jobs: list[tuple[WorkSpec, int, str]]) -> int:
    """Worker: render and write a chunk of works (spec, size, path)."""
    for spec, size, path in jobs:
        _write_atomic(Path(path), encode_jpeg(render_spec(spec, size), JPEG_QUALITY))
    return len(jobs)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _render_all(jobs: list[tuple[WorkSpec, int, str]], n_jobs: int, progress: bool) -> None:
    from tqdm import tqdm  # a text bar: no widget warning (with this machine's path) on the page

    bar = tqdm(total=len(jobs), desc="procedural benchmark", unit="img", disable=not progress)
    try:
        if n_jobs <= 1 or len(jobs) < 32:
            import cv2

            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for job in jobs:
                    bar.update(_render_chunk([job]))
            finally:
                cv2.setNumThreads(threads)
            return
        chunk = 8
        chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
        with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            for done in pool.map(_render_chunk, chunks):
                bar.update(done)
    finally:
        bar.close()


# --------------------------------------------------------------------------- cache
def _spec(count: int, size: int, seed: int) -> dict:
    return {"generator": "artsig.procedural", "version": GENERATOR_VERSION, "count": count, "size": size,
            "seed": seed, "jpeg_quality": JPEG_QUALITY}


def read_benchmark(root: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metadata and links tables of a generated benchmark folder."""
    root = Path(root)
    metadata = pd.read_csv(root / "metadata.csv", dtype={"image_id": str, "file": str, "artist": str, "style": str,
                                                         "genre": str, "date": int, "motif": str,
                                                         "motif_transform": str, "palette": str})
    links = pd.read_csv(root / "links.csv", dtype=str)
    return metadata, links


def _check_args(count: int, size: int, seed: int, n_jobs: int | None) -> None:
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"size must be an integer of at least 32 pixels, got {size!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ValueError(f"n_jobs must be None or a positive integer, got {n_jobs!r}")


def _check_drawn_by_this_generator(root: Path, count: int, size: int, seed: int, probes: int = 2) -> None:
    """Refuse a complete folder whose tables or first images differ from what this code draws.

    The spec only records GENERATOR_VERSION; a generator changed without bumping it would
    otherwise hand back stale images and numbers that no longer match the book. Checking the
    two tables and ``probes`` images byte for byte costs well under a second.
    """
    works, families = plan_works(count, seed)
    metadata, links = tables(works, families)
    stale = [name for name, table in (("metadata.csv", metadata), ("links.csv", links))
             if (root / name).read_bytes() != table.to_csv(index=False).encode()]
    for work, file in list(zip(works, metadata["file"]))[:probes]:
        path = root / file
        if path.exists() and path.read_bytes() != encode_jpeg(render_spec(work_spec(work), size), JPEG_QUALITY):
            stale.append(file)
    if stale:
        raise FileExistsError(f"{root} was drawn by another version of the procedural generator ({', '.join(stale)} "
                              f"differ from what this version draws, although spec.json says version {GENERATOR_VERSION}); "
                              f"refusing to use or overwrite it. Remove the folder to regenerate it, or choose another data_dir.")


def generate_benchmark(root: str | os.PathLike, count: int = 2000, size: int = 256, seed: int = 0,
                       n_jobs: int | None = None, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate (or reuse) the procedural-art benchmark in `root`; returns (metadata, links).

    metadata: image_id, file (relative to root), artist, style, genre, date (int), motif
    (family id like "m003", missing when none), motif_transform (original / copy / mirror /
    crop / rescale / restyle, missing when none), palette. links: image_id_a, image_id_b,
    type ("POSITIVE"), every pair within a motif family.
    A folder that holds the same spec is reused (missing images are re-rendered); one with
    another spec, or with files that are not a benchmark, is refused, never overwritten.
    Note: read the style column as metadata["style"] (metadata.style is pandas' Styler).
    """
    _check_args(count, size, seed, n_jobs)
    root = Path(root)
    with file_lock(root):  # a second run waits for the first, then reuses what it drew
        return _generate(root, int(count), int(size), int(seed), n_jobs, progress)


def _generate(root: Path, count: int, size: int, seed: int, n_jobs: int | None, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = _spec(count, size, seed)
    spec_path = root / "spec.json"
    images = root / "images"
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"benchmark root {root} exists and is not a folder")
    if spec_path.exists():
        try:
            found = json.loads(spec_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise FileExistsError(f"{spec_path} is not a readable benchmark spec ({err}); refusing to overwrite "
                                  f"{root}. Remove the folder or choose another root.") from None
        complete = bool(found.pop("complete", False))
        if found != spec:
            diff = {k: (found.get(k), spec.get(k)) for k in set(found) | set(spec) if found.get(k) != spec.get(k)}
            raise FileExistsError(f"{root} holds a procedural benchmark with another spec "
                                  f"(found vs requested: {diff}); refusing to overwrite it. Remove the folder or "
                                  f"choose another root.")
        if complete and (root / "metadata.csv").exists() and (root / "links.csv").exists():
            _check_drawn_by_this_generator(root, count, size, seed)
            metadata, links = read_benchmark(root)
            present = set(os.listdir(images)) if images.is_dir() else set()
            if all(Path(f).name in present for f in metadata["file"]):
                return metadata, links
    elif root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no benchmark spec.json (user files?); refusing to "
                              f"write the procedural benchmark there. Choose an empty or new folder.")
    images.mkdir(parents=True, exist_ok=True)
    _write_atomic(spec_path, json.dumps({**spec, "complete": False}, indent=2).encode())
    works, families = plan_works(count, seed)
    metadata, links = tables(works, families)
    present = set(os.listdir(images))
    jobs = [(work_spec(w), size, str(root / f)) for w, f in zip(works, metadata["file"]) if Path(f).name not in present]
    _render_all(jobs, n_jobs or os.cpu_count() or 1, progress)
    _write_atomic(root / "metadata.csv", metadata.to_csv(index=False).encode())
    _write_atomic(root / "links.csv", links.to_csv(index=False).encode())
    _write_atomic(spec_path, json.dumps({**spec, "complete": True}, indent=2).encode())
    return read_benchmark(root)
