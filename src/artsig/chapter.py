"""One setup call per notebook, and how a chapter shows its tables and figures on the page.

``start`` does what every chapter's setup cell used to spell out (seeds and threads through
:mod:`artsig.determinism`, pandas display options, warning filters, the results, figures and
cache folders), so the cell the book hides is one line. ``show_table`` and ``show_figure`` make
a table render as HTML in the book while nbval still compares its text, and a figure carry a
numbered, cross-referenceable caption (myst-nb ``glue``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from artsig import determinism, inference, paths, profiles

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FRAMEWORKS = (None, "torch", "tensorflow")


@dataclass(frozen=True)
class Chapter:
    """The folders and the compute backend a chapter's later cells use."""

    name: str
    out: Path
    figures: Path | None = None
    cache: Path | None = None
    backend: str | None = None
    profile: str = "quick"
    dataset: str = "synthetic"

    @property
    def full(self) -> bool:
        """Whether this run works at full strength (a real collection, or ``profile="full"``)."""
        return self.profile == "full"

    @property
    def benchmark(self) -> bool:
        """Whether this run is on the procedural benchmark."""
        return profiles.is_benchmark(self.dataset)


def start(
    name: str,
    dataset: str,
    results_dir: str | os.PathLike = "../results",
    *,
    profile: str = "auto",
    data_dir: str | os.PathLike = "../data",
    seed: int | None = None,
    threads: int | None = None,
    framework: str | None = None,
    device: str = "auto",
    cache: str | None = None,
    figures: bool = False,
    display: dict | None = None,
    ignore: tuple[type[Warning], ...] = (),
) -> Chapter:
    """Set a chapter up in one call: seed and pin threads, set pandas display options, silence
    the ``ignore`` warning categories, create its results (and figures, cache) folder.

    ``profile`` (auto | quick | full, see :mod:`artsig.profiles`) is resolved for ``dataset`` into
    ``Chapter.profile``. ``seed=None`` seeds nothing. ``framework="torch"`` imports torch before seeding so it is
    configured too; ``"tensorflow"`` also fixes TensorFlow's thread pools and devices and
    returns the device it runs on as ``backend``.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework={framework!r}: expected one of {FRAMEWORKS}")
    resolved = profiles.resolve(profile, dataset)
    # the benchmark's checked numbers come from torch's pinned kernels; real collections get ONNX Runtime
    inference.use_engine("torch" if profiles.is_benchmark(dataset) else None)
    for category in ignore:
        warnings.filterwarnings("ignore", category=category)
    for option, value in (display or {}).items():
        pd.set_option(f"display.{option}", value)
    backend = _seed(seed, threads, framework, device)
    out = paths.run_dir(dataset, results_dir, name)
    figures_dir = out / "figures" if figures else None
    if figures_dir is not None:
        figures_dir.mkdir(exist_ok=True)
    cache_dir = paths.cache_dir(data_dir, cache) if cache else None
    return Chapter(name=name, out=out, figures=figures_dir, cache=cache_dir, backend=backend, profile=resolved, dataset=dataset)


def _seed(seed: int | None, threads: int | None, framework: str | None, device: str) -> str | None:
    """Seed and pin threads the way the chapter's framework needs; the TensorFlow device or None."""
    if seed is None:
        return None
    if framework == "tensorflow":
        from artsig.classification import configure

        return configure(seed=seed, device=device, threads=threads)
    if framework == "torch":
        import torch  # noqa: F401  (imported first, so configure() sets it up too)
    determinism.configure(seed, n_threads=threads)
    return None


class Table:
    """A DataFrame or Series shown as an HTML table in the book and as its ``to_string`` text
    elsewhere (the text is what nbval compares, the same as the ``print`` it replaces)."""

    def __init__(self, frame: pd.DataFrame | pd.Series, index: bool = True):
        self.frame = frame
        self.index = index

    def __repr__(self) -> str:
        return self.frame.to_string(index=self.index)

    def _repr_html_(self) -> str:
        if isinstance(self.frame, pd.Series):  # a list of settings: names and values, no header
            return self.frame.to_frame().to_html(index=self.index, header=False, classes="artsig-table", border=0)
        return self.frame.to_html(index=self.index, classes="artsig-table", border=0)


def show_table(frame: pd.DataFrame | pd.Series, index: bool = True) -> None:
    """Display ``frame`` as a table: HTML on the page, its ``to_string`` text for nbval."""
    from IPython.display import display

    display(Table(frame, index=index))


def show_figure(name: str, figure: Figure | Axes) -> None:
    """Show ``figure`` once and glue it under ``name`` for a numbered ``{glue:figure}`` caption.

    The cell keeps the figure as its output (visible in Jupyter); its cell is tagged
    ``remove-output`` so that the book shows it only where the caption places it.
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    figure = getattr(figure, "figure", figure)  # an Axes gives its Figure
    glue(name, figure, display=True)
    plt.close(figure)
