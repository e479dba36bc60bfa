"""Speed of triplet-loss signature training: images per second, with and without the cache.

Measures, on random inputs of the chapter's size (no data set needed):

* ``frozen bottom``: building the activation cache (forward of the frozen blocks), once per
  collection;
* ``training step, cached``: forward + backward + optimiser step of the trainable top on
  cached activations, what every epoch of ``train_signature_model`` runs;
* ``signatures, cached``: forward of the top only (validation and mining each epoch);
* ``training step, full network``: the same step from pixels without the cache, for contrast.

    python benchmarks/bench_retrieval.py --size 128 --blocks 2 --threads 2

Timings on a shared machine are inflated by the other processes: compare rows of one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def rate(fn, n_images: int, repeats: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n_images * repeats / (time.perf_counter() - started)


def measure(blocks: int, args: argparse.Namespace) -> dict:
    """One table row: the four speeds of a model whose top ``blocks`` blocks train."""
    import torch

    from artsig.retrieval import TrainConfig, build_signature_model, compound_hinge_loss

    config = TrainConfig(image_size=args.size, trainable_blocks=blocks)
    model = build_signature_model(config, device=args.device)
    device = next(model.parameters()).device
    images = 3 * args.batch
    x = torch.randn(images, 3, args.size, args.size, device=device)
    with torch.no_grad():
        acts = model.bottom(x)
    params = [p for m in model.top_modules() for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    def bottom():
        with torch.no_grad():
            model.bottom(x)

    def step(inputs, forward):
        model.train()
        emb = forward(inputs)
        b = args.batch
        loss = compound_hinge_loss(emb[:b], emb[b:2 * b], emb[2 * b:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    def top_only():
        with torch.no_grad():
            model.eval()
            model.top(acts)

    def full_step():
        # without the cache every step runs the frozen bottom too
        with torch.no_grad():
            a = model.bottom(x)
        step(a, model.top)

    return {
        "trainable blocks": blocks,
        "activation shape": tuple(acts.shape[1:]),
        "frozen bottom img/s": rate(bottom, images, args.repeats),
        "training step, cached img/s": rate(lambda: step(acts, model.top), images, args.repeats),
        "signatures, cached img/s": rate(top_only, images, args.repeats),
        "training step, full network img/s": rate(full_step, images, args.repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128, help="input pixels per side (multiple of 32)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 3], help="trainable top blocks to compare")
    parser.add_argument("--batch", type=int, default=48, help="triplets per step (about 3x as many distinct images)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from artsig.devices import resolve_device
    from artsig.retrieval import make_deterministic

    make_deterministic(0, args.threads)
    device = resolve_device(args.device)
    rows = [measure(blocks, args) for blocks in args.blocks]
    import pandas as pd

    table = pd.DataFrame(rows)
    print(f"device={device}, threads={args.threads}, input {args.size} px, {3 * args.batch} images per step")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print("training images/s (cached, default 2 blocks):", f"{np.round(table.set_index('trainable blocks')['training step, cached img/s'].get(2, np.nan)):,.0f}")


if __name__ == "__main__":
    main()
