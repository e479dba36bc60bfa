"""Fast seeded noise fields and support textures (paper, canvas) shared by styles and nuisance."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only pixel coordinate grids (yy, xx), float32, cached per size."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def value_noise(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    """Smooth noise (float32, about N(0, 1)) with features of `cell` pixels: a random grid, cubic-upsampled."""
    n = max(2, int(np.ceil(size / max(cell, 1.0))) + 2)
    grid = rng.standard_normal((n, n)).astype(np.float32)
    big = cv2.resize(grid, (int(n * cell), int(n * cell)), interpolation=cv2.INTER_CUBIC)
    off = int(cell // 2)
    return np.ascontiguousarray(big[off:off + size, off:off + size])


def fbm(rng: np.random.Generator, size: int, cells: tuple[float, ...], gains: tuple[float, ...]) -> np.ndarray:
    """Sum of value-noise octaves (cell sizes in pixels, gains)."""
    out = np.zeros((size, size), np.float32)
    for c, g in zip(cells, gains):
        out += g * value_noise(rng, size, c)
    return out


def paper(rng: np.random.Generator, size: int, strength: float = 1.0) -> np.ndarray:
    """Multiplicative paper texture around 1: fibres, a little cockling, a few specks."""
    k = size / 256
    fib = rng.standard_normal((size, size)).astype(np.float32)
    fib = cv2.GaussianBlur(fib, (0, 0), 0.7 * max(k, 0.5))
    tex = 1 + strength * (0.035 * fib + 0.02 * value_noise(rng, size, 24 * k + 2))
    return tex.astype(np.float32)


@lru_cache(maxsize=16)
def _weave(size: int, level: int) -> np.ndarray:
    """A cached weave pattern (2*size square) for one of a few thread periods."""
    period = (2.6 + 0.2 * level) * max(size / 256, 0.6)
    yy, xx = np.mgrid[0:2 * size, 0:2 * size].astype(np.float32)
    wob = 0.5 * np.sin(yy / (5.3 * period)) * np.sin(xx / (7.1 * period))
    w = np.sin(2 * np.pi * xx / period + wob) * np.sin(2 * np.pi * yy / period - wob)
    w.setflags(write=False)
    return w


def canvas(rng: np.random.Generator, size: int, strength: float = 1.0) -> np.ndarray:
    """Multiplicative canvas weave around 1 (crossing threads, a random patch of a cached weave)."""
    k = size / 256
    weave = _weave(size, int(rng.integers(0, 8)))
    oy, ox = rng.integers(0, size, 2)
    patch = weave[oy:oy + size, ox:ox + size]
    return 1 + strength * 0.03 * patch + strength * 0.012 * value_noise(rng, size, 30 * k + 2)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Boolean map of pixels whose right or lower neighbour has another label."""
    b = np.zeros(labels.shape, bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


def region_mean(labels: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Per-pixel mean colour of its label's region (flattening shading inside each region)."""
    lab = labels.ravel().astype(np.int64)
    n = int(lab.max()) + 1
    cnt = np.maximum(np.bincount(lab, minlength=n), 1).astype(np.float32)
    means = np.stack([np.bincount(lab, image[..., c].ravel(), n) / cnt for c in range(3)], 1).astype(np.float32)
    return means[labels]


def luminance(img: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB float image (no BLAS: stays single-threaded and fast)."""
    return 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]


def saturate(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale chroma around the luma (factor > 1 intensifies colour)."""
    lum = luminance(img)[..., None]
    return lum + (img - lum) * factor
