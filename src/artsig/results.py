"""Tidy result tables: every chapter writes its tables the same way, as Parquet and CSV (atomically, through the store)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from artsig import store


def save_table(frame: pd.DataFrame, folder: str | os.PathLike, name: str) -> Path:
    """Write ``frame`` as ``<folder>/<name>.parquet`` and ``.csv``; return the Parquet path.

    Each file is replaced in one step (no lock file: a run's results folder is its own)."""
    folder = Path(folder)
    store.save_frame(folder / f"{name}.csv", frame, lock=False)
    return store.save_frame(folder / f"{name}.parquet", frame, lock=False)
