"""Speed of the procedural benchmark generator (target: >= 50 images/s for the default 2000 x 256 px
on 2 cores).

    python benchmarks/bench_generate.py [--count 2000] [--size 256] [--n-jobs 2]

Generates into a fresh temporary folder (removed afterwards), prints images/s, wall time and the
CPU time per image of the worker processes, and exits non-zero below --target.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--target", type=float, default=50.0, help="images/s below which the script fails")
    args = ap.parse_args(argv)

    from artsig.procedural import generate_benchmark

    tmp = Path(tempfile.mkdtemp(prefix="artsig_bench_generate_"))
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        meta, links = generate_benchmark(tmp / "bench", count=args.count, size=args.size, seed=args.seed,
                                         n_jobs=args.n_jobs, progress=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        t = time.perf_counter()
        generate_benchmark(tmp / "bench", count=args.count, size=args.size, seed=args.seed, progress=False)
        cached = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rate = len(meta) / wall
    print(f"generated {len(meta)} images of {args.size}px with {args.n_jobs} workers in {wall:.1f}s: "
          f"{rate:.1f} images/s ({1000 * cpu / max(len(meta), 1):.1f} ms worker CPU per image; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); {len(links)} links; "
          f"cached rerun {cached:.2f}s")
    if rate < args.target:
        print(f"BELOW TARGET of {args.target} images/s (a busy machine slows this down: check the load average)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
