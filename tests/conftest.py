"""Shared fixtures: tiny image collections made on the fly, in every format the loaders read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def run_killable(script: str, folder: Path, stop_at: int) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh Python with this test session's import path, as
    ``python -c script FOLDER STOP_AT`` (a SIGKILL-resume test's child: it kills itself at ``stop_at``)."""
    folder.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", script, str(folder), str(stop_at)], capture_output=True, text=True, env=env)


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


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` but holds no pixel data (a pixel bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def multi_frame(path: Path, frames: int = 3, fmt: str = "GIF") -> Path:
    """An animated GIF or multi-page TIFF whose first frame is red."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.new("RGB", (24, 16), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)][:frames]]
    images[0].save(path, fmt, save_all=True, append_images=images[1:])
    return path


def write_odd_modes(folder: Path) -> list[Path]:
    """Good images in every mode a collection holds: CMYK, 16-bit, palette, RGBA, 1-bit, greyscale."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    written = [
        write_image(folder / "cmyk.jpg", mode="CMYK", seed=21),
        write_image(folder / "palette.png", mode="P", fmt="PNG", seed=22),
        write_image(folder / "rgba.png", mode="RGBA", fmt="PNG", seed=23),
        write_image(folder / "bilevel.png", mode="1", fmt="PNG", seed=24),
        write_image(folder / "grey.tif", mode="L", fmt="TIFF", seed=25),
    ]
    ramp = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "grey16.png")
    written.append(folder / "grey16.png")
    return written


def write_bad_files(folder: Path, good: Path) -> dict[str, str]:
    """Beside the images in ``folder``, every kind of bad file a real collection holds.

    ``good`` is a small valid JPEG to damage. Returns {name shown in the quality table: issue}.
    Files kept with a repair (multi-frame, non-UTF-8 name) are included with their issue.
    """
    import os
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    png = write_image(folder.parent / "_tmp.png", fmt="PNG", size=(60, 60)).read_bytes()
    tif = write_image(folder.parent / "_tmp.tif", fmt="TIFF", size=(60, 60)).read_bytes()
    other = write_image(folder.parent / "_tmp.jpg", size=(36, 28), seed=99).read_bytes()
    expected = {}

    def put(name: str | bytes, content: bytes, issue: str) -> None:
        target = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else name.encode())
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.write(fd, content)
        os.close(fd)
        expected[name.decode("latin-1") if isinstance(name, bytes) else name] = issue

    put("empty.jpg", b"", "empty file")
    put("empty.png", b"", "empty file")
    put("text.jpg", b"this is a caption, not a picture\n", "not an image")
    put("page.png", b"<html><body>404 Not Found</body></html>", "not an image")
    put("archive.tif", b"", "empty file")
    with zipfile.ZipFile(folder / "archive.tif", "w") as zf:
        zf.writestr("a.txt", "zip, not tiff")
    expected["archive.tif"] = "not an image"
    put("cut.jpg", data[: len(data) // 2], "truncated")
    put("cut.png", png[: len(png) // 2], "truncated")
    put("cut.tif", tif[:300], "truncated")
    noise = bytes(range(7, 250))
    put("garbage.png", b"\x89PNG\r\n\x1a\n" + noise, "not an image")
    put("garbage.bmp", b"BM" + noise, "truncated")
    put("garbage.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + noise[:40], "unreadable")
    put("notes.txt", b"provenance notes", "unsupported")
    put("README", b"no suffix at all", "unsupported")
    put(b"caf\xe9-empty.jpg", b"", "empty file")
    put(b"caf\xe9.jpg", other, "name not UTF-8")
    png_header_only(folder / "bomb.png", 100_000, 100_000)
    expected["bomb.png"] = "too large"
    png_header_only(folder / "zero-width.png", 0, 10)
    expected["zero-width.png"] = "not an image"
    multi_frame(folder / "animated.gif")
    expected["animated.gif"] = "multi-frame"
    multi_frame(folder / "pages.tif", fmt="TIFF")
    expected["pages.tif"] = "multi-frame"
    os.symlink(folder / "deleted-long-ago.jpg", folder / "dangling.jpg")
    expected["dangling.jpg"] = "broken link"
    os.symlink(folder / "loop-b.jpg", folder / "loop-a.jpg")
    os.symlink(folder / "loop-a.jpg", folder / "loop-b.jpg")
    expected["loop-a.jpg"] = expected["loop-b.jpg"] = "broken link"
    os.mkfifo(folder / "pipe.jpg")
    expected["pipe.jpg"] = "not a file"
    put("locked.jpg", data, "permission denied")
    os.chmod(folder / "locked.jpg", 0)
    for tmp in ("_tmp.png", "_tmp.tif", "_tmp.jpg"):
        (folder.parent / tmp).unlink()
    return expected


def fuzz_collection(root, with_bad: bool) -> dict[str, str]:
    """``root/<style>/``: good images in every mode, and (if asked) 20+ kinds of bad files beside them."""
    good = [write_image(root / "baroque" / f"b{i}.jpg", colour=(40, 90, 160), seed=i) for i in range(4)]
    good += [write_image(root / "cubism" / f"c{i}.png", colour=(160, 90, 40), fmt="PNG", seed=10 + i) for i in range(4)]
    good += write_odd_modes(root / "cubism")
    if not with_bad:
        return {}
    expected = {f"cubism/{name}": issue for name, issue in write_bad_files(root / "cubism", good[0]).items()}
    (root / "stray.jpg").write_bytes(good[1].read_bytes())
    expected["stray.jpg"] = "no label folder"
    (root / "baroque" / "b9-copy.jpg").write_bytes(good[2].read_bytes())
    expected["baroque/b9-copy"] = "duplicate"
    return expected


@pytest.fixture
def deny_locked(monkeypatch):
    """Make files named ``locked*`` unreadable even when the tests run as root (chmod 0 alone is not enough)."""
    import builtins
    import os

    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.basename(os.fsdecode(file)).startswith("locked"):
            raise PermissionError(13, "Permission denied", os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)


def big_png(path: Path, width: int, height: int) -> Path:
    """A large RGB PNG (a master scan) written row by row, so making it costs little memory."""
    import struct
    import zlib

    import numpy as np

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\0" + np.tile(np.array([200, 120, 40], np.uint8), width).tobytes()
    deflate = zlib.compressobj(1)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        block = row * 256
        for start in range(0, height, 256):
            data = deflate.compress(block if height - start >= 256 else row * (height - start))
            if data:
                fh.write(chunk(b"IDAT", data))
        fh.write(chunk(b"IDAT", deflate.flush()) + chunk(b"IEND", b""))
    return path


def big_jpeg(path: Path, width: int, height: int) -> Path:
    """A large JPEG written by PIL in a child process (its memory is given back when it exits)."""
    import subprocess
    import sys

    code = f"from PIL import Image; Image.new('RGB', ({width}, {height}), (200, 120, 40)).save({str(path)!r}, quality=80)"
    subprocess.run([sys.executable, "-c", code], check=True)
    return path
