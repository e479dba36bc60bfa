"""Embedding speed: PyTorch eager vs the ONNX Runtime engine, bare and as the whole pipeline from files.

On the same N images, in one run (images/s):

1. *torch eager, bare*: the EfficientNet-Lite runner (pooled features, Gram matrices and channel
   statistics of the tapped layers) in PyTorch eager on images already decoded and resized;
2. *engine, bare*: the same runner on ONNX Runtime (:mod:`artsig.inference`), same images;
3. *OpenVINO, bare*: the same exported graph on OpenVINO, only when ``openvino`` is installed;
4. *pipeline (engine)*: ``artsig.features.extract`` from the files with a cold feature cache
   (a temporary data folder holding only the exported graph): decode + resize in threads while
   the engine runs, cache writes; the one-off session start is reported apart;
5. *pipeline (torch)*: the same with ``engine="torch"`` (what the pipeline ran before);
6. *decode only*: the pipeline's decoding (open, resize) with its worker threads, no model;
7. *catalog scan, cold*: what ``embed`` does first on a new collection (every file decoded once
   to check it and hashed), on the same files.

Then the ratios: pipeline / engine bare (target >= 0.9) and engine / torch eager. The
processor, CPU count and load average are printed beside them (timings on a shared machine
move with its load: rerun when the load is low).

    python benchmarks/bench_embed.py                       # 256 real paintings (shared dev set) or the benchmark
    python benchmarks/bench_embed.py --n-images 512 --dataset synthetic
    python benchmarks/bench_embed.py --dataset folder:/path/to/paintings --extractor efficientnet_lite2

Writes ``results/<dataset>/benchmarks/embed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from artsig import determinism, inference  # noqa: E402
from artsig import features as F  # noqa: E402
from artsig.backbones import torch_threads  # noqa: E402
from artsig.catalog import scan_images  # noqa: E402
from artsig.datasets import open_dataset  # noqa: E402
from artsig.devices import seed_everything  # noqa: E402
from artsig.paths import run_dir  # noqa: E402

PEOPLE_ART = ROOT.parent / "shared" / "data" / "peopleart-pd" / "works.csv"


def processor() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


CPU_MS: dict[str, float] = {}  # CPU milliseconds per image (every thread of this process), by row


def rate(run, images, batch_size: int, repeats: int = 1) -> tuple[float, float]:
    """(images/s, CPU ms per image) of ``run`` over ``images`` in batches, after one warm-up batch; best of ``repeats``."""
    run(images[:batch_size])
    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(images), batch_size):
            run(images[i : i + batch_size])
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return len(images) / best, 1000 * cpu / len(images)


def pipeline_rate(catalog, name, onnx_cache: Path | None, engine: str, batch_size: int, workers) -> tuple[float, float, float]:
    """(images/s without the one-off model start, model start seconds, CPU ms per image) of a cold ``extract`` from files."""
    n = len(catalog)
    with tempfile.TemporaryDirectory() as tmp:
        if onnx_cache is not None:  # the export is made once per machine, not per run: start from it
            shutil.copytree(onnx_cache, Path(tmp) / "cache" / "onnx")
        runner = F._make_runner(F.EXTRACTORS[name].runner, "imagenet", engine, tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        runner.build("cpu")
        load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        F.extract(catalog, name, data_dir=tmp, device="cpu", batch_size=batch_size, workers=workers, progress=False, engine=engine)
        cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    return n / max(cold_s - load_s, 1e-9), load_s, 1000 * max(cold_cpu - load_cpu, 0.0) / n


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=None, help="default: the shared real paintings (csv:...peopleart-pd/works.csv) if present, else synthetic")
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--results-dir", default=str(ROOT / "results"))
    ap.add_argument("--n-images", type=int, default=256, help="images timed (the first N of the catalog)")
    ap.add_argument("--extractor", default="efficientnet_lite0", help="efficientnet_lite0, efficientnet_lite1 or efficientnet_lite2")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None, help="decoding threads (default: the pipeline's own)")
    ap.add_argument("--repeats", type=int, default=2, help="bare forwards and the engine's pipeline: best of this many passes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    dataset = args.dataset or (f"csv:{PEOPLE_ART}" if PEOPLE_ART.is_file() else "synthetic")
    if not inference.supports(F.EXTRACTORS[args.extractor].runner):
        raise SystemExit(f"--extractor {args.extractor}: the engine runs efficientnet_lite0/1/2")

    seed_everything(args.seed)
    threads = torch_threads()
    load_before = os.getloadavg()
    catalog = open_dataset(dataset, data_dir=args.data_dir, seed=args.seed, progress=False).iloc[: args.n_images].reset_index(drop=True)
    n, bs = len(catalog), args.batch_size
    rname = F.EXTRACTORS[args.extractor].runner
    size = F._make_runner(rname, "imagenet").input_size
    paths = catalog["path"].tolist()
    workers = args.workers or F._default_workers()

    # decoding alone, as the pipeline does it (batches in worker threads), then the images held in memory
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda i: F._decode_batch(paths[i : i + bs], [size], "resize")[size], range(0, n, bs)))
    decode = n / (time.perf_counter() - t0)
    decode_cpu = 1000 * (time.process_time() - c0) / n
    import numpy as np

    images = np.concatenate(parts)

    with tempfile.TemporaryDirectory() as onnx_data:
        t0 = time.perf_counter()
        inference.onnx_model(rname, "imagenet", onnx_data)
        export_s = time.perf_counter() - t0
        onnx_run = F._make_runner(rname, "imagenet", "onnx", onnx_data).build("cpu")
        torch_run = F._make_runner(rname, "imagenet", "torch").build("cpu")
        rows: dict[str, float] = {}
        rows["torch eager, bare"], CPU_MS["torch eager, bare"] = rate(torch_run, images, bs, args.repeats)
        rows["ONNX Runtime engine, bare"], CPU_MS["ONNX Runtime engine, bare"] = rate(onnx_run, images, bs, args.repeats)
        try:
            import openvino as ov

            core = ov.Core()
            compiled = core.compile_model(core.read_model(str(inference.onnx_model(rname, "imagenet", onnx_data))), "CPU",
                                          {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
            request = compiled.create_infer_request()
            rows["OpenVINO, bare"], CPU_MS["OpenVINO, bare"] = rate(lambda b: request.infer({0: np.ascontiguousarray(b)}), images, bs,
                                                                    args.repeats)
        except ImportError:
            pass
        onnx_cache = Path(onnx_data) / "cache" / "onnx"
        runs = [pipeline_rate(catalog, args.extractor, onnx_cache, "onnx", bs, args.workers) for _ in range(args.repeats)]
        rows["pipeline from files (engine)"], start_s, CPU_MS["pipeline from files (engine)"] = max(runs)  # best, as the bare forwards
        rows["pipeline from files (torch)"], _, CPU_MS["pipeline from files (torch)"] = pipeline_rate(catalog, args.extractor, None, "torch",
                                                                                                   bs, args.workers)
    rows["decode only (pipeline threads)"], CPU_MS["decode only (pipeline threads)"] = decode, decode_cpu
    t0, c0 = time.perf_counter(), time.process_time()  # a cold scan of the same files: no scan cache
    scan_images(catalog[["image_id", "path"]], cache_file=None, progress=False)
    rows["catalog scan, cold (decode + hash)"] = n / (time.perf_counter() - t0)
    CPU_MS["catalog scan, cold (decode + hash)"] = 1000 * (time.process_time() - c0) / n
    engine_bare = rows["ONNX Runtime engine, bare"]
    report = {
        "dataset": dataset, "extractor": args.extractor, "images": n, "input_size": size, "batch_size": bs,
        "processor": processor(), "cpus": len(os.sched_getaffinity(0)), "torch_threads": threads,
        "engine_threads": determinism.inference_threads(), "decode_workers": workers,
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "images_per_s": {k: round(v, 1) for k, v in rows.items()},
        "cpu_ms_per_image": {k: round(v, 2) for k, v in CPU_MS.items()},
        # with every core busy, a pipeline reaches (engine CPU per image) / (pipeline CPU per image) of the bare engine:
        # the ratio an idle machine would show, read from CPU time, which the load moves much less than wall time
        "pipeline_over_engine_bare_from_cpu_time": round(CPU_MS["ONNX Runtime engine, bare"] / CPU_MS["pipeline from files (engine)"], 3),
        "pipeline_over_engine_bare": round(rows["pipeline from files (engine)"] / engine_bare, 3),
        "engine_over_torch_eager": round(engine_bare / rows["torch eager, bare"], 2),
        "pipeline_engine_over_pipeline_torch": round(rows["pipeline from files (engine)"] / rows["pipeline from files (torch)"], 2),
        "onnx_export_s": round(export_s, 2), "engine_session_start_s": round(start_s, 2),
    }
    out = run_dir(dataset, args.results_dir, "benchmarks") / "embed.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"{n} images of {dataset} at {size} px, {args.extractor}, batch {bs}")
    print(f"processor: {report['processor']}, {report['cpus']} CPUs, {threads} torch threads, {report['engine_threads']} engine threads, "
          f"{workers} decode threads, "
          f"load average {report['load_average_before'][0]} -> {report['load_average_after'][0]}")
    width = max(len(k) for k in rows)
    print(f"{'':<{width}}  images/s  CPU ms/image")
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:8.1f}  {CPU_MS[k]:12.1f}")
    print(f"pipeline / engine bare: {report['pipeline_over_engine_bare']:.2f} (target >= 0.9); "
          f"engine / torch eager: {report['engine_over_torch_eager']:.2f}x; "
          f"pipeline engine / pipeline torch: {report['pipeline_engine_over_pipeline_torch']:.2f}x")
    print(f"from CPU time (what an idle machine would show): pipeline / engine bare "
          f"{report['pipeline_over_engine_bare_from_cpu_time']:.2f}")
    print(f"one-off: ONNX export {export_s:.1f} s (cached per machine), session start {start_s:.2f} s (per run)")
    print(f"(written to {out})")
    return report


if __name__ == "__main__":
    main()
