"""Figures for the book: one submodule per area; ``common`` holds montages and bar charts."""

from artsig.plots.common import class_bars, montage, montage_by

__all__ = ["class_bars", "montage", "montage_by"]
