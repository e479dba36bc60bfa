"""What pinning the math kernels costs: the same work timed with and without ``artsig.determinism``.

Each configuration runs in a fresh process (kernel paths are chosen when a library loads):
EfficientNet-Lite0 forward passes (torch), a small Keras CNN trained for a few steps
(TensorFlow), and a logistic regression and k-means on feature-sized arrays (scikit-learn,
OpenBLAS). Prints seconds per task and the pinned / unpinned ratio, with the processor.

    python benchmarks/bench_determinism.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

TASKS = ("lite0 forward, 64 images at 224 px", "keras CNN, 20 training steps", "logistic regression 2000x1280", "k-means k=8, 2000x50")


def work() -> dict[str, float]:
    """Time each task once in this process (after a warm-up of the torch forward)."""
    import numpy as np

    import artsig  # noqa: F401  (pins the kernels unless ARTSIG_PIN_KERNELS=0)
    from artsig import backbones, determinism

    determinism.configure(0)
    rng = np.random.default_rng(0)
    out = {}
    torch = determinism.configure_torch()
    bb = backbones.load_backbone("efficientnet_lite0", device="cpu")
    images = (rng.random((64, 224, 224, 3)) * 255).astype(np.uint8)
    with torch.inference_mode():
        bb.module(bb.preprocess(images[:8]))
        start = time.perf_counter()
        for i in range(0, 64, 32):
            bb.module(bb.preprocess(images[i:i + 32]))
        out[TASKS[0]] = time.perf_counter() - start
    determinism.configure_tensorflow()
    import keras

    x = rng.random((320, 64, 64, 3)).astype(np.float32)
    y = np.arange(320) % 5
    model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.BatchNormalization(),
                              keras.layers.Conv2D(64, 3, strides=2, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(5, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:32], y[:32], epochs=1, batch_size=16, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    out[TASKS[1]] = time.perf_counter() - start
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression

    feats = rng.standard_normal((2000, 1280)).astype(np.float32)
    start = time.perf_counter()
    LogisticRegression(max_iter=200).fit(feats, np.arange(2000) % 8)
    out[TASKS[2]] = time.perf_counter() - start
    start = time.perf_counter()
    KMeans(8, n_init=4, random_state=0).fit(feats[:, :50].astype(np.float64))
    out[TASKS[3]] = time.perf_counter() - start
    return out


def processor() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    avx512 = "avx512f" in open("/proc/cpuinfo").read()
                    return f"{name}, {os.cpu_count()} CPUs, {'with' if avx512 else 'without'} AVX-512"
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per configuration (the best time is kept)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(work()))
        return
    best: dict[str, dict[str, float]] = {}
    for label, pin in (("pinned", "1"), ("unpinned", "0")):
        env = {**os.environ, "ARTSIG_PIN_KERNELS": pin}
        for _ in range(args.repeats):
            done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{label} run failed:\n{done.stderr[-3000:]}")
            times = json.loads(done.stdout.strip().splitlines()[-1])
            for task, seconds in times.items():
                best.setdefault(label, {})[task] = min(seconds, best.get(label, {}).get(task, float("inf")))
    print(f"processor: {processor()}; best of {args.repeats} fresh processes each")
    print(f"{'task':40s} {'pinned s':>9s} {'unpinned s':>11s} {'ratio':>6s}")
    for task in TASKS:
        p, u = best["pinned"][task], best["unpinned"][task]
        print(f"{task:40s} {p:9.2f} {u:11.2f} {p / u:6.2f}")


if __name__ == "__main__":
    main()
