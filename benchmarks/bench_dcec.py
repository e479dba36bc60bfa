"""Time the DCEC chapter's steps on the default benchmark (target: whole chapter <= 3 min on 2 cores).

    .venv/bin/python benchmarks/bench_dcec.py [--subsample 1000] [--dcec-size 48] [--ks 2,3,4,5,7,10] [--cold]

Prints one line per step (seconds) and the total. Run it from the repository root; the data
folder is ``data/`` (the notebook's ``../data``). Pass ``--cold`` to time the image-array step
without its cache (feature extraction is cached by the features module and shared with other
chapters; delete ``data/cache/features`` to time it cold). Timings on a machine shared with other
jobs are inflated: check ``uptime`` first.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--subsample", type=int, default=1000)
    parser.add_argument("--dcec-size", type=int, default=48)
    parser.add_argument("--dec-size", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=10)
    parser.add_argument("--filters", default="16,32,64")
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--dec-epochs", type=int, default=10)
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--update-interval", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cluster-lr", type=float, default=1e-4)
    parser.add_argument("--tol", type=float, default=0.001)
    parser.add_argument("--ks", default="2,3,4,5,7,10")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold", action="store_true", help="do not use the image-array cache")
    args = parser.parse_args()

    from artsig import datasets, dcec, features, images, paths

    steps: dict[str, float] = {}
    t0 = time.perf_counter()

    def mark(name: str, start: float) -> float:
        now = time.perf_counter()
        steps[name] = now - start
        print(f"{name:<28s}{steps[name]:8.1f} s", flush=True)
        return now

    start = time.perf_counter()
    import torch  # noqa: F401  (import time is part of the chapter)

    start = mark("import torch", start)
    catalog = datasets.open_dataset(args.dataset, args.data_dir, n_images=args.n_images, progress=False)
    sample = dcec.subsample(catalog, args.subsample, args.seed)
    start = mark("catalog", start)
    cache = tempfile.mkdtemp() if args.cold else paths.cache_dir(args.data_dir, "arrays")
    X = images.load_array(sample, args.dcec_size, cache_dir=cache, progress=False)
    start = mark("image arrays", start)
    common = features.extract(sample, "efficientnet_lite0", data_dir=args.data_dir, device="cpu", progress=False)
    start = mark("efficientnet_lite0 features", start)
    filters = tuple(int(f) for f in args.filters.split(","))
    cae, _ = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(args.dcec_size, args.embedding_dim, filters, seed=args.seed), X, epochs=args.pretrain_epochs,
                                       batch_size=args.batch_size, seed=args.seed, device="cpu", threads=args.threads, progress=False)
    start = mark("pretrain CAE", start)
    X_dec = images.load_array(sample, args.dec_size, cache_dir=cache, progress=False)
    dae, _ = dcec.pretrain_autoencoder(dcec.DenseAutoencoder(args.dec_size, args.embedding_dim, seed=args.seed), X_dec, epochs=args.dec_epochs,
                                       batch_size=args.batch_size, seed=args.seed, device="cpu", threads=args.threads, progress=False)
    start = mark("pretrain dense AE", start)
    ks = [int(k) for k in args.ks.split(",")]
    run = dcec.cluster_all(X, common, ks, cae, dae, image_ids=sample["image_id"], seed=args.seed, device="cpu", threads=args.threads, progress=False,
                           dense_images=X_dec, max_iter=args.max_iter, update_interval=args.update_interval, batch_size=args.batch_size,
                           cluster_lr=args.cluster_lr, tol=args.tol)
    start = mark(f"cluster all (k={args.ks})", start)
    internal, external = dcec.score(run["assignments"], run["embeddings"], common, sample, seed=args.seed)
    start = mark("scores", start)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{'total':<28s}{time.perf_counter() - t0:8.1f} s wall, {cpu.ru_utime + cpu.ru_stime:.1f} s CPU"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall > CPU means other jobs competed)")
    print(run["fits"].to_string(index=False))
    print(external[external["k"].isin([3, 7])].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
