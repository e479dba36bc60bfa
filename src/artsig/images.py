"""Decoding, resizing and caching of images.

Everything decodes through PIL (JPEG, PNG, WebP, TIFF; RGBA, palette, greyscale, CMYK,
1-bit and 16-bit are converted to RGB; EXIF orientation is applied; a multi-frame file gives
its first frame), so every chapter sees the same pixels. Images above 16.8 megapixels are
decoded at reduced resolution; images above the pixel cap (1 gigapixel, ``ARTSIG_MAX_PIXELS``)
are refused with an ImageError, never PIL's DecompressionBombError.
"""

from __future__ import annotations

import io
import math
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from artsig import store

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
RESIZE_MODES = ("letterbox", "resize", "center_crop")


DEFAULT_MAX_PIXELS = 1_000_000_000  # files above this pixel count are listed, not decoded
LARGE_IMAGE_PIXELS = 4096 * 4096  # larger images are decoded at reduced resolution (chapters use <= 512 px)
MAX_PIXELS_ENV = "ARTSIG_MAX_PIXELS"

_PIL_LIMIT_LOCK = threading.Lock()
_REDUCIBLE_MODES = ("L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "I", "F")


class ImageError(ValueError):
    """An image file that cannot be decoded; the message names the file and why.

    ``kind`` is a short reason for the data-quality table: ``empty file``, ``not an image``,
    ``truncated``, ``too large``, ``permission denied``, ``vanished`` or ``unreadable``.
    """

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


def max_pixels_default() -> int:
    """The pixel cap: ``ARTSIG_MAX_PIXELS`` from the environment, else 1 gigapixel."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or raw == "":
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"{MAX_PIXELS_ENV}={raw!r}: expected a positive number of pixels, e.g. 2e9") from None
    if value <= 0:
        raise ValueError(f"{MAX_PIXELS_ENV}={raw!r}: expected a positive number of pixels, e.g. 2e9")
    return value


@contextmanager
def _pil_limit_lifted(active: bool = True):
    """Lift PIL's decompression-bomb limit for one call (our own ``max_pixels`` cap applies
    instead); the previous limit is restored at once, and a lock keeps threads from interleaving."""
    if not active:
        yield
        return
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _reduction_factor(size: tuple[int, int], limit: int) -> int:
    """The smallest integer factor that brings ``size`` to at most ``limit`` pixels."""
    pixels = size[0] * size[1]
    return 1 if pixels <= limit else max(2, math.ceil(math.sqrt(pixels / limit)))


def _to_8bit(img: Image.Image) -> Image.Image:
    """16- and 32-bit greyscale scaled to 8 bits (PIL's own conversion clips them to white)."""
    arr = np.asarray(img)
    if img.mode == "F":
        low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - low) / (high - low or 1.0) * 255.0
    else:
        top = 65535 if arr.max(initial=0) <= 65535 else int(arr.max())
        scaled = arr.astype(np.float64) * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def _as_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode as RGB: transparency composited on white, 16-bit scaled, CMYK and 1-bit converted."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def _decode(img: Image.Image, limit: int) -> tuple[Image.Image, int]:
    """Decode ``img`` (opened, not loaded) with at most about ``limit`` pixels; return it and the factor."""
    factor = _reduction_factor(img.size, limit)
    if factor > 1 and img.format == "JPEG":
        img.draft(img.mode, (math.ceil(img.width / factor), math.ceil(img.height / factor)))
    img.load()  # decode now, so truncated files fail here and not later
    factor_left = _reduction_factor(img.size, limit)
    if factor_left > 1:
        if img.mode not in _REDUCIBLE_MODES:
            transparent = img.mode == "PA" or "transparency" in img.info
            img = img.convert("I" if img.mode.startswith("I;16") else "RGBA" if transparent else "RGB" if img.mode == "P" else "L")
        img = img.reduce(factor_left)
    return img, factor


_PNG_STRIP_MODES = {(8, 0): "L", (8, 2): "RGB", (8, 3): "P", (8, 4): "LA", (8, 6): "RGBA"}
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_strips_reduced(path: Path, factor: int) -> Image.Image | None:
    """Decode a large non-interlaced 8-bit PNG strip by strip, each reduced by ``factor`` as it
    comes, so memory stays near the reduced size; None when the PNG is of a kind this cannot do.

    The compressed stream is inflated incrementally; each strip is decoded by PIL as a small PNG
    whose first row is the previous strip's last row, unfiltered, so PNG's row filters work.
    Kept as one function (about 65 lines) because the chunk reader, the inflater and the strip
    buffer share their state at every step of the stream.
    """
    with open(path, "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        length, kind = struct.unpack(">I4s", fh.read(8))
        header = fh.read(length)
        fh.read(4)
        if kind != b"IHDR" or len(header) != 13:
            return None
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
        mode = _PNG_STRIP_MODES.get((depth, colour))
        if mode is None or interlace:
            return None
        stride = width * {"L": 1, "RGB": 3, "P": 1, "LA": 2, "RGBA": 4}[mode]
        rows_per_strip = factor * max(1, (8 << 20) // (stride * factor))
        keep = b""  # PLTE / tRNS chunks the strips need
        inflate = zlib.decompressobj()
        out = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
        pending = bytearray()
        previous = bytes(stride)  # the row above the strip, unfiltered (zeros above the first)
        y = 0

        def flush(rows: int) -> None:
            nonlocal previous, y, pending
            raw = bytes(pending[: rows * (stride + 1)])
            del pending[: rows * (stride + 1)]
            ihdr = struct.pack(">IIBBBBB", width, rows + 1, depth, colour, 0, 0, 0)
            png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + keep + _png_chunk(b"IDAT", zlib.compress(b"\0" + previous + raw, 0)) + _png_chunk(b"IEND", b"")
            with Image.open(io.BytesIO(png)) as strip:
                strip.load()
                strip = strip.crop((0, 1, width, rows + 1))
                previous = strip.crop((0, rows - 1, width, rows)).tobytes()
                out.paste(_as_rgb(strip).reduce(factor), (0, y // factor))
            y += rows

        while True:
            head = fh.read(8)
            if len(head) < 8:
                raise OSError("image file is truncated (no IEND chunk)")
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IDAT":
                remaining = length
                while remaining:
                    block = fh.read(min(remaining, 1 << 20))
                    if not block:
                        raise OSError("image file is truncated (IDAT cut short)")
                    remaining -= len(block)
                    strip_bytes = rows_per_strip * (stride + 1)
                    while block:  # inflate at most one strip at a time: a 1 MiB block may hold gigabytes
                        pending += inflate.decompress(block, strip_bytes)
                        block = inflate.unconsumed_tail
                        while len(pending) >= strip_bytes and y < height:
                            flush(min(rows_per_strip, height - y))
                fh.read(4)
            elif kind == b"IEND":
                break
            else:
                data = fh.read(length)
                fh.read(4)
                if kind in (b"PLTE", b"tRNS"):
                    keep += _png_chunk(kind, data)
        pending += inflate.flush()
        while y < height:
            rows = min(rows_per_strip, height - y)
            if len(pending) < rows * (stride + 1):
                raise OSError(f"image file is truncated ({height - y} rows missing)")
            flush(rows)
        return out


def read_image(path: str | os.PathLike, max_pixels: int | None = None, decode_pixels: int = LARGE_IMAGE_PIXELS) -> tuple[Image.Image, dict]:
    """Decode one image as RGB (EXIF rotation applied) and say what was done to it.

    Returns ``(image, info)`` with ``width`` and ``height`` of the file, ``frames`` and
    ``notes`` (e.g. "first of 3 frames"). Images above ``decode_pixels`` are decoded at reduced
    resolution (JPEG draft mode, 8-bit PNG strip by strip, else ``Image.reduce`` after a full
    decode); images above ``max_pixels`` (default
    :func:`max_pixels_default`) raise ImageError(kind="too large"), as every unusable file
    raises ImageError naming the file and the reason.
    """
    path = Path(path)
    cap = max_pixels_default() if max_pixels is None else int(max_pixels)
    shown = os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{shown}: empty file (0 bytes)", "empty file")
        with _pil_limit_lifted():
            handle = Image.open(path)
        with handle as img:
            width, height = img.size
            if width * height > cap:
                raise ImageError(
                    f"{shown}: {width} x {height} = {width * height / 1e6:.0f} megapixels is above the pixel cap of "
                    f"{cap / 1e6:.0f} megapixels (raise max_pixels or {MAX_PIXELS_ENV})", "too large")
            frames = int(getattr(img, "n_frames", 1) or 1)
            lifted = width * height > decode_pixels  # large frames are decoded one at a time, PIL's limit lifted
            mode = img.mode
            factor = _reduction_factor(img.size, decode_pixels)
            strips = _png_strips_reduced(path, factor) if factor > 1 and img.format == "PNG" else None
            if strips is not None:
                exif = Image.Exif()
                if img.info.get("exif"):  # img.getexif() would decode the whole PNG to look for it
                    exif.load(img.info["exif"])
                orientation = exif.get(0x0112, 1)
                rgb = strips.transpose(_ORIENTATION[orientation]) if orientation in _ORIENTATION else strips
            else:
                with _pil_limit_lifted(lifted):
                    decoded, factor = _decode(img, decode_pixels)
                decoded = ImageOps.exif_transpose(decoded)
                rgb = _as_rgb(decoded)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{shown}: file not found (moved or deleted during the scan?)", "vanished") from None
    except PermissionError:
        raise ImageError(f"{shown}: permission denied (the file cannot be read by this user)", "permission denied") from None
    except IsADirectoryError:
        raise ImageError(f"{shown}: a folder, not an image file", "not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{shown}: not an image PIL can read (unsupported or corrupt file)", "not an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{shown}: {exc}", "too large") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError, MemoryError) as exc:
        text = str(exc).lower()
        kind = "truncated" if "truncated" in text or "broken data stream" in text or isinstance(exc, EOFError) else "unreadable"
        raise ImageError(f"{shown}: cannot decode image ({type(exc).__name__}: {exc})", kind) from None
    notes = []
    if frames > 1:
        notes.append(f"first of {frames} frames used")
    if factor > 1:
        notes.append(f"{width} x {height} decoded at reduced resolution ({rgb.width} x {rgb.height})")
    return rgb, {"width": width, "height": height, "frames": frames, "mode": mode, "notes": notes}


def open_rgb(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    """Open an image fully decoded as RGB, EXIF rotation applied; raise ImageError naming the file.

    Images above 16.8 megapixels come back at reduced resolution (see :func:`read_image`).
    """
    return read_image(path, max_pixels)[0]


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


def thumbnail(path: str | os.PathLike, size: int = 128, cache_dir: str | os.PathLike | None = None) -> Path:
    """A JPEG thumbnail (longest side ``size``) cached on disk; returns its path.

    The cache file is named by the source's path, size and modification time, so an edited
    image gets a fresh thumbnail.
    """
    path = Path(path)
    cache = Path(cache_dir) if cache_dir else Path(os.environ.get("ARTSIG_THUMBNAILS", Path.home() / ".cache" / "artsig" / "thumbnails"))
    cache.mkdir(parents=True, exist_ok=True)
    stat = path.stat()
    target = cache / f"{store.fingerprint(str(path.resolve()), int(size), int(stat.st_mtime_ns), length=20)}.jpg"
    if not target.exists():
        img = open_rgb(path)
        img.thumbnail((size, size), Image.BILINEAR)
        store.atomic_write(target, lambda tmp: img.save(tmp, "JPEG", quality=88))
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
    is a file read (written atomically under a file lock: two runs at once compute it once).
    Without ``cache_dir`` nothing is written.
    """
    width, height = _size_pair(size)
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    hashes = catalog["sha256"].astype(str).tolist() if "sha256" in catalog else catalog["path"].astype(str).tolist()
    if cache_dir is None:
        return _decode_all(catalog, width, height, mode, progress)
    target = store.cache_path(cache_dir, f"images-{width}x{height}-{mode}", store.fingerprint(hashes, length=20), ".npy")
    # a second run waits for the first, then reads its file
    return store.cached(target, lambda: _decode_all(catalog, width, height, mode, progress))


def _decode_all(catalog: pd.DataFrame, width: int, height: int, mode: str, progress: bool) -> np.ndarray:
    from tqdm import tqdm

    out = np.empty((len(catalog), height, width, 3), dtype=np.uint8)
    paths = catalog["path"].tolist()
    for i, path in enumerate(tqdm(paths, desc=f"images {width}x{height}", disable=not progress, leave=False)):
        out[i] = load_image(path, (width, height), mode)
    return out
