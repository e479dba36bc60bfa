"""Shared fixtures: tiny image collections made on the fly, in every format the loaders read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, colour=(200, 80, 40), size=(40, 30), mode="RGB", fmt=None, seed=0) -> Path:
    """A small noisy image, so every file has distinct bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour)[None, None, :] + rng.integers(-30, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, fmt)
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """``root/<style>/*.jpg``: three styles, four images each."""
    root = tmp_path / "paintings"
    for s, style in enumerate(["baroque", "cubism", "impressionism"]):
        for i in range(4):
            write_image(root / style / f"{style}_{i}.jpg", colour=(60 * s, 100, 200 - 50 * s), seed=10 * s + i)
    return root
