"""Feature-extraction speed: bare model forward vs the whole pipeline vs a cached rerun.

On the same images, in one run:

1. *bare forward*: the model on images already decoded, resized and held in memory
   (the runner's forward pass, including the Gram / channel statistics taps the pipeline
   also computes), images/s;
2. *pipeline*: ``artsig.features.extract`` from files with a cold cache (decode + resize +
   forward + cache write, decoding in threads while the model runs), images/s, not counting
   the one-off model load (reported separately, with the rate including it);
3. their ratio (goal >= 0.9: decoding is hidden behind the model);
4. *cached rerun*: the same call again, and its speed-up over the cold pipeline.

    python benchmarks/bench_features.py                     # 256 benchmark images, lite0, CPU
    python benchmarks/bench_features.py --n-images 512 --device cuda --batch-size 64
    python benchmarks/bench_features.py --dataset folder:/path/to/paintings

Writes ``results/<dataset>/benchmarks/features.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from artsig import features as F  # noqa: E402
from artsig.backbones import torch_threads  # noqa: E402
from artsig.datasets import open_dataset  # noqa: E402
from artsig.devices import resolve_device, seed_everything  # noqa: E402
from artsig.paths import run_dir  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--results-dir", default=str(ROOT / "results"))
    ap.add_argument("--n-images", type=int, default=256, help="images timed (the first N of the catalog)")
    ap.add_argument("--extractor", default="efficientnet_lite0", help="a model runner: efficientnet_lite0/1/2 or a torchvision name")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=None, help="decoding threads (default: min(4, CPUs))")
    ap.add_argument("--image-mode", default="resize")
    ap.add_argument("--engine", default="auto", help="auto, onnx or torch (the EfficientNet-Lite trunks' inference engine)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    seed_everything(args.seed)
    device = resolve_device(args.device)
    threads = torch_threads()
    catalog = open_dataset(args.dataset, data_dir=args.data_dir, seed=args.seed, progress=False)
    catalog = catalog.iloc[: args.n_images].reset_index(drop=True)
    n = len(catalog)
    ext = F.EXTRACTORS[args.extractor]
    engine = F.runner_engine(ext.runner, args.engine, device)
    runner = F._make_runner(ext.runner, "imagenet", engine, args.data_dir)  # an ONNX export is cached in the data folder

    # 1. bare forward on pre-decoded images
    images = F._decode_batch(catalog["path"].tolist(), [runner.input_size], args.image_mode)[runner.input_size]
    t0 = time.perf_counter()
    run = runner.build(device)
    load_s = time.perf_counter() - t0  # the one-off model load every cold pipeline run pays too
    run(images[: args.batch_size])  # warm-up (allocations, kernel selection)
    t0 = time.perf_counter()
    for i in range(0, n, args.batch_size):
        run(images[i : i + args.batch_size])
    bare = n / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        kwargs = dict(data_dir=tmp, device=device, batch_size=args.batch_size, workers=args.workers, image_mode=args.image_mode, progress=False,
                      engine=engine)
        if engine == "onnx":  # the export is made once per machine: the cold run starts from it, as the bare forward did
            import shutil

            shutil.copytree(Path(args.data_dir) / "cache" / "onnx", Path(tmp) / "cache" / "onnx")
        t0 = time.perf_counter()
        F.extract(catalog, args.extractor, **kwargs)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        F.extract(catalog, args.extractor, **kwargs)
        warm_s = time.perf_counter() - t0
    pipeline = n / max(cold_s - load_s, 1e-9)
    report = {
        "extractor": args.extractor,
        "dataset": args.dataset,
        "images": n,
        "batch_size": args.batch_size,
        "device": device,
        "engine": engine,
        "torch_threads": threads,
        "decode_workers": args.workers or F._default_workers(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "bare_forward_img_s": round(bare, 1),
        "pipeline_img_s": round(pipeline, 1),
        "ratio": round(pipeline / bare, 3),
        "pipeline_img_s_with_model_load": round(n / cold_s, 1),
        "model_load_s": round(load_s, 2),
        "cold_s": round(cold_s, 2),
        "cached_rerun_s": round(warm_s, 3),
        "cached_speedup": round(cold_s / warm_s, 1),
    }
    out = run_dir(args.dataset, args.results_dir, "benchmarks") / "features.json"
    out.write_text(json.dumps(report, indent=2))
    width = max(len(k) for k in report)
    for k, v in report.items():
        print(f"{k:<{width}}  {v}")
    print(f"(written to {out})")
    return report


if __name__ == "__main__":
    main()
