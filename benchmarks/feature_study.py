"""Which frozen-feature recipe reads style and artist best? The feature study of issue #14.

Every recipe is a registered extractor of :mod:`artsig.features`. Each is scored on one
collection (default: the development set ``../shared/data/peopleart-pd/works.csv``) exactly as
the baseline of the issue:

- a frozen probe (:func:`artsig.scoring.frozen_probe`: L2-normalised rows, logistic regression,
  seeded stratified 70 / 30 split): accuracy and macro-F1 on style and on artist (classes with
  at least ``--min-count`` works);
- k-means at k = the number of classes (:func:`artsig.scoring.kmeans_nmi`) in two spaces:
  L2-normalised features, and PCA-whitened (50 dimensions) then L2-normalised;
- extraction time per image (decode + forward passes, models loaded, on ``--time-images``
  images; the set-level steps such as the Gram PCA are not counted).

Writes a tidy CSV (``recipe, label, classes, works, metric, value``; time rows have label
``all``) and prints a wide summary with the margin over the baseline recipe::

    python benchmarks/feature_study.py --data-dir /work/main/data
    python benchmarks/feature_study.py --recipes efficientnet_lite0 lite0_pooled_gram --cached-only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

import artsig  # noqa: F401  (first: pins math kernels and threads)
from artsig import clustering, datasets, features

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT.parent / "shared" / "data" / "peopleart-pd" / "works.csv"
BASELINE = "efficientnet_lite0"
RECIPES = [
    BASELINE, "lite0_tta", "lite0_tta_gem", "lite0_ms", "lite0_ms_gem", "lite0_hr", "efficientnet_lite1", "efficientnet_lite2",
    "gram", "channel_stats", "lite0_pooled_stats", "lite0_pooled_gram", "lite0_pooled_gram_stats", "lite0_tta_pooled_gram",
    "lite0_ms_pooled_gram", "lite0_hr_pooled_gram", "lite2_pooled_gram",
]


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default=f"csv:{DEV_SET}", help="collection (default: the development set)")
    p.add_argument("--data-dir", default=str(ROOT / "data"), help="data folder holding the feature cache")
    p.add_argument("--out", default=str(ROOT / "results" / "feature_study" / "feature_study.csv"))
    p.add_argument("--recipes", nargs="+", default=RECIPES)
    p.add_argument("--labels", nargs="+", default=["style", "artist"])
    p.add_argument("--min-count", type=int, default=20, help="classes with fewer works are left out of a label")
    p.add_argument("--cached-only", action="store_true", help="skip recipes whose features are not cached yet")
    p.add_argument("--time-images", type=int, default=32, help="images timed per recipe (0: no timing)")
    p.add_argument("--subset", type=int, default=0, help="a seeded sample of this many works, stratified by the first label (0: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _features(catalog: pd.DataFrame, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The recipes' features (extracting what is missing unless ``--cached-only``) and the skipped ones."""
    status = features.available_extractors(args.recipes).set_index("name")
    feats, skipped = {}, []
    for name in args.recipes:
        if not status.loc[name, "available"]:
            skipped.append(f"{name} ({status.loc[name, 'reason']})")
            continue
        if args.cached_only and not features.is_cached(catalog, name, data_dir=args.data_dir):
            skipped.append(f"{name} (not cached)")
            continue
        start = time.perf_counter()
        feats[name] = features.extract(catalog, name, data_dir=args.data_dir, device=args.device, seed=args.seed)
        print(f"{name}: {feats[name].shape[1]} dimensions ({time.perf_counter() - start:.0f} s)", flush=True)
    return feats, skipped


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    catalog = datasets.open_dataset(args.dataset, data_dir=args.data_dir, progress=False)
    if 0 < args.subset < len(catalog):
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(catalog.index, train_size=args.subset, random_state=args.seed, stratify=catalog[args.labels[0]])
        catalog = catalog.loc[sorted(keep)].reset_index(drop=True)
    print(f"{args.dataset}: {len(catalog)} works; labels {', '.join(c for c in args.labels if c in catalog)}")
    feats, skipped = _features(catalog, args)
    if skipped:
        print("skipped: " + "; ".join(skipped))
    table = clustering.recipe_scores(feats, catalog, labels=args.labels, min_count=args.min_count, seed=args.seed)
    if args.time_images > 0:
        times = [dict(recipe=n, label="all", classes=0, works=args.time_images, metric="seconds_per_image",
                      value=features.seconds_per_image(catalog, n, device=args.device, n=args.time_images)) for n in feats]
        table = pd.concat([table, pd.DataFrame(times)], ignore_index=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(clustering.recipe_summary(table, BASELINE).to_string())
        times = table[table["metric"] == "seconds_per_image"].set_index("recipe")["value"]
        if len(times):
            print((1000 * times).round(1).rename("ms per image").to_string())
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
