"""A chapter's one setup call, and tables and figures as the book shows them."""

import random
import warnings

import numpy as np
import pandas as pd
import pytest

from artsig import chapter


@pytest.fixture
def restore_pandas():
    width, precision = pd.get_option("display.width"), pd.get_option("display.precision")
    yield
    pd.set_option("display.width", width)
    pd.set_option("display.precision", precision)


def test_start_creates_the_folders_and_sets_display(tmp_path, restore_pandas):
    ch = chapter.start("demo", "synthetic", tmp_path / "results", data_dir=tmp_path / "data", cache="clustering",
                       figures=True, display={"width": 133, "precision": 2})
    assert ch.out == tmp_path / "results" / "synthetic" / "demo" and ch.out.is_dir()
    assert ch.figures == ch.out / "figures" and ch.figures.is_dir()
    assert ch.cache == tmp_path / "data" / "cache" / "clustering" and ch.cache.is_dir()
    assert ch.backend is None
    assert pd.get_option("display.width") == 133 and pd.get_option("display.precision") == 2


def test_start_without_figures_or_cache_makes_neither(tmp_path):
    ch = chapter.start("demo", "synthetic", tmp_path)
    assert ch.figures is None and ch.cache is None
    assert not (ch.out / "figures").exists()


def test_start_seeds_like_determinism_configure(tmp_path):
    chapter.start("demo", "synthetic", tmp_path, seed=3)
    drawn = (random.random(), np.random.rand())
    random.seed(3)
    np.random.seed(3)
    assert drawn == (random.random(), np.random.rand())


def test_start_without_seed_leaves_generators_alone(tmp_path):
    np.random.seed(11)
    expected = np.random.rand()
    np.random.seed(11)
    chapter.start("demo", "synthetic", tmp_path)
    assert np.random.rand() == expected


def test_start_silences_only_the_asked_warnings(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chapter.start("demo", "synthetic", tmp_path, ignore=(FutureWarning,))
        warnings.warn("old", FutureWarning)
        warnings.warn("kept", UserWarning)
    assert [str(w.message) for w in caught] == ["kept"]


def test_start_refuses_an_unknown_framework(tmp_path):
    with pytest.raises(ValueError, match="framework='jax'"):
        chapter.start("demo", "synthetic", tmp_path, seed=0, framework="jax")


def test_table_text_is_the_printed_text_and_html_is_a_table():
    frame = pd.DataFrame({"method": ["a", "b"], "nmi": [0.123, 0.5]})
    table = chapter.Table(frame, index=False)
    assert repr(table) == frame.to_string(index=False)
    html = table._repr_html_()
    assert html.count("<tr") == 3 and "0.123" in html and "<th>method</th>" in html


def test_series_table_has_no_header_row():
    settings = pd.Series({"images": 10, "seed": 0}, dtype=object)
    table = chapter.Table(settings)
    assert repr(table) == settings.to_string()
    html = table._repr_html_()
    assert html.count("<tr") == 2 and "<thead" not in html


def test_show_figure_glues_the_figure_and_closes_it(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from myst_nb.ext import glue as glue_module

    shown = []
    monkeypatch.setattr(glue_module, "ipy_display", lambda data, raw, metadata: shown.append((data, metadata)))
    fig, ax = plt.subplots()
    chapter.show_figure("fig-demo", ax)
    assert not plt.fignum_exists(fig.number)
    data, metadata = shown[0]
    assert metadata["scrapbook"] == {"name": "fig-demo", "mime_prefix": ""}  # shown, not hidden
    assert "Figure" in data["text/plain"]  # (image/png is added by the notebook kernel's formatter)


@pytest.mark.slow
def test_in_a_notebook_a_figure_shows_once_glued_and_a_table_as_html_and_text(tmp_path):
    """What the book reads: one glued PNG per figure (no second copy from the inline backend),
    and a table output with both HTML and the printed text."""
    import nbformat
    from nbclient import NotebookClient

    code = ("import matplotlib.pyplot as plt\nimport pandas as pd\nfrom artsig.chapter import show_figure, show_table\n"
            "fig, ax = plt.subplots()\nax.plot([0, 1])\nshow_figure('fig-x', fig)\n"
            "show_table(pd.DataFrame({'a': [1.5]}), index=False)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and pngs[0].metadata["scrapbook"]["name"] == "fig-x"
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) == 1
    assert tables[0].data["text/plain"] == pd.DataFrame({"a": [1.5]}).to_string(index=False)
    assert "<table" in tables[0].data["text/html"]


def test_notebooks_follow_the_page_conventions():
    """Each chapter: a hidden setup cell calling chapter.start; every glued figure has its numbered
    caption (same name, once in the book) and a cell whose own output the page drops."""
    import re
    from pathlib import Path

    import nbformat

    names = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        setup = code[1]
        assert "chapter.start(" in setup.source and "remove-input" in setup.metadata.get("tags", []), path.name
        glued = []
        for cell in code:
            found = re.findall(r'show_figure\("([^"]+)"', cell.source)
            assert not found or "remove-output" in cell.metadata.get("tags", []), (path.name, found)
            glued += found
        captions = [n for c in nb.cells if c.cell_type == "markdown" for n in re.findall(r"\{glue:figure\} (\S+)", c.source)]
        assert glued == captions, path.name
        names += glued
    assert names and len(names) == len(set(names))


def test_the_benchmark_runs_on_pinned_torch_kernels_and_a_real_collection_on_the_fast_engine(tmp_path, monkeypatch):
    from artsig import chapter, inference

    monkeypatch.delenv(inference.ENGINE_ENV, raising=False)
    monkeypatch.setattr(inference, "onnx_available", lambda: True)
    try:
        chapter.start("x", "synthetic", tmp_path)
        assert inference.resolve_engine("auto", "cpu") == "torch"
        chapter.start("x", "folder:/somewhere", tmp_path)
        assert inference.resolve_engine("auto", "cpu") == "onnx"
        assert inference.resolve_engine("auto", "cuda") == "torch"
        monkeypatch.setenv(inference.ENGINE_ENV, "torch")
        assert inference.resolve_engine("auto", "cpu") == "torch"
    finally:
        inference.use_engine(None)
