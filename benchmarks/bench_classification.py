"""Classification speed: one training epoch per model, images/s, and the whole chapter.

For each model of the classification chapter, on the chapter's balanced training split at
its input size and thread count:

1. *first epoch*: build + trace + one epoch of end-to-end training (what the chapter pays
   once per row);
2. *epoch*: a second epoch, images/s of training;
3. *features*: frozen-trunk inference, images/s (what the frozen rows pay);

each with wall seconds and process CPU seconds. With ``--chapter`` it also runs
``notebooks/02_classification.ipynb`` with papermill (default parameters unless given) and
reports its wall time and the CPU seconds of the kernel. The machine's load average is
recorded before and after: on a shared machine wall times are inflated, CPU seconds less so
(CPU seconds / threads is a lower bound on the wall time of an unloaded machine).

    python benchmarks/bench_classification.py                       # all models, 64 px, 2 threads
    python benchmarks/bench_classification.py --models efficientnet_lite0 --input-size 96
    python benchmarks/bench_classification.py --chapter             # + the whole notebook

Writes ``results/<dataset>/benchmarks/classification.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from artsig import classification as cls  # noqa: E402
from artsig.datasets import open_dataset  # noqa: E402
from artsig.paths import run_dir  # noqa: E402


def cpu_seconds(who=resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_seconds() - self.cpu


def bench_model(data: dict, model: str, batch_size: int, data_dir: str) -> dict:
    import keras

    x_tr = data["x"][(data["catalog"]["split"] == "train").to_numpy()].astype(np.float32)
    y_tr = data["y"][(data["catalog"]["split"] == "train").to_numpy()]
    size, n_classes = data["input_size"], len(data["classes"])
    pretrained = model != "cnn" and cls.imagenet_available(model, size)
    with Timer() as build:
        trunk = cls.build_trunk(model, size, pretrained, data_dir)
        head = cls.build_head(trunk.output_shape[-1], n_classes)
        full = cls.assemble(trunk, head, size, augment=True, freeze_bn=pretrained)
        full.compile(optimizer=keras.optimizers.Adam(1e-4), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with Timer() as first:
        full.fit(x_tr, y_tr, batch_size=batch_size, epochs=1, verbose=0)
    with Timer() as epoch:
        full.fit(x_tr, y_tr, batch_size=batch_size, epochs=1, verbose=0)
    cls.features(trunk, x_tr[:64])  # trace
    with Timer() as feats:
        cls.features(trunk, x_tr)
    n = len(x_tr)
    return {
        "model": model,
        "weights": cls.weights_label(model, pretrained),
        "train_images": n,
        "build_s": round(build.wall, 2),
        "first_epoch_s": round(first.wall, 2),
        "epoch_s": round(epoch.wall, 2),
        "epoch_cpu_s": round(epoch.cpu, 2),
        "train_img_per_s": round(n / epoch.wall, 1),
        "features_img_per_s": round(n / feats.wall, 1),
        "features_cpu_s": round(feats.cpu, 2),
    }


def bench_chapter(params: list[str]) -> dict:
    notebook = ROOT / "notebooks" / "02_classification.ipynb"
    out = Path(tempfile.mkdtemp()) / "02_classification.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(out), "--cwd", str(ROOT / "notebooks")]
    for p in params:
        key, _, value = p.partition("=")
        cmd += ["-p", key, value]
    before = cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"chapter_wall_s": round(time.perf_counter() - start, 1), "chapter_cpu_s": round(cpu_seconds(resource.RUSAGE_CHILDREN) - before, 1), "params": params}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--results-dir", default=str(ROOT / "results"))
    ap.add_argument("--label", default="genre")
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", default=",".join(cls.MODELS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chapter", action="store_true", help="also time the whole notebook with papermill")
    ap.add_argument("--param", action="append", default=[], help="notebook parameter KEY=VALUE for --chapter")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    backend = cls.configure(seed=args.seed, device=args.device, threads=args.threads)
    catalog = open_dataset(args.dataset, data_dir=args.data_dir, seed=args.seed, progress=False)
    label, _, _ = cls.resolve_labels(catalog, args.label, None)
    data = cls.prepare(catalog, label, input_size=args.input_size, top_k=args.top_k, per_class=args.per_class, data_dir=args.data_dir, seed=args.seed, progress=False)
    rows = [bench_model(data, m.strip(), args.batch_size, args.data_dir) for m in args.models.split(",") if m.strip()]
    report = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "backend": backend,
        "input_size": args.input_size,
        "batch_size": args.batch_size,
        "load_average_before": [round(v, 2) for v in load_before],
        "models": rows,
    }
    if args.chapter:
        report.update(bench_chapter(args.param))
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    target = run_dir(args.dataset, args.results_dir, "benchmarks") / "classification.json"
    target.write_text(json.dumps(report, indent=2))

    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False))
    if args.chapter:
        print(f"chapter: {report['chapter_wall_s']} s wall, {report['chapter_cpu_s']} CPU s")
    print(f"load average before {report['load_average_before']}, after {report['load_average_after']} on {report['cpus']} CPUs")
    print("written:", target)
    return report


if __name__ == "__main__":
    main()
