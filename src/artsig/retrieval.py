"""Visual-link retrieval: triplet-loss signatures, their evaluation, a nearest-neighbour index.

After the EPFL Replica study (Seguin, di Lenardo, Kaplan): an image's *visual signature* is
the output of a CNN trunk up to its last convolutional layer, mean-pooled and L2-normalised.
Fine-tuning the top of the trunk on pairs of linked images (triplets A, B linked; C not)
with a compound hinge loss makes linked works land close together.

Speed. The bottom of the trunk stays frozen, so its activations are computed once per
collection and cached on disk (:func:`trunk_activations`); an epoch only runs the top blocks
(``trainable_blocks``) on those cached maps, which is what makes CPU training take seconds.

Main entry points: :class:`TrainConfig`, :func:`train_signature_model` (or the estimator :class:`SignatureModel`),
:func:`select_by_validation`, :func:`evaluate_retrieval`, :class:`SignatureIndex`,
:func:`cluster_signatures`, :func:`cluster_link_report`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from artsig import store
from artsig.devices import resolve_device
from artsig.links import components, positive_pairs, relevance_sets

log = logging.getLogger(__name__)

RESIZE_MODE = "resize"  # how every image is brought to the model's square input
DEFAULT_KS = (1, 5, 20, 100)


# --- profiles -------------------------------------------------------------------------------

# The chapters' quick settings (the benchmark's time budget, book/params.yml) and what the full
# profile changes on a real collection: the trunk's native input size (its pretrained signature,
# the baseline, is stronger there: test mAP 0.162 against 0.126 at 128 px on the development set's
# same-artist links), paid for with fewer triplets per epoch and no loss ablation (a 224-px step
# costs three times a 128-px one; 06 stays within about ten minutes on two CPU cores).
QUICK_SETTINGS = {"retrieval_size": 128, "epochs": 5, "patience": 2, "pairs_per_epoch": 3000, "run_ablation": True}
FULL_SETTINGS = {"retrieval_size": 224, "epochs": 5, "patience": 2, "pairs_per_epoch": 500, "run_ablation": False}


def profile_settings(profile: str, **given) -> dict:
    """``given`` settings, with those still at their quick default raised to :data:`FULL_SETTINGS`
    when ``profile == "full"`` (a value the user changed is kept)."""
    if profile != "full":
        return dict(given)
    return {k: FULL_SETTINGS[k] if k in FULL_SETTINGS and v == QUICK_SETTINGS[k] else v for k, v in given.items()}


# --- determinism ----------------------------------------------------------------------------


def make_deterministic(seed: int = 0, threads: int | None = 2) -> None:
    """Seed everything, fix torch's thread count and ask torch for deterministic kernels.

    Float sums depend on how work is split between threads, so the same numbers on rerun
    need the same ``threads`` too.
    """
    import torch  # noqa: F401  (imported first, so configure() sets it up too)

    from artsig import determinism

    determinism.configure(seed, n_threads=threads)


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a fine-tuning run (and names its checkpoint).

    Loss: ``max(0, margin + d(A,B) - d_neg + intra)`` with squared Euclidean distances between
    L2-normalised signatures; ``d_neg = min(d(A,C), d(B,C))`` with ``anchor_swap`` else
    ``d(A,C)``; ``intra = max(0, d(A,B) - intra_margin)`` unless ``intra_margin`` is None.
    An ``intra_margin`` far below the distance linked pairs start at pulls every pair and can
    collapse the signatures; choose it per collection with :func:`select_by_validation`.
    """

    backbone: str = "efficientnet_lite0"
    image_size: int = 128
    trainable_blocks: int = 2  # top MBConv blocks fine-tuned, plus the last 1x1 conv
    margin: float = 0.1
    anchor_swap: bool = True
    intra_margin: float | None = 0.1
    epochs: int = 8
    patience: int = 3
    batch_size: int = 48  # triplets per step
    lr: float = 3e-4
    weight_decay: float = 1e-4
    hard_fraction: float = 0.5  # share of negatives mined from the current signatures
    hard_pool: int = 20  # a hard negative is drawn among the k nearest non-matches
    max_pairs_per_epoch: int = 3000
    flip: bool = True  # mirror the cached feature maps at random (cheap augmentation)
    seed: int = 0

    def __post_init__(self):
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32 (the trunk's stride), got {self.image_size}")
        if self.trainable_blocks < 1:
            raise ValueError(f"trainable_blocks must be >= 1, got {self.trainable_blocks}")
        if not 0 <= self.hard_fraction <= 1:
            raise ValueError(f"hard_fraction must be in [0, 1], got {self.hard_fraction}")
        if self.margin <= 0:
            raise ValueError(f"margin must be positive, got {self.margin}")

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


LOSS_VARIANTS = {
    # name: (anchor_swap, intra_margin from the config or None)
    "full loss": (True, True),
    "no anchor swap": (False, True),
    "no intra-sample term": (True, False),
    "plain triplet": (False, False),
}


def ablation_configs(config: TrainConfig) -> dict[str, TrainConfig]:
    """The loss ablation: the full compound loss and each term switched off."""
    intra = config.intra_margin if config.intra_margin is not None else 0.1
    return {name: config.replace(anchor_swap=swap, intra_margin=intra if use_intra else None) for name, (swap, use_intra) in LOSS_VARIANTS.items()}


# --- the model ------------------------------------------------------------------------------


def _split_block(trunk, trainable_blocks: int) -> int:
    n_blocks = len(trunk.net._blocks)
    if trainable_blocks > n_blocks:
        raise ValueError(f"trainable_blocks={trainable_blocks} but {trunk.backbone_name} has {n_blocks} blocks")
    return n_blocks - trainable_blocks


def _signature_model_class():
    """The torch class of the signature network (frozen trunk bottom, fine-tuned top, projection).

    Long because it holds the class body: defined inside a function so that importing
    :mod:`artsig.retrieval` does not import torch.
    """
    from torch import nn
    from torch.nn import functional as F

    class SignatureNetwork(nn.Module):
        """Frozen bottom + trainable top of an EfficientNet-Lite trunk -> L2-normalised signature.

        ``bottom(x)`` gives the cached activations; ``top(a)`` the signature; ``forward(x)``
        both. Batch-norm statistics stay frozen (``train()`` keeps them in eval mode), so small
        triplet batches do not disturb them and training is repeatable.
        """

        def __init__(self, backbone, config: TrainConfig):
            super().__init__()
            trunk = backbone.module
            if not hasattr(trunk, "net") or not hasattr(trunk.net, "_blocks"):
                raise ValueError(
                    f"backbone {config.backbone!r}: signature fine-tuning needs an EfficientNet-Lite trunk "
                    "(efficientnet_lite0/1/2); torchvision trunks are used through pretrained_signatures"
                )
            self.config = config
            self.preprocess = backbone.preprocess
            self.net = trunk.net
            self.split = _split_block(trunk, config.trainable_blocks)
            self.feature_dim = int(self.net._bn1.num_features)
            self.fast = isinstance(self.net._swish, nn.ReLU6)  # Lite: ReLU6, no squeeze-excite
            for p in self.net.parameters():
                p.requires_grad_(False)
            for module in self.top_modules():
                for p in module.parameters():
                    p.requires_grad_(True)

        def top_modules(self):
            return list(self.net._blocks[self.split:]) + [self.net._conv_head, self.net._bn1]

        def top_state(self) -> dict:
            return {k: v.detach().clone() for k, v in self.state_dict().items() if self._is_top(k)}

        def _is_top(self, key: str) -> bool:
            if key.startswith("net._blocks."):
                return int(key.split(".")[2]) >= self.split
            return key.startswith(("net._conv_head", "net._bn1"))

        def train(self, mode: bool = True):
            super().train(mode)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            return self

        def bottom(self, x):
            net = self.net
            x = net._swish(net._bn0(net._conv_stem(x)))
            for block in net._blocks[: self.split]:
                x = block(x, drop_connect_rate=None)
            return x

        def top(self, a):
            net = self.net
            x = a
            if not self.fast:
                for block in net._blocks[self.split:]:
                    x = block(x, drop_connect_rate=None)
                x = net._swish(net._bn1(net._conv_head(x)))
                return F.normalize(x.mean(dim=(2, 3)), dim=1)
            for block in net._blocks[self.split:]:
                x = _mbconv_fast(block, x)
            n, c, h, w = x.shape
            x = x.permute(0, 2, 3, 1).reshape(-1, c)
            x = F.relu6(_bn_rows(F.linear(x, net._conv_head.weight.flatten(1)), net._bn1))
            x = x.reshape(n, h * w, -1).mean(dim=1)
            return F.normalize(x, dim=1)

        def forward(self, x):
            return self.top(self.bottom(x))

    return SignatureNetwork


def _bn_rows(x, bn):
    """Batch norm with frozen statistics on a (rows, channels) matrix."""
    from torch.nn import functional as F

    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _mbconv_fast(block, x):
    """One EfficientNet-Lite MBConv block (no squeeze-excite, frozen BN) with its 1x1 convs as
    matrix products on channels-last rows: the same numbers as ``block(x)``, several times
    faster on the small maps at the top of the trunk on CPU."""
    from torch.nn import functional as F

    args = block._block_args
    if getattr(block, "has_se", False):
        return block(x, drop_connect_rate=None)
    n, c, h, w = x.shape
    inputs = x
    if args.expand_ratio != 1:
        rows = x.permute(0, 2, 3, 1).reshape(-1, c)
        rows = F.relu6(_bn_rows(F.linear(rows, block._expand_conv.weight.flatten(1)), block._bn0))
        x = rows.reshape(n, h, w, -1).permute(0, 3, 1, 2)
    x = block._depthwise_conv(x)
    n, e, h2, w2 = x.shape
    rows = F.relu6(_bn_rows(x.permute(0, 2, 3, 1).reshape(-1, e), block._bn1))
    rows = _bn_rows(F.linear(rows, block._project_conv.weight.flatten(1)), block._bn2)
    x = rows.reshape(n, h2, w2, -1).permute(0, 3, 1, 2)
    stride = args.stride[0] if isinstance(args.stride, (list, tuple)) else args.stride
    if block.id_skip and stride == 1 and args.input_filters == args.output_filters:
        x = x + inputs
    return x


def build_signature_model(config: TrainConfig = TrainConfig(), device: str = "auto", weights: str | None = "imagenet"):
    """The pretrained trunk of ``config.backbone`` wrapped as a signature model, in eval mode."""
    from artsig.backbones import load_backbone

    device = resolve_device(device)
    backbone = load_backbone(config.backbone, weights=weights, device=device)
    model = _signature_model_class()(backbone, config).to(device)
    model.eval()
    return model


def compound_hinge_loss(a, b, c, margin: float = 0.1, anchor_swap: bool = True, intra_margin: float | None = 0.1, reduction: str = "mean"):
    """The compound hinge loss on signature batches A, B (linked) and C (not linked to A).

    ``mean(max(0, margin + d(A,B) - min(d(A,C), d(B,C)) + max(0, d(A,B) - intra_margin)))``,
    ``d`` the squared Euclidean distance. ``anchor_swap=False`` uses ``d(A,C)`` alone; with
    ``intra_margin=None`` the intra-sample penalty is left out (a plain triplet loss remains).
    """
    from torch.nn import functional as F

    d_ab = (a - b).pow(2).sum(1)
    d_ac = (a - c).pow(2).sum(1)
    d_neg = d_ac.minimum((b - c).pow(2).sum(1)) if anchor_swap else d_ac
    inner = margin + d_ab - d_neg
    if intra_margin is not None:
        inner = inner + F.relu(d_ab - intra_margin)
    losses = F.relu(inner)
    return losses if reduction == "none" else losses.mean()


# --- cached activations and signatures ------------------------------------------------------


def _image_keys(catalog: pd.DataFrame) -> list[str]:
    return catalog["sha256"].astype(str).tolist() if "sha256" in catalog else catalog["path"].astype(str).tolist()


def trunk_activations(
    model,
    catalog: pd.DataFrame,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """The frozen bottom's output for every image of ``catalog`` (float16, N x C x h x w).

    Cached as ``.npy`` under ``cache_dir`` keyed by the images' hashes, backbone, input size
    and split point, so the second call is a file read.
    """
    import torch
    from tqdm import tqdm

    from artsig.images import load_image

    config = model.config
    target = None
    if cache_dir is not None:
        key = store.fingerprint(config.backbone, config.image_size, model.split, RESIZE_MODE, _image_keys(catalog))
        target = store.cache_path(cache_dir, f"activations-{config.backbone}-{config.image_size}px-b{model.split}", key, ".npy")
        saved = store.load_array(target)
        if saved is not None:
            return saved
    device = next(model.parameters()).device
    paths = catalog["path"].tolist()
    chunks = []
    model.eval()
    with torch.no_grad():
        for start in tqdm(range(0, len(paths), batch_size), desc="frozen trunk", disable=not progress, leave=False):
            pixels = np.stack([load_image(p, config.image_size, RESIZE_MODE) for p in paths[start:start + batch_size]])
            x = model.preprocess(pixels, device=str(device), channels_last=False)
            chunks.append(model.bottom(x).to(torch.float16).cpu().numpy())
    out = np.concatenate(chunks)
    if target is not None:
        store.save_array(target, out)
    return out


def signatures_from_activations(model, activations: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Signatures (float32, N x D, unit norm) of cached bottom activations."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(activations), batch_size):
            a = torch.from_numpy(activations[start:start + batch_size]).to(device).float()
            out.append(model.top(a).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out).astype(np.float32)


def embed_images(model, images: Sequence, batch_size: int = 32) -> np.ndarray:
    """Signatures of images given as paths or uint8 arrays (any size; resized like the catalog)."""
    import torch
    from PIL import Image

    from artsig.images import fit, load_image

    size = model.config.image_size
    device = next(model.parameters()).device
    pixels = []
    for item in images:
        if isinstance(item, np.ndarray):
            arr = item if item.shape[:2] == (size, size) else np.asarray(fit(Image.fromarray(item.astype(np.uint8)), size, RESIZE_MODE))
        else:
            arr = load_image(item, size, RESIZE_MODE)
        pixels.append(arr)
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch_size):
            x = model.preprocess(np.stack(pixels[start:start + batch_size]), device=str(device), channels_last=False)
            out.append(model(x).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


# --- evaluation -----------------------------------------------------------------------------


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), so dot products are cosine similarities."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def rank_collection(signatures: np.ndarray, query_rows: np.ndarray, top: int | None = None) -> np.ndarray:
    """For each query row, the other rows by decreasing similarity (the query itself left out)."""
    sims = signatures[query_rows] @ signatures.T
    sims[np.arange(len(query_rows)), query_rows] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")
    order = order[:, :-1]  # the query itself is last
    return order[:, :top] if top else order


def evaluate_retrieval(
    signatures: np.ndarray,
    catalog: pd.DataFrame,
    links: pd.DataFrame,
    split: str | None = "test",
    ks: Sequence[int] = DEFAULT_KS,
    transitive: bool = True,
    per_query: bool = False,
):
    """Each linked image of ``split`` queries the whole collection; mAP and recall@k.

    A query's true matches are its linked images (its whole connected component with
    ``transitive``). Average precision counts every true match, recall@k is the share of a
    query's matches found in its top k. Returns a dict of scores (and the per-query table with
    ``per_query=True``).
    """
    ids = catalog["image_id"].astype(str).to_numpy()
    relevant = relevance_sets(catalog, links, transitive=transitive)
    mask = np.array([i in relevant for i in ids])
    if split is not None:
        if "split" not in catalog:
            raise ValueError("catalog has no 'split' column: run artsig.links.split_by_component first, or pass split=None")
        mask &= (catalog["split"] == split).to_numpy()
    query_rows = np.flatnonzero(mask)
    if not len(query_rows):
        raise ValueError(f"no linked images in split {split!r} to query with")
    position = {image_id: i for i, image_id in enumerate(ids)}
    order = rank_collection(l2_normalize(signatures), query_rows)
    n = len(ids) - 1
    aps, recalls, rows = [], {k: [] for k in ks}, []
    for q, row in enumerate(query_rows):
        rel_rows = np.array([position[r] for r in relevant[ids[row]]])
        hit = np.zeros(n + 1, dtype=bool)
        hit[rel_rows] = True
        hits = hit[order[q]]
        ranks = np.flatnonzero(hits) + 1  # 1-based ranks of the true matches
        ap = float(np.mean(np.arange(1, len(ranks) + 1) / ranks))
        aps.append(ap)
        for k in ks:
            recalls[k].append(hits[:k].sum() / len(rel_rows))
        if per_query:
            rows.append({"image_id": ids[row], "matches": len(rel_rows), "first_hit_rank": int(ranks[0]), "ap": ap})
    scores = {"queries": len(query_rows), "mAP": float(np.mean(aps))}
    scores.update({f"recall@{k}": float(np.mean(recalls[k])) for k in ks})
    if per_query:
        return scores, pd.DataFrame(rows)
    return scores


# --- training -------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """A fine-tuned model, its per-epoch history and where its best checkpoint lies."""

    model: object
    history: pd.DataFrame
    best_epoch: int
    checkpoint: Path | None
    from_cache: bool = False
    resumed_from: int = 0  # the last finished epoch a killed run left behind (0: trained from the start)


def resume_path(target: Path) -> Path:
    """Where :func:`train_signature_model` keeps the state of its last finished epoch (``<name>.pt.resume``)."""
    return target.with_name(target.name + ".resume")


def _torch_save(obj, target: Path) -> None:
    """``torch.save`` through the store: a reader sees the old file or the new one."""
    store.save_torch(target, obj)


def _mine_triplets(pairs: np.ndarray, sigs: np.ndarray, comp: np.ndarray, pool_rows: np.ndarray, config: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Rows (A, B, C) for each training pair: C random or among A's nearest non-matches."""
    n_hard = int(round(config.hard_fraction * len(pairs)))
    hard = np.zeros(len(pairs), dtype=bool)
    hard[rng.permutation(len(pairs))[:n_hard]] = True
    negatives = np.empty(len(pairs), dtype=np.int64)
    pool_comp = comp[pool_rows]
    if n_hard:
        anchors = pairs[hard, 0]
        sims = sigs[anchors] @ sigs[pool_rows].T
        sims[pool_comp[None, :] == comp[anchors][:, None]] = -np.inf
        k = min(config.hard_pool, len(pool_rows) - 1)
        nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        pick = nearest[np.arange(len(anchors)), rng.integers(0, k, size=len(anchors))]
        negatives[hard] = pool_rows[pick]
    for i in np.flatnonzero(~hard):
        while True:
            c = pool_rows[rng.integers(0, len(pool_rows))]
            if comp[c] != comp[pairs[i, 0]]:
                break
        negatives[i] = c
    return np.column_stack([pairs, negatives])


def fingerprint(config: TrainConfig, catalog: pd.DataFrame, links: pd.DataFrame) -> str:
    """A key for a run: the config, the images and the training and validation links."""
    train = positive_pairs(links, "train")
    val = positive_pairs(links, "val")
    return store.fingerprint(
        config.as_dict(), _image_keys(catalog), catalog["split"].astype(str).tolist(),
        train[["image_id_a", "image_id_b"]].astype(str).to_numpy(), val[["image_id_a", "image_id_b"]].astype(str).to_numpy(),
    )


def train_signature_model(
    catalog: pd.DataFrame,
    links: pd.DataFrame,
    config: TrainConfig = TrainConfig(),
    activations: np.ndarray | None = None,
    device: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    name: str = "signatures",
    cache_dir: str | os.PathLike | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune the top of the trunk on the training links; early stopping on validation mAP.

    ``catalog`` and ``links`` come from :func:`artsig.links.split_by_component` (``split`` and
    ``component`` columns). Triplets: every training pair (A, B), a negative C from the training
    images outside A's component, random or (``hard_fraction``) among the nearest ones under the
    current signatures. After each epoch the validation images query the whole collection; the
    best epoch's weights are kept (epoch 0 = the pretrained trunk) and saved to
    ``checkpoint_dir/<name>.pt`` with the history. A checkpoint with the same fingerprint is
    loaded instead of training again unless ``retrain``. After every epoch the state the next one
    needs (weights, optimizer, best epoch so far, history, random generators) is written to
    ``<name>.pt.resume``: a run killed mid-way and restarted with the same fingerprint continues
    from its last finished epoch and ends with the same numbers (``resumed_from`` says where). The history has one row per epoch:
    loss, share of active triplets, validation mAP and recall@5, and ``d_linked`` / ``d_random``,
    the mean squared distance of the training links and of 2000 fixed random pairs (a falling
    ``d_random`` means the signatures are collapsing together).
    """
    import torch

    for column in ("split", "component"):
        if column not in catalog:
            raise ValueError(f"catalog has no {column!r} column: run artsig.links.split_by_component(catalog, links) first")
    model = build_signature_model(config, device=device)
    device = str(next(model.parameters()).device)
    key = fingerprint(config, catalog, links)
    target = Path(checkpoint_dir) / f"{name}.pt" if checkpoint_dir else None
    finished = None if retrain else _finished_run(target, key, model, device)
    if finished is not None:
        return finished
    if activations is None:
        activations = trunk_activations(model, catalog, cache_dir=cache_dir, progress=progress)
    if len(activations) != len(catalog):
        raise ValueError(f"activations has {len(activations)} rows but the catalog {len(catalog)} images")
    torch.manual_seed(config.seed)
    run = _TripletTraining(model, catalog, links, activations, config, device)
    resume = resume_path(target) if target is not None else None
    run.start(None if retrain else _resume_state(resume, key, device))
    resumed_from = run.done
    run.train(name, progress, key, resume)
    model.load_state_dict(run.best_state, strict=False)
    model.eval()
    history = pd.DataFrame(run.history)
    if target is not None:
        _torch_save({"fingerprint": key, "config": config.as_dict(), "top_state": run.best_state, "best_epoch": run.best_epoch,
                     "history": history.to_dict("list"), "split_block": model.split}, target)
        resume.unlink(missing_ok=True)
    return TrainResult(model, history, run.best_epoch, target, resumed_from=resumed_from)


def _finished_run(target: Path | None, key: str, model, device: str) -> TrainResult | None:
    """The finished run saved at ``target`` when its fingerprint is ``key`` (its weights loaded into ``model``), else None."""
    import torch

    if target is None or not target.exists():
        return None
    saved = torch.load(target, map_location=device, weights_only=False)
    if saved.get("fingerprint") != key:
        return None
    model.load_state_dict(saved["top_state"], strict=False)
    model.eval()
    return TrainResult(model, pd.DataFrame(saved["history"]), int(saved["best_epoch"]), target, from_cache=True)


def _resume_state(resume: Path | None, key: str, device: str) -> dict | None:
    """The state a killed run with fingerprint ``key`` left after its last finished epoch, or None."""
    import torch

    if resume is None or not resume.exists():
        return None
    state = torch.load(resume, map_location=device, weights_only=False)
    return state if state.get("fingerprint") == key else None


class _TripletTraining:
    """One fine-tuning run of :func:`train_signature_model`: the triplet sources, the optimizer,
    validation after each epoch and the best epoch so far (early stopping on validation mAP)."""

    def __init__(self, model, catalog: pd.DataFrame, links: pd.DataFrame, activations: np.ndarray, config: TrainConfig, device: str):
        import torch

        self.model, self.links, self.activations, self.config, self.device = model, links, activations, config, device
        self.rng = np.random.default_rng(config.seed)
        position = {image_id: i for i, image_id in enumerate(catalog["image_id"].astype(str).to_numpy())}
        self.comp = catalog["component"].to_numpy()
        self.train_rows = np.flatnonzero((catalog["split"] == "train").to_numpy())
        train_pairs = positive_pairs(links, "train")
        if not len(train_pairs):
            raise ValueError("no training links (split == 'train'): nothing to fine-tune on")
        self.pairs_all = np.array([[position[a], position[b]] for a, b in zip(train_pairs["image_id_a"], train_pairs["image_id_b"])], dtype=np.int64)
        params = [p for m in model.top_modules() for p in m.parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.acts = torch.from_numpy(activations)
        # validation: val images query the train + val images; test images stay untouched
        self.seen_rows = np.flatnonzero(catalog["split"].isin(["train", "val"]).to_numpy())
        self.seen_catalog = catalog.iloc[self.seen_rows].reset_index(drop=True)
        self.sigs = np.zeros((len(catalog), model.feature_dim), dtype=np.float32)
        # fixed random pairs of seen images: their mean distance shows whether the signatures spread or collapse
        self.spread_pairs = np.random.default_rng(config.seed + 1).choice(self.seen_rows, size=(2000, 2))

    def evaluate(self, epoch: int, loss: float, active: float, seconds: float, images: int) -> dict:
        """Refresh the signatures of the seen images and score the validation queries: one history row."""
        sigs = self.sigs
        sigs[self.seen_rows] = signatures_from_activations(self.model, self.activations[self.seen_rows])
        scores = evaluate_retrieval(sigs[self.seen_rows], self.seen_catalog, self.links, split="val", ks=(1, 5, 20))
        pairs, spread = self.pairs_all, self.spread_pairs
        d_linked = float(((sigs[pairs[:, 0]] - sigs[pairs[:, 1]]) ** 2).sum(1).mean())
        d_random = float(((sigs[spread[:, 0]] - sigs[spread[:, 1]]) ** 2).sum(1).mean())
        return {"epoch": epoch, "loss": loss, "active_triplets": active, "val_mAP": scores["mAP"], "val_recall@5": scores["recall@5"],
                "d_linked": d_linked, "d_random": d_random, "train_images_per_s": images / seconds if seconds else np.nan}

    def start(self, state: dict | None) -> None:
        """Begin at epoch 0 (the pretrained trunk, evaluated), or where a killed run's ``state`` left off."""
        import torch

        if state is None:
            row = self.evaluate(0, np.nan, np.nan, 0.0, 0)
            self.history = [row]
            self.best_map, self.best_epoch, self.best_state, self.waited = row["val_mAP"], 0, self.model.top_state(), 0
            self.done = 0
            return
        self.model.load_state_dict(state["top_state"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        self.sigs[:] = state["sigs"]
        self.history, self.best_map, self.best_epoch, self.best_state, self.waited = state["history"], state["best_map"], state["best_epoch"], state["best_state"], state["waited"]
        self.done = int(state["epoch"])

    def train(self, name: str, progress: bool, key: str, resume: Path | None) -> None:
        """The remaining epochs, each saved to ``resume`` for a restart, until ``patience`` epochs bring no gain."""
        from tqdm import tqdm

        config = self.config
        first = self.done + 1 if self.waited < config.patience else config.epochs + 1  # stopped early before the kill: nothing left
        bar = tqdm(range(first, config.epochs + 1), initial=first - 1, total=config.epochs, desc=f"training {name}", disable=not progress, leave=False)
        for epoch in bar:
            row = self.epoch(epoch)
            self.history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}", val_mAP=f"{row['val_mAP']:.3f}")
            if row["val_mAP"] > self.best_map + 1e-6:
                self.best_map, self.best_epoch, self.best_state, self.waited = row["val_mAP"], epoch, self.model.top_state(), 0
            else:
                self.waited += 1
            if resume is not None:  # everything the next epoch needs: a kill -9 from here on loses at most one epoch
                _torch_save(self.state(key, epoch), resume)
            if self.waited >= config.patience:
                break

    def epoch(self, epoch: int) -> dict:
        """One pass over (at most ``max_pairs_per_epoch``) training pairs with freshly mined negatives."""
        config, rng = self.config, self.rng
        self.model.train()
        pairs = self.pairs_all[rng.permutation(len(self.pairs_all))[: config.max_pairs_per_epoch]]
        # random anchor side, so without anchor swap both images serve as anchors
        swap = rng.random(len(pairs)) < 0.5
        pairs = np.where(swap[:, None], pairs[:, ::-1], pairs)
        triplets = _mine_triplets(pairs, self.sigs, self.comp, self.train_rows, config, rng)
        losses, actives, started, seen = [], [], time.perf_counter(), 0
        for start in range(0, len(triplets), config.batch_size):
            loss, active, images = self.step(triplets[start:start + config.batch_size])
            losses.append(loss)
            seen += images
            actives.append(active)
        seconds = time.perf_counter() - started
        return self.evaluate(epoch, float(np.mean(losses)), float(np.mean(actives)), seconds, seen)

    def step(self, batch: np.ndarray) -> tuple[float, float, int]:
        """One optimizer step on a batch of triplets: its loss, share of active triplets and distinct images."""
        import torch

        config = self.config
        unique, inverse = np.unique(batch.ravel(), return_inverse=True)
        a = self.acts[unique].to(self.device).float()
        if config.flip:
            flip = torch.from_numpy(self.rng.random(len(unique)) < 0.5).to(self.device)
            a = torch.where(flip[:, None, None, None], a.flip(3), a)
        emb = self.model.top(a)
        inv = torch.from_numpy(inverse.reshape(batch.shape)).to(self.device)
        per_triplet = compound_hinge_loss(emb[inv[:, 0]], emb[inv[:, 1]], emb[inv[:, 2]], config.margin, config.anchor_swap, config.intra_margin, reduction="none")
        loss = per_triplet.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()), float((per_triplet.detach() > 0).float().mean()), len(unique)

    def state(self, key: str, epoch: int) -> dict:
        """Everything a restarted run needs to continue after ``epoch`` with the same numbers."""
        import torch

        return {"fingerprint": key, "epoch": epoch, "top_state": self.model.top_state(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "sigs": self.sigs.copy(), "history": self.history,
                "best_map": self.best_map, "best_epoch": self.best_epoch, "best_state": self.best_state, "waited": self.waited}


class SignatureModel(TransformerMixin, BaseEstimator):
    """Triplet-loss signatures as a scikit-learn-style estimator: ``fit(catalog, links)`` is
    :func:`train_signature_model` (checkpointed and resumable as it is), ``transform`` gives
    unit-norm signatures of a catalog (through its cached trunk activations) or of images
    (paths or uint8 arrays).

    Fitted attributes: ``network_`` (the torch model), ``history_``, ``best_epoch_``, ``result_``
    (the :class:`TrainResult`).
    """

    def __init__(self, config: TrainConfig = TrainConfig(), device: str = "auto", checkpoint_dir: str | os.PathLike | None = None, name: str = "signatures",
                 cache_dir: str | os.PathLike | None = None, retrain: bool = False, progress: bool = True):
        self.config = config
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.name = name
        self.cache_dir = cache_dir
        self.retrain = retrain
        self.progress = progress

    def fit(self, catalog: pd.DataFrame, links: pd.DataFrame, activations: np.ndarray | None = None) -> SignatureModel:
        """Fine-tune on the training links of ``catalog`` (see :func:`train_signature_model`)."""
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        result = train_signature_model(catalog, links, self.config, activations=activations, device=self.device, checkpoint_dir=self.checkpoint_dir,
                                       name=self.name, cache_dir=self.cache_dir, retrain=self.retrain, progress=self.progress)
        self.result_, self.network_, self.history_, self.best_epoch_ = result, result.model, result.history, result.best_epoch
        return self

    def transform(self, X: pd.DataFrame | Sequence) -> np.ndarray:
        """Signatures (float32, N x D, unit norm) of a catalog's images or of a sequence of images."""
        if not hasattr(self, "network_"):
            raise RuntimeError("this SignatureModel is not fitted yet: call fit(catalog, links) first")
        if isinstance(X, pd.DataFrame):
            activations = trunk_activations(self.network_, X, cache_dir=self.cache_dir, progress=self.progress)
            return signatures_from_activations(self.network_, activations)
        return embed_images(self.network_, X)


@dataclass
class Selection:
    """The outcome of :func:`select_by_validation`: one row per tried value, the chosen value,
    its config and every run (keyed by value)."""

    table: pd.DataFrame
    field: str
    best_value: object
    config: TrainConfig
    runs: dict

    @property
    def best(self) -> TrainResult:
        return self.runs[self.best_value]


def select_by_validation(
    catalog: pd.DataFrame,
    links: pd.DataFrame,
    config: TrainConfig,
    field: str,
    values: Sequence,
    activations: np.ndarray | None = None,
    device: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    name: str = "signatures",
    threads: int | None = 2,
    progress: bool = True,
    prefer: str | None = "largest",
) -> Selection:
    """Train once per value of one :class:`TrainConfig` field and keep one, looking at validation only.

    The value with the highest validation mAP at its best epoch is the top one; every value whose
    validation AP is not clearly below it (a paired bootstrap interval over validation queries,
    drawn by link family, holds zero) is as good within the noise, and among those the
    ``prefer``-red value is kept ("largest": for ``intra_margin`` the gentlest constraint; None:
    the top one, ties to the earlier value). This keeps the choice from flipping with the last
    digits of a machine. Test links are never looked at. The table has one row per value, with
    the spread (``d_linked``, ``d_random``) at the kept epoch and each value's difference to the top.

    Used for the intra-sample margin ``m2``, whose useful range depends on how far apart the
    linked works already are under the pretrained signatures (squared distances of unit
    vectors lie in [0, 4]), so it is chosen per collection rather than fixed.
    """
    if field not in TrainConfig.__dataclass_fields__:
        raise ValueError(f"field {field!r} is not a TrainConfig field")
    values = list(values)
    if not values:
        raise ValueError(f"select_by_validation: no values given for {field}")
    runs, rows = {}, []
    for value in values:
        variant = config.replace(**{field: value})
        make_deterministic(config.seed, threads)
        label = str(value).replace(".", "p").replace("-", "m")
        run = train_signature_model(catalog, links, variant, activations=activations, device=device, checkpoint_dir=checkpoint_dir,
                                    name=f"{name}_{field}_{label}", progress=progress)
        runs[value] = run
        history = run.history
        best_row = history.loc[history["epoch"] == run.best_epoch].iloc[0]
        rows.append({field: value, "epochs run": int(history["epoch"].max()), "best epoch": run.best_epoch,
                     "val_mAP at epoch 0": float(history["val_mAP"].iloc[0]), "best val_mAP": float(best_row["val_mAP"]),
                     "d_linked": float(best_row["d_linked"]), "d_random": float(best_row["d_random"])})
    table = pd.DataFrame(rows)
    best_value = values[int(np.argmax(table["best val_mAP"].to_numpy()))]
    if activations is not None and prefer is not None:
        best_value, spread = _choose_within_noise(runs, values, best_value, activations, catalog, links, prefer, config.seed)
        table = table.join(spread, on=field)
    table.insert(table.columns.get_loc("best val_mAP") + 1, "chosen", [v == best_value for v in values])
    return Selection(table, field, best_value, config.replace(**{field: best_value}), runs)


def query_ap(signatures: np.ndarray, catalog: pd.DataFrame, links: pd.DataFrame, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Each ``split`` query's average precision, and its link family (for a bootstrap drawn by family)."""
    _, per_query = evaluate_retrieval(signatures, catalog, links, split=split, ks=(1,), per_query=True)
    families = components(catalog, links).reindex(per_query["image_id"].astype(str)).to_numpy()
    return per_query["ap"].to_numpy(), families


def _choose_within_noise(runs: dict, values: list, top_value, activations: np.ndarray, catalog: pd.DataFrame, links: pd.DataFrame,
                         prefer: str, seed: int) -> tuple[object, pd.DataFrame]:
    """Among the values whose validation AP is not clearly below the top one's (paired bootstrap
    over validation queries, drawn by link family), keep the ``prefer``-red one ("largest" or
    "smallest"); returns it and a table of each value's difference to the top with its interval."""
    from artsig.comparison import paired_bootstrap

    if prefer not in ("largest", "smallest"):
        raise ValueError(f"prefer must be 'largest' or 'smallest', got {prefer!r}")
    # as in training: validation images query the train + validation images, test images stay out
    seen_rows = np.flatnonzero(catalog["split"].isin(["train", "val"]).to_numpy())
    seen_catalog = catalog.iloc[seen_rows].reset_index(drop=True)
    ap = {}
    for value in values:
        ap[value], families = query_ap(signatures_from_activations(runs[value].model, activations[seen_rows]), seen_catalog, links, "val")
    rows, tied = [], []
    for value in values:
        c = paired_bootstrap(ap[value], ap[top_value], str(value), str(top_value), "val AP", groups=families, seed=seed)
        rows.append({"value": value, "val AP - top": c.difference, "low": c.low, "high": c.high})
        if c.outcome != "worse":
            tied.append(value)
    chosen = max(tied) if prefer == "largest" else min(tied)
    spread = pd.DataFrame(rows).set_index("value")
    spread.columns = ["val AP minus top", "interval low", "interval high"]
    return chosen, spread


def load_signature_model(checkpoint: str | os.PathLike, device: str = "auto"):
    """A signature model from a checkpoint written by :func:`train_signature_model`."""
    import torch

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint}: not found")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = build_signature_model(TrainConfig(**saved["config"]), device=device)
    model.load_state_dict(saved["top_state"], strict=False)
    model.eval()
    return model


# --- nearest-neighbour index ----------------------------------------------------------------


class SignatureIndex:
    """Nearest neighbours over signatures through :class:`artsig.neighbours.NeighbourIndex`:
    exact (one matrix product) up to ``exact_limit`` images, approximate (FAISS HNSW) above.
    Query with image ids, paths, arrays or vectors.

    >>> index = SignatureIndex(signatures, catalog, model=model)
    >>> index.query("~/Pictures/some_painting.jpg", k=10)
    """

    def __init__(self, signatures: np.ndarray, catalog: pd.DataFrame, model=None, exact_limit: int = 50_000, seed: int = 0):
        from .neighbours import NeighbourIndex

        signatures = np.ascontiguousarray(signatures, dtype=np.float32)
        if len(signatures) != len(catalog):
            raise ValueError(f"signatures has {len(signatures)} rows but the catalog {len(catalog)} images")
        self.signatures = signatures
        self.catalog = catalog.reset_index(drop=True)
        self.ids = self.catalog["image_id"].astype(str).to_numpy()
        self.model = model
        # signatures are L2-normalised: the inner product is their cosine (no second normalisation)
        self.neighbours = NeighbourIndex(metric="ip", method="auto", exact_limit=exact_limit, seed=seed).fit(signatures, self.ids)
        self.exact = self.neighbours.method_ == "exact"

    @property
    def kind(self) -> str:
        return self.neighbours.kind

    def search(self, vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(rows, squared distances) of the ``k`` nearest signatures to each vector."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        rows, dist = self.neighbours.search(vectors, k)
        return rows, 2.0 * dist  # unit vectors: |a - b|^2 = 2 - 2 a.b = 2 (1 - a.b)

    def query(self, item, k: int = 10, exclude_self: bool = True) -> pd.DataFrame:
        """The ``k`` nearest images to one image id, image path, uint8 array or signature vector."""
        vector, self_row = self._vector(item)
        rows, dist = self.search(vector, k + (1 if self_row is not None and exclude_self else 0))
        rows, dist = rows[0], dist[0]
        if self_row is not None and exclude_self:
            keep = rows != self_row
            rows, dist = rows[keep][:k], dist[keep][:k]
        table = self.catalog.iloc[rows][["image_id", "path"]].reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(rows) + 1))
        table["distance"] = dist.round(6)
        return table

    def _vector(self, item):
        if isinstance(item, np.ndarray) and item.ndim == 1:
            return item[None].astype(np.float32), None
        if isinstance(item, str) and item in set(self.ids):
            row = int(np.flatnonzero(self.ids == item)[0])
            return self.signatures[row:row + 1], row
        if isinstance(item, (str, os.PathLike, np.ndarray)):
            if self.model is None:
                raise ValueError("querying with an image needs the signature model: SignatureIndex(..., model=model)")
            if not isinstance(item, np.ndarray) and not Path(item).expanduser().is_file():
                raise FileNotFoundError(f"query {item!s}: neither an image id of the index nor an image file")
            path_or_array = item if isinstance(item, np.ndarray) else str(Path(item).expanduser())
            return embed_images(self.model, [path_or_array]), None
        raise TypeError(f"query must be an image id, a path, an image array or a signature vector, got {type(item).__name__}")

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the signatures and ids (``index.npz``) to ``folder``; the model is saved by training."""
        target = Path(folder) / "index.npz"
        store.atomic_write(target, lambda tmp: np.savez_compressed(tmp, signatures=self.signatures, image_id=self.ids), lock=False)
        return target


# --- semi-supervised clustering of signatures -----------------------------------------------


def signature_distances(signatures: np.ndarray) -> np.ndarray:
    """Euclidean distances between L2-normalised signatures, as a full (N, N) float64 matrix."""
    x = l2_normalize(signatures).astype(np.float64)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * (x @ x.T), 0.0))
    np.fill_diagonal(distances, 0.0)
    return distances


def cluster_signatures(signatures: np.ndarray, method: str = "optics", min_samples: int = 3, xi: float = 0.05, max_eps: float = np.inf,
                       min_cluster_size: int | None = None, selection: str = "leaf", precompute_limit: int = 10_000) -> np.ndarray:
    """Cluster labels (``-1`` = noise) from OPTICS or HDBSCAN on Euclidean distances between the
    L2-normalised signatures.

    Up to ``precompute_limit`` images the distance matrix is computed once and handed to the
    clustering (same result, many times faster than OPTICS' own per-point distances).
    HDBSCAN's ``selection`` is ``"leaf"`` (many small clusters, suited to motif families) or
    ``"eom"`` (the most stable, often very large clusters). The models come from
    :func:`artsig.scoring.fit_partition` (settings in :data:`artsig.scoring.SETTINGS`).
    """
    from artsig import scoring

    signatures = np.asarray(signatures, dtype=np.float64)
    if len(signatures) < max(min_samples, 2):
        raise ValueError(f"cluster_signatures: {len(signatures)} signatures, need at least min_samples={min_samples}")
    if method not in ("optics", "hdbscan"):
        raise ValueError(f"method must be 'optics' or 'hdbscan', got {method!r}")
    precomputed = len(signatures) <= precompute_limit
    X = signature_distances(signatures) if precomputed else l2_normalize(signatures).astype(np.float64)
    metric = "precomputed" if precomputed else "euclidean"
    if method == "optics":
        return scoring.fit_partition(X, "optics", min_samples=min_samples, xi=xi, max_eps=max_eps, min_cluster_size=min_cluster_size or min_samples, metric=metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scoring.fit_partition(X, "hdbscan", min_cluster_size=min_cluster_size or max(min_samples, 2), min_samples=min_samples, metric=metric,
                                     cluster_selection_method=selection)


def cluster_link_report(labels: np.ndarray, catalog: pd.DataFrame, truth_links: pd.DataFrame, known_links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per cluster: size, pairs, share of its pairs that are true links, new candidate pairs.

    ``truth_links`` decides which pairs are true (transitively, by component); ``known_links``
    are the links already known (training): a clustered pair outside them is a *candidate*,
    and a true candidate is a new link the cluster would teach.
    """
    ids = catalog["image_id"].astype(str).to_numpy()
    truth = components(catalog, truth_links).reindex(ids).to_numpy()
    known = components(catalog, known_links).reindex(ids).to_numpy() if known_links is not None else np.arange(len(ids))
    rows = []
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        i, j = np.triu_indices(len(members), 1)
        a, b = members[i], members[j]
        true_pair = truth[a] == truth[b]
        known_pair = known[a] == known[b]
        rows.append({"cluster": int(label), "images": len(members), "pairs": len(a), "true_pairs": int(true_pair.sum()),
                     "precision": float(true_pair.mean()) if len(a) else np.nan,
                     "candidates": int((~known_pair).sum()), "true_candidates": int((true_pair & ~known_pair).sum())})
    return pd.DataFrame(rows, columns=["cluster", "images", "pairs", "true_pairs", "precision", "candidates", "true_candidates"])


def summarize_clusters(report: pd.DataFrame, labels: np.ndarray) -> dict:
    """Totals of a :func:`cluster_link_report`: clusters, clustered share, pair precision, candidates."""
    pairs = int(report["pairs"].sum()) if len(report) else 0
    return {
        "clusters": int(len(report)),
        "clustered images": int((labels >= 0).sum()),
        "pairs": pairs,
        "pair precision": float(report["true_pairs"].sum() / pairs) if pairs else float("nan"),
        "new candidates": int(report["candidates"].sum()) if len(report) else 0,
        "true new links": int(report["true_candidates"].sum()) if len(report) else 0,
    }


def retrieval_table(signatures: dict[str, np.ndarray], catalog: pd.DataFrame, links: pd.DataFrame, split: str = "test",
                    ks: Sequence[int] = DEFAULT_KS, column: str = "signatures") -> pd.DataFrame:
    """One row per named signature set: mAP and recall@k of ``split``'s queries on the whole collection."""
    rows = []
    for name, sigs in signatures.items():
        rows.append({column: name, **evaluate_retrieval(sigs, catalog, links, split=split, ks=ks)})
    return pd.DataFrame(rows)


def loss_term_effects(results: pd.DataFrame, column: str = "signatures", metric: str = "mAP", prefix: str = "fine-tuned ") -> pd.DataFrame:
    """What switching each loss term on does to ``metric``, from the four ablation rows.

    Each term's effect is measured twice, with the other term on and off:
    anchor swap = full - no swap and no intra - plain; intra term = full - no intra and
    no swap - plain.
    """
    value = results.set_index(column)[metric]
    get = {name: value[f"{prefix}({name})"] for name in LOSS_VARIANTS}
    rows = [
        {"term": "anchor swap", "other term on": get["full loss"] - get["no anchor swap"], "other term off": get["no intra-sample term"] - get["plain triplet"]},
        {"term": "intra-sample term", "other term on": get["full loss"] - get["no intra-sample term"], "other term off": get["no anchor swap"] - get["plain triplet"]},
    ]
    table = pd.DataFrame(rows)
    table["mean effect"] = table[["other term on", "other term off"]].mean(axis=1)
    return table


def loss_term_intervals(signatures: dict[str, np.ndarray], catalog: pd.DataFrame, links: pd.DataFrame, split: str = "test",
                        prefix: str = "fine-tuned ", seed: int = 0) -> pd.DataFrame:
    """Each loss term's mean effect on AP (as :func:`loss_term_effects`) with a paired bootstrap
    interval over ``split``'s queries drawn by link family, and the verdict in words."""
    from artsig.comparison import paired_bootstrap

    ap = {}
    for name in LOSS_VARIANTS:
        key = f"{prefix}({name})"
        if key not in signatures:
            raise KeyError(f"signatures has no {key!r}: run the four ablation variants first")
        ap[name], families = query_ap(signatures[key], catalog, links, split)
    terms = {
        "anchor swap": (ap["full loss"] - ap["no anchor swap"] + ap["no intra-sample term"] - ap["plain triplet"]) / 2,
        "intra-sample term": (ap["full loss"] - ap["no intra-sample term"] + ap["no anchor swap"] - ap["plain triplet"]) / 2,
    }
    rows = []
    for term, effect in terms.items():
        c = paired_bootstrap(effect, np.zeros_like(effect), f"with the {term}", "without it", "AP", groups=families, seed=seed)
        words = {"better": "raises", "worse": "lowers", "no clear difference": "no clear effect on"}[c.outcome]
        rows.append({"term": term, "mean effect": c.difference, "interval low": c.low, "interval high": c.high,
                     "queries": c.items, "families": c.groups, "verdict": f"{words} {split} AP"})
    return pd.DataFrame(rows)


def compare_signatures(signatures: dict[str, np.ndarray], name_a: str, name_b: str, catalog: pd.DataFrame, links: pd.DataFrame,
                       split: str = "test", seed: int = 0):
    """Two signature sets on the same queries of ``split``: mean AP, difference and its interval."""
    from artsig.comparison import paired_bootstrap

    ap_a, families = query_ap(signatures[name_a], catalog, links, split)
    ap_b, _ = query_ap(signatures[name_b], catalog, links, split)
    return paired_bootstrap(ap_a, ap_b, name_a, name_b, f"{split} mAP", groups=families, seed=seed)


LINK_METRICS = ("clusters", "clustered images", "pairs", "pair precision", "new candidates", "true new links")


def link_scores(labels: np.ndarray, catalog: pd.DataFrame, truth_links: pd.DataFrame, known_links: pd.DataFrame | None = None, **ids) -> pd.DataFrame:
    """A clustering of signatures as :func:`artsig.scoring.score_partition`'s long table: the
    link counts of :func:`summarize_clusters` (``kind="links"``) and NMI / ARI against the link
    families (``label="family"``, linked images only)."""
    from artsig import scoring

    labels = np.asarray(labels)
    report = cluster_link_report(labels, catalog, truth_links, known_links)
    family = components(catalog, truth_links).reindex(catalog["image_id"].astype(str))
    sizes = family.map(family.value_counts())
    families = pd.DataFrame({"family": family.where(sizes > 1).to_numpy()})
    external = scoring.score_partition(labels, labels=families, external=("nmi", "ari"), **ids)
    base = external.iloc[0][["n_clusters", "noise"]].to_dict() if len(external) else {}
    links = pd.DataFrame([{**ids, "metric": metric, "kind": "links", "label": None, "value": value, **base}
                          for metric, value in summarize_clusters(report, labels).items()], columns=external.columns)
    return pd.concat([links, external], ignore_index=True)


def clustering_scores(labels: np.ndarray, catalog: pd.DataFrame, truth_links: pd.DataFrame, known_links: pd.DataFrame | None = None) -> dict:
    """:func:`link_scores` as one dict: pair precision and candidates plus ``family NMI`` / ``family ARI``."""
    scores = link_scores(labels, catalog, truth_links, known_links)
    names = [m if kind == "links" else f"{label} {m.upper()}" for m, kind, label in zip(scores["metric"], scores["kind"], scores["label"])]
    values = [int(v) if kind == "links" and m not in ("pair precision",) else float(v) for m, kind, v in zip(scores["metric"], scores["kind"], scores["value"])]
    return dict(zip(names, values))
