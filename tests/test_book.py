"""The book runner: parameter files, overrides, and that params.yml matches the notebooks."""

from pathlib import Path

import pytest
import yaml

from artsig.__main__ import main
from artsig.book import BookError, chapters, load_params, notebook_parameters, parse_value

ROOT = Path(__file__).resolve().parents[1]


def test_toc_chapters_exist_as_notebooks():
    names = chapters(ROOT)
    assert names and names[0] == "01_data"
    for name in names:
        assert (ROOT / "notebooks" / f"{name}.ipynb").is_file(), name


def test_params_file_defaults_equal_notebook_defaults():
    """book/params.yml and each notebook's parameters cell must agree, so the book and nbval see one run."""
    import papermill

    params = load_params(ROOT / "book" / "params.yml")
    for name in chapters(ROOT):
        declared = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
        for key, value in notebook_parameters(params, name, set(declared)).items():
            default = declared[key]["default"]
            assert yaml.safe_load(default) == value or eval(default) == value, f"{name}: {key} = {default} in the notebook, {value!r} in params.yml"


def test_overrides_reach_shared_and_single_notebooks(tmp_path):
    file = tmp_path / "params.yml"
    file.write_text(yaml.safe_dump({"shared": {"seed": 0, "dataset": "synthetic"}, "notebooks": {"02_x": {"top_k": 3, "seed": 5}}}))
    params = load_params(file, {"seed": 7, "02_x.top_k": 4, "dataset": "folder:/p"})
    assert params["shared"] == {"seed": 7, "dataset": "folder:/p"}
    assert params["notebooks"]["02_x"] == {"top_k": 4, "seed": 7}
    assert notebook_parameters(params, "02_x", {"seed", "top_k"}) == {"seed": 7, "top_k": 4}
    with pytest.raises(BookError, match="no parameter"):
        notebook_parameters(params, "02_x", {"seed"})


def test_bad_params_file_is_one_clear_error(tmp_path):
    with pytest.raises(BookError, match="not found"):
        load_params(tmp_path / "nope.yml")
    (tmp_path / "p.yml").write_text("shared: {}\nchapters: {}\n")
    with pytest.raises(BookError, match="unknown top-level"):
        load_params(tmp_path / "p.yml")


def test_values_parse_as_yaml():
    assert parse_value("3") == 3 and parse_value("[1, 2]") == [1, 2] and parse_value("none") is None and parse_value("a:b") == "a:b"


def test_cli_reports_bad_set_without_traceback(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["book", "--set", "novalue"]) == 2
    assert "expected key=value" in capsys.readouterr().err


@pytest.mark.slow
def test_a_chapter_that_cannot_run_never_stops_the_others(tmp_path):
    """ChapterSkipped and CatalogError make a page that says why; an unexpected error makes a page
    saying so, the next chapters still run, and the failure is raised once every chapter ran."""
    import nbformat

    from artsig.book import ChaptersFailed, execute

    (tmp_path / "notebooks").mkdir()
    names = ["a", "b", "c", "d"]
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n" + "".join(f"- file: book/chapters/{n}\n" for n in names))
    bodies = {"a": "from artsig.book import ChapterSkipped\nraise ChapterSkipped('no genre column')",
              "b": "from artsig.catalog import CatalogError\nraise CatalogError('label=\\'style\\': lower min_per_class')",
              "c": "1 / 0", "d": "print('ran')"}
    for name, body in bodies.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                                             nbformat.v4.new_code_cell(body), nbformat.v4.new_code_cell("print('never')")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    said = []
    with pytest.raises(ChaptersFailed, match="c.ipynb failed in cell 2 \\(ZeroDivisionError") as failed:
        execute(tmp_path, {"shared": {}, "notebooks": {}}, log=said.append)
    assert len(failed.value.failures) == 1 and len(failed.value.written) == 4
    assert any("a skipped: no genre column" in line for line in said)
    pages = {n: nbformat.read(tmp_path / "book" / "chapters" / f"{n}.ipynb", as_version=4) for n in names}
    assert "skipped for this collection: no genre column" in pages["a"].cells[1].source
    assert "lower min_per_class" in pages["b"].cells[1].source
    assert "stopped with an error: ZeroDivisionError" in pages["c"].cells[1].source
    for name in "abc":
        assert not any(o.get("output_type") == "error" for c in pages[name].cells if c.cell_type == "code" for o in c.outputs)
        assert "print('never')" not in [c.source for c in pages[name].cells]
    assert "ran" in pages["d"].cells[2].outputs[0]["text"]


def test_reference_runs_stop_at_the_first_error(tmp_path):
    import nbformat

    from artsig.book import ChaptersFailed, execute

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/chapters/a\n- file: book/chapters/b\n")
    for name, body in {"a": "1 / 0", "b": "print('ran')"}.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(body)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    with pytest.raises(BookError, match="a.ipynb failed") as failed:
        execute(tmp_path, {"shared": {}, "notebooks": {}}, reference=True, log=lambda *_: None)
    assert not isinstance(failed.value, ChaptersFailed)
    assert not nbformat.read(tmp_path / "notebooks" / "b.ipynb", as_version=4).cells[0].get("outputs")


def test_relative_dataset_paths_are_resolved_from_where_the_user_stands(tmp_path, monkeypatch):
    from artsig.datasets import absolute_dataset

    monkeypatch.chdir(tmp_path)
    assert absolute_dataset("csv:../data/works.csv") == f"csv:{tmp_path.parent / 'data' / 'works.csv'}"
    assert absolute_dataset("folder:paintings") == f"folder:{tmp_path / 'paintings'}"
    assert absolute_dataset("folder:/abs/x") == "folder:/abs/x"
    assert absolute_dataset("synthetic") == "synthetic"


def test_require_labels():
    import pandas as pd

    from artsig.book import ChapterSkipped, require_labels

    frame = pd.DataFrame({"style": ["a"], "genre": [None]})
    require_labels(frame, ["style"], "x")
    with pytest.raises(ChapterSkipped, match="genre"):
        require_labels(frame, ["style", "genre"], "needs both")


def test_relative_paths_strip_the_machine_from_papermill_metadata(tmp_path):
    import nbformat

    from artsig.book import relative_paths

    path = tmp_path / "notebooks" / "01_x.ipynb"
    path.parent.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": str(path), "output_path": str(path), "parameters": {}}
    nbformat.write(nb, str(path))
    relative_paths(path, tmp_path)
    meta = nbformat.read(str(path), as_version=4).metadata["papermill"]
    assert meta["input_path"] == meta["output_path"] == "notebooks/01_x.ipynb"


def _checked(overrides):
    from artsig.book import checked_params

    declared = {"01_data": {"dataset", "data_dir", "seed", "label_column", "label", "top_k", "per_class", "min_per_class"},
                "02_classification": {"dataset", "label", "epochs", "models"}}
    return checked_params(ROOT, ROOT / "book" / "params.yml", overrides, declared)


@pytest.mark.parametrize("override, message", [
    ({"csv_dirr": "/x"}, r"--set csv_dirr: unknown parameter; accepted keys are .*csv_dir"),
    ({"01_data.top_k": 0}, r"--set 01_data.top_k=0: expected a positive integer"),
    ({"01_data.per_class": -1}, r"--set 01_data.per_class=-1: expected a positive integer or none"),
    ({"top_k": "many"}, r"--set top_k='many': expected an integer"),
    ({"label": "colour"}, r"--set label='colour': not a label column; expected one of artist, style, genre"),
    ({"01_data.nope": 1}, r"notebook 01_data has no parameter 'nope'; it takes"),
    ({"99_x.top_k": 1}, r"'99_x' is not a chapter"),
    ({"02_classification.models": "cnn"}, r"expected a list"),
    ({"dataset": "folder:/no/such/folder"}, r"/no/such/folder does not exist"),
    ({"csv_dir": "/no/such/csvs"}, r"--set csv_dir='/no/such/csvs': not a directory"),
    ({"seed": -3}, r"non-negative"),
])
def test_parameters_are_checked_before_any_work(override, message):
    with pytest.raises(BookError, match=message):
        _checked(override)


def test_empty_folder_dataset_is_refused_up_front(tmp_path):
    with pytest.raises(BookError, match="no sub-folders"):
        _checked({"dataset": f"folder:{tmp_path}"})
    (tmp_path / "style_a").mkdir()
    with pytest.raises(BookError, match="hold no files"):
        _checked({"dataset": f"folder:{tmp_path}"})


def test_loader_options_reach_the_kernels_environment(tmp_path):
    from artsig.book import loader_environment

    params = _checked({"csv_dir": str(tmp_path), "max_pixels": 2_000_000_000, "01_data.per_class": None, "01_data.top_k": 3})
    assert loader_environment(params) == {"ARTSIG_CSV_DIR": str(tmp_path), "ARTSIG_MAX_PIXELS": "2000000000"}


def test_cli_refuses_unknown_key_before_running_anything(capsys, monkeypatch):
    from artsig import book

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(book, "ensure_kernel", lambda: pytest.fail("work started despite a bad parameter"))
    assert main(["book", "--set", "csv_dirr=/data/csv"]) == 2
    assert "csv_dirr: unknown parameter" in capsys.readouterr().err


def _project_copy(folder: Path) -> Path:
    """A project root in ``folder`` whose notebooks link to the checkout's, so a run writes nothing here."""
    (folder / "notebooks").mkdir(parents=True)
    (folder / "book").mkdir()
    for name in ("_toc.yml", "book/params.yml"):
        (folder / name).write_bytes((ROOT / name).read_bytes())
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        (folder / "notebooks" / notebook.name).symlink_to(notebook)
    return folder


def _deny_locked_env(folder: Path) -> dict[str, str]:
    """Environment whose Python processes (the CLI and its kernel) cannot open files named ``locked*``, even as root."""
    import os

    folder.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(
        "import builtins, os\n"
        "_open = builtins.open\n"
        "def _guarded(file, *args, **kwargs):\n"
        "    if isinstance(file, (str, bytes, os.PathLike)) and os.path.basename(os.fsdecode(file)).startswith('locked'):\n"
        "        raise PermissionError(13, 'Permission denied', os.fsdecode(file))\n"
        "    return _open(file, *args, **kwargs)\n"
        "builtins.open = _guarded\n"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def _quality_rows(printed: str, files) -> list[str]:
    """Lines of the printed quality table, one per row (the first word is the file)."""
    return [line for line in printed.splitlines() if line.split() and line.split()[0] in files]


@pytest.mark.slow
def test_first_chapter_runs_on_a_folder_of_bad_files_beside_good_ones(tmp_path):
    """``artsig book --only 01_data`` on the fuzz folder: no traceback, each bad file named once with its reason
    in the chapter's quality table, every good file catalogued with the sizes and hashes it has alone."""
    import subprocess
    import sys

    import nbformat
    import pandas as pd

    from artsig.datasets import open_dataset
    from artsig.paths import dataset_slug
    from conftest import fuzz_collection

    expected = fuzz_collection(tmp_path / "mixed", with_bad=True)
    fuzz_collection(tmp_path / "clean", with_bad=False)
    clean = open_dataset(f"folder:{tmp_path / 'clean'}", data_dir=tmp_path / "clean-data", progress=False)
    project = _project_copy(tmp_path / "project")
    source = (ROOT / "notebooks" / "01_data.ipynb").read_bytes()
    dataset = f"folder:{tmp_path / 'mixed'}"
    command = [sys.executable, "-m", "artsig", "book", "--only", "01_data", "--no-build", "--dataset", dataset,
               "--set", f"data_dir={tmp_path / 'data'}", "--set", f"results_dir={tmp_path / 'results'}", "--set", "device=cpu",
               "--set", "01_data.top_k=2", "--set", "01_data.min_per_class=2"]
    run = subprocess.run(command, cwd=project, env=_deny_locked_env(tmp_path / "site"), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr

    executed = nbformat.read(project / "book" / "chapters" / "01_data.ipynb", as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    assert not [t for t in texts if "Traceback" in t]
    # the quality cell prints its count and shows the table (show_table: text/plain is its to_string)
    quality_cell = next(c for c in executed.cells if c.cell_type == "code" and "data-quality issue(s)" in c.source)
    printed = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in quality_cell.outputs)
    assert f"{len(expected)} data-quality issue(s)" in printed
    rows = _quality_rows(printed, expected)
    assert sorted(line.split()[0] for line in rows) == sorted(expected)  # each bad file exactly once
    for line in rows:
        assert expected[line.split()[0]] in line, line

    out = tmp_path / "results" / dataset_slug(dataset) / "data"
    quality = pd.read_parquet(out / "quality.parquet")
    assert dict(zip(quality["file"], quality["issue"])) == expected and quality["file"].is_unique
    catalog = pd.read_parquet(out / "catalog.parquet")
    repaired = {"cubism/café", "cubism/animated", "cubism/pages", "baroque/b9-copy"}
    assert set(catalog["image_id"]) == set(clean["image_id"]) | repaired
    columns = ["image_id", "style", "width", "height", "sha256"]
    kept = catalog[catalog["image_id"].isin(clean["image_id"])].sort_values("image_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[columns], clean.sort_values("image_id").reset_index(drop=True)[columns], check_dtype=False)
    assert (ROOT / "notebooks" / "01_data.ipynb").read_bytes() == source  # the checkout's notebook is untouched


def test_check_markers_are_stripped_from_the_pages_only(tmp_path):
    import nbformat

    from artsig.book import CHAPTERS_DIR, prepare_pages

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)\nx = '# NBVAL_CHECK_OUTPUT'"),
                nbformat.v4.new_code_cell("print(2)"), nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT")]
    (tmp_path / CHAPTERS_DIR).mkdir(parents=True)
    nbformat.write(nb, str(tmp_path / CHAPTERS_DIR / "01_x.ipynb"))
    reference = tmp_path / "notebooks" / "01_x.ipynb"
    reference.parent.mkdir()
    nbformat.write(nb, str(reference))
    assert prepare_pages(tmp_path) == [tmp_path / CHAPTERS_DIR / "01_x.ipynb"]
    page = nbformat.read(str(tmp_path / CHAPTERS_DIR / "01_x.ipynb"), as_version=4)
    assert [c.source for c in page.cells] == ["print(1)\nx = '# NBVAL_CHECK_OUTPUT'", "print(2)", "# NBVAL_CHECK_OUTPUT"]
    assert nbformat.read(str(reference), as_version=4).cells[0].source.startswith("# NBVAL_CHECK_OUTPUT")


def test_named_sections_are_shared_by_the_notebooks_that_use_them(tmp_path):
    file = tmp_path / "params.yml"
    file.write_text(
        "shared: {seed: 0}\n"
        "sections: {retrieval: {epochs: 5, lr: 0.1}}\n"
        "notebooks: {06_a: {use: retrieval, lr: 0.2}, 07_b: {use: [retrieval]}, 01_c: {top_k: 3}}\n"
    )
    params = load_params(file)
    assert params["notebooks"]["06_a"] == {"epochs": 5, "lr": 0.2}  # the notebook's own key wins
    assert notebook_parameters(params, "07_b", {"seed", "epochs", "lr"}) == {"seed": 0, "epochs": 5, "lr": 0.1}
    changed = load_params(file, {"retrieval.epochs": 2})
    assert changed["notebooks"]["06_a"]["epochs"] == 2 and changed["notebooks"]["07_b"]["epochs"] == 2
    assert "epochs" not in changed["notebooks"]["01_c"]
    file.write_text("notebooks: {06_a: {use: nowhere}}\n")
    with pytest.raises(BookError, match="nowhere"):
        load_params(file)


def test_retrieval_chapters_share_one_section():
    params = load_params(ROOT / "book" / "params.yml")
    assert params["section_users"]["retrieval"] == ["06_retrieval", "07_semi_supervised"]
    for key, value in params["sections"]["retrieval"].items():
        assert params["notebooks"]["06_retrieval"][key] == value == params["notebooks"]["07_semi_supervised"][key]
    assert _checked({"retrieval.epochs": 3})["notebooks"]["07_semi_supervised"]["epochs"] == 3
    with pytest.raises(BookError, match="section retrieval has no parameter"):
        _checked({"retrieval.top_k": 3})


def _page_with(tmp_path, cells, dataset=None):
    import nbformat

    from artsig.book import CHAPTERS_DIR

    nb = nbformat.v4.new_notebook(cells=cells)
    if dataset is not None:
        nb.metadata["papermill"] = {"parameters": {"dataset": dataset}}
    (tmp_path / CHAPTERS_DIR).mkdir(parents=True, exist_ok=True)
    path = tmp_path / CHAPTERS_DIR / "01_x.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize("dataset, kept", [(None, ["params", "drawn", "bench"]), ("folder:/x", ["params", "drawn", "coll"])])
def test_pages_drop_captions_of_figures_not_drawn_and_prose_for_another_collection(tmp_path, dataset, kept):
    import nbformat

    from artsig.book import prepare_pages

    glued = nbformat.v4.new_output("display_data", data={"text/plain": "fig"}, metadata={"scrapbook": {"name": "fig-a", "mime_prefix": ""}})
    cells = [
        nbformat.v4.new_code_cell('dataset = "synthetic"', metadata={"tags": ["parameters"], "id_": "params"}),
        nbformat.v4.new_code_cell("show_figure('fig-a', fig)", outputs=[glued]),
        nbformat.v4.new_markdown_cell("```{glue:figure} fig-a\n:name: fig-a\n\ndrawn\n```"),
        nbformat.v4.new_markdown_cell("```{glue:figure} fig-b\n:name: fig-b\n\nnever drawn\n```"),
        nbformat.v4.new_markdown_cell("bench", metadata={"tags": ["benchmark-only"]}),
        nbformat.v4.new_markdown_cell("coll", metadata={"tags": ["collection-only"]}),
    ]
    path = _page_with(tmp_path, cells, dataset)
    prepare_pages(tmp_path)
    text = [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "markdown"]
    assert [t.splitlines()[-2] if "glue" in t else t for t in text] == [k for k in kept if k != "params"]


def test_profile_is_checked_and_resolved_per_collection():
    from artsig import profiles
    from artsig.book import _check_value

    assert profiles.resolve("auto", "synthetic") == "quick"
    assert profiles.resolve("auto", "csv:/x/works.csv") == "full"
    assert profiles.resolve("quick", "folder:/x") == "quick"
    with pytest.raises(BookError, match="profile='fast': expected one of auto, quick, full"):
        _check_value("--set profile", "profile", "fast")


@pytest.mark.parametrize("key, value, message", [("pairs_per_epoch", 0, "expected a positive integer"),
                                                 ("positives", "colour", "expected one of auto")])
def test_retrieval_positives_and_pairs_are_checked_up_front(key, value, message):
    from artsig.book import _check_value

    with pytest.raises(BookError, match=message):
        _check_value(f"--set {key}", key, value)


def test_pages_show_one_parameters_cell_with_the_values_of_the_run(tmp_path):
    import nbformat

    from artsig.book import prepare_pages

    cells = [
        nbformat.v4.new_code_cell('dataset = "synthetic"\nseed = 0  # the seed\nprofile = "auto"  # auto | quick | full',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\ndataset = "csv:/x/works.csv"\nseed = 0\nextra = 3\n',
                                  metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(dataset)"),
    ]
    path = _page_with(tmp_path, cells, "csv:/x/works.csv")
    prepare_pages(tmp_path)
    page = nbformat.read(str(path), as_version=4)
    assert [c.source for c in page.cells] == [
        'dataset = "csv:/x/works.csv"  # this run\nseed = 0  # the seed\nprofile = "auto"  # auto | quick | full\nextra = 3  # this run',
        "print(dataset)",
    ]


def test_pages_drop_progress_bars_and_start_up_logs_but_keep_warnings(tmp_path):
    import nbformat

    from artsig.book import prepare_pages

    stderr = lambda text: nbformat.v4.new_output("stream", name="stderr", text=text)  # noqa: E731
    noise = [
        stderr("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
               "I0000 00:00:1795979299.026068    4768 port.cc:153] oneDNN custom operations are on.\n"),
        stderr("scanning synthetic:  26%|##6       | 525/2000 [00:00<00:00, 5248.09it/s]"),
        stderr("\rfeatures: 100%|##########| 63/63 [01:02<00:00,  1.01s/it]\n"),
        stderr("2026-11-30 00:41:02.123456: W tensorflow/core/framework/op_kernel.cc:1] something\n"),
    ]
    kept = stderr("UserWarning: 3 corrupt images were skipped: see quality.csv\n")
    cells = [nbformat.v4.new_code_cell("run()", outputs=noise + [kept, nbformat.v4.new_output("stream", name="stdout", text="done\n")]),
             nbformat.v4.new_markdown_cell("## Subject", metadata={"tags": ["needs-output-below"]}),
             nbformat.v4.new_code_cell("if subject: print(subject)"),
             nbformat.v4.new_markdown_cell("## Style", metadata={"tags": ["needs-output-below"]}),
             nbformat.v4.new_code_cell("print(style)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="x\n")])]
    path = _page_with(tmp_path, cells, "folder:/x")
    prepare_pages(tmp_path)
    page = nbformat.read(str(path), as_version=4)
    assert [o["text"] for o in page.cells[0].outputs] == ["UserWarning: 3 corrupt images were skipped: see quality.csv\n", "done\n"]
    assert [c.source for c in page.cells] == ["run()", "## Style", "print(style)"]


def test_every_error_that_means_the_collection_cannot_answer_gives_a_skipped_page():
    import artsig.annotation  # noqa: F401  (defines AnnotationError)
    import artsig.links  # noqa: F401  (defines LinksError)
    from artsig.book import CANNOT_ANSWER, ChapterSkipped
    from artsig.catalog import CatalogError

    def family(cls):
        return {cls.__name__} | {name for sub in cls.__subclasses__() for name in family(sub)}

    assert family(CatalogError) | family(ChapterSkipped) | {"BookError"} <= set(CANNOT_ANSWER)
