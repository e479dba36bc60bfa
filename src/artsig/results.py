"""Tidy result tables: every chapter writes its tables the same way, as Parquet and CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def save_table(frame: pd.DataFrame, folder: str | os.PathLike, name: str) -> Path:
    """Write ``frame`` as ``<folder>/<name>.parquet`` and ``.csv``; return the Parquet path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.parquet"
    frame.to_parquet(target, index=False)
    frame.to_csv(folder / f"{name}.csv", index=False)
    return target
