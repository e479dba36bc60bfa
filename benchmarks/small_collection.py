"""Build the small folder collection a user reported (about 200 images, 27 classes of 6-9 works)
from the development set, to run the whole book on it.

    .venv/bin/python benchmarks/small_collection.py OUT_DIR [--works ../shared/data/peopleart-pd/works.csv]
    .venv/bin/python -m artsig book --dataset folder:OUT_DIR --no-build --set data_dir=$PWD/data

The classes are the 27 artists of peopleart-pd with the most works among those with 6 to 9
(ties by name): 197 paintings, laid out as ``OUT_DIR/<artist>/<file>``. Files are hard links
to the development set where the file system allows, copies otherwise (a symbolic link would
point outside the collection, and the scan skips such files). Deterministic: the same
development set gives the same folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pandas as pd

DEFAULT_WORKS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "peopleart-pd" / "works.csv"
N_CLASSES, MIN_WORKS, MAX_WORKS = 27, 6, 9


def choose_works(works: pd.DataFrame, n_classes: int = N_CLASSES, min_works: int = MIN_WORKS, max_works: int = MAX_WORKS) -> pd.DataFrame:
    """The works of the ``n_classes`` artists with the most works among those with ``min_works``
    to ``max_works`` (ties by name), sorted by artist and path."""
    counts = works["artist"].value_counts()
    eligible = counts[(counts >= min_works) & (counts <= max_works)]
    if len(eligible) < n_classes:
        raise SystemExit(f"only {len(eligible)} artists have {min_works}-{max_works} works; need {n_classes}")
    ranked = sorted(eligible.items(), key=lambda item: (-item[1], item[0]))[:n_classes]
    chosen = works[works["artist"].isin([name for name, _ in ranked])]
    return chosen.sort_values(["artist", "path"]).reset_index(drop=True)


def place(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source``, or a copy where links cannot be made."""
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build(out_dir: str | os.PathLike, works_csv: str | os.PathLike = DEFAULT_WORKS) -> pd.DataFrame:
    """Write ``out_dir/<artist>/<file>`` for the chosen works; returns them with their new paths."""
    works_csv = Path(works_csv).resolve()
    works = pd.read_csv(works_csv)
    chosen = choose_works(works)
    out_dir = Path(out_dir)
    targets = []
    for artist, rel in zip(chosen["artist"], chosen["path"]):
        target = out_dir / artist / Path(rel).name
        target.parent.mkdir(parents=True, exist_ok=True)
        place(works_csv.parent / rel, target)
        targets.append(str(target))
    return chosen.assign(target=targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--works", default=str(DEFAULT_WORKS), help="the development set's works.csv")
    args = parser.parse_args()
    chosen = build(args.out_dir, args.works)
    sizes = chosen["artist"].value_counts()
    print(f"{len(chosen)} images in {len(sizes)} classes ({sizes.min()}-{sizes.max()} per class) -> {args.out_dir}")


if __name__ == "__main__":
    main()
