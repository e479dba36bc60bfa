"""An interactive explorer of a collection: one offline folder (``index.html``, data, thumbnail atlases).

``python -m artsig explore --dataset SPEC`` calls :func:`build`; it writes a folder that opens
from disk (``file://``) with no server and no network:

* a WebGL map of every work (deck.gl, vendored in ``explorer_page/vendor``): thumbnails when
  zoomed in, dots when zoomed out, in four layouts (UMAP, t-SNE, a grid by cluster, a timeline
  by date when dates exist);
* facets (colour by any label column or clustering, filter by values and date range, counts);
* a work's card (its image, metadata, k nearest neighbours in the full feature space with
  cosine distances, its cluster and its Gaussian-mixture influences);
* lasso / box selections exported as CSV with every metadata column;
* the annotation view: chapter 07's proposed clusters as pairs, accept / reject by key press,
  exported as the CSV :func:`artsig.annotation.read_annotations` reads.

The slow steps are cached under ``data/cache/explorer`` (features through
:mod:`artsig.features`, layouts, clusterings, neighbours through :mod:`artsig.store`); card
images and atlas pages are keyed by the images' ``sha256`` and size and written atomically one
at a time, so a build killed half-way resumes where it stopped.

Two functions are the seams other parts of the library plug into: :func:`collection_features`
(where the features come from) and :func:`nearest_neighbours` (how the k nearest are found).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from artsig import store

log = logging.getLogger(__name__)

EXPLORER_VERSION = "1"  # bump when the data files' layout or a cached step's numbers change
MARKER = ".artsig-explorer"  # the file that says a folder was written by this module
PAGE_DIR = Path(__file__).with_name("explorer_page")
LAYOUTS = ("umap", "tsne", "grid", "timeline")
LAYOUT_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "grid": "grid by cluster", "timeline": "timeline"}
ATLAS_SIDE = 2048  # pixels of one atlas page (WebGL textures of 2048 px are safe everywhere)


class ExplorerError(ValueError):
    """An explorer build that cannot go on; the message names the folder, column or parameter."""


# --------------------------------------------------------------------------------------
# The two seams: features and neighbours


def collection_features(catalog: pd.DataFrame, features: str, data_dir: str | os.PathLike = "../data", device: str = "auto",
                        seed: int = 0, progress: bool = True) -> np.ndarray:
    """The ``(N, D)`` float32 features of ``catalog`` (catalog order) the explorer maps and searches."""
    from artsig.features import extract

    return np.asarray(extract(catalog, features, data_dir=data_dir, device=device, seed=seed, progress=progress), dtype=np.float32)


def l2_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): cosine similarity becomes a dot product."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1)


def nearest_neighbours(X: np.ndarray, k: int = 10, block: int = 1024, progress: bool = False,
                       exact_limit: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of every row by cosine distance (``1 - cos``), nearest first.

    Up to ``exact_limit`` rows exactly, blockwise (memory ``block x N``, time N², equal distances
    by row order); above it through :class:`artsig.neighbours.NeighbourIndex` (FAISS HNSW, recall@10
    about 0.99 at 100k). Returns ``(index (N, k) int32, distance (N, k) float32)``.
    """
    from tqdm import tqdm

    U = l2_rows(X)
    n = len(U)
    k = int(min(k, n - 1))
    if k < 1:
        raise ExplorerError(f"nearest_neighbours: {n} rows; need at least 2")
    if n > exact_limit:
        from artsig.neighbours import NeighbourIndex

        index = NeighbourIndex(metric="ip", exact_limit=exact_limit).fit(U)
        rows, dist = [], []
        for start in tqdm(range(0, n, 8192), desc="neighbours (HNSW)", unit="block", disable=not progress):
            found, d = index.query([str(i) for i in range(start, min(start + 8192, n))], k)
            rows.append(found.astype(np.int32))
            dist.append(d.astype(np.float32))
        return np.concatenate(rows), np.clip(np.concatenate(dist), 0.0, 2.0)
    index = np.empty((n, k), dtype=np.int32)
    distance = np.empty((n, k), dtype=np.float32)
    starts = range(0, n, block)
    for start in tqdm(starts, desc="neighbours", unit="block", disable=not progress):
        stop = min(start + block, n)
        sim = U[start:stop] @ U.T
        sim[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never a work's own neighbour
        part = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < n - 1 else np.tile(np.arange(n), (stop - start, 1))
        rows = np.arange(stop - start)[:, None]
        psim = sim[rows, part]
        order = np.lexsort((part, -psim), axis=1)
        index[start:stop] = part[rows, order][:, :k]
        distance[start:stop] = 1.0 - sim[rows, index[start:stop]]
    return index, np.clip(distance, 0.0, 2.0)


# --------------------------------------------------------------------------------------
# Layouts and clusterings


def _cache(data_dir) -> Path:
    return store.cache_dir(data_dir, "explorer")


def umap_layout(Z: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """A 2-D UMAP map started from PCA: the spectral start of :func:`artsig.clustering.embed_2d` solves one
    eigenproblem per connected component of the neighbour graph, hours on a collection of many near-duplicate groups."""
    from artsig.torch_compat import import_umap

    umap = import_umap()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_neighbors=min(n_neighbors, len(Z) - 1), min_dist=0.1, random_state=seed, n_jobs=1, init="pca")
        return reducer.fit_transform(np.asarray(Z)).astype(np.float32)


def tsne_layout(Z: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """A 2-D t-SNE map: openTSNE (FFT-accelerated, minutes at 100k) when installed, else scikit-learn's."""
    try:
        from openTSNE import TSNE
    except ImportError:
        from artsig.clustering import embed_2d

        return embed_2d(Z, "tsne", seed=seed, perplexity=perplexity)
    perplexity = min(perplexity, max(2.0, (len(Z) - 1) / 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emb = TSNE(perplexity=perplexity, initialization="pca", random_state=seed, n_jobs=1, verbose=False,
                   negative_gradient_method="fft" if len(Z) > 5000 else "bh").fit(np.asarray(Z, dtype=np.float64))
    return np.asarray(emb, dtype=np.float32)


def grid_layout(clusters: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Cells of unit size: each cluster a near-square block, blocks packed in rows (noise, -1, last)."""
    clusters = np.asarray(clusters)
    n = len(clusters)
    order = np.arange(n) if order is None else np.asarray(order)
    ids = sorted(set(clusters.tolist()), key=lambda c: (c < 0, c))
    width_total = max(8.0, np.sqrt(n) * 1.4)
    xy = np.zeros((n, 2), dtype=np.float32)
    x0 = y0 = row_height = 0.0
    for c in ids:
        members = np.flatnonzero(clusters == c)
        members = members[np.argsort(order[members], kind="stable")]
        side = int(np.ceil(np.sqrt(len(members))))
        if x0 > 0 and x0 + side > width_total:
            x0, y0, row_height = 0.0, y0 + row_height + 1.5, 0.0
        i = np.arange(len(members))
        xy[members, 0] = x0 + (i % side) * 1.05
        xy[members, 1] = y0 + (i // side) * 1.05
        row_height = max(row_height, np.ceil(len(members) / side) * 1.05)
        x0 += side * 1.05 + 1.5
    return xy


def timeline_layout(dates: pd.Series, clusters: np.ndarray) -> np.ndarray:
    """Years along x (one column per year), works of a year stacked by cluster; undated works left of the first year."""
    years = pd.to_numeric(pd.Series(np.asarray(dates, dtype=object)), errors="coerce")
    n = len(years)
    first = int(years.min()) if years.notna().any() else 0
    column = np.where(years.notna(), years.fillna(first).to_numpy() - first, -3).astype(int)
    xy = np.zeros((n, 2), dtype=np.float32)
    frame = pd.DataFrame({"column": column, "cluster": np.asarray(clusters), "row": np.arange(n)})
    frame = frame.sort_values(["column", "cluster", "row"], kind="stable")
    rank = frame.groupby("column").cumcount().to_numpy()
    xy[frame["row"].to_numpy(), 0] = frame["column"].to_numpy() * 1.05
    xy[frame["row"].to_numpy(), 1] = -rank * 1.05  # stacked upwards
    return xy


def sampled_layout(Z: np.ndarray, fit, max_fit: int = 20000, seed: int = 0) -> np.ndarray:
    """A 2-D map fitted on at most ``max_fit`` rows of ``Z`` (a seeded sample); every other row is placed
    beside its nearest sampled row in ``Z`` (a small seeded jitter), so UMAP and t-SNE stay minutes at 100k."""
    n = len(Z)
    if n <= max_fit:
        return np.asarray(fit(Z), dtype=np.float32)
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=max_fit, replace=False))
    xy = np.empty((n, 2), dtype=np.float32)
    xy[sample] = fit(Z[sample])
    rest = np.setdiff1d(np.arange(n), sample)
    nearest = NearestNeighbors(n_neighbors=1).fit(Z[sample]).kneighbors(Z[rest], return_distance=False)[:, 0]
    spread = float(np.ptp(xy[sample], axis=0).max()) or 1.0
    xy[rest] = xy[sample][nearest] + rng.normal(scale=0.004 * spread, size=(len(rest), 2)).astype(np.float32)
    return xy


def _scaled(xy: np.ndarray, n: int) -> np.ndarray:
    """A point cloud map (UMAP, t-SNE) scaled into a square of side ~1.6 sqrt(N) thumbnail units."""
    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = xy.min(0), xy.max(0)
    span = float(max((hi - lo).max(), 1e-9))
    return ((xy - lo) / span * (1.6 * np.sqrt(n) + 4)).astype(np.float32)


def choose_k(Z: np.ndarray, seed: int = 0, k_values: Sequence[int] = range(2, 13), sample: int = 2000) -> int:
    """k for k-means and the mixture: the best silhouette of :func:`artsig.clustering.k_scan` on a seeded sample."""
    from artsig.clustering import k_scan, pick_k

    rows = np.arange(len(Z))
    if len(Z) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(len(Z), size=sample, replace=False))
    k_values = [k for k in k_values if k < len(rows)]
    if not k_values:
        return 2
    return int(pick_k(k_scan(Z[rows], k_values, seed=seed))["silhouette"])


def fit_clusterings(Z: np.ndarray, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """k-means and Gaussian-mixture labels on the reduced features, and the mixture's responsibilities ``(N, k)``."""
    from artsig import scoring
    from artsig.clustering import gmm_fit

    kmeans = scoring.fit_partition(Z, "kmeans", k=k, seed=seed)
    gmm, proba = gmm_fit(Z, k, seed=seed)
    return {"kmeans": np.asarray(kmeans, dtype=np.int32), "gmm": np.asarray(gmm, dtype=np.int32), "proba": proba.astype(np.float32)}


def chapter_clusterings(catalog: pd.DataFrame, dataset: str, results_dir: str | os.PathLike | None, features: str) -> dict[str, np.ndarray]:
    """Chapter 03's assignments of this feature set (``results/<collection>/clustering/assignments``), if written for these works."""
    if results_dir is None:
        return {}
    from artsig.paths import dataset_slug

    path = Path(results_dir) / dataset_slug(dataset) / "clustering" / "assignments.parquet"
    if not path.is_file():
        return {}
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        log.warning("chapter 03's assignments %s unreadable (%s): left out", path, exc)
        return {}
    if "image_id" not in table:
        return {}
    table = table.assign(image_id=table["image_id"].astype(str)).drop_duplicates("image_id").set_index("image_id")
    ids = catalog["image_id"].astype(str)
    if not ids.isin(table.index).all():
        log.warning("chapter 03's assignments %s are for other works: left out", path)
        return {}
    wanted = [c for c in table.columns if c.startswith(f"{features}/")]
    return {f"chapter 03: {c}": table.loc[ids, c].fillna(-1).to_numpy(dtype=np.int32) for c in wanted}


def annotation_proposals(catalog: pd.DataFrame, dataset: str, results_dir: str | os.PathLike | None, Z: np.ndarray,
                         seed: int = 0, max_points: int = 5000, cache: Path | None = None) -> tuple[pd.DataFrame, str]:
    """The proposed clusters to annotate: chapter 07's ``clusters.csv`` when it was written for these works,
    else HDBSCAN (leaf clusters, as chapter 07) on the reduced features. Columns :data:`annotation.EXPORT_COLUMNS`."""
    from artsig.annotation import EXPORT_COLUMNS, cluster_table
    from artsig.paths import dataset_slug

    ids = set(catalog["image_id"].astype(str))
    if results_dir is not None:
        path = Path(results_dir) / dataset_slug(dataset) / "07_semi_supervised" / "clusters.csv"
        if path.is_file():
            table = pd.read_csv(path, dtype={"image_id": str, "decision": str}, keep_default_na=False)
            if all(c in table for c in EXPORT_COLUMNS) and len(table) and table["image_id"].isin(ids).all():
                table["decision"] = ""
                return table[list(EXPORT_COLUMNS)], "chapter 07's proposed clusters (clusters.csv)"
    from artsig.clustering import cluster

    rows = np.arange(len(Z))
    if len(Z) > max_points:  # proposals are for a person to look at: a seeded sample is plenty
        rows = np.sort(np.random.default_rng(seed).choice(len(Z), size=max_points, replace=False))
    labels = np.full(len(Z), -1, dtype=int)

    def fit() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(cluster(Z[rows], "hdbscan", seed=seed, min_cluster_size=3))

    key = store.fingerprint(EXPLORER_VERSION, "proposals", np.asarray(Z), seed, max_points)
    labels[rows] = fit() if cache is None else store.cached(Path(cache) / f"proposals-{key}.npy", fit)
    sample = f" of a sample of {max_points} works" if len(Z) > max_points else ""
    return cluster_table(labels, catalog), f"HDBSCAN clusters{sample} on the explorer's features (chapter 07 has not run on this collection)"


# --------------------------------------------------------------------------------------
# Images: card images and atlas pages, keyed by content


def card_image(path: str, sha256: str, size: int, cache: Path) -> Path:
    """A JPEG of the image (longest side ``size``), cached by its ``sha256`` and ``size``."""
    from PIL import Image

    from artsig.images import open_rgb

    target = cache / "cards" / sha256[:2] / f"{sha256}-{size}.jpg"
    if not target.exists():
        img = open_rgb(path)
        img.thumbnail((size, size), Image.BILINEAR)
        store.atomic_write(target, lambda tmp: img.save(tmp, "JPEG", quality=85))
    return target


def atlas_page(cards: Sequence[Path], thumb: int, per_side: int):
    """One atlas page: thumbnails (longest side ``thumb``, centred in their cell) in rows of ``per_side``."""
    from PIL import Image

    page = Image.new("RGB", (per_side * thumb, int(np.ceil(len(cards) / per_side)) * thumb), (24, 24, 28))
    for i, card in enumerate(cards):
        with Image.open(card) as img:
            img = img.convert("RGB")
            img.thumbnail((thumb, thumb), Image.BILINEAR)
            x, y = (i % per_side) * thumb, (i // per_side) * thumb
            page.paste(img, (x + (thumb - img.width) // 2, y + (thumb - img.height) // 2))
    return page


def _copy(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    store.atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp), lock=False)  # the output folder is one build's: no lock files there


def _write_atlas_script(page: Path, target: Path) -> None:
    """An atlas page as a script holding the JPEG as a ``data:`` URL: a ``file://`` page may read it into WebGL."""
    url = "data:image/jpeg;base64," + base64.b64encode(page.read_bytes()).decode("ascii")
    text = f"window.ARTSIG_ATLAS_LOADED({json.dumps(page.stem)}, {json.dumps(url)});\n"
    store.atomic_write(target, lambda tmp: tmp.write_text(text, encoding="ascii"), lock=False)


def write_images(catalog: pd.DataFrame, out: Path, data_dir, thumb: int = 64, card: int = 256, progress: bool = True) -> dict:
    """Card images (``out/images``) and atlas pages (``out/atlas``) of the catalog's distinct images.

    Works sharing an image (same ``sha256``) share one card and one atlas cell. Every file is
    cached under ``data/cache/explorer`` by content and written atomically, one at a time, so a
    killed build resumes with the next missing file. Returns the page names, the cells and the cards.
    """
    from tqdm import tqdm

    cache = _cache(data_dir)
    first = catalog.drop_duplicates("sha256")
    shas, paths = first["sha256"].astype(str).tolist(), first["path"].astype(str).tolist()
    unique_of = {s: i for i, s in enumerate(shas)}
    cards = []
    for sha, path in tqdm(list(zip(shas, paths)), desc="card images", unit="img", disable=not progress):
        src = card_image(path, sha, card, cache)
        _copy(src, out / "images" / f"{sha[:24]}.jpg")
        cards.append(src)
    per_side = ATLAS_SIDE // thumb
    per_page = per_side * per_side
    pages = []
    for start in tqdm(range(0, len(shas), per_page), desc="atlas pages", unit="page", disable=not progress):
        key = store.fingerprint(EXPLORER_VERSION, "atlas", shas[start:start + per_page], thumb, card)
        cached_page = cache / "atlases" / f"atlas-{key}.jpg"
        if not cached_page.exists():
            page = atlas_page(cards[start:start + per_page], thumb, per_side)
            store.atomic_write(cached_page, lambda tmp, page=page: page.save(tmp, "JPEG", quality=82))
        name = f"atlas/{cached_page.stem}.js"
        if not (out / name).exists():
            _write_atlas_script(cached_page, out / name)
        pages.append(name)
    cell = catalog["sha256"].astype(str).map(unique_of).to_numpy(dtype=np.int32)
    return {"pages": pages, "perSide": per_side, "size": thumb, "cell": cell, "cards": [f"images/{s[:24]}.jpg" for s in shas]}


# --------------------------------------------------------------------------------------
# The data files


def _b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(np.asarray(array, dtype=dtype)).tobytes()).decode("ascii")


def _json_value(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def metadata_columns(catalog: pd.DataFrame) -> list[dict]:
    """Every catalog column for the page: categories as codes into their values, numbers and text as lists."""
    columns = []
    for name in catalog.columns:
        s = catalog[name]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        n_unique = s.nunique(dropna=True)
        if not numeric and n_unique <= max(1000, len(s) // 20) and n_unique < len(s):
            values = sorted(s.dropna().astype(str).unique().tolist())
            codes = s.astype("string").map({v: i for i, v in enumerate(values)}).fillna(-1).to_numpy(dtype=np.int32)
            columns.append({"name": name, "kind": "category", "values": values, "codes": _b64(codes, np.int32)})
        elif numeric:
            columns.append({"name": name, "kind": "number", "data": [_json_value(v) for v in s.tolist()]})
        else:
            columns.append({"name": name, "kind": "text", "data": [_json_value(v) for v in s.astype(object).tolist()]})
    return columns


def _write_js(path: Path, variable: str, payload: dict) -> None:
    text = f"window.{variable} = " + json.dumps(payload, separators=(",", ":"), allow_nan=False) + ";\n"
    store.atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), lock=False)


def default_out(dataset: str, results_dir: str | os.PathLike = "results") -> Path:
    """``results/<collection>/explorer``: where :func:`build` writes unless told otherwise."""
    from artsig.paths import dataset_slug

    return Path(results_dir) / dataset_slug(dataset) / "explorer"


def claim_folder(out: Path, force: bool = False) -> None:
    """Refuse a non-empty folder this module did not write, unless ``force``; mark it as ours."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; pass another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists() and not force:
        raise FileExistsError(f"{out} holds files the explorer did not write; pass --force to write the explorer there anyway, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"written_by": "artsig.explorer", "version": EXPLORER_VERSION}) + "\n")


def explore(catalog: pd.DataFrame, X: np.ndarray, out: str | os.PathLike, *, dataset: str = "collection", features: str = "features",
            data_dir: str | os.PathLike = "../data", results_dir: str | os.PathLike | None = None, k: int = 10, n_clusters: int | None = None,
            layouts: Sequence[str] = LAYOUTS, thumb_size: int = 64, card_size: int = 256, n_components: int = 50, seed: int = 0,
            force: bool = False, progress: bool = True, title: str | None = None, timings: dict | None = None,
            max_layout_fit: int = 20000) -> Path:
    """Write the explorer of ``catalog`` with features ``X`` (rows in catalog order) into ``out``; returns ``index.html``.

    UMAP and t-SNE are fitted on at most ``max_layout_fit`` works (:func:`sampled_layout`).

    ``timings``, if given, receives the seconds each step took (the benchmark reports them).
    """
    import time

    from tqdm import tqdm

    from artsig.clustering import prepare_for
    from artsig.paths import dataset_slug

    out = Path(out)
    X = np.asarray(X, dtype=np.float32)
    if len(X) != len(catalog):
        raise ExplorerError(f"features have {len(X)} rows but the catalog {len(catalog)} works")
    if len(catalog) < 5:
        raise ExplorerError(f"the collection has {len(catalog)} works; the explorer needs at least 5")
    unknown = [name for name in layouts if name not in LAYOUTS]
    if unknown:
        raise ExplorerError(f"layouts {unknown}: expected some of {list(LAYOUTS)}")
    claim_folder(out, force)
    catalog = catalog.reset_index(drop=True)
    n = len(catalog)
    cache = _cache(data_dir)
    steps = tqdm(total=6 + len(layouts), desc="explorer", unit="step", disable=not progress)
    timings = {} if timings is None else timings
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now
        steps.update()

    # the reduced space (clustering, layouts) and the neighbours in the full space
    xkey = store.fingerprint(EXPLORER_VERSION, X, features, n_components, seed)
    Z = store.cached(cache / f"reduced-{xkey}.npy", lambda: prepare_for(features, X, n_components=min(n_components, X.shape[1], n - 1), seed=seed))
    lap("reduce")
    nkey = store.fingerprint(EXPLORER_VERSION, X, k)
    nn = store.cached(cache / f"neighbours-{nkey}.pkl", lambda: nearest_neighbours(X, k, progress=progress))
    lap("neighbours")

    k_clusters = n_clusters or store.cached(cache / f"k-{xkey}.pkl", lambda: choose_k(Z, seed=seed))
    parts = store.cached(cache / f"clusters-{xkey}-{k_clusters}.pkl", lambda: fit_clusterings(Z, k_clusters, seed=seed))
    clusterings = {f"k-means (k={k_clusters})": parts["kmeans"], f"GMM (k={k_clusters})": parts["gmm"]}
    clusterings.update(chapter_clusterings(catalog, dataset, results_dir, features))
    lap("clusterings")

    maps = {}
    fits = {"umap": partial(umap_layout, seed=seed), "tsne": partial(tsne_layout, seed=seed)}
    date_column = "date" if "date" in catalog and pd.to_numeric(catalog["date"], errors="coerce").nunique() >= 2 else None
    for name in layouts:
        steps.set_postfix_str(name)
        if name in fits:
            path = cache / f"{name}-{xkey}-{max_layout_fit}.npy"
            maps[name] = _scaled(store.cached(path, partial(sampled_layout, Z, fits[name], max_layout_fit, seed)), n)
        elif name == "grid":
            order = np.argsort(np.argsort(maps["umap"][:, 0])) if "umap" in maps else None
            maps[name] = grid_layout(parts["kmeans"], order)
        elif name == "timeline" and date_column:
            maps[name] = timeline_layout(catalog[date_column], parts["kmeans"])
        lap(f"layout {name}")

    proposals, proposal_source = annotation_proposals(catalog, dataset, results_dir, Z, seed=seed, cache=cache)
    lap("annotation proposals")
    thumbs = write_images(catalog, out, data_dir, thumb=thumb_size, card=card_size, progress=progress)
    lap("images and atlases")

    top = min(3, parts["proba"].shape[1])
    order = np.argsort(-parts["proba"], axis=1, kind="stable")[:, :top]
    responsibility = np.take_along_axis(parts["proba"], order, axis=1)
    works = {
        "version": EXPLORER_VERSION, "title": title or f"{dataset_slug(dataset)} — {features}", "dataset": dataset, "features": features, "n": n,
        "dateColumn": date_column, "columns": metadata_columns(catalog),
        "layouts": {name: _b64(xy, np.float32) for name, xy in maps.items()}, "layoutNames": {name: LAYOUT_NAMES[name] for name in maps},
        "clusterings": {name: _b64(labels, np.int32) for name, labels in clusterings.items()},
        "influences": {"clustering": f"GMM (k={k_clusters})", "top": top, "cluster": _b64(order, np.int32), "responsibility": _b64(responsibility, np.float32)},
        "thumbs": {"pages": thumbs["pages"], "perSide": thumbs["perSide"], "size": thumbs["size"], "cell": _b64(thumbs["cell"], np.int32), "cards": thumbs["cards"]},
        "annotation": {"source": proposal_source, "columns": list(proposals.columns),
                       "rows": [[_json_value(v) for v in row] for row in proposals.itertuples(index=False)]},
    }
    neighbours = {"k": int(nn[0].shape[1]), "metric": "cosine distance (1 - cos) in the full feature space",
                  "index": _b64(nn[0], np.int32), "distance": _b64(nn[1], np.float32)}
    _write_js(out / "data" / "neighbours.js", "ARTSIG_NEIGHBOURS", neighbours)
    _write_js(out / "data" / "works.js", "ARTSIG_WORKS", works)
    copy_page(out)
    lap("data files")
    steps.close()
    return out / "index.html"


def copy_page(out: Path) -> None:
    """The page itself (HTML, script, style, the vendored WebGL library and its licence) into ``out``."""
    for src in sorted(PAGE_DIR.rglob("*")):
        if src.is_file() and "__pycache__" not in src.parts:
            _copy_always(src, out / src.relative_to(PAGE_DIR))


def _copy_always(src: Path, dst: Path) -> None:
    store.atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp), lock=False)


def build(dataset: str, features: str = "efficientnet_lite0", out: str | os.PathLike | None = None, data_dir: str | os.PathLike = "data",
          results_dir: str | os.PathLike = "results", n_images: int = 2000, image_size: int = 256, seed: int = 0, device: str = "auto",
          force: bool = False, progress: bool = True, **options) -> Path:
    """Open ``dataset``, extract its features and write its explorer (default ``results/<collection>/explorer``)."""
    from artsig.datasets import open_dataset

    out = Path(out) if out else default_out(dataset, results_dir)
    claim_folder(out, force)  # before any slow work: a wrong --out fails at once
    catalog = open_dataset(dataset, data_dir=data_dir, n_images=n_images, image_size=image_size, seed=seed, progress=progress)
    X = collection_features(catalog, features, data_dir=data_dir, device=device, seed=seed, progress=progress)
    return explore(catalog, X, out, dataset=dataset, features=features, data_dir=data_dir, results_dir=results_dir, seed=seed,
                   force=True, progress=progress, **options)
