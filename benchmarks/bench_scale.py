"""A 100k-work collection: embedding (extrapolated), the neighbour index, kNN queries, clustering.

The collection is **drawn features**, not images: 100,000 EfficientNet-Lite0 vectors (1280-d)
drawn to match the 2,000-image benchmark's cached features, with the benchmark's artists and
styles as labels (``scale_data.py`` says exactly how), plus ``--queries`` held-out vectors drawn
the same way. What is timed:

* ``embed``: ``features.extract`` of a slice of the benchmark's images (``--embed-slice``, 256)
  with a cold temporary cache, extrapolated to ``--n`` works (marked *extrapolated*);
* ``index``: :class:`artsig.neighbours.NeighbourIndex` (FAISS HNSW, cosine, one build thread):
  build time, peak memory, size on disk; recall@10 of the held-out queries against exact search
  and the query latency (ms per query, one at a time and in one batch);
* ``cluster``: ``clustering.prepare`` (standardise + PCA-50), then each large-collection method
  of ``clustering.cluster`` (mini-batch k-means, GMM, HDBSCAN) at k = the number of artists:
  time, peak memory, NMI with the drawn artist and style;
* ``--compare-ann``: the candidate libraries (``ann_candidates.py``: FAISS HNSW / IVF, hnswlib,
  USearch), each in its own process (long: the HNSW builds take minutes each on 2 cores).

Each measured step runs in a child process; its peak memory is the kernel's peak resident size
(``VmHWM``, reset before the step) less the resident size before it (the loaded inputs). One tidy table is printed and written as CSV
(``--out``), with the processor's name, the core count and the load average before and after.

    python benchmarks/bench_scale.py                      # about 15 minutes on 2 busy cores
    python benchmarks/bench_scale.py --n 20000 --skip-embed
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> float:
    """Restart the kernel's peak-RSS count (VmHWM) of this process; the resident size now, in MiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: the lifetime peak is reported instead
        pass
    return rss_mb()


def peak_mb() -> float:
    """The peak resident size since :func:`reset_peak` (VmHWM), else the lifetime peak, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if line.startswith("Model name")), "unknown")
    return {"cpu": model, "nproc": os.cpu_count(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


# --- children: one measured step each, printing one JSON line ------------------------------------


def child_index(work: Path, k: int) -> dict:
    from artsig.neighbours import NeighbourIndex

    X, Q = np.load(work / "vectors.npy"), np.load(work / "queries.npy")
    truth = np.load(work / "truth.npy")
    base = reset_peak()
    started = time.perf_counter()
    index = NeighbourIndex(metric="cosine", method="hnsw", seed=0).fit(X)
    built = time.perf_counter() - started
    peak = peak_mb() - base
    index.save(work / "index")
    size = sum(f.stat().st_size for f in (work / "index").iterdir()) / 2**20
    started = time.perf_counter()
    rows, _ = index.search(Q, k)
    batched = (time.perf_counter() - started) / len(Q) * 1000
    started = time.perf_counter()
    for q in Q[:200]:
        index.search(q[None], k)
    single = (time.perf_counter() - started) / min(len(Q), 200) * 1000
    again = NeighbourIndex.load(work / "index").search(Q[:100], k)[0]
    return {"build_s": built, "peak_mb": peak, "size_mb": size, "recall": recall_at(rows, truth), "single_ms": single,
            "batched_ms": batched, "reload_same": bool((again == rows[:100]).all()), "kind": index.kind,
            "params": f"M={index.M}, efConstruction={index.ef_construction}, efSearch={index.ef_search}"}


def child_ann(work: Path, name: str, k: int) -> dict:
    sys.path.insert(0, str(HERE))
    from ann_candidates import CANDIDATES

    X, Q = np.load(work / "vectors.npy"), np.load(work / "queries.npy")
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    truth = np.load(work / "truth.npy")
    base = reset_peak()
    built, search, knobs, size, desc = CANDIDATES[name](X, 0)
    peak = peak_mb() - base
    rows = []
    for knob in knobs:
        started = time.perf_counter()
        found = search(Q, k, knob)
        batched = (time.perf_counter() - started) / len(Q) * 1000
        started = time.perf_counter()
        for q in Q[:200]:
            search(q[None], k, knob)
        single = (time.perf_counter() - started) / min(len(Q), 200) * 1000
        rows.append({"knob": knob, "recall": recall_at(found, truth), "single_ms": single, "batched_ms": batched})
    return {"build_s": built, "peak_mb": peak, "size_mb": size / 2**20, "desc": desc, "rows": rows}


def child_prepare(work: Path) -> dict:
    from artsig import clustering

    X = np.load(work / "vectors.npy")
    base = reset_peak()
    started = time.perf_counter()
    Z = clustering.prepare(X, n_components=50, seed=0)
    took = time.perf_counter() - started
    np.save(work / "z.npy", Z)
    return {"time_s": took, "peak_mb": peak_mb() - base}


def child_cluster(work: Path, method: str) -> dict:
    from artsig import clustering, metrics

    Z = np.load(work / "z.npy")
    labels = pd.read_parquet(work / "labels.parquet")
    k = int(labels["artist"].nunique())  # the drawn artists
    base = reset_peak()
    started = time.perf_counter()
    found = clustering.cluster(Z, method, k=k, seed=0)
    took = time.perf_counter() - started
    return {"time_s": took, "peak_mb": peak_mb() - base, "clusters": len(set(found.tolist()) - {-1}),
            "noise": float((found == -1).mean()), "nmi_artist": metrics.nmi(labels["artist"].to_numpy(), found),
            "nmi_style": metrics.nmi(labels["style"].to_numpy(), found), "large": clustering.is_large(len(Z))}


def child_embed(work: Path, data_dir: str, n: int) -> dict:
    import shutil

    from artsig import datasets, features

    catalog = datasets.open_dataset("synthetic", data_dir=data_dir, progress=False).head(n + 32)
    cold = work / "embed-data"
    weights = Path(data_dir) / "cache" / "weights"
    if weights.is_dir():  # the weights are not what is timed: the images and the forward are
        shutil.copytree(weights, cold / "cache" / "weights")
    first = 32  # the first call loads the model: its fixed cost is timed apart, not extrapolated
    started = time.perf_counter()
    features.extract(catalog.iloc[:first], "efficientnet_lite0", data_dir=cold, progress=False)
    warm = time.perf_counter() - started
    started = time.perf_counter()
    X = features.extract(catalog.iloc[first:], "efficientnet_lite0", data_dir=cold, progress=False)
    took = time.perf_counter() - started
    return {"images": len(X), "time_s": took, "rate": len(X) / took, "first_s": warm, "first": first}


def run_child(args: argparse.Namespace, work: Path, *step: str) -> dict:
    """One step in a fresh process (its own peak memory); its JSON answer."""
    command = [sys.executable, __file__, "--child", *step, "--work", str(work), "--k", str(args.k), "--data-dir", args.data_dir,
               "--embed-slice", str(args.embed_slice)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"step {' '.join(step)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the parent -----------------------------------------------------------------------------------


def build_collection(args: argparse.Namespace, work: Path) -> pd.DataFrame:
    """Draw the collection and the queries, store them for the children, compute the exact answers."""
    sys.path.insert(0, str(HERE))
    from scale_data import DESCRIPTION, benchmark_features, describe, draw_features

    from artsig.neighbours import NeighbourIndex

    X, catalog = benchmark_features(args.data_dir)
    started = time.perf_counter()
    V, labels = draw_features(X, catalog, args.n + args.queries, seed=args.seed)
    drawn = time.perf_counter() - started
    np.save(work / "vectors.npy", V[:args.n])
    np.save(work / "queries.npy", V[args.n:])
    labels.iloc[:args.n].reset_index(drop=True).to_parquet(work / "labels.parquet")
    started = time.perf_counter()
    truth = NeighbourIndex(metric="cosine", method="exact").fit(V[:args.n]).search(V[args.n:], args.k)[0]
    exact = time.perf_counter() - started
    np.save(work / "truth.npy", truth)
    real, fake = describe(X), describe(V[:args.n])
    print(f"collection: {args.n} works + {args.queries} held-out queries, 1280-d; {DESCRIPTION.format(modes=48)}")
    print(f"  benchmark features: {real}\n  drawn features:     {fake}\n  drawn in {drawn:.1f} s; exact answers in {exact:.1f} s")
    rows = pd.DataFrame([
        {"step": "data", "method": "exact search (numpy, cosine)", "metric": "ms/query (batched)", "value": exact / args.queries * 1000, "unit": "ms", "note": f"{args.queries} queries, ground truth"},
    ])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--embed-slice", type=int, default=256)
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--compare-ann", action="store_true", help="also measure every candidate library (long)")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.csv"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import artsig  # noqa: F401  (pins the kernels and threads, as every chapter does)

    if args.child:
        work, kind = Path(args.work), args.child[0]
        answer = {"index": lambda: child_index(work, args.k), "ann": lambda: child_ann(work, args.child[1], args.k),
                  "prepare": lambda: child_prepare(work), "cluster": lambda: child_cluster(work, args.child[1]),
                  "embed": lambda: child_embed(work, args.data_dir, args.embed_slice)}[kind]()
        print(json.dumps(answer))
        return

    info = machine()
    print(f"machine: {info['cpu']}, {info['nproc']} cores; load average before {info['load']}")
    with tempfile.TemporaryDirectory(prefix="artsig-scale-") as tmp:
        work = Path(tmp)
        rows = build_collection(args, work).to_dict("records")

        def add(step, method, metric, value, unit, note=""):
            rows.append({"step": step, "method": method, "metric": metric, "value": value, "unit": unit, "note": note})
            print(f"  {step:8} {method:34} {metric:26} {value:10.3f} {unit:6} {note}", flush=True)

        if not args.skip_embed:
            e = run_child(args, work, "embed")
            add("embed", "features.extract (cold cache)", f"first {e['first']} images", e["first_s"], "s", "model loading included, not extrapolated")
            add("embed", "features.extract (cold cache)", "images/s", e["rate"], "img/s", f"measured on the next {e['images']} benchmark images (256 px files)")
            add("embed", "features.extract (cold cache)", f"time for {args.n}", args.n / e["rate"] / 60, "min", "extrapolated from the measured slice")

        r = run_child(args, work, "index")
        method = f"NeighbourIndex {r['kind']}"
        add("index", method, "build time", r["build_s"], "s", r["params"] + ", one build thread")
        add("index", method, "build peak memory", r["peak_mb"], "MiB", "peak RSS of the step less the RSS before it")
        add("index", method, "size on disk", r["size_mb"], "MiB", "vectors included")
        add("query", method, f"recall@{args.k}", r["recall"], "", f"{args.queries} held-out queries vs exact")
        add("query", method, "latency, one query", r["single_ms"], "ms", "")
        add("query", method, "latency, batched", r["batched_ms"], "ms", f"per query, {args.queries} in one call")
        add("query", method, "reloaded answers equal", float(r["reload_same"]), "", "save + load, 100 queries")

        if args.compare_ann:
            sys.path.insert(0, str(HERE))
            from ann_candidates import CANDIDATES

            for name in CANDIDATES:
                a = run_child(args, work, "ann", name)
                add("ann", name, "build time", a["build_s"], "s", a["desc"] + ", one thread")
                add("ann", name, "build peak memory", a["peak_mb"], "MiB", "")
                add("ann", name, "size on disk", a["size_mb"], "MiB", "")
                for q in a["rows"]:
                    add("ann", f"{name} knob={q['knob']}", f"recall@{args.k}", q["recall"], "", "")
                    add("ann", f"{name} knob={q['knob']}", "latency, one query", q["single_ms"], "ms", "")
                    add("ann", f"{name} knob={q['knob']}", "latency, batched", q["batched_ms"], "ms", "")

        if not args.skip_cluster:
            labels = pd.read_parquet(work / "labels.parquet")
            k = int(labels["artist"].nunique())
            p = run_child(args, work, "prepare")
            add("cluster", "prepare (standardise + PCA-50)", "time", p["time_s"], "s", "shared by every method")
            add("cluster", "prepare (standardise + PCA-50)", "peak memory", p["peak_mb"], "MiB", "peak RSS of the step less the RSS before it")
            for name, label in (("kmeans", "mini-batch k-means"), ("gmm", "GMM (diag, 50k-row fit)"), ("hdbscan", "HDBSCAN (fast_hdbscan, PCA-10)")):
                c = run_child(args, work, "cluster", name)
                note = f"k={k}" if name != "hdbscan" else f"{c['clusters']} clusters, noise {c['noise']:.2f}"
                add("cluster", label, "time", c["time_s"], "s", note + ("" if c["large"] else " (below the large limit: the small-collection method)"))
                add("cluster", label, "peak memory", c["peak_mb"], "MiB", "peak RSS of the step less the RSS before it")
                add("cluster", label, "NMI artist", c["nmi_artist"], "", f"{k} drawn artists")
                add("cluster", label, "NMI style", c["nmi_style"], "", "")

    after = machine()
    print(f"load average after {after['load']}")
    frame = pd.DataFrame(rows)
    frame.insert(0, "n", args.n)
    frame["cpu"], frame["nproc"], frame["load_before"], frame["load_after"] = info["cpu"], info["nproc"], info["load"], after["load"]
    print()
    print(frame[["step", "method", "metric", "value", "unit", "note"]].round(3).to_string(index=False))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.round(4).to_csv(args.out, index=False)
        print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
