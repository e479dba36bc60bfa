"""One work, from its specification to pixels: compose -> colour -> rasterise -> style -> photograph.

Every random draw comes from generators seeded by integer keys stored in the `WorkSpec`, so a
work renders identically in any process and in any order. Motif family members share the
composition key (same geometry) and differ in view, artist, palette, date and nuisance.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from artsig.procedural.artists import ARTISTS, artists_of, get_artist
from artsig.procedural.nuisance import photograph
from artsig.procedural.palettes import get_palette, ground_colour, role_colours
from artsig.procedural.scene import View, rasterize
from artsig.procedural.styles import Hand, render_mixed
from artsig.procedural.subjects import compose


@dataclass(frozen=True)
class WorkSpec:
    """Everything needed to render one work deterministically."""

    genre: str
    style: str
    artist: str
    palette: str
    composition_key: tuple[int, ...]  # seeds the scene geometry (shared within a motif family)
    palette_key: tuple[int, ...]  # seeds the work's colours (shared by faithful copies)
    render_key: tuple[int, ...]  # seeds the hand, the marks and the photograph
    view: View = View()


def render_spec(spec: WorkSpec, size: int) -> np.ndarray:
    """Render `spec` at `size` x `size` px; returns uint8 RGB."""
    artist = get_artist(spec.artist)
    if artist.style != spec.style:
        raise ValueError(f"artist {spec.artist!r} paints {artist.style!r}, not {spec.style!r}")
    scene = compose(spec.genre, np.random.default_rng(list(spec.composition_key)))
    pal_rng = np.random.default_rng(list(spec.palette_key))
    palette = get_palette(spec.palette)
    colours = role_colours(palette, pal_rng)
    ground = ground_colour(palette, pal_rng)
    raster = rasterize(scene, colours, size, spec.view)
    rng = np.random.default_rng(list(spec.render_key))
    hand = Hand.of(artist, rng)
    painted = render_mixed(spec.style, raster, hand, rng, ground)
    return photograph(painted, rng)


def render_work(genre: str, style: str, artist: str | None = None, seed: int = 0, size: int = 256,
                palette: str | None = None, view: View | None = None) -> np.ndarray:
    """Render a single work (uint8 RGB) of `genre` in `style` - handy for tests and figures.

    The artist defaults to the style's first artist and the palette to the artist's first
    favourite; `seed` drives composition, colours and marks.
    """
    art = get_artist(artist) if artist is not None else artists_of(style)[0]
    spec = WorkSpec(genre, style, art.name, palette or art.palettes[0], (seed, 1), (seed, 2), (seed, 3),
                    view or View())
    return render_spec(spec, size)


def specimen_grid(styles: tuple[str, ...] | None = None, genres: tuple[str, ...] | None = None, size: int = 128,
                  seed: int = 0, gap: int = 2) -> np.ndarray:
    """A style x genre grid of rendered works (uint8 RGB, white gaps): one row per style.

    Each column shares one composition across the styles (same seed), and artists and
    palettes alternate, so the grid shows what each manner does to the same subject.
    """
    from artsig.procedural.styles import STYLES
    from artsig.procedural.subjects import SUBJECTS

    styles, genres = tuple(styles or STYLES), tuple(genres or SUBJECTS)
    cell = size + 2 * gap
    out = np.full((cell * len(styles), cell * len(genres), 3), 255, np.uint8)
    for i, style in enumerate(styles):
        arts = artists_of(style)
        for j, genre in enumerate(genres):
            art = arts[(i + j + seed) % len(arts)]
            img = render_work(genre, style, art.name, seed=seed * 1000 + j, size=size,
                              palette=art.palettes[(i + 2 * j + seed) % len(art.palettes)])
            out[i * cell + gap:i * cell + gap + size, j * cell + gap:j * cell + gap + size] = img
    return out


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 image (deterministic for identical pixels)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


__all__ = ["WorkSpec", "render_spec", "render_work", "specimen_grid", "encode_jpeg", "ARTISTS"]
