"""The feature-extractor registry, batched inference and the on-disk feature cache.

One call gives a feature matrix whose rows follow the catalog's rows (``image_id`` order)::

    X = extract(catalog, "efficientnet_lite0", data_dir="../data", device="auto")
    feats = extract_many(catalog, ["efficientnet_lite0", "gram", "color_histogram", "pca"])

Stronger recipes (``benchmarks/feature_study.py`` measures them): multi-view runners
(:data:`VIEW_RUNNERS`: ``lite0_tta`` flip test-time augmentation, ``lite0_hr`` the whole image at
448 px, ``lite0_ms`` the whole image plus 2 x 2 tiles, ``lite2_tta``; each with ``_gem`` pooling
and its own ``gram_*`` / ``channel_stats_*``) and composites (``lite0_pooled_gram``,
``lite2_pooled_gram`` ...: blocks side by side, each at unit total variance, :func:`combine_blocks`).
On the development set ``lite2_pooled_gram`` read style best of the recipes measured there.

How it works
------------
Extractors are built on *runners*: a runner turns a batch of ``uint8`` images of one size
into one or more per-image outputs (the EfficientNet-Lite0 runner gives pooled features,
Gram matrices and channel statistics of middle layers in the same forward pass). Some
extractors then apply a *set-level* step to a runner output (``pca`` fits a PCA on the
collection's pixels; ``gram`` reduces Gram matrices with a PCA); its result is cached too,
keyed by its input.

- Images are decoded once per batch for every runner that needs them, in worker threads
  that run while the model works on the previous batch. The EfficientNet-Lite runners run on
  ONNX Runtime on the CPU (``engine="auto"``, :mod:`artsig.inference`: about five times faster,
  numbers within 1e-4 of torch's, cached under their own key); the others, and everything on
  CUDA, run under ``torch.inference_mode`` with torch's threads set to the pinned count.
- Every finished batch is written to the cache at once (``data/cache/features/<runner>-<key>/``,
  one ``.npz`` part per batch, written atomically). The key covers the runner, its weights
  and preprocessing (input size, normalisation, resize mode); rows are keyed by the image's
  content hash (``sha256``). A killed run resumes at the first missing batch; a rerun reads the
  cache and never loads the model. Batches are the same chunks of the catalog on every run, so
  a resumed run gives exactly the features of an uninterrupted one.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from . import backbones as bb
from . import store
from .devices import resolve_device
from .locks import file_lock

__all__ = [
    "EXTRACTORS",
    "Extractor",
    "extract",
    "extract_many",
    "FeatureExtractor",
    "available_extractors",
    "extractor_names",
    "standardize_default",
    "features_frame",
    "cache_folder",
    "clear_cache",
    "combine_blocks",
    "is_cached",
    "runner_engine",
    "seconds_per_image",
]

FEATURE_VERSION = "1"  # bump when a runner's numbers change, to invalidate old caches
IMAGE_MODES = ("resize", "letterbox", "center_crop")


# --------------------------------------------------------------------------------------
# Runners: batch of uint8 images -> dict of per-image outputs


@dataclass
class Runner:
    """Computes per-image outputs from uint8 image batches of ``input_size``."""

    name: str
    input_size: int
    outputs: tuple[str, ...]
    config: dict = field(default_factory=dict)  # everything that changes the numbers
    build: Callable[[str], Callable[[np.ndarray], dict[str, np.ndarray]]] | None = None
    engine: str = "torch"  # "onnx": the same outputs from ONNX Runtime (artsig.inference), cached under their own key

    def key(self, image_mode: str) -> str:
        """The cache folder name of this runner: its name and a fingerprint of everything that changes its numbers.

        The torch engine's key is the one every earlier cache was written under; another engine
        adds its name and versions, so its numbers (equal within 1e-4, not bitwise) are kept apart.
        """
        params = {"runner": self.name, "size": self.input_size, "mode": image_mode, "v": FEATURE_VERSION, **self.config}
        if self.engine != "torch":
            from . import inference

            params["inference"] = inference.engine_config()
        return f"{self.name}-{store.fingerprint(params, length=12)}"


def _gram_upper(fmap, torch) -> torch.Tensor:
    """Gram matrices F F^T / (H W) of a (N, C, H, W) map, upper triangle with diagonal: (N, C(C+1)/2)."""
    n, c, h, w = fmap.shape
    f = fmap.reshape(n, c, h * w).float()
    gram = torch.bmm(f, f.transpose(1, 2)) / float(h * w)
    iu = torch.triu_indices(c, c)
    return gram[:, iu[0], iu[1]]


def _stats(fmap, torch) -> torch.Tensor:
    """Channel means and standard deviations of a (N, C, H, W) map: (N, 2C) — AdaIN style statistics."""
    f = fmap.flatten(2).float()
    return torch.cat([f.mean(-1), f.std(-1, unbiased=False)], dim=1)


def _torch_runner_builder(name: str, weights: str | None, style: bool):
    def build(device: str):
        import torch

        bb.torch_threads()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # weights=None: the same random network on every run
            backbone = bb.load_backbone(name, weights=weights, device=device)
        module, prep = backbone
        module.eval()
        if device == "cpu":
            module = module.to(memory_format=torch.channels_last)
        taps: tuple = ()
        tap_modules: list = []
        if style and hasattr(module, "forward_taps"):
            taps = module.tap_blocks()
        elif style and name in bb.TORCHVISION_BACKBONES and bb.TORCHVISION_BACKBONES[name].style_taps:
            features = module[0]
            tap_modules = [features[int(i)] for i in bb.TORCHVISION_BACKBONES[name].style_taps]

        captured: list = []
        hooks = [m.register_forward_hook(lambda _m, _i, out: captured.append(out)) for m in tap_modules]

        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            with torch.inference_mode():
                x = prep(batch, device=device, channels_last=(device == "cpu"))
                captured.clear()
                if taps:
                    pooled, tapped = module.forward_taps(x, taps)
                    maps = [tapped[t] for t in taps]
                else:
                    pooled = module(x)
                    maps = list(captured)
                out = {"pooled": pooled.float().cpu().numpy()}
                if style:
                    out["gram"] = torch.cat([_gram_upper(m, torch) for m in maps], 1).cpu().numpy()
                    out["stats"] = torch.cat([_stats(m, torch) for m in maps], 1).cpu().numpy()
                return out

        run.hooks = hooks  # keep the hooks alive with the runner
        return run

    return build


def _keras_runner_builder(name: str, weights: str | None):
    def build(device: str):
        model, preprocess, _ = bb.load_keras_backbone(name, weights=weights)

        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            return {"pooled": np.asarray(model(preprocess(batch), training=False), dtype=np.float32)}

        return run

    return build


def _histogram_builder(bins: tuple[int, int, int]):
    def build(device: str):
        from PIL import Image

        hb, sb, vb = bins

        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            rows = []
            for img in batch:
                hsv = np.asarray(Image.fromarray(img).convert("HSV"), dtype=np.int32)
                h = hsv[..., 0] * hb // 256
                s = hsv[..., 1] * sb // 256
                v = hsv[..., 2] * vb // 256
                codes = (h * sb + s) * vb + v
                hist = np.bincount(codes.ravel(), minlength=hb * sb * vb).astype(np.float32)
                rows.append(hist / hist.sum())
            return {"hist": np.stack(rows)}

        return run

    return build


def _pixels_builder():
    def build(device: str):
        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            return {"pixels": batch.reshape(len(batch), -1).astype(np.float32) / 255.0}

        return run

    return build


# Multi-view runners: one EfficientNet-Lite, several views of each image, outputs averaged
# over the views. A view is (kind, size): "full" = the whole image resized to ``size``,
# "flip" = the same mirrored left-right (test-time augmentation), "grid" = the 2 x 2 tiles of
# the decoded image, each resized to ``size`` (brushwork at a finer scale).
VIEW_RUNNERS: dict[str, tuple[str, int, tuple[tuple[str, int], ...]]] = {
    # name: (variant, decoded size, views)
    "lite0_tta": ("efficientnet_lite0", 224, (("full", 224), ("flip", 224))),
    "lite0_hr": ("efficientnet_lite0", 448, (("full", 448),)),
    "lite0_ms": ("efficientnet_lite0", 448, (("full", 224), ("grid", 224))),
    "lite2_tta": ("efficientnet_lite2", 260, (("full", 260), ("flip", 260))),
}
VIEW_OUTPUTS = ("pooled", "gem", "max", "gram", "stats")
GEM_P = 3.0


def _view_batches(x, views, torch) -> list:
    """The views of a normalised batch ``x`` (N, 3, D, D), each a tensor of its own size."""
    import torch.nn.functional as F

    def resized(t, size):
        if t.shape[-1] == size:
            return t
        return F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)

    out = []
    for kind, size in views:
        if kind == "full":
            out.append(resized(x, size))
        elif kind == "flip":
            out.append(resized(torch.flip(x, dims=[3]), size))
        elif kind == "grid":
            h = x.shape[-1] // 2
            tiles = [x[:, :, i * h : (i + 1) * h, j * h : (j + 1) * h] for i in (0, 1) for j in (0, 1)]
            out.append(resized(torch.cat(tiles, 0), size))
        else:
            raise ValueError(f"unknown view kind {kind!r}")
    return out


def _view_outputs(module, v, taps, n: int, torch) -> dict:
    """Per-image outputs of one view batch ``v`` (k * n rows: k tiles of n images), averaged over tiles."""
    head, maps = module.forward_maps(v, taps)
    flat = head.flatten(2).float()
    res = {
        "pooled": flat.mean(-1),
        "gem": flat.clamp(min=1e-6).pow(GEM_P).mean(-1).pow(1.0 / GEM_P),
        "max": flat.amax(-1),
        "gram": torch.cat([_gram_upper(maps[t], torch) for t in taps], 1),
        "stats": torch.cat([_stats(maps[t], torch) for t in taps], 1),
    }
    return {k: r.reshape(-1, n, r.shape[1]).mean(0) for k, r in res.items()}


def _views_builder(variant: str, views, weights: str | None):
    def build(device: str):
        import torch

        bb.torch_threads()
        module, prep = bb.load_backbone(variant, weights=weights, device=device)
        module.eval()
        taps = module.tap_blocks()

        def run(batch: np.ndarray) -> dict[str, np.ndarray]:
            with torch.inference_mode():
                x = prep(batch, device=device, channels_last=False)
                parts = [_view_outputs(module, v, taps, len(batch), torch) for v in _view_batches(x, views, torch)]
                return {k: torch.stack([p[k] for p in parts]).mean(0).cpu().numpy() for k in VIEW_OUTPUTS}

        return run

    return build


def _onnx_builder(name: str, weights: str | None, data_dir):
    def build(device: str):
        from . import inference

        return inference.onnx_runner(name, weights, data_dir)

    return build


def _make_runner(name: str, weights: str | None, engine: str = "torch", data_dir: str | os.PathLike = "../data") -> Runner:
    """The runner ``name``; ``engine="onnx"`` runs it on ONNX Runtime where it has an export (others ignore it)."""
    if name in bb.LITE_VARIANTS:
        onnx = engine == "onnx"
        return Runner(
            name,
            bb.LITE_VARIANTS[name][2],
            ("pooled", "gram", "stats"),
            {"weights": weights, "norm": "lite", "taps": list(bb.LITE_STYLE_STAGES)},
            _onnx_builder(name, weights, data_dir) if onnx else _torch_runner_builder(name, weights, style=True),
            "onnx" if onnx else "torch",
        )
    if name in bb.TORCHVISION_BACKBONES:
        spec = bb.TORCHVISION_BACKBONES[name]
        style = bool(spec.style_taps)
        outputs = ("pooled", "gram", "stats") if style else ("pooled",)
        return Runner(
            name,
            spec.input_size,
            outputs,
            {"weights": weights, "norm": "imagenet", "taps": list(spec.style_taps)},
            _torch_runner_builder(name, weights, style=style),
        )
    if name in bb.KERAS_BACKBONES:
        return Runner(name, 224, ("pooled",), {"weights": weights}, _keras_runner_builder(name, weights))
    if name == "color_histogram":
        return Runner(name, 128, ("hist",), {"bins": [18, 4, 4], "space": "HSV"}, _histogram_builder((18, 4, 4)))
    if name == "pixels":
        return Runner(name, 32, ("pixels",), {}, _pixels_builder())
    if name in VIEW_RUNNERS:
        variant, size, views = VIEW_RUNNERS[name]
        config = {"weights": weights, "variant": variant, "views": [list(v) for v in views], "gem": GEM_P,
                  "taps": list(bb.LITE_STYLE_STAGES)}
        return Runner(name, size, VIEW_OUTPUTS, config, _views_builder(variant, views, weights))
    raise KeyError(name)


# --------------------------------------------------------------------------------------
# Set-level steps (cheap, recomputed)


def _fit_rows(n: int, max_fit: int, seed: int) -> np.ndarray:
    if n <= max_fit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_fit, replace=False))


def _pca95(X: np.ndarray, seed: int, max_fit: int = 1000) -> np.ndarray:
    from sklearn.decomposition import PCA

    rows = _fit_rows(len(X), max_fit, seed)
    pca = PCA(n_components=0.95, svd_solver="full").fit(X[rows])
    return pca.transform(X).astype(np.float32)


def _kernel_pca(X: np.ndarray, seed: int, n_components: int = 64, max_fit: int = 1000) -> np.ndarray:
    from sklearn.decomposition import KernelPCA

    rows = _fit_rows(len(X), max_fit, seed)
    Xc = X - X[rows].mean(0)
    # RBF width from the median squared distance between fitting rows (a robust default)
    from sklearn.metrics.pairwise import euclidean_distances

    sample = Xc[rows[: min(len(rows), 500)]]
    d2 = euclidean_distances(sample, squared=True)
    gamma = 1.0 / max(float(np.median(d2[np.triu_indices(len(sample), 1)])), 1e-12)
    kpca = KernelPCA(
        n_components=min(n_components, len(rows) - 1), kernel="rbf", gamma=gamma, eigen_solver="dense", random_state=seed
    ).fit(Xc[rows])
    return kpca.transform(Xc).astype(np.float32)


def _layer_slices(runner: str) -> list[int]:
    """Channel counts of a runner's style taps (to split the concatenated Gram vector per layer)."""
    runner = VIEW_RUNNERS[runner][0] if runner in VIEW_RUNNERS else runner
    if runner in bb.LITE_VARIANTS:
        return {"efficientnet_lite0": [24, 40, 80], "efficientnet_lite1": [24, 40, 80], "efficientnet_lite2": [24, 48, 88]}[runner]
    if runner == "vgg16":
        return [64, 128, 256]
    raise KeyError(runner)


def _gram_reduce(runner: str):
    def step(X: np.ndarray, seed: int, n_components: int = 256, max_fit: int = 1000) -> np.ndarray:
        from sklearn.decomposition import PCA

        parts, start = [], 0
        for c in _layer_slices(runner):
            width = c * (c + 1) // 2
            block = X[:, start : start + width].astype(np.float64)
            start += width
            block = np.sign(block) * np.sqrt(np.abs(block))  # signed square root (power normalisation)
            block /= np.linalg.norm(block, axis=1, keepdims=True) + 1e-12
            parts.append(block)
        Z = np.concatenate(parts, 1)
        rows = _fit_rows(len(Z), max_fit, seed)
        k = min(n_components, len(rows) - 1, Z.shape[1])
        pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(Z[rows])
        return pca.transform(Z).astype(np.float32)

    return step


def _stats_step(runner: str):
    def step(X: np.ndarray, seed: int) -> np.ndarray:
        # log of the standard deviations: scale-free, closer to Gaussian
        out = X.astype(np.float64).copy()
        start = 0
        for c in _layer_slices(runner):
            out[:, start + c : start + 2 * c] = np.log(out[:, start + c : start + 2 * c] + 1e-6)
            start += 2 * c
        return out.astype(np.float32)

    return step


# --------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Extractor:
    """A named feature: a runner output, optionally followed by a set-level step."""

    name: str
    runner: str
    output: str
    family: str
    description: str
    step: Callable[..., np.ndarray] | None = None
    # whether clustering should standardise the columns: False for PCA scores, whose
    # unequal variances carry the information (standardising them would whiten noise up)
    standardize: bool = True
    # a composite: the named extractors' features side by side (see combine_blocks); runner
    # and output are then empty
    parts: tuple[str, ...] = ()


def combine_blocks(blocks: Sequence[np.ndarray], standardize: Sequence[bool] | None = None) -> np.ndarray:
    """Feature blocks side by side, each centred (and standardised where asked) and scaled to unit total variance."""
    standardize = [True] * len(blocks) if standardize is None else list(standardize)
    if len(standardize) != len(blocks):
        raise ValueError(f"standardize has {len(standardize)} entries for {len(blocks)} blocks")
    parts = []
    for B, std in zip(blocks, standardize):
        B = np.asarray(B, dtype=np.float64)
        B = B - B.mean(0)
        if std:
            B = B / np.where(B.std(0) > 1e-12, B.std(0), 1.0)
        parts.append(B / max(float(np.sqrt(B.var(0).sum())), 1e-12))
    return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def _composite(name: str, parts: Sequence[str], description: str) -> Extractor:
    return Extractor(name, "", "", "composite", description, parts=tuple(parts), standardize=False)


def _style_extractors(reg: dict[str, Extractor], suffix: str, runner: str, what: str) -> None:
    """Register ``gram<suffix>`` and ``channel_stats<suffix>`` for one runner's style taps."""
    reg[f"gram{suffix}"] = Extractor(
        f"gram{suffix}", runner, "gram", "style", f"Gram matrices of {what} stages 2-4, signed sqrt, PCA to 256",
        _gram_reduce(runner), standardize=False,
    )
    reg[f"channel_stats{suffix}"] = Extractor(
        f"channel_stats{suffix}", runner, "stats", "style", f"channel means and log standard deviations of {what} stages 2-4",
        _stats_step(runner),
    )


def _strong_extractors(reg: dict[str, Extractor]) -> None:
    """The recipes of benchmarks/feature_study.py: more views, larger networks, pooled + style statistics."""
    views = {
        "lite0_tta": "EfficientNet-Lite0 at 224 px, averaged with its mirror image (test-time augmentation)",
        "lite0_hr": "EfficientNet-Lite0 on the whole image at 448 px (twice its native size), average pooled",
        "lite0_ms": "EfficientNet-Lite0: the whole image at 224 px and its 2 x 2 tiles of a 448 px copy, averaged",
        "lite2_tta": "EfficientNet-Lite2 at 260 px, averaged with its mirror image",
    }
    for name, text in views.items():
        reg[name] = Extractor(name, name, "pooled", "multi_view", text + ", 1280-d")
        reg[f"{name}_gem"] = Extractor(f"{name}_gem", name, "gem", "multi_view", text + f", GeM pooled (p = {GEM_P:g})")
    _style_extractors(reg, "_lite2", "efficientnet_lite2", "EfficientNet-Lite2")
    for name in views:
        _style_extractors(reg, f"_{name}", name, f"{name} (views averaged)")
    composites = {
        "lite0_pooled_gram": ("efficientnet_lite0", "gram"),
        "lite0_pooled_stats": ("efficientnet_lite0", "channel_stats"),
        "lite0_pooled_gram_stats": ("efficientnet_lite0", "gram", "channel_stats"),
        "lite2_pooled_gram": ("efficientnet_lite2", "gram_lite2"),
        "lite0_ms_pooled_gram": ("lite0_ms", "gram_lite0_ms"),
        "lite0_hr_pooled_gram": ("lite0_hr", "gram_lite0_hr"),
        "lite0_tta_pooled_gram": ("lite0_tta", "gram_lite0_tta"),
        "lite2_tta_pooled_gram": ("lite2_tta", "gram_lite2_tta"),
    }
    for name, parts in composites.items():
        reg[name] = _composite(name, parts, " + ".join(parts) + ", each block scaled to unit total variance")


def _registry() -> dict[str, Extractor]:
    reg: dict[str, Extractor] = {}
    for name in bb.LITE_VARIANTS:
        reg[name] = Extractor(name, name, "pooled", "efficientnet_lite", f"{name} (PyTorch, ImageNet), global average pooled, 1280-d")
    for name, spec in bb.TORCHVISION_BACKBONES.items():
        reg[name] = Extractor(name, name, "pooled", "torchvision", f"torchvision {name} (ImageNet), global average pooled, {spec.feature_dim}-d")
    for name, (attr, *_rest) in bb.KERAS_BACKBONES.items():
        dim = bb.KERAS_BACKBONES[name][3]
        reg[name] = Extractor(name, name, "pooled", "keras", f"Keras {attr} (ImageNet), global average pooled, {dim}-d")
    reg["color_histogram"] = Extractor(
        "color_histogram", "color_histogram", "hist", "pixels", "HSV colour histogram (18 hue x 4 saturation x 4 value bins)"
    )
    reg["pca"] = Extractor("pca", "pixels", "pixels", "pixels", "PCA of 32x32 pixels keeping 95% of the variance", _pca95, standardize=False)
    reg["kernel_pca"] = Extractor("kernel_pca", "pixels", "pixels", "pixels", "RBF kernel PCA of 32x32 pixels, 64 components", _kernel_pca, standardize=False)
    reg["gram"] = Extractor(
        "gram",
        "efficientnet_lite0",
        "gram",
        "style",
        "Gram matrices of EfficientNet-Lite0 stages 2-4 (24, 40, 80 channels), signed sqrt, PCA to 256",
        _gram_reduce("efficientnet_lite0"),
        standardize=False,
    )
    reg["gram_vgg16"] = Extractor(
        "gram_vgg16",
        "vgg16",
        "gram",
        "style",
        "Gram matrices of VGG16 relu1_2, relu2_2, relu3_3 (torchvision, ImageNet), signed sqrt, PCA to 256",
        _gram_reduce("vgg16"),
        standardize=False,
    )
    reg["channel_stats"] = Extractor(
        "channel_stats",
        "efficientnet_lite0",
        "stats",
        "style",
        "channel means and log standard deviations of EfficientNet-Lite0 stages 2-4 (AdaIN statistics)",
        _stats_step("efficientnet_lite0"),
    )
    _strong_extractors(reg)
    return reg


EXTRACTORS: dict[str, Extractor] = _registry()


def extractor_names(family: str | None = None) -> list[str]:
    """Registered extractor names (optionally of one family), in registry order."""
    return [n for n, e in EXTRACTORS.items() if family is None or e.family == family]


def standardize_default(name: str) -> bool:
    """Whether features of ``name`` should be standardised before clustering (unknown names: True)."""
    return EXTRACTORS[name].standardize if name in EXTRACTORS else True


def _get(name: str) -> Extractor:
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
    return EXTRACTORS[name]


def _runner_status(runner: str, weights: str | None) -> tuple[bool, str]:
    if runner in ("color_histogram", "pixels"):
        return True, ""
    runner = VIEW_RUNNERS[runner][0] if runner in VIEW_RUNNERS else runner
    import importlib.util

    if runner in bb.KERAS_BACKBONES and importlib.util.find_spec("keras") is None:
        return False, "keras is not installed"
    if importlib.util.find_spec("torch") is None and runner not in bb.KERAS_BACKBONES:
        return False, "torch is not installed"
    return bb.weights_status(runner, weights)


def _extractor_status(ext: Extractor, weights: str | None) -> tuple[bool, str]:
    """Whether an extractor (every part of a composite) can run here, and why not."""
    for part in ext.parts or (ext.name,):
        ok, reason = _runner_status(_get(part).runner, weights)
        if not ok:
            return ok, reason
    return True, ""


def available_extractors(names: Iterable[str] | None = None, weights: str | None = "imagenet") -> pd.DataFrame:
    """One row per extractor: ``name, family, runner, available, reason, description``.

    Cheap (no model is loaded): checks packages, the weights cache and the download host.
    """
    rows = []
    for name in names if names is not None else EXTRACTORS:
        ext = _get(name)
        ok, reason = _extractor_status(ext, weights)
        reason = reason.replace(str(Path.home()), "~")  # the book shows it: no machine paths
        rows.append(
            dict(name=name, family=ext.family, runner=ext.runner, available=ok, reason=reason, description=ext.description)
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The on-disk cache


def runner_engine(runner: str, engine: str = "auto", device: str = "auto") -> str:
    """The inference engine runner ``runner`` uses: ``"onnx"`` for an EfficientNet-Lite runner on the CPU
    when ``engine`` allows it (see :func:`artsig.inference.resolve_engine`), else ``"torch"``."""
    from . import inference

    if engine not in inference.ENGINES:
        raise ValueError(f"engine must be one of {', '.join(inference.ENGINES)}, got {engine!r}")
    if not inference.supports(runner) or engine == "torch":
        return "torch"
    return inference.resolve_engine(engine, resolve_device(device))


def cache_folder(runner: str, data_dir: str | os.PathLike = "../data", weights: str | None = "imagenet", image_mode: str = "resize",
                 engine: str = "auto", device: str = "auto") -> Path:
    """The cache folder of one runner configuration (created if missing); ``engine`` / ``device`` as in :func:`extract`."""
    return store.cache_dir(data_dir, "features") / _make_runner(runner, weights, runner_engine(runner, engine, device)).key(image_mode)


def clear_cache(data_dir: str | os.PathLike = "../data") -> int:
    """Delete every cached feature part under ``data_dir``; return how many files went."""
    root = store.cache_dir(data_dir, "features")
    count = 0
    for part in [*root.glob("*/*.npz"), *root.glob("*/step-*.npy")]:
        if part.name.startswith("."):  # another run's temporary file: its writer renames or removes it
            continue
        part.unlink()
        count += 1
    return count


class _FeatureCache:
    """Parts ``part-<batch>-<digest>.npz`` each holding ``sha256`` and one array per output."""

    def __init__(self, folder: Path, outputs: Sequence[str]):
        self.folder = folder
        self.outputs = tuple(outputs)
        self.index: dict[str, tuple[int, int]] = {}
        self.parts: list[dict[str, np.ndarray]] = []
        self.files: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)
        with file_lock(folder, shared=True):  # not while another run compacts the parts
            for path in sorted(p for p in folder.glob("*.npz") if not p.name.startswith(".")):  # not another run's temporary file
                try:
                    with np.load(path, allow_pickle=False) as z:
                        part = {k: z[k] for k in ("sha256", *self.outputs)}
                except Exception:  # noqa: BLE001 - a torn or foreign file: ignore it, it gets recomputed
                    continue
                self._add(part, path)

    def _add(self, part: dict[str, np.ndarray], path: Path) -> None:
        pid = len(self.parts)
        self.parts.append(part)
        self.files.append(path)
        for row, sha in enumerate(part["sha256"].tolist()):
            self.index.setdefault(sha, (pid, row))

    def has_all(self, shas: Iterable[str]) -> bool:
        return all(s in self.index for s in shas)

    def write(self, batch_no: int, shas: Sequence[str], outputs: dict[str, np.ndarray]) -> None:
        path = self.folder / f"part-{batch_no:06d}-{store.fingerprint(list(shas), length=10)}.npz"
        arrays = {"sha256": np.asarray(list(shas), dtype="U64")}
        arrays.update({k: np.ascontiguousarray(outputs[k], dtype=np.float32) for k in self.outputs})
        store.save_arrays(path, arrays, lock=False)  # a part's name is unique to its batch: nobody else writes it
        self._add(arrays, path)

    def gather(self, output: str, shas: Sequence[str]) -> np.ndarray:
        first = self.parts[self.index[shas[0]][0]][output]
        out = np.empty((len(shas), first.shape[1]), dtype=np.float32)
        for i, sha in enumerate(shas):
            pid, row = self.index[sha]
            out[i] = self.parts[pid][output][row]
        return out

    def compact(self) -> None:
        """Merge all parts into one file (atomic; a crash leaves duplicates, never a gap)."""
        if len(self.files) < 2:
            return
        shas = list(self.index)
        merged = {"sha256": np.asarray(shas, dtype="U64")}
        for k in self.outputs:
            merged[k] = self.gather(k, shas)
        path = self.folder / f"merged-{len(shas):08d}-{store.fingerprint(shas, length=10)}.npz"
        with file_lock(self.folder):  # two runs compacting at once each keep what they merged
            store.save_arrays(path, merged, lock=False)
            for old in self.files:
                if old != path:
                    old.unlink(missing_ok=True)
        self.parts, self.files, self.index = [], [], {}
        self._add(merged, path)


# --------------------------------------------------------------------------------------
# The pipeline


def _catalog_keys(catalog: pd.DataFrame) -> tuple[list[str], list[str]]:
    if "path" not in catalog.columns:
        raise ValueError("catalog has no 'path' column: features need the image files (see artsig.catalog)")
    if "sha256" in catalog.columns and catalog["sha256"].notna().all():
        shas = catalog["sha256"].astype(str).tolist()
    else:
        from .catalog import sha256_of

        shas = [sha256_of(p) for p in catalog["path"]]
    return shas, catalog["path"].astype(str).tolist()


def _decode_batch(paths: Sequence[str], sizes: Sequence[int], image_mode: str) -> dict[int, np.ndarray]:
    from .images import fit, open_rgb

    out = {s: np.empty((len(paths), s, s, 3), dtype=np.uint8) for s in sizes}
    for i, path in enumerate(paths):
        img = open_rgb(path)
        for s in sizes:
            out[s][i] = np.asarray(fit(img, s, image_mode), dtype=np.uint8)
    return out


def _default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _run(
    shas: list[str],
    paths: list[str],
    runners: list[Runner],
    caches: list[_FeatureCache],
    device: str,
    batch_size: int,
    image_mode: str,
    workers: int,
    progress: bool,
    stop_after: int | None = None,
    fns: dict[int, Callable] | None = None,
) -> None:
    """Fill every cache for all images, batch by batch; decoding overlaps the models.

    ``fns`` keeps the built runners (by position in ``runners``) between calls: a caller that
    runs one collection in several pieces (:mod:`artsig.embedding`'s shards) builds each model once.

    One loop on purpose (about 60 lines): the decode pool, the pending futures, the progress bar
    and the caches live together; cut in pieces they would be passed between every piece.
    """
    # unique images in catalog order, cut into fixed batches
    seen: dict[str, str] = {}
    for sha, path in zip(shas, paths):
        seen.setdefault(sha, path)
    ushas, upaths = list(seen), list(seen.values())
    batches = [(b, ushas[i : i + batch_size], upaths[i : i + batch_size]) for b, i in enumerate(range(0, len(ushas), batch_size))]
    todo = []
    for b, bshas, bpaths in batches:
        need = [j for j, c in enumerate(caches) if not c.has_all(bshas)]
        if need:
            todo.append((b, bshas, bpaths, need))
    if not todo:
        return
    fns = {} if fns is None else fns
    from tqdm import tqdm

    total = sum(len(t[1]) for t in todo)
    names = "+".join(r.name for r in runners)
    bar = tqdm(total=total, desc=f"features {names}", disable=not progress, leave=False, unit="img")
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="artsig-decode") as pool:
        queue: deque = deque()
        it = iter(todo)

        def submit() -> None:
            try:
                b, bshas, bpaths, need = next(it)
            except StopIteration:
                return
            sizes = sorted({runners[j].input_size for j in need})
            queue.append((b, bshas, need, pool.submit(_decode_batch, bpaths, sizes, image_mode)))

        for _ in range(workers + 1):
            submit()
        try:
            while queue:
                b, bshas, need, fut = queue.popleft()
                images = fut.result()
                submit()
                for j in need:
                    if j not in fns:
                        fns[j] = runners[j].build(device)
                    out = fns[j](images[runners[j].input_size])
                    caches[j].write(b, bshas, out)
                bar.update(len(bshas))
                done += 1
                if stop_after is not None and done >= stop_after:
                    raise KeyboardInterrupt(f"stopped after {done} batches (stop_after)")
        finally:
            for _b, _s, _n, fut in queue:
                fut.cancel()
            bar.close()
    for c in caches:
        c.compact()


def _cached_step(ext: Extractor, X: np.ndarray, seed: int, folder: Path) -> np.ndarray:
    """A set-level step's result, stored next to the runner's cache and keyed by its input."""
    key = store.fingerprint(ext.name, int(seed), FEATURE_VERSION, np.ascontiguousarray(X))
    path = folder / f"step-{ext.name}-{key}.npy"
    return store.cached(path, lambda: np.ascontiguousarray(ext.step(X, seed), dtype=np.float32))


def extract_many(
    catalog: pd.DataFrame,
    names: Sequence[str],
    data_dir: str | os.PathLike = "../data",
    device: str = "auto",
    batch_size: int = 32,
    weights: str | None = "imagenet",
    image_mode: str = "resize",
    workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
    on_unavailable: str = "raise",
    engine: str = "auto",
    _stop_after: int | None = None,
) -> dict[str, np.ndarray]:
    """Features of several extractors, ``{name: (N, D) float32}``, rows in catalog order.

    All per-image work shares one decoding pass. ``on_unavailable="skip"`` leaves out
    extractors whose weights or packages are missing (with a warning) instead of raising.
    ``engine`` (``"auto"`` | ``"onnx"`` | ``"torch"``) runs the EfficientNet-Lite trunks on ONNX
    Runtime or torch (:mod:`artsig.inference`; auto = ONNX Runtime on the CPU when installed).
    """
    if image_mode not in IMAGE_MODES:
        raise ValueError(f"image_mode must be one of {IMAGE_MODES}, got {image_mode!r}")
    if on_unavailable not in ("raise", "skip"):
        raise ValueError(f"on_unavailable must be 'raise' or 'skip', got {on_unavailable!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if len(catalog) == 0:
        raise ValueError("catalog is empty: nothing to extract")
    requested = [_get(n) for n in names]
    exts = [_get(p) for p in dict.fromkeys(q for e in requested for q in (e.parts or (e.name,)))]
    runner_names: list[str] = []
    for ext in exts:
        if ext.runner not in runner_names:
            runner_names.append(ext.runner)
    shas, paths = _catalog_keys(catalog)
    dev = resolve_device(device)
    runners, caches = [], []
    embedded: dict[str, np.ndarray] = {}
    for rname in runner_names:
        runner = _make_runner(rname, weights, runner_engine(rname, engine, dev), data_dir)
        cache = _FeatureCache(store.cache_dir(data_dir, "features") / runner.key(image_mode), runner.outputs)
        if not cache.has_all(shas):
            found = _from_embeddings([e for e in exts if e.runner == rname], shas, runner.key(image_mode), data_dir)
            if found is not None:  # `python -m artsig embed` made them already, with the same settings
                embedded.update(found)
                continue
            ok, reason = _runner_status(rname, weights)
            if not ok:
                if on_unavailable == "raise":
                    if rname in bb.TORCHVISION_BACKBONES or rname in bb.KERAS_BACKBONES:
                        raise bb.WeightsUnavailableError(bb._unavailable_message(rname, reason))
                    raise RuntimeError(f"feature runner {rname!r} is unavailable: {reason}")
                warnings.warn(f"skipping {rname}: {reason}", stacklevel=2)
                continue
        runners.append(runner)
        caches.append(cache)
    _run(shas, paths, runners, caches, dev, batch_size, image_mode, workers or _default_workers(), progress, _stop_after)
    by_runner = {r.name: c for r, c in zip(runners, caches)}
    result: dict[str, np.ndarray] = {}
    for ext in exts:
        if ext.name in embedded:
            result[ext.name] = embedded[ext.name]
            continue
        cache = by_runner.get(ext.runner)
        if cache is None:
            continue
        X = cache.gather(ext.output, shas)
        if ext.step is not None:
            X = _cached_step(ext, X, seed, cache.folder)
        result[ext.name] = np.ascontiguousarray(X, dtype=np.float32)
    for ext in requested:
        if ext.parts and all(p in result for p in ext.parts):
            result[ext.name] = _cached_combine(ext, [result[p] for p in ext.parts], data_dir)
    return {n: result[n] for n in names if n in result}


def _from_embeddings(exts: list[Extractor], shas: list[str], key: str, data_dir) -> dict[str, np.ndarray] | None:
    """Every extractor of one runner read from complete embeddings folders (:mod:`artsig.embedding`) that
    hold all ``shas`` under the same runner key, or None when one of them is not there."""
    from . import embedding

    if not exts or any(e.step is not None for e in exts) or not (Path(data_dir) / "embeddings").is_dir():
        return None
    found = {}
    for ext in exts:
        X = embedding.lookup(shas, ext.name, key, data_dir)
        if X is None:
            return None
        found[ext.name] = np.ascontiguousarray(X, dtype=np.float32)
    return found


def _cached_combine(ext: Extractor, blocks: list[np.ndarray], data_dir) -> np.ndarray:
    """A composite's blocks side by side (:func:`combine_blocks`), cached keyed by the blocks."""
    flags = [standardize_default(p) for p in ext.parts]
    key = store.fingerprint(ext.name, FEATURE_VERSION, flags, *[np.ascontiguousarray(b) for b in blocks])
    path = store.cache_dir(data_dir, "features") / "composite" / f"step-{ext.name}-{key}.npy"
    return store.cached(path, lambda: combine_blocks(blocks, flags))


def extract(
    catalog: pd.DataFrame,
    name: str,
    data_dir: str | os.PathLike = "../data",
    device: str = "auto",
    batch_size: int = 32,
    weights: str | None = "imagenet",
    image_mode: str = "resize",
    workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
    engine: str = "auto",
) -> np.ndarray:
    """Features ``(N, D)`` float32 of one extractor, rows aligned to ``catalog`` (``image_id`` order).

    ``name`` is one of :data:`EXTRACTORS` (see :func:`available_extractors`). Missing weights
    raise :class:`artsig.backbones.WeightsUnavailableError` naming the file to place in the cache.
    ``engine``: see :func:`extract_many`.
    """
    return extract_many(
        catalog, [name], data_dir=data_dir, device=device, batch_size=batch_size, weights=weights,
        image_mode=image_mode, workers=workers, seed=seed, progress=progress, engine=engine,
    )[name]


def _runners_of(name: str) -> list[str]:
    """The runners an extractor (every part of a composite) needs, in order."""
    return list(dict.fromkeys(_get(p).runner for p in (_get(name).parts or (name,))))


def is_cached(catalog: pd.DataFrame, name: str, data_dir: str | os.PathLike = "../data", weights: str | None = "imagenet",
              image_mode: str = "resize", engine: str = "auto", device: str = "auto") -> bool:
    """Whether every image of ``catalog`` is in the feature cache of every runner ``name`` needs."""
    shas, _ = _catalog_keys(catalog)
    for rname in _runners_of(name):
        runner = _make_runner(rname, weights, runner_engine(rname, engine, device), data_dir)
        if not _FeatureCache(store.cache_dir(data_dir, "features") / runner.key(image_mode), runner.outputs).has_all(shas):
            return False
    return True


def seconds_per_image(catalog: pd.DataFrame, name: str, device: str = "cpu", n: int = 32, weights: str | None = "imagenet",
                      image_mode: str = "resize", engine: str = "auto", data_dir: str | os.PathLike = "../data") -> float:
    """Wall seconds per image to decode and run ``name``'s runners on the first ``n`` images (models loaded, not cached)."""
    import time

    paths = catalog["path"].astype(str).tolist()[:n]
    dev = resolve_device(device)
    total = 0.0
    for rname in _runners_of(name):
        runner = _make_runner(rname, weights, runner_engine(rname, engine, dev), data_dir)
        fn = runner.build(dev)
        fn(_decode_batch(paths[:2], [runner.input_size], image_mode)[runner.input_size])  # warm-up
        start = time.perf_counter()
        fn(_decode_batch(paths, [runner.input_size], image_mode)[runner.input_size])
        total += time.perf_counter() - start
    return total / max(len(paths), 1)


def features_frame(catalog: pd.DataFrame, X: np.ndarray, prefix: str = "f") -> pd.DataFrame:
    """A feature matrix as a DataFrame indexed by ``image_id`` (columns ``f0, f1, ...``)."""
    if len(X) != len(catalog):
        raise ValueError(f"features have {len(X)} rows but the catalog has {len(catalog)}")
    return pd.DataFrame(X, index=pd.Index(catalog["image_id"].astype(str), name="image_id"), columns=[f"{prefix}{i}" for i in range(X.shape[1])])


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """One registered extractor as a scikit-learn transformer: ``transform(catalog)`` is :func:`extract`.

    Stateless (nothing is learnt from the catalog; the extractors with a fitted step, such as
    ``pca``, fit it on the catalog they transform, as :func:`extract` does), cached on disk as
    :func:`extract` is, so it can stand first in a pipeline of catalogs to clusters.
    """

    def __init__(self, name: str = "efficientnet_lite0", data_dir: str | os.PathLike = "../data", device: str = "auto", batch_size: int = 32,
                 weights: str | None = "imagenet", image_mode: str = "resize", workers: int | None = None, seed: int = 0, progress: bool = True,
                 engine: str = "auto"):
        self.name = name
        self.data_dir = data_dir
        self.device = device
        self.batch_size = batch_size
        self.weights = weights
        self.image_mode = image_mode
        self.workers = workers
        self.seed = seed
        self.progress = progress
        self.engine = engine

    def fit(self, catalog: pd.DataFrame | None = None, y=None) -> FeatureExtractor:
        """Check the parameters (nothing to learn); raises naming ``name`` or ``batch_size``."""
        _get(self.name)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size!r}: expected a positive integer")
        return self

    def transform(self, catalog: pd.DataFrame) -> np.ndarray:
        """Features ``(N, D)`` float32 of ``catalog``'s images, rows in catalog order."""
        self.fit()
        return extract(catalog, self.name, data_dir=self.data_dir, device=self.device, batch_size=self.batch_size, weights=self.weights,
                       image_mode=self.image_mode, workers=self.workers, seed=self.seed, progress=self.progress, engine=self.engine)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
