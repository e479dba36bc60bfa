"""Colour: natural colours of scene roles and the palette bank shared by every style.

A scene names colours by *role* ("sky", "skin", "foliage"...). A palette turns the natural
colour of each role into the colour of one work (a tint, a key, monochrome, arbitrary hues).
Palettes are shared across styles and sampled per artist and work, so that colour alone
does not give the style away: the style is in the mark-making.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

#: Natural RGB colour (0-1) of every role a subject may use.
ROLE_COLOURS: dict[str, tuple[float, float, float]] = {
    # sky and weather
    "sky": (0.50, 0.68, 0.90),
    "sky_low": (0.84, 0.87, 0.88),
    "cloud": (0.96, 0.95, 0.92),
    "sun": (1.00, 0.90, 0.55),
    # land
    "far_hill": (0.52, 0.60, 0.72),
    "hill": (0.42, 0.55, 0.32),
    "grass": (0.50, 0.66, 0.28),
    "field": (0.80, 0.70, 0.36),
    "foliage": (0.20, 0.42, 0.16),
    "foliage_light": (0.42, 0.60, 0.22),
    "trunk": (0.33, 0.22, 0.13),
    "path": (0.74, 0.64, 0.46),
    "rock": (0.56, 0.52, 0.47),
    # water
    "water": (0.18, 0.40, 0.60),
    "water_far": (0.45, 0.62, 0.76),
    "foam": (0.93, 0.95, 0.96),
    "sand": (0.87, 0.79, 0.58),
    "hull": (0.38, 0.20, 0.12),
    "sail": (0.95, 0.92, 0.82),
    "sail2": (0.78, 0.24, 0.16),
    # figure
    "skin": (0.91, 0.72, 0.60),
    "skin_shadow": (0.70, 0.48, 0.38),
    "hair": (0.28, 0.18, 0.10),
    "lips": (0.74, 0.28, 0.28),
    "eye": (0.12, 0.10, 0.09),
    "eye_white": (0.94, 0.92, 0.88),
    "cloth": (0.18, 0.24, 0.46),
    "cloth2": (0.64, 0.16, 0.16),
    "collar": (0.95, 0.94, 0.90),
    "backdrop": (0.36, 0.31, 0.25),
    # rooms and tables
    "wall": (0.82, 0.75, 0.60),
    "wall2": (0.70, 0.65, 0.56),
    "ceiling": (0.90, 0.88, 0.82),
    "floor": (0.56, 0.40, 0.24),
    "wood": (0.48, 0.30, 0.16),
    "rug": (0.62, 0.20, 0.17),
    "tablecloth": (0.93, 0.91, 0.86),
    "fruit_red": (0.82, 0.14, 0.10),
    "fruit_orange": (0.96, 0.58, 0.12),
    "fruit_yellow": (0.95, 0.84, 0.28),
    "fruit_green": (0.50, 0.70, 0.18),
    "grape": (0.34, 0.14, 0.40),
    "vase": (0.18, 0.38, 0.62),
    "bottle": (0.12, 0.34, 0.18),
    "ceramic": (0.92, 0.90, 0.84),
    "metal": (0.72, 0.64, 0.48),
    "flower": (0.90, 0.30, 0.35),
    "glass": (0.78, 0.86, 0.88),
    # town
    "building": (0.78, 0.66, 0.54),
    "building2": (0.66, 0.55, 0.50),
    "building3": (0.86, 0.81, 0.70),
    "roof": (0.56, 0.24, 0.17),
    "window": (0.18, 0.20, 0.27),
    "window_lit": (0.98, 0.85, 0.48),
    "street": (0.46, 0.44, 0.42),
    "dome": (0.48, 0.64, 0.60),
    # abstraction
    "accent1": (0.86, 0.14, 0.10),
    "accent2": (0.10, 0.24, 0.70),
    "accent3": (0.96, 0.80, 0.10),
    "accent4": (0.08, 0.50, 0.30),
    "accent5": (0.95, 0.94, 0.90),
    "accent6": (0.08, 0.08, 0.08),
    "accent7": (0.90, 0.50, 0.65),
    "dark": (0.09, 0.08, 0.08),
    "light": (0.95, 0.94, 0.90),
}

ROLES: tuple[str, ...] = tuple(ROLE_COLOURS)
_ROLE_RGB = np.array([ROLE_COLOURS[r] for r in ROLES], np.float32)
_ROLE_HASH = np.array([(zlib.crc32(r.encode()) % 1000) / 1000.0 for r in ROLES], np.float32)


@dataclass(frozen=True)
class Palette:
    """A colour scheme: how the natural colours of the roles become the colours of a work."""

    name: str
    hue_shift: float = 0.0  # degrees added to every hue
    hue_chaos: float = 0.0  # degrees of fixed per-role hue scrambling (arbitrary colour)
    sat: float = 1.0  # saturation multiplier
    val: float = 1.0  # value multiplier
    contrast: float = 1.0  # value contrast around 0.5
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # multiplicative tint colour
    tint_amount: float = 0.0
    mono: float = 0.0  # 1 = monochrome between mono_dark and mono_light
    mono_dark: tuple[float, float, float] = (0.10, 0.10, 0.10)
    mono_light: tuple[float, float, float] = (0.96, 0.96, 0.94)
    ground: tuple[float, float, float] = (0.93, 0.91, 0.86)  # canvas priming or paper


#: The palette bank shared by all artists and styles.
PALETTES: tuple[Palette, ...] = (
    Palette("natural"),
    Palette("golden", tint=(1.0, 0.84, 0.58), tint_amount=0.40, sat=1.05, ground=(0.93, 0.87, 0.72)),
    Palette("silver", tint=(0.80, 0.88, 1.0), tint_amount=0.35, sat=0.70, ground=(0.90, 0.92, 0.93)),
    Palette("earth", sat=0.65, tint=(0.88, 0.70, 0.48), tint_amount=0.45, val=0.92, ground=(0.84, 0.76, 0.62)),
    Palette("vivid", sat=1.50, contrast=1.15, ground=(0.97, 0.97, 0.95)),
    Palette("tenebrist", val=0.62, contrast=1.30, tint=(1.0, 0.85, 0.65), tint_amount=0.25, ground=(0.78, 0.70, 0.58)),
    Palette("pastel", sat=0.50, val=1.08, contrast=0.65, ground=(0.97, 0.95, 0.93)),
    Palette("sepia", mono=1.0, mono_dark=(0.22, 0.12, 0.06), mono_light=(0.96, 0.90, 0.76), ground=(0.94, 0.88, 0.75)),
    Palette("grisaille", mono=1.0, mono_dark=(0.08, 0.09, 0.10), mono_light=(0.95, 0.95, 0.94), ground=(0.91, 0.91, 0.89)),
    Palette("indigo", mono=0.92, mono_dark=(0.05, 0.12, 0.32), mono_light=(0.92, 0.95, 0.98), ground=(0.91, 0.93, 0.96)),
    Palette("fauve", hue_chaos=80.0, sat=1.45, contrast=1.1, ground=(0.98, 0.97, 0.94)),
    Palette("sunset", hue_shift=-14.0, tint=(1.0, 0.70, 0.58), tint_amount=0.38, ground=(0.96, 0.88, 0.82)),
    Palette("nocturne", val=0.62, sat=0.8, tint=(0.52, 0.62, 0.92), tint_amount=0.50, ground=(0.80, 0.83, 0.89)),
    Palette("verdigris", hue_shift=24.0, tint=(0.70, 0.95, 0.88), tint_amount=0.30, ground=(0.90, 0.94, 0.91)),
    Palette("rose", hue_shift=-28.0, sat=0.9, tint=(1.0, 0.80, 0.86), tint_amount=0.30, ground=(0.97, 0.92, 0.92)),
    Palette("duotone", mono=0.65, mono_dark=(0.26, 0.12, 0.18), mono_light=(1.0, 0.88, 0.52), ground=(0.96, 0.92, 0.80)),
    Palette("inverted", hue_shift=180.0, sat=0.85, ground=(0.94, 0.93, 0.90)),
)
PALETTE_NAMES: tuple[str, ...] = tuple(p.name for p in PALETTES)
_BY_NAME = {p.name: p for p in PALETTES}


def get_palette(name: str) -> Palette:
    """The palette called `name` (one of PALETTE_NAMES)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown palette {name!r}; expected one of {PALETTE_NAMES}") from None


def _hsv(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_RGB2HSV).reshape(-1, 3)


def _rgb(hsv: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(hsv.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_HSV2RGB).reshape(-1, 3)


def role_colours(palette: Palette, rng: np.random.Generator, variation: float = 1.0) -> dict[str, np.ndarray]:
    """The colour (RGB 0-1) of every role for one work under `palette`, with per-work variation.

    `variation` scales the random per-work hue / saturation / value drift (palette nuisance).
    """
    hsv = _hsv(_ROLE_RGB)
    n = len(ROLES)
    work_hue = rng.normal(0, 7) * variation
    role_hue = rng.normal(0, 5, n) * variation
    hsv[:, 0] = (hsv[:, 0] + palette.hue_shift + palette.hue_chaos * (2 * _ROLE_HASH - 1) * 1.7 + work_hue + role_hue) % 360
    sat = palette.sat * float(np.exp(rng.normal(0, 0.12 * variation)))
    hsv[:, 1] = np.clip(hsv[:, 1] * sat * np.exp(rng.normal(0, 0.08 * variation, n)), 0, 1)
    val = palette.val * float(np.exp(rng.normal(0, 0.06 * variation)))
    v = 0.5 + (hsv[:, 2] - 0.5) * palette.contrast
    hsv[:, 2] = np.clip(v * val + rng.normal(0, 0.03 * variation, n), 0.02, 1)
    rgb = np.clip(_rgb(hsv), 0, 1)
    if palette.mono > 0:
        lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        dark, light = np.array(palette.mono_dark, np.float32), np.array(palette.mono_light, np.float32)
        mono = dark + (light - dark) * lum[:, None]
        rgb = (1 - palette.mono) * rgb + palette.mono * mono
    if palette.tint_amount > 0:
        rgb = rgb * ((1 - palette.tint_amount) + palette.tint_amount * np.array(palette.tint, np.float32))
    rgb = np.clip(rgb, 0, 1).astype(np.float32)
    return {role: rgb[i] for i, role in enumerate(ROLES)}


def ground_colour(palette: Palette, rng: np.random.Generator) -> np.ndarray:
    """Canvas priming or paper colour of one work (RGB 0-1), slightly varied."""
    g = np.array(palette.ground, np.float32) * (1 + rng.normal(0, 0.02, 3)).astype(np.float32)
    return np.clip(g, 0, 1)
