"""Invented artists: one style each, a date range inside the style's period, personal handwriting.

An artist's "handwriting" is what a connoisseur would recognise within a style: the size of
the marks, a preferred stroke / hatching angle and how much it wanders, how freely colour is
broken, and a tendency toward some palettes of the shared bank (but any palette can occur).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Period (first, last year) of each style, roughly as in art history.
STYLE_PERIODS: dict[str, tuple[int, int]] = {
    "realism": (1840, 1880),
    "impressionism": (1865, 1905),
    "pointillism": (1884, 1910),
    "expressionism": (1905, 1935),
    "cubism": (1907, 1925),
    "watercolour": (1800, 1900),
    "ink_hatching": (1500, 1700),
    "pop_art": (1955, 1975),
}


@dataclass(frozen=True)
class Artist:
    """One invented artist and the parameters of their hand."""

    name: str
    style: str
    start: int  # first year of activity
    end: int  # last year of activity
    share: float  # share of the style's works
    palettes: tuple[str, ...]  # favourite palettes (sampled most of the time)
    stroke: float  # mark size multiplier (1 = the style's typical mark)
    angle: float  # preferred stroke / hatching angle, degrees (0 = horizontal, image y down)
    jitter: float  # spread of stroke angles around `angle`, degrees
    colour_jitter: float  # how freely colour is broken (1 = typical)
    outline: float = 1.0  # outline weight where the style draws outlines


#: 16 artists, two per style. Favourite palettes overlap across styles on purpose.
ARTISTS: tuple[Artist, ...] = (
    Artist("Anna Verhoeven", "realism", 1840, 1866, 0.58, ("natural", "golden", "tenebrist", "earth", "sepia"),
           0.9, 20, 15, 0.8),
    Artist("Matthieu Delorme", "realism", 1852, 1880, 0.42, ("silver", "natural", "nocturne", "grisaille", "pastel"),
           1.2, -35, 25, 1.0),
    Artist("Claire Montbrun", "impressionism", 1866, 1894, 0.57, ("pastel", "natural", "golden", "rose", "vivid"),
           0.85, -20, 22, 1.2),
    Artist("Edvard Lindqvist", "impressionism", 1874, 1905, 0.43, ("silver", "nocturne", "verdigris", "earth", "sunset"),
           1.25, 50, 35, 0.9),
    Artist("Lucien Ferrand", "pointillism", 1884, 1899, 0.55, ("vivid", "pastel", "natural", "sunset", "verdigris"),
           0.85, 0, 0, 1.2),
    Artist("Marthe Vandersteen", "pointillism", 1889, 1910, 0.45, ("golden", "rose", "silver", "fauve", "indigo"),
           1.25, 0, 0, 0.9),
    Artist("Karl Ostmann", "expressionism", 1905, 1926, 0.55, ("fauve", "vivid", "nocturne", "earth", "grisaille"),
           1.0, 70, 30, 1.3, 1.2),
    Artist("Greta Halvorsen", "expressionism", 1911, 1935, 0.45, ("sunset", "tenebrist", "inverted", "natural", "indigo"),
           1.3, -60, 45, 1.0, 0.8),
    Artist("Jean Marcoux", "cubism", 1907, 1918, 0.55, ("earth", "grisaille", "sepia", "golden", "silver"),
           0.85, 0, 0, 0.8, 1.0),
    Artist("Olga Sokolova", "cubism", 1911, 1925, 0.45, ("vivid", "duotone", "earth", "rose", "natural"),
           1.3, 0, 0, 1.0, 1.3),
    Artist("Thomas Ashcombe", "watercolour", 1800, 1852, 0.55, ("natural", "golden", "sepia", "pastel", "earth"),
           0.9, 0, 0, 0.9, 0.6),
    Artist("Harriet Pellow", "watercolour", 1842, 1900, 0.45, ("vivid", "rose", "verdigris", "indigo", "sunset"),
           1.3, 0, 0, 1.1, 0.0),
    Artist("Hieronymus Vogt", "ink_hatching", 1502, 1580, 0.55, ("sepia", "grisaille", "natural", "duotone", "earth"),
           0.85, 45, 8, 1.0, 1.0),
    Artist("Caterina Bellandi", "ink_hatching", 1590, 1698, 0.45, ("grisaille", "indigo", "sepia", "golden", "silver"),
           1.25, -30, 14, 1.0, 0.7),
    Artist("Roy Kessler", "pop_art", 1956, 1971, 0.56, ("vivid", "fauve", "natural", "rose", "inverted"),
           1.0, 45, 0, 1.0, 1.2),
    Artist("Dana Whitlock", "pop_art", 1961, 1975, 0.44, ("duotone", "sunset", "vivid", "pastel", "indigo"),
           1.35, 15, 0, 1.0, 0.8),
)

ARTIST_NAMES: tuple[str, ...] = tuple(a.name for a in ARTISTS)
_BY_NAME = {a.name: a for a in ARTISTS}


def get_artist(name: str) -> Artist:
    """The artist called `name` (one of ARTIST_NAMES)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown artist {name!r}; expected one of {ARTIST_NAMES}") from None


def artists_of(style: str) -> tuple[Artist, ...]:
    """The artists working in `style`."""
    found = tuple(a for a in ARTISTS if a.style == style)
    if not found:
        raise ValueError(f"unknown style {style!r}; expected one of {tuple(STYLE_PERIODS)}")
    return found
