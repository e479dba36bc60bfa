"""The explorer: its Python steps, then the page itself in headless Chromium (Playwright).

The browser tests build an explorer of 120 generated 64-px works (colour histograms: cheap
features; t-SNE, grid and timeline layouts: UMAP's first call compiles for ~30 s and is covered
by the clustering tests), load ``index.html`` from disk and drive it with the mouse and keyboard.
Without Chromium or Playwright they FAIL, saying how to install them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig import explorer
from artsig.annotation import ANNOTATION_COLUMNS, EXPORT_COLUMNS, read_annotations
from artsig.datasets import open_dataset

CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_PIN = "playwright==1.65.2"
INSTALL = (f"the explorer's browser tests need headless Chromium and Playwright: `apt-get install -y chromium` "
           f"(Debian; {CHROMIUM}) and `pip install {PLAYWRIGHT_PIN}` (do not run `playwright install`: the tests use the system Chromium)")
BROWSER_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"]


# --------------------------------------------------------------------------------------
# Python steps


def test_nearest_neighbours_match_brute_force():
    X = np.random.default_rng(0).normal(size=(230, 12)).astype(np.float32)
    index, distance = explorer.nearest_neighbours(X, k=7, block=50)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    D = 1 - U @ U.T
    np.fill_diagonal(D, np.inf)
    expected = np.argsort(D, axis=1, kind="stable")[:, :7]
    assert (index == expected).all()
    assert np.allclose(distance, np.take_along_axis(D, expected, axis=1), atol=1e-5)
    assert (np.diff(distance, axis=1) >= -1e-6).all()
    assert not (index == np.arange(230)[:, None]).any()


def test_sampled_layout_places_the_rest_beside_their_nearest_fitted_work():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(500, 6)).astype(np.float32)
    fitted = []

    def fit(rows):
        fitted.append(len(rows))
        return rows[:, :2] * 100

    xy = explorer.sampled_layout(Z, fit, max_fit=120, seed=0)
    assert fitted == [120] and xy.shape == (500, 2)
    exact = np.isclose(xy, Z[:, :2] * 100).all(1)
    assert exact.sum() == 120  # the fitted sample keeps its own positions
    rest = np.flatnonzero(~exact)
    sample = np.flatnonzero(exact)
    nearest = sample[np.argmin(((Z[rest][:, None] - Z[sample][None]) ** 2).sum(-1), axis=1)]
    assert np.abs(xy[rest] - xy[nearest]).max() < 0.05 * np.ptp(xy, axis=0).max()
    assert (explorer.sampled_layout(Z[:100], fit, max_fit=120) == Z[:100, :2] * 100).all()  # small: fitted whole


def test_grid_and_timeline_layouts_put_every_work_in_its_own_cell():
    clusters = np.repeat([2, 0, -1, 1], [7, 30, 3, 12])
    xy = explorer.grid_layout(clusters)
    assert len({tuple(p) for p in np.round(xy, 3)}) == len(clusters)
    dates = pd.Series([1800, 1800, None, 1810, 1800] * 10 + [None, 1900], dtype="Int64")
    tl = explorer.timeline_layout(dates, clusters)
    assert len({tuple(p) for p in np.round(tl, 3)}) == len(clusters)
    undated = dates.isna().to_numpy()
    assert tl[undated, 0].max() < tl[~undated, 0].min()  # undated works left of the first year


def test_claim_folder_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="--force"):
        explorer.claim_folder(tmp_path)
    explorer.claim_folder(tmp_path, force=True)
    explorer.claim_folder(tmp_path)  # now marked as the explorer's: rebuilding it needs no --force
    assert (tmp_path / "mine.txt").exists()


def test_metadata_columns_keep_every_column():
    catalog = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "style": ["x", "y", "x", None], "date": pd.array([1800, None, 1900, 1850], dtype="Int64"),
                            "path": ["/p/a", "/p/b", "/p/c", "/p/d"]})
    cols = {c["name"]: c for c in explorer.metadata_columns(catalog)}
    assert list(cols) == list(catalog.columns)
    assert cols["style"]["kind"] == "category" and cols["style"]["values"] == ["x", "y"]
    assert cols["date"]["data"] == [1800, None, 1900, 1850]
    assert cols["image_id"]["kind"] == "text"


# --------------------------------------------------------------------------------------
# A built explorer


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An explorer of 120 generated 64-px works, and what the page should show."""
    root = tmp_path_factory.mktemp("explorer")
    data_dir, results_dir = root / "data", root / "results"
    catalog = open_dataset("synthetic", data_dir=data_dir, n_images=120, image_size=64, seed=0, progress=False)
    X = explorer.collection_features(catalog, "color_histogram", data_dir=data_dir, device="cpu", progress=False)
    out = root / "explorer"
    options = dict(dataset="synthetic", features="color_histogram", data_dir=data_dir, results_dir=results_dir, k=6,
                   layouts=("tsne", "grid", "timeline"), progress=False)
    index = explorer.explore(catalog, X, out, **options)
    return {"index": index, "out": out, "catalog": catalog, "X": X, "options": options, "data_dir": data_dir}


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_build_writes_an_offline_folder(built):
    out = built["out"]
    page = (out / "index.html").read_text()
    assert "http://" not in page and "https://" not in page  # nothing from the network
    for needed in ("vendor/deck.gl-9.4.0.min.js", "vendor/LICENSE-deck.gl.txt", "data/works.js", "data/neighbours.js", "app/explorer.js"):
        assert (out / needed).is_file(), needed
    works = json.loads((out / "data" / "works.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert works["n"] == len(built["catalog"])
    assert set(works["layouts"]) == {"tsne", "grid", "timeline"}  # the generated works have dates
    assert works["annotation"]["columns"] == list(EXPORT_COLUMNS)
    assert all((out / p).is_file() for p in works["thumbs"]["pages"] + works["thumbs"]["cards"])


def test_rebuild_reads_every_cache(built):
    """A second build (as after a kill) recomputes nothing: the cache folder gains no file and no atlas is rewritten."""
    cache = Path(built["data_dir"]) / "cache" / "explorer"
    before, atlases = _files(cache), _files(built["out"] / "atlas")
    explorer.explore(built["catalog"], built["X"], built["out"], **built["options"])
    assert _files(cache) == before
    assert _files(built["out"] / "atlas") == atlases


def test_a_killed_build_resumes_with_the_next_atlas_page(built, tmp_path, monkeypatch):
    """Pages are written one at a time: a build stopped at the third page keeps the first two, and the
    next build writes only the missing ones."""
    monkeypatch.setattr(explorer, "ATLAS_SIDE", 128)  # 4 thumbnails a page: 30 pages for 120 works
    real, calls = explorer.atlas_page, []

    def dies_at_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(explorer, "atlas_page", dies_at_third)
    out = tmp_path / "explorer"
    with pytest.raises(KeyboardInterrupt):
        explorer.explore(built["catalog"], built["X"], out, **built["options"])
    written = _files(out / "atlas")
    assert len(written) == 2 and not (out / "index.html").exists()
    monkeypatch.setattr(explorer, "atlas_page", real)
    explorer.explore(built["catalog"], built["X"], out, **built["options"])
    after = _files(out / "atlas")
    assert len(after) == 30 and all(after[name] == written[name] for name in written)


def test_book_builds_and_copies_the_explorer(tmp_path, monkeypatch):
    from artsig import book

    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    params = {"shared": {"dataset": "folder:/no/such/folder", "data_dir": "../data", "results_dir": "../results"}}
    lines = []
    assert book.build_explorer(root, params, log=lines.append) is None  # the book goes on, the log says why
    assert "explorer not built" in lines[0] and "/no/such/folder" in lines[0]
    seen = {}
    monkeypatch.setattr(explorer, "build", lambda dataset, **kw: seen.update(dataset=dataset, **kw) or _fake_explorer(tmp_path / "made"))
    folder = book.build_explorer(root, {"shared": {"dataset": "synthetic", "data_dir": "../data", "results_dir": "../results"}}, log=lines.append)
    assert seen["dataset"] == "synthetic" and seen["data_dir"] == (root / "data").resolve() and seen["results_dir"] == (root / "results").resolve()
    assert book.copy_explorer(root, folder) == root / "_build" / "html" / "explorer" / "index.html"
    assert (root / "_build" / "html" / "explorer" / "data" / "works.js").is_file()


def test_cli_explores_a_folder_collection(image_folder, tmp_path, capsys):
    """``python -m artsig explore --dataset folder:PATH``: any collection, here 12 undated works in 3 style folders."""
    from artsig.__main__ import main

    out = tmp_path / "explorer"
    argv = ["explore", "--dataset", f"folder:{image_folder}", "--features", "color_histogram", "--data-dir", str(tmp_path / "data"),
            "--results-dir", str(tmp_path / "results"), "--out", str(out), "--layouts", "tsne,grid", "--k", "4", "--device", "cpu"]
    assert main(argv) == 0
    assert "explorer written" in capsys.readouterr().out
    works = json.loads((out / "data" / "works.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert works["n"] == 12 and works["dateColumn"] is None and set(works["layouts"]) == {"tsne", "grid"}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(argv[:-8] + ["--out", str(tmp_path / "other"), "--layouts", "grid"]) == 2  # not the explorer's folder: refused
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def _fake_explorer(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "works.js").write_text("window.ARTSIG_WORKS = {};")
    (folder / "index.html").write_text("<html></html>")
    return folder / "index.html"


# --------------------------------------------------------------------------------------
# The page in headless Chromium


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"Playwright is not installed. {INSTALL}")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"no Chromium found at {CHROMIUM}. {INSTALL}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, built):
    context = browser.new_context(viewport={"width": 1300, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    pg.goto(built["index"].as_uri())
    pg.wait_for_function("document.body.dataset.ready === '1'", timeout=30000)
    yield pg
    page_errors = list(errors)  # before closing: a page torn down mid-frame may complain
    context.close()
    assert not page_errors, page_errors


pytestmark_browser = pytest.mark.slow  # a child process (Chromium); `make fast` leaves the browser tests out


def _download(page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


@pytestmark_browser
def test_click_opens_the_card_with_the_python_neighbours(page, built):
    catalog, X = built["catalog"], built["X"]
    page.select_option("#layout", "grid")  # one cell per work: nothing overlaps the work clicked
    i = 17
    page.evaluate(f"explorer.centreOn({i}); explorer.zoomTo(5)")
    page.evaluate("explorer.idle()")
    x, y = page.evaluate(f"explorer.screenPosition({i})")
    page.mouse.click(x, y)
    page.wait_for_selector("#card:not([hidden])")
    assert page.text_content("#card-title") == catalog["image_id"].iloc[i]
    shown = page.eval_on_selector_all("#card-neighbours li", "els => els.map(e => [e.dataset.id, Number(e.dataset.distance)])")
    index, distance = explorer.nearest_neighbours(X, k=6)
    assert [s[0] for s in shown] == catalog["image_id"].iloc[index[i]].tolist()
    assert np.allclose([s[1] for s in shown], distance[i], atol=1e-5)
    metadata = dict(page.eval_on_selector_all("#card-metadata tr", "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"))
    assert metadata["style"] == catalog["style"].iloc[i] and metadata["sha256"] == catalog["sha256"].iloc[i]
    assert page.locator("#card-influences .influence").count() >= 1


@pytestmark_browser
def test_facet_filters_and_counts(page, built):
    catalog = built["catalog"]
    page.select_option("#colour-by", "col:style")
    style = sorted(catalog["style"].unique())[1]
    page.click(f"#legend li[data-value='{style}'] .value")  # show only this style
    expected = int((catalog["style"] == style).sum())
    assert int(page.text_content("#visible-count")) == expected
    assert page.text_content(f"#legend li[data-value='{style}'] .count") == f"{expected}/{expected}"
    lo, hi = 1700, 1850
    page.fill("#date-min", str(lo))
    page.fill("#date-max", str(hi))
    page.press("#date-max", "Enter")
    dates = pd.to_numeric(catalog["date"], errors="coerce")
    in_range = (catalog["style"] == style) & (dates.between(lo, hi) | dates.isna())
    assert int(page.text_content("#visible-count")) == int(in_range.sum())
    page.click("#clear-filters")
    assert int(page.text_content("#visible-count")) == len(catalog)


@pytestmark_browser
def test_box_selection_exports_every_metadata_column(page, built, tmp_path):
    catalog = built["catalog"]
    page.select_option("#layout", "grid")
    page.evaluate("explorer.idle()")
    page.click("#tool-box")
    box = page.locator("#map").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    page.mouse.move(x1, y1)
    page.mouse.up()
    positions = np.array(page.evaluate("explorer.ids.map((_, i) => explorer.screenPosition(i))"))
    inside = (positions[:, 0] >= x0) & (positions[:, 0] <= x1) & (positions[:, 1] >= y0) & (positions[:, 1] <= y1)
    assert 0 < inside.sum() < len(catalog)
    assert int(page.text_content("#selection-count")) == int(inside.sum())
    exported = pd.read_csv(_download(page, "#export-selection", tmp_path), dtype={"image_id": str, "sha256": str})
    assert set(exported["image_id"]) == set(catalog["image_id"][inside])
    assert set(catalog.columns) <= set(exported.columns)
    assert any(c.startswith("k-means") for c in exported.columns)
    truth = catalog.set_index("image_id").loc[exported["image_id"]]
    assert (exported["style"].to_numpy() == truth["style"].to_numpy()).all()
    assert (exported["sha256"].to_numpy() == truth["sha256"].to_numpy()).all()


@pytestmark_browser
def test_shift_drag_lasso_selects_the_works_inside(page, built):
    from matplotlib.path import Path as Polygon

    page.select_option("#layout", "grid")
    page.evaluate("explorer.idle()")
    box = page.locator("#map").bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) * 0.3
    ring = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)]
    before = page.evaluate("explorer.state.viewState.target")
    page.keyboard.down("Shift")
    page.mouse.move(*ring[0])
    page.mouse.down()
    for point in ring[1:]:
        page.mouse.move(*point)
    page.mouse.up()
    page.keyboard.up("Shift")
    positions = np.array(page.evaluate("explorer.ids.map((_, i) => explorer.screenPosition(i))"))
    inside = Polygon(ring).contains_points(positions)
    assert 0 < inside.sum() < len(built["catalog"])
    assert set(page.evaluate("explorer.selectedIds()")) == set(built["catalog"]["image_id"][inside])
    assert page.evaluate("explorer.state.viewState.target") == before  # the map did not pan under the lasso


@pytestmark_browser
def test_cluster_export(page, built, tmp_path):
    page.select_option("#colour-by", next(k for k in page.evaluate("explorer.facets") if k.startswith("cl:k-means")))
    first = page.locator("#legend li").first
    count = int(first.locator(".count").text_content().split("/")[1])
    with page.expect_download() as info:
        first.locator("button.export-cluster").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    exported = pd.read_csv(target, dtype={"image_id": str})
    assert len(exported) == count
    assert exported.filter(like="k-means").iloc[:, 0].nunique() == 1


@pytestmark_browser
def test_annotation_keys_export_the_csv_chapter_07_reads(page, built, tmp_path):
    catalog = built["catalog"]
    page.click("#annotate-open")
    page.wait_for_selector("#annotate:not([hidden])")
    items = page.evaluate("""() => { const A = ARTSIG_WORKS.annotation, c = A.columns;
        const byCluster = {}; A.rows.forEach(r => (byCluster[r[c.indexOf('cluster')]] ||= []).push(r[c.indexOf('image_id')]));
        return Object.values(byCluster).flatMap(ids => ids.slice(1).map(id => [ids[0], id])); }""")
    assert len(items) >= 4, "the generated collection should give at least four proposed pairs"
    # accept, reject, skip, reject then undo it, accept: the fourth pair ends accepted
    for key in ("a", "ArrowLeft", "s", "r", "u", "ArrowRight"):
        page.keyboard.press(key)
    path = _download(page, "#annotate-export", tmp_path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(raw.columns) == list(EXPORT_COLUMNS)
    decisions = read_annotations(path, catalog)
    assert list(decisions.columns) == list(ANNOTATION_COLUMNS)
    got = dict(zip(decisions["image_id"], decisions["decision"]))
    assert [got[items[j][1]] for j in range(4)] == ["accept", "reject", "", "accept"]
    assert got[items[0][0]] == "accept"  # the anchor of a cluster with an accepted work
    assert (decisions["decision"] != "").sum() == 3 + len({items[0][0], items[3][0]})


def test_neighbours_above_the_exact_limit_come_from_the_index_and_agree():
    import numpy as np

    from artsig.explorer import nearest_neighbours

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 16)).astype(np.float32) + np.repeat(rng.normal(scale=4, size=(6, 16)), 100, axis=0)
    exact, d_exact = nearest_neighbours(X, k=5)
    approx, d_approx = nearest_neighbours(X, k=5, exact_limit=100)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approx)])
    assert recall >= 0.95 and approx.shape == exact.shape and (approx != np.arange(600)[:, None]).all()
    np.testing.assert_allclose(np.sort(d_approx, 1)[:, 0], d_exact[:, 0], atol=1e-4)
