"""Per-image nuisance: how a painting was photographed (exposure, white balance, uneven light,
vignetting, focus, sensor noise). It varies from image to image independently of artist and
style, so that classifiers must look at marks rather than global image statistics.
"""

from __future__ import annotations

import cv2
import numpy as np

from artsig.procedural.textures import grid


def photograph(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Float RGB painting -> uint8 RGB photograph of it with random capture conditions."""
    size = img.shape[0]
    img = np.clip(img, 0, 1).astype(np.float32)
    gamma = float(np.exp(rng.normal(0, 0.12 * strength)))
    gain = float(np.exp(rng.normal(0, 0.07 * strength)))
    wb = (gain * (1 + rng.normal(0, 0.035 * strength, 3))).astype(np.float32)
    yy, xx = grid(size)
    phi = rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(0, 0.32 * strength) / size
    vig = rng.uniform(0, 0.35 * strength) / size ** 2
    illum = 1 + tilt * ((xx - size / 2) * np.cos(phi) + (yy - size / 2) * np.sin(phi))
    illum -= vig * ((xx - size / 2) ** 2 + (yy - size / 2) ** 2)
    img = cv2.pow(img, gamma) * illum[..., None] * wb
    if rng.random() < 0.6 * strength:  # captured at a lower resolution, then resampled
        small = max(8, int(round(size / rng.uniform(1.3, 3.0))))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    elif rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8) * size / 256)
    noise = rng.standard_normal((size, size, 1), dtype=np.float32) * np.float32(rng.uniform(0.5, 3.0) * strength)
    return np.clip(img * 255 + noise + 0.5, 0, 255).astype(np.uint8)
