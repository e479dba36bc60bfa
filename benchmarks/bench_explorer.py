"""Explorer build time and page-load time, for the 2k benchmark and for 100k works.

    python benchmarks/bench_explorer.py [--data-dir data] [--sizes 2000,100000] [--features efficientnet_lite0]

2k: the procedural benchmark (``open_dataset("synthetic")``) with its cached features. 100k: the same
2,000 works repeated 50 times as new works (new ids, dates shifted by up to ±20 years, features with
Gaussian jitter of 5 % of each dimension's spread), so the page holds 100k points whose thumbnails
repeat the 2,000 images: the map, the data files and the neighbours are those of 100k works; the
thumbnails are those of 2,000 (2 atlas pages).

Each size is built cold (a fresh explorer cache; the features come from the data folder's cache) and
again warm (every step read from the cache). Then headless Chromium (SwiftShader: software WebGL,
this machine has no GPU) loads the page three times (time from navigation until the first frame is
drawn with every data file decoded) and records frame times while panning and zooming, over dots
(zoomed out) and over thumbnails (zoomed in). Results go to ``results/<collection>/benchmarks/explorer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from artsig import explorer
from artsig.datasets import open_dataset
from artsig.paths import run_dir

BROWSER_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"]

FRAMES_JS = """async ([mode, seconds]) => {
  const e = window.explorer;
  e.fitView();
  const start = e.state.viewState;
  if (mode === 'thumbnails') e.zoomTo(4.5);
  await e.idle();
  const times = [];  // frame intervals after a 2 s warm-up (the first frames drain the load's work)
  let last = performance.now();
  const t0 = last;
  return await new Promise((resolve) => {
    function frame(now) {
      const t = (now - t0) / 1000;
      if (t > 2) times.push(now - last);
      last = now;
      const [x, y] = start.target;
      const zoom = mode === 'thumbnails' ? 4.5 + Math.sin(t * 2) * 0.7 : Math.min(start.zoom, 3) - 0.5 + Math.sin(t * 2) * 0.5;
      e.setView(x + Math.sin(t) * 20, y + Math.cos(t) * 20, zoom);
      if (t < seconds + 2) { requestAnimationFrame(frame); return; }
      const thumbs = e.thumbsShown(), rest = performance.now();
      // the view at rest: after REST_MS every dot is drawn again; time until that frame is done
      setTimeout(() => e.idle().then(() => resolve({times, thumbs, restMs: performance.now() - rest - 250})), 250);
    }
    requestAnimationFrame(frame);
  });
}"""


def machine() -> dict:
    """The machine a timing was taken on, with its load (other sessions share it)."""
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if line.startswith("Model name")), platform.processor())
    return {"cpu": model, "nproc": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def jittered(catalog: pd.DataFrame, X: np.ndarray, n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` works from repeats of ``catalog``: new ids, dates moved by up to ±20 years, features with 5 % jitter."""
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(n / len(catalog)))
    rows = np.tile(np.arange(len(catalog)), reps)[:n]
    big = catalog.iloc[rows].reset_index(drop=True)
    big["image_id"] = [f"{i}-r{r}" for i, r in zip(big["image_id"], np.repeat(np.arange(reps), len(catalog))[:n])]
    if "date" in big:
        big["date"] = (pd.to_numeric(big["date"], errors="coerce") + rng.integers(-20, 21, n)).astype("Int64")
    spread = X.std(0, keepdims=True)
    return big, (X[rows] + rng.normal(size=(n, X.shape[1])).astype(np.float32) * 0.05 * spread).astype(np.float32)


def folder_size(folder: Path) -> dict:
    files = [p for p in folder.rglob("*") if p.is_file()]
    data = sum(p.stat().st_size for p in (folder / "data").glob("*.js"))
    return {"files": len(files), "megabytes": round(sum(p.stat().st_size for p in files) / 1e6, 1), "data_js_megabytes": round(data / 1e6, 1)}


def browse(index: Path, loads: int = 3, seconds: float = 8.0) -> dict:
    """Page-load seconds (each load a fresh page) and frame times while panning / zooming."""
    from playwright.sync_api import sync_playwright

    result: dict = {"load_seconds": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=BROWSER_ARGS)
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            t = time.perf_counter()
            page.goto(index.as_uri())
            page.wait_for_function("document.body.dataset.ready === '1'", timeout=300_000)
            result["load_seconds"].append(round(time.perf_counter() - t, 2))
            page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        page.goto(index.as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=300_000)
        for mode in ("dots", "thumbnails", "empty"):
            if mode == "empty":  # no work shown: what the software renderer costs for the canvas alone
                page.select_option("#colour-by", index=0)
                page.click("#filter-none")
            out = page.evaluate(FRAMES_JS, ["dots" if mode == "empty" else mode, seconds])
            times = np.array(out["times"] or [float("nan")])
            result[f"{mode}_frames"] = {"frames": len(times), "median_ms": round(float(np.median(times)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
                                        "fps": round(1000 / float(np.mean(times)), 1), "thumbnails_drawn": out["thumbs"],
                                        "full_redraw_at_rest_ms": round(float(out["restMs"]), 1)}
        browser.close()
    result["load_median_seconds"] = float(np.median(result["load_seconds"]))
    return result


def tsne_compare(Z: np.ndarray, n: int = 5000, seed: int = 0) -> dict:
    """Seconds of openTSNE and scikit-learn's t-SNE on the same ``n`` rows."""
    from artsig.clustering import embed_2d

    rows = np.random.default_rng(seed).choice(len(Z), size=min(n, len(Z)), replace=False)
    t = time.perf_counter()
    explorer.tsne_layout(Z[rows], seed=seed)
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    embed_2d(Z[rows], "tsne", seed=seed)
    return {"rows": len(rows), "openTSNE_seconds": round(open_s, 1), "sklearn_seconds": round(time.perf_counter() - t, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--results-dir", default="results", help="where chapters 03 and 07 wrote their tables (read for the 2k explorer)")
    parser.add_argument("--report", help="where to write the JSON report (default results/synthetic/benchmarks/explorer.json)")
    parser.add_argument("--features", default="efficientnet_lite0")
    parser.add_argument("--sizes", default="2000,100000")
    parser.add_argument("--work", help="folder for the explorers and their caches (default: a temporary folder, removed)")
    parser.add_argument("--tsne-compare", type=int, default=5000, help="rows for the openTSNE / scikit-learn comparison (0: skip)")
    args = parser.parse_args()

    catalog = open_dataset("synthetic", data_dir=args.data_dir, progress=False)
    X = explorer.collection_features(catalog, args.features, data_dir=args.data_dir, progress=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-explorer-"))
    report: dict = {"features": args.features, "machine_at_start": machine(), "sizes": {}}
    for n in [int(s) for s in args.sizes.split(",")]:
        cat, feats = (catalog, X) if n == len(catalog) else jittered(catalog, X, n)
        out, cache = work / f"explorer-{n}", work / f"data-{n}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        row: dict = {"works": n, "machine": machine()}
        for run in ("cold", "warm"):
            timings: dict = {}
            t = time.perf_counter()
            index = explorer.explore(cat, feats, out, dataset="synthetic" if n == len(catalog) else f"synthetic-x{n}", features=args.features,
                                     data_dir=cache, results_dir=args.results_dir if n == len(catalog) else None, timings=timings, force=True)
            row[f"build_{run}_seconds"] = round(time.perf_counter() - t, 1)
            row[f"build_{run}_steps"] = timings
            print(f"{n} works, {run} build: {row[f'build_{run}_seconds']} s  {timings}", flush=True)
        row["folder"] = folder_size(out)
        row["browser"] = browse(index)
        print(json.dumps(row, indent=1), flush=True)
        report["sizes"][str(n)] = row
    if args.tsne_compare:
        from artsig.clustering import prepare_for

        report["tsne"] = tsne_compare(prepare_for(args.features, X, n_components=50), args.tsne_compare)
        print("t-SNE:", report["tsne"])
    target = Path(args.report) if args.report else run_dir("synthetic", args.results_dir, "benchmarks") / "explorer.json"
    target.write_text(json.dumps(report, indent=1) + "\n")
    print(f"written: {target}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
