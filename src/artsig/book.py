"""The book runner: execute the notebooks in ``_toc.yml`` order with papermill, then build
the Jupyter Book.

Parameters come from ``book/params.yml`` (``shared`` keys go to every notebook that declares
them, a named section under ``sections`` to the notebooks that ``use`` it, a section named
after a notebook goes to that notebook only) and can be overridden on
the command line, so ``--dataset folder:/path`` reruns the whole book on another collection.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from artsig.profiles import PROFILES

NOTEBOOKS_DIR = "notebooks"
CHAPTERS_DIR = Path("book") / "chapters"


class BookError(RuntimeError):
    """A book run that cannot go on; the message says which notebook, cell or file."""


class ChapterSkipped(RuntimeError):
    """Raised inside a notebook when the collection cannot answer the chapter's question
    (e.g. a folder of styles has no subject label); the runner reports it and goes on."""


def require_labels(catalog, labels: list[str], why: str) -> None:
    """Skip the chapter (ChapterSkipped) unless the catalog has every label in ``labels``."""
    missing = [c for c in labels if c not in catalog.columns or catalog[c].isna().all()]
    if missing:
        raise ChapterSkipped(f"this collection has no {missing} column: {why}")


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``_toc.yml`` (searched upwards from ``start`` or the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / NOTEBOOKS_DIR).is_dir():
            return folder
    raise BookError(f"no _toc.yml with a notebooks/ folder beside it above {here}; run from the artsig checkout")


def chapters(root: Path) -> list[str]:
    """Notebook names (without suffix) in the order ``_toc.yml`` lists them under book/chapters/."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    files.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    prefix = CHAPTERS_DIR.as_posix() + "/"
    return [Path(f).stem for f in files if f.startswith(prefix)]


def parse_value(text: str):
    """A command-line value read as YAML (``3`` -> 3, ``[1, 2]`` -> list, ``none`` -> None)."""
    value = yaml.safe_load(text)
    return None if isinstance(value, str) and value.lower() == "none" else value


def load_params(params_file: Path, overrides: dict | None = None) -> dict:
    """Read ``params.yml`` and apply ``{"key": v}`` / ``{"notebook.key": v}`` / ``{"section.key": v}`` overrides.

    A notebook section may name shared ``sections`` with ``use: NAME`` (or a list): their keys
    are merged under its own (shared -> named section -> notebook), so chapters that take the
    same settings (06 and 07: ``retrieval``) keep them in one place.
    """
    if not params_file.is_file():
        raise BookError(f"parameter file {params_file} not found")
    params = yaml.safe_load(params_file.read_text()) or {}
    unknown = set(params) - {"shared", "sections", "notebooks"}
    if unknown:
        raise BookError(f"{params_file}: unknown top-level key(s) {sorted(unknown)}; expected 'shared', 'sections' and 'notebooks'")
    params.setdefault("shared", {})
    params.setdefault("sections", {})
    params.setdefault("notebooks", {})
    params["section_users"] = _merge_sections(params, params_file)
    for key, value in (overrides or {}).items():
        notebook, dot, name = key.rpartition(".")
        if dot and notebook in params["sections"]:
            params["sections"][notebook][name] = value
            for user in params["section_users"][notebook]:
                params["notebooks"][user][name] = value
        elif dot:
            params["notebooks"].setdefault(notebook, {})[name] = value
        else:
            params["shared"][key] = value
            for section in params["notebooks"].values():
                if key in section:
                    section[key] = value
    return params


def _merge_sections(params: dict, params_file: Path) -> dict[str, list[str]]:
    """Merge each notebook's ``use``d sections under its own keys; return the notebooks using each section."""
    users: dict[str, list[str]] = {name: [] for name in params["sections"]}
    for notebook, own in params["notebooks"].items():
        used = own.pop("use", [])
        merged: dict = {}
        for name in [used] if isinstance(used, str) else used:
            if name not in params["sections"]:
                raise BookError(f"{params_file}: notebook {notebook} uses section {name!r}, which is not under 'sections' ({sorted(params['sections'])})")
            merged.update(params["sections"][name])
            users[name].append(notebook)
        params["notebooks"][notebook] = {**merged, **own}
    return users


def notebook_parameters(params: dict, notebook: str, declared: set[str]) -> dict:
    """The parameters one notebook receives: shared keys it declares, then its own section."""
    chosen = {k: v for k, v in params["shared"].items() if k in declared}
    own = params["notebooks"].get(notebook, {})
    unknown = set(own) - declared
    if unknown:
        raise BookError(f"book/params.yml: notebook {notebook} has no parameter(s) {sorted(unknown)}; it declares {sorted(declared)}")
    chosen.update(own)
    return chosen


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)).keys())


# Shared keys no notebook declares: the loaders read them from the environment of every
# notebook's kernel, so ``--set csv_dir=...`` reaches ``open_dataset`` in each chapter.
LOADER_OPTIONS = {"csv_dir": "ARTSIG_CSV_DIR", "path_column": "ARTSIG_PATH_COLUMN", "max_pixels": "ARTSIG_MAX_PIXELS"}
LABEL_KEYS = ("label", "label_column", "transfer_label", "subject_label", "style_label")
LABEL_VALUES = ("artist", "style", "genre", "motif")
POSITIVE_KEYS = ("top_k", "min_per_class", "n_images", "image_size", "epochs", "batch_size", "threads", "input_size",
                 "k_min", "k_max", "n_components", "max_pixels", "retrieval_size", "subsample", "max_iter", "n_clusters",
                 "pairs_per_epoch", "full_epochs", "scratch_epochs", "recipe_min_count")
OPTIONAL_POSITIVE_KEYS = ("per_class",)


def _type_name(value) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "text", list: "a list"}.get(type(value), type(value).__name__)


def _check_type(where: str, value, default, key: str = "") -> None:
    if default is None or value is None and key in OPTIONAL_POSITIVE_KEYS:
        return
    if value is None:
        raise BookError(f"{where}=none: expected {_type_name(default)}, like the default {default!r}")
    ok = isinstance(value, bool) if isinstance(default, bool) else (
        isinstance(value, (int, float)) and not isinstance(value, bool) if isinstance(default, float) else
        isinstance(value, int) and not isinstance(value, bool) if isinstance(default, int) else
        isinstance(value, type(default)))
    if not ok:
        raise BookError(f"{where}={value!r}: expected {_type_name(default)}, like the default {default!r}")


def _check_value(where: str, key: str, value) -> None:
    from artsig.datasets import check_dataset

    if key == "max_pixels" and isinstance(value, str):  # YAML reads 2e9 as text
        try:
            value = float(value)
        except ValueError:
            raise BookError(f"{where}={value!r}: expected a positive number of pixels, e.g. 2000000000") from None
    if key in POSITIVE_KEYS and value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 1):
        raise BookError(f"{where}={value!r}: expected a positive integer (1 or more)")
    if key in OPTIONAL_POSITIVE_KEYS and value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise BookError(f"{where}={value!r}: expected a positive integer or none (none = the smallest class)")
    if key == "seed" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise BookError(f"{where}={value!r}: expected a non-negative integer")
    if key in LABEL_KEYS and value not in LABEL_VALUES:
        raise BookError(f"{where}={value!r}: not a label column; expected one of {', '.join(LABEL_VALUES)}")
    if key == "positives":
        from artsig.links import POSITIVE_SOURCES

        if value not in POSITIVE_SOURCES:
            raise BookError(f"{where}={value!r}: expected one of {', '.join(POSITIVE_SOURCES)} (where a collection without links_file takes its positive pairs)")
    if key == "profile" and value not in PROFILES:
        raise BookError(f"{where}={value!r}: expected one of {', '.join(PROFILES)} (auto: quick for the benchmark, full for a real collection)")
    if key == "device" and not (isinstance(value, str) and (value in ("auto", "cpu", "cuda") or value.startswith("cuda:") and value[5:].isdigit())):
        raise BookError(f"{where}={value!r}: expected auto, cpu, cuda or cuda:N")
    if key == "csv_dir" and value is not None and not Path(str(value)).expanduser().is_dir():
        raise BookError(f"{where}={value!r}: not a directory; expected the folder holding the ArtGAN Style/, Genre/, Artist/ files")
    if key == "path_column" and (not isinstance(value, str) or not value):
        raise BookError(f"{where}={value!r}: expected the name of the CSV column holding image paths")
    if key == "dataset":
        try:
            check_dataset(value)
        except ValueError as exc:  # CatalogError
            raise BookError(str(exc)) from None


def checked_params(root: Path, params_file: Path, overrides: dict, declared: dict[str, set[str]] | None = None) -> dict:
    """``params_file`` with ``overrides`` applied, checked before any notebook runs: each key is
    known, has the type of its default and a possible value; else BookError naming the key and
    the accepted values.

    ``declared`` maps each chapter to the parameters its notebook declares (read when omitted).
    """
    base = load_params(params_file)
    params = load_params(params_file, overrides)
    if declared is None:
        declared = {name: declared_parameters(root / NOTEBOOKS_DIR / f"{name}.ipynb") for name in chapters(root)}
    known = set().union(*declared.values()) | set(LOADER_OPTIONS)
    defaults: dict = {}
    for section in [base["shared"], *base["notebooks"].values()]:
        for key, value in section.items():
            defaults.setdefault(key, value)
    for key, value in overrides.items():
        notebook, dot, name = key.rpartition(".")
        if dot and notebook in base["sections"]:
            if name not in base["sections"][notebook]:
                raise BookError(f"--set {key}: section {notebook} has no parameter {name!r}; it has {', '.join(sorted(base['sections'][notebook]))}")
        elif dot:
            if notebook not in declared:
                raise BookError(f"--set {key}: {notebook!r} is not a chapter; chapters are {', '.join(declared)}")
            if name not in declared[notebook]:
                raise BookError(f"--set {key}: notebook {notebook} has no parameter {name!r}; it takes {', '.join(sorted(declared[notebook]))}")
        elif name not in known:
            raise BookError(f"--set {key}: unknown parameter; accepted keys are {', '.join(sorted(known))} (or NOTEBOOK.KEY)")
        owner = base["sections"] if notebook in base["sections"] else base["notebooks"]
        default = owner.get(notebook, {}).get(name, defaults.get(name)) if dot else defaults.get(name)
        _check_type(f"--set {key}", value, default, name)
        _check_value(f"--set {key}", name, value)
    shared = params["shared"]
    if "dataset" in shared and "dataset" not in overrides:
        _check_value("dataset", "dataset", shared["dataset"])
    return params


def loader_environment(params: dict) -> dict[str, str]:
    """Environment variables carrying the loader options of ``params`` to every notebook's kernel."""
    return {env: str(params["shared"][key]) for key, env in LOADER_OPTIONS.items() if params["shared"].get(key) is not None}


CANNOT_ANSWER = ("ChapterSkipped", "CatalogError", "LinksError", "AnnotationError", "BookError")  # the collection, not the code, stops the chapter


def execute(root: Path, params: dict, only: list[str] | None = None, reference: bool = False, log=print) -> list[Path]:
    """Execute the chapters with papermill, in order; a failing chapter does not stop the others.

    A chapter that cannot answer for this collection (it raised ``ChapterSkipped`` or a
    ``CatalogError`` naming the parameter to change) becomes a page that says so; any other
    error becomes a page with the error and is listed in the ``BookError`` raised after every
    chapter has run. ``reference=True`` runs each notebook with its own defaults and writes the
    outputs back into ``notebooks/`` (what nbval compares against) and stops at the first error;
    otherwise outputs go to book/chapters/.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    os.environ.update(loader_environment(params))  # the kernels papermill starts inherit them
    names = chapters(root)
    if only:
        missing = [n for n in only if n not in names]
        if missing:
            raise BookError(f"--only {missing}: not chapters of _toc.yml ({', '.join(names)})")
        names = [n for n in names if n in only]
    written, failed = [], []
    (root / CHAPTERS_DIR).mkdir(parents=True, exist_ok=True)
    for name in names:
        source = root / NOTEBOOKS_DIR / f"{name}.ipynb"
        if not source.is_file():
            raise BookError(f"_toc.yml lists {CHAPTERS_DIR / name} but {source.relative_to(root)} does not exist")
        target = source if reference else root / CHAPTERS_DIR / f"{name}.ipynb"
        parameters = {} if reference else notebook_parameters(params, name, declared_parameters(source))
        log(f"[artsig] executing {source.relative_to(root)} -> {target.relative_to(root)}" + (f" with {parameters}" if parameters else ""))
        started = time.time()
        try:
            papermill.execute_notebook(
                str(source), str(target), parameters=parameters, cwd=str(root / NOTEBOOKS_DIR),
                kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
            )
        except PapermillExecutionError as exc:
            message = (f"notebook {source.relative_to(root)} failed in cell {exc.exec_count} "
                       f"({exc.ename}: {exc.evalue}); the executed copy with the traceback is {target.relative_to(root)}")
            if reference:
                raise BookError(message) from None
            written.append(target)
            if exc.ename in CANNOT_ANSWER:
                log(f"[artsig] {name} skipped: {exc.evalue}")
                mark_skipped(target, exc.evalue)
                continue
            log(f"[artsig] {name} FAILED, going on with the other chapters: {exc.ename}: {exc.evalue}")
            mark_failed(target, f"{exc.ename}: {exc.evalue}")
            failed.append(message)
            continue
        relative_paths(target, root)
        log(f"[artsig] {name} done in {time.time() - started:.0f} s")
        written.append(target)
    if failed:
        raise ChaptersFailed(written, failed)
    return written


class ChaptersFailed(BookError):
    """Some chapters failed with an error the runner did not expect; the others ran."""

    def __init__(self, written: list[Path], failures: list[str]):
        self.written = written
        self.failures = failures
        super().__init__(f"{len(failures)} chapter(s) failed:\n" + "\n".join(f"  - {f}" for f in failures))


def relative_paths(path: Path, root: Path) -> None:
    """Record papermill's input and output paths relative to the project root, so committed
    notebooks do not carry the path of the machine that ran them."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    meta = nb.metadata.get("papermill", {})
    changed = False
    for key in ("input_path", "output_path"):
        value = meta.get(key)
        if value and Path(value).is_absolute():
            try:
                meta[key] = str(Path(value).resolve().relative_to(Path(root).resolve()))
                changed = True
            except ValueError:
                pass
    if changed:
        nbformat.write(nb, str(path))


def _cells_that_ran(nb) -> list:
    """The executed cells up to and including the one that raised (its error output removed);
    papermill's error banner and the cells that never ran are dropped."""
    kept = []
    for cell in nb.cells:
        if "papermill-error-cell-tag" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
            kept.append(cell)
            break
        kept.append(cell)
    return kept


def _with_note(path: Path, text: str, kind: str = "note") -> None:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    kept = _cells_that_ran(nb)
    note = nbformat.v4.new_markdown_cell(f"```{{{kind}}}\n{text}\n```")
    position = 1 if kept and kept[0].cell_type == "markdown" else 0
    nb.cells = kept[:position] + [note] + kept[position:]
    nbformat.write(nb, str(path))


def mark_skipped(path: Path, reason: str) -> None:
    """Turn an executed notebook that could not answer for this collection (``ChapterSkipped``,
    or a ``CatalogError`` naming the parameter to change) into a page that says why: drop
    papermill's error banner, the traceback and the cells that did not run."""
    _with_note(path, f"This chapter was skipped for this collection: {reason}")


def mark_failed(path: Path, error: str) -> None:
    """A page for a chapter that failed with an unexpected error: what happened, where to look,
    and the cells that ran before it."""
    _with_note(
        path,
        f"This chapter stopped with an error: {error}. The other chapters ran. The full traceback is in "
        "the executed notebook (book/chapters/); please report it with the command you ran.",
        kind="error",
    )


CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def strip_check_markers(nb) -> int:
    """Remove the ``# NBVAL_CHECK_OUTPUT`` lines from an executed chapter's code cells (the
    marker is for nbval, not the reader); the references in notebooks/ keep theirs. Returns
    how many cells changed."""
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        kept = [line for line in lines if line.strip() != CHECK_MARKER]
        if len(kept) != len(lines):
            cell.source = "\n".join(kept)
            changed += 1
    return changed


GLUE_FIGURE = re.compile(r"\{glue:figure\}\s+(\S+)")
BENCHMARK_ONLY, COLLECTION_ONLY, NEEDS_OUTPUT = "benchmark-only", "collection-only", "needs-output-below"


def glued_names(nb) -> set[str]:
    """The names an executed notebook glued (myst-nb stores them as scrapbook output metadata)."""
    return {
        o.get("metadata", {}).get("scrapbook", {}).get("name")
        for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    } - {None}


def run_dataset(nb) -> str:
    """The ``dataset`` a chapter ran on: papermill's injected parameter, else the parameters cell's default."""
    injected = nb.metadata.get("papermill", {}).get("parameters", {})
    if "dataset" in injected:
        return str(injected["dataset"])
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            match = re.search(r"^dataset\s*=\s*[\"']([^\"']*)[\"']", cell.source, re.M)
            if match:
                return match.group(1)
    return "synthetic"


def drop_unused_cells(nb) -> int:
    """Remove the prose this run has nothing for: a ``{glue:figure}`` caption whose figure was
    not drawn (the collection lacks the label, or the chapter stopped early), a markdown cell
    tagged ``benchmark-only`` when the run is not on the procedural benchmark and one tagged
    ``collection-only`` when it is, and one tagged ``needs-output-below`` when the next code cell
    printed nothing (the section does not apply to this collection). Returns how many cells were removed."""
    glued, benchmark = glued_names(nb), run_dataset(nb) == "synthetic"

    def unused(cell) -> bool:
        if cell.cell_type != "markdown":
            return False
        tags = cell.metadata.get("tags", [])
        if (BENCHMARK_ONLY in tags and not benchmark) or (COLLECTION_ONLY in tags and benchmark):
            return True
        names = GLUE_FIGURE.findall(cell.source)
        return bool(names) and not set(names) & glued

    silent = set()  # a section whose computation printed nothing here: its prose and that code cell
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and NEEDS_OUTPUT in cell.metadata.get("tags", []):
            below = next((j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"), None)
            if below is not None and not nb.cells[below].get("outputs"):
                silent |= {i, below}

    kept = [cell for i, cell in enumerate(nb.cells) if not (unused(cell) or i in silent)]
    removed = len(nb.cells) - len(kept)
    nb.cells = kept
    return removed


PARAMETERS, INJECTED = "parameters", "injected-parameters"
ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*=")


def merge_parameter_cells(nb) -> bool:
    """Show one parameters cell with the values this run used: papermill adds the values the
    runner passed as a second cell below the defaults; on the page they replace the defaults they
    override (marked ``# this run``) and the second cell goes. Returns whether the page changed."""
    tagged = lambda tag: [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]  # noqa: E731
    defaults, injected = tagged(PARAMETERS), tagged(INJECTED)
    if not defaults or not injected:
        return False
    given = {}
    for line in injected[0].source.splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            given[match.group(1)] = line.rstrip()  # papermill writes name = repr(value), no comments
    lines = []
    for line in defaults[0].source.splitlines():
        match = ASSIGNMENT.match(line)
        name = match.group(1) if match else None
        if name in given:
            default = line.split("=", 1)[1].split("#")[0].strip()
            value = given.pop(name)
            lines.append(line if value.split("=", 1)[1].strip() == default else f"{value}  # this run")
        else:
            lines.append(line)
    lines += [f"{value}  # this run" for value in given.values()]
    defaults[0].source = "\n".join(lines)
    nb.cells = [c for c in nb.cells if c is not injected[0]]
    return True


NOISE = re.compile(
    r"^\s*$"  # blank lines left by progress bars
    r"|.*\|.*\[\d+:\d+(:\d+)?<.*\]\s*$"  # tqdm bars: 'name:  52%|#####  | 1050/2000 [00:00<00:00, 5243it/s]'
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"  # absl / TensorFlow C++ log lines
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+"  # TensorFlow's Python logger
)


def drop_log_noise(nb) -> int:
    """Remove progress bars and TensorFlow / absl start-up log lines from the pages' stderr
    (the executed notebooks keep them); any other stderr line — a warning the reader should
    see — stays. Returns how many outputs changed."""
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = re.split(r"(?<=\n)|\r", out.get("text", ""))
                kept = "".join(line for line in lines if not NOISE.match(line.rstrip("\n")))
                if kept != out.get("text", ""):
                    changed += 1
                if not kept.strip():
                    continue
                out["text"] = kept
            outputs.append(out)
        cell["outputs"] = outputs
    return changed


def prepare_pages(root: Path) -> list[Path]:
    """Turn the executed chapters in book/chapters into the book's pages: one parameters cell
    with the run's values, check markers, progress bars and start-up logs stripped, captions of
    figures that were not drawn and prose for another kind of collection removed."""
    import nbformat

    pages = sorted((root / CHAPTERS_DIR).glob("*.ipynb"))
    for page in pages:  # read once, every step on the same notebook, written once if anything changed
        nb = nbformat.read(str(page), as_version=4)
        changed = [merge_parameter_cells(nb), strip_check_markers(nb), drop_log_noise(nb), drop_unused_cells(nb)]
        if any(changed):
            nbformat.write(nb, str(page))
    return pages


def build_html(root: Path, log=print) -> Path:
    """Build the Jupyter Book (HTML) from the executed chapters; return the index page."""
    prepare_pages(root)
    exe = Path(sys.executable).parent / "jupyter-book"
    command = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--builder", "html"]
    log("[artsig] building the book: " + " ".join(command[1:3]))
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise BookError("jupyter-book build failed:\n" + (result.stdout[-4000:] + result.stderr[-4000:]))
    index = root / "_build" / "html" / "index.html"
    if not index.is_file():
        raise BookError(f"jupyter-book ran but {index} is missing")
    return index


def ensure_kernel() -> None:
    """Make sure a ``python3`` kernel runs this interpreter (the venv), so notebooks see artsig."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        if Path(spec.argv[0]).resolve() == Path(sys.executable).resolve() or spec.argv[0] in ("python", "python3"):
            return
    except Exception:
        pass
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], check=True, capture_output=True)


def clean_chapters(root: Path) -> None:
    """Remove executed copies from a previous run (they are generated, never hand-made)."""
    folder = root / CHAPTERS_DIR
    if folder.is_dir():
        shutil.rmtree(folder)


# --- the explorer page: built after the chapters, copied beside the book's HTML ---------------

EXPLORER_FEATURES = "efficientnet_lite0"  # the features chapter 03 maps (map_extractor)


def build_explorer(root: Path, params: dict, log=print) -> Path | None:
    """Write the explorer of the book's collection (``results/<collection>/explorer``, reading chapters
    03 and 07's tables); return its folder, or None (said in the log) when it cannot be built."""
    from artsig import explorer

    shared = params["shared"]
    base = root / NOTEBOOKS_DIR  # the parameters' relative paths are the notebooks'
    data_dir, results_dir = (base / shared.get("data_dir", "../data")).resolve(), (base / shared.get("results_dir", "../results")).resolve()
    dataset = str(shared.get("dataset", "synthetic"))
    try:
        index = explorer.build(dataset, features=EXPLORER_FEATURES, data_dir=data_dir, results_dir=results_dir, n_images=int(shared.get("n_images", 2000)),
                               image_size=int(shared.get("image_size", 256)), seed=int(shared.get("seed", 0)), device=str(shared.get("device", "auto")))
    except Exception as exc:  # the book goes on without it; the page says how to build it by hand
        log(f"[artsig] explorer not built: {type(exc).__name__}: {exc}")
        return None
    log(f"[artsig] explorer written: {index.parent}")
    return index.parent


def copy_explorer(root: Path, folder: Path | None) -> Path | None:
    """Copy the explorer folder into the built book (``_build/html/explorer``), where ``book/explorer.md`` links it."""
    if folder is None or not (folder / "index.html").is_file():
        return None
    target = root / "_build" / "html" / "explorer"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder, target)
    return target / "index.html"
