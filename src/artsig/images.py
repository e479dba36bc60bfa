"""Decoding, resizing and caching of images.

Everything decodes through PIL (JPEG, PNG, WebP, TIFF; RGBA, palette and greyscale are
converted to RGB; EXIF orientation is applied), so every chapter sees the same pixels.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
RESIZE_MODES = ("letterbox", "resize", "center_crop")


class ImageError(ValueError):
    """An image file that cannot be decoded; the message names the file and why."""


def open_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image fully decoded as RGB, EXIF rotation applied; raise ImageError naming the file."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so truncated files fail here and not later
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            return img.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image PIL can read (unsupported or corrupt file)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image ({exc})") from None


def _size_pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        if size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        return int(size), int(size)
    width, height = (int(s) for s in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive (width, height), got {size}")
    return width, height


def fit(img: Image.Image, size: int | Sequence[int], mode: str = "letterbox", fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Bring an image to ``size`` (int or (width, height)).

    ``letterbox`` keeps the whole picture and pads, ``resize`` stretches, ``center_crop``
    fills the frame and crops the overflow.
    """
    width, height = _size_pair(size)
    if mode == "resize":
        return img.resize((width, height), Image.BILINEAR, reducing_gap=2.0)
    if mode == "center_crop":
        return ImageOps.fit(img, (width, height), Image.BILINEAR)
    if mode == "letterbox":
        contained = ImageOps.contain(img, (width, height), Image.BILINEAR)
        canvas = Image.new("RGB", (width, height), fill)
        canvas.paste(contained, ((width - contained.width) // 2, (height - contained.height) // 2))
        return canvas
    raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")


def load_image(path: str | os.PathLike, size: int | Sequence[int] | None = None, mode: str = "letterbox") -> np.ndarray:
    """Decode one image to a ``uint8`` array of shape (H, W, 3), optionally fitted to ``size``."""
    img = open_rgb(path)
    if size is not None:
        img = fit(img, size, mode)
    return np.asarray(img, dtype=np.uint8)


def _cache_key(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def thumbnail(path: str | os.PathLike, size: int = 128, cache_dir: str | os.PathLike | None = None) -> Path:
    """A JPEG thumbnail (longest side ``size``) cached on disk; returns its path.

    The cache file is named by the source's path, size and modification time, so an edited
    image gets a fresh thumbnail.
    """
    path = Path(path)
    cache = Path(cache_dir) if cache_dir else Path(os.environ.get("ARTSIG_THUMBNAILS", Path.home() / ".cache" / "artsig" / "thumbnails"))
    cache.mkdir(parents=True, exist_ok=True)
    stat = path.stat()
    target = cache / f"{_cache_key([str(path.resolve()), str(size), str(stat.st_mtime_ns)])}.jpg"
    if not target.exists():
        img = open_rgb(path)
        img.thumbnail((size, size), Image.BILINEAR)
        tmp = target.with_suffix(".tmp")
        img.save(tmp, "JPEG", quality=88)
        os.replace(tmp, target)
    return target


def load_array(
    catalog: pd.DataFrame,
    size: int | Sequence[int],
    mode: str = "resize",
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> np.ndarray:
    """All images of a catalog as one ``uint8`` array (N, H, W, 3), in catalog order.

    Cached as ``.npy`` keyed by the images' content hashes, size and mode, so the second call
    is a file read. Without ``cache_dir`` nothing is written.
    """
    width, height = _size_pair(size)
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    hashes = catalog["sha256"].astype(str).tolist() if "sha256" in catalog else catalog["path"].astype(str).tolist()
    target = None
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        target = Path(cache_dir) / f"images-{width}x{height}-{mode}-{_cache_key(hashes)}.npy"
        if target.exists():
            return np.load(target)
    from tqdm import tqdm

    out = np.empty((len(catalog), height, width, 3), dtype=np.uint8)
    paths = catalog["path"].tolist()
    for i, path in enumerate(tqdm(paths, desc=f"images {width}x{height}", disable=not progress, leave=False)):
        out[i] = load_image(path, (width, height), mode)
    if target is not None:
        tmp = target.with_name(target.name + ".tmp.npy")
        np.save(tmp, out)
        os.replace(tmp, target)
    return out
