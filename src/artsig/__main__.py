"""Command line: ``python -m artsig book`` runs and builds the book; ``python -m artsig generate``
makes the procedural benchmark; ``python -m artsig catalog`` checks a collection;
``python -m artsig embed`` writes a collection's features as resumable Parquet shards;
``python -m artsig explore`` writes the interactive explorer of a collection."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _parse_sets(items: list[str]) -> dict:
    from artsig.book import BookError, parse_value

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BookError(f"--set {item!r}: expected key=value (or notebook.key=value)")
        overrides[key.strip()] = parse_value(value)
    return overrides


def cmd_book(args) -> int:
    from artsig import book

    root = book.project_root()
    overrides = _parse_sets(args.set)
    if args.dataset:
        overrides["dataset"] = args.dataset
    if "dataset" in overrides:  # the notebooks run in notebooks/: resolve a relative path from here
        from artsig.datasets import absolute_dataset

        overrides["dataset"] = absolute_dataset(str(overrides["dataset"]))
    if args.reference and overrides:
        raise book.BookError("--reference runs the notebooks' own defaults; it takes no --dataset or --set")
    params = book.checked_params(root, root / args.params, overrides)  # before any work starts
    book.ensure_kernel()
    if not args.reference and not args.only:
        book.clean_chapters(root)
    failed = None
    try:
        book.execute(root, params, only=args.only, reference=args.reference)
    except book.ChaptersFailed as exc:  # the other chapters ran: build their pages, then report
        failed = exc
    explorer_folder = None
    if not (args.no_build or args.reference or args.only):
        explorer_folder = book.build_explorer(root, params)
    if not (args.no_build or args.reference):
        index = book.build_html(root)
        book.copy_explorer(root, explorer_folder)
        print(f"[artsig] book ready: {index.relative_to(root)}  (open {index})")
    if failed is not None:
        print(f"[artsig] {failed}", file=sys.stderr)
        return 1
    return 0


def cmd_generate(args) -> int:
    from artsig.datasets import synthetic_root
    from artsig.procedural import generate_benchmark

    root = synthetic_root(args.data_dir, args.count, args.size, args.seed)
    metadata, links = generate_benchmark(root, count=args.count, size=args.size, seed=args.seed)
    print(f"{len(metadata)} images and {len(links)} links in {root}")
    return 0


def cmd_catalog(args) -> int:
    from artsig.book import LABEL_VALUES
    from artsig.catalog import summarize
    from artsig.datasets import open_dataset

    if args.label_column not in LABEL_VALUES:
        raise ValueError(f"--label-column {args.label_column!r}: expected one of {', '.join(LABEL_VALUES)}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels {args.max_pixels:g}: expected a positive number of pixels, e.g. 2e9")
    catalog, quality = open_dataset(args.dataset, data_dir=args.data_dir, label_column=args.label_column, with_quality=True,
                                    csv_dir=args.csv_dir, path_column=args.path_column,
                                    max_pixels=None if args.max_pixels is None else int(args.max_pixels))
    print(summarize(catalog).to_string(index=False))
    if len(quality):
        print(f"\n{len(quality)} data-quality issue(s):")
        print(quality.to_string(index=False))
    if args.output:
        out = Path(args.output)
        if out.exists() and not args.force:
            raise FileExistsError(f"{out} exists; pass --force to overwrite it")
        catalog.to_parquet(out, index=False) if out.suffix == ".parquet" else catalog.to_csv(out, index=False)
        print(f"catalog written to {out}")
    return 0


def cmd_embed(args) -> int:
    from artsig.datasets import absolute_dataset
    from artsig.embedding import embed

    options = {k: v for k, v in {"csv_dir": args.csv_dir, "path_column": args.path_column, "label_column": args.label_column}.items() if v}
    try:
        folder = embed(absolute_dataset(args.dataset), args.features, out=args.out, data_dir=args.data_dir, shard_size=args.shard_size,
                       device=args.device, executor=args.engine, address=args.address, inference=args.inference,
                       batch_size=args.batch_size, gpus=args.gpus if args.gpus == "auto" else int(args.gpus), force=args.force,
                       dataset_options=options)
    except ImportError as exc:  # Ray or onnxruntime asked for but not installed: say which, no traceback
        print(f"artsig: error: {exc}", file=sys.stderr)
        return 2
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"{manifest['n_works']} works x {manifest['dim']} features ({manifest['engine']}) in {len(manifest['shards'])} shards: {folder}")
    if manifest["skipped"]:
        print(f"{len(manifest['skipped'])} file(s) skipped (listed in the manifest), e.g. {manifest['skipped'][0]['path']}: "
              f"{manifest['skipped'][0]['reason']}")
    return 0


def cmd_explore(args) -> int:
    from artsig import explorer

    layouts = tuple(args.layouts.split(",")) if args.layouts else explorer.LAYOUTS
    index = explorer.build(args.dataset, features=args.features, out=args.out, data_dir=args.data_dir, results_dir=args.results_dir,
                           n_images=args.n_images, image_size=args.image_size, seed=args.seed, device=args.device, force=args.force,
                           k=args.k, layouts=layouts, thumb_size=args.thumb_size, card_size=args.card_size)
    print(f"explorer written: {index}  (open it in a browser; no server needed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="artsig", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("book", help="execute the notebooks with papermill and build the Jupyter Book")
    p.add_argument("--dataset", help="collection to run on, e.g. synthetic, folder:/path, wikiart:/path, best-artworks:/path, csv:/file.csv")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (all notebooks) or NOTEBOOK.KEY=VALUE (one notebook)")
    p.add_argument("--params", default="book/params.yml", help="parameter file (default: book/params.yml)")
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these chapters, e.g. 01_data")
    p.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build the HTML")
    p.add_argument("--reference", action="store_true", help="re-run the notebooks with their defaults and store outputs in notebooks/ (for nbval)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("generate", help="generate the procedural-art benchmark")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default="data")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("catalog", help="scan a collection, print its summary and data-quality table")
    p.add_argument("dataset")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--label-column", default="style", help="what the folders of a folder: collection mean")
    p.add_argument("--csv-dir", help="wikiart: the folder of the ArtGAN split CSVs (if not beside the images)")
    p.add_argument("--path-column", help="csv: the column holding image paths (default: path)")
    p.add_argument("--max-pixels", type=float, help="pixel cap: larger files are listed, not read (default 1e9 or ARTSIG_MAX_PIXELS)")
    p.add_argument("--output", help="write the catalog to this .parquet or .csv file")
    p.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    p.set_defaults(func=cmd_catalog)

    p = sub.add_parser("embed", help="write a collection's features as Parquet shards (resumable; local or on a Ray cluster)")
    p.add_argument("--dataset", required=True, help="synthetic, folder:/path, wikiart:/path, best-artworks:/path or csv:/file.csv")
    p.add_argument("--features", default="efficientnet_lite0", help="a per-image extractor (default: efficientnet_lite0)")
    p.add_argument("--out", help="output folder (default: <data-dir>/embeddings/<dataset>/<features>)")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--shard-size", type=int, default=4096, help="works per shard (default 4096)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="run here (default) or as one Ray task per shard")
    p.add_argument("--address", help="Ray cluster: auto or HOST:PORT (default: a local Ray started for this run)")
    p.add_argument("--gpus", default="auto", help="Ray: GPUs per task (auto: 1 when the cluster has GPUs)")
    p.add_argument("--inference", default="auto", choices=["auto", "onnx", "torch"], help="engine of the EfficientNet-Lite trunks")
    p.add_argument("--csv-dir", help="wikiart: the folder of the ArtGAN split CSVs (if not beside the images)")
    p.add_argument("--path-column", help="csv: the column holding image paths (default: path)")
    p.add_argument("--label-column", help="folder: what the sub-folders mean (default: style)")
    p.add_argument("--force", action="store_true", help="replace an output folder that holds something else")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("explore", help="write the interactive explorer of a collection: one folder that opens offline")
    p.add_argument("--dataset", required=True, help="collection, e.g. synthetic, folder:/path, csv:/file.csv")
    p.add_argument("--features", default="efficientnet_lite0", help="feature extractor for the maps and neighbours (default efficientnet_lite0)")
    p.add_argument("--out", help="output folder (default results/<collection>/explorer)")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds files the explorer did not write")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--results-dir", default="results", help="where chapters 03 and 07 wrote their tables (read if present)")
    p.add_argument("--n-images", type=int, default=2000, help="synthetic: number of works")
    p.add_argument("--image-size", type=int, default=256, help="synthetic: image size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--k", type=int, default=10, help="nearest neighbours shown on a card")
    p.add_argument("--layouts", help="comma-separated, some of umap,tsne,grid,timeline (default: all)")
    p.add_argument("--thumb-size", type=int, default=64, help="thumbnail pixels in the atlases")
    p.add_argument("--card-size", type=int, default=256, help="longest side of a card's image")
    p.set_defaults(func=cmd_explore)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except Exception as exc:  # one clear line for the user, not a traceback
        from artsig.book import BookError
        from artsig.catalog import CatalogError

        if isinstance(exc, (BookError, CatalogError, FileExistsError, ValueError)):
            print(f"artsig: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
