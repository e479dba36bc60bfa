"""Where data, caches and a run's results live.

Notebooks run with the notebooks folder as working directory, so the defaults are relative
to it (``../data``, ``../results``); every function accepts absolute paths too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def dataset_slug(dataset: str) -> str:
    """A short, filesystem-safe name for a dataset spec ("folder:/x/paintings" -> "folder-paintings")."""
    kind, _, location = dataset.partition(":")
    name = Path(location.rstrip("/")).name if location else ""
    slug = f"{kind}-{name}" if name else kind
    return re.sub(r"[^A-Za-z0-9._-]+", "-", slug).strip("-").lower() or "dataset"


def run_dir(dataset: str, results_root: str | os.PathLike = "../results", chapter: str | None = None) -> Path:
    """The results folder of one dataset (and one chapter), created if missing."""
    path = Path(results_root) / dataset_slug(dataset)
    if chapter:
        path = path / chapter
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(data_dir: str | os.PathLike = "../data", kind: str = "cache") -> Path:
    """A cache folder under the data folder (``data/cache/<kind>``), created if missing: :func:`artsig.store.cache_dir`."""
    from artsig.store import cache_dir as store_cache_dir

    return store_cache_dir(data_dir, kind)


def display_path(path: str | os.PathLike, start: str | os.PathLike | None = None) -> str:
    """A path as a reader should see it: relative to ``start`` (cwd) when below it, else its name."""
    path = Path(path).resolve()
    start = Path(start or os.getcwd()).resolve()
    for base in (start, *start.parents[:1]):
        try:
            rel = path.relative_to(base)
            return str(rel) if base == start else str(Path("..") / rel)
        except ValueError:
            continue
    home = Path.home()
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)
