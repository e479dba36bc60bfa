"""Motifs: families of works that reuse one composition, as in the Replica morphograph.

A family shares the scene geometry (one composition key) across artists, styles and dates.
Its first member (`original`) is the earliest; every later member is dated after the previous
one and is a `copy` (same style, same view), a `mirror`, a `crop`, a `rescale` (zoomed out and
reformatted), or a `restyle` (another artist in another style). About 10-15% of works belong
to a family of 3-8 members; the rest have no motif.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from artsig.procedural.artists import get_artist
from artsig.procedural.scene import View

TRANSFORMS: tuple[str, ...] = ("original", "copy", "mirror", "crop", "rescale", "restyle")
_FAITHFUL = ("copy", "mirror", "crop", "rescale")  # same style as the original
_FAITHFUL_P = (0.3, 0.25, 0.25, 0.2)
_SIZES = np.arange(3, 9)
_SIZE_P = np.array([0.3, 0.22, 0.16, 0.12, 0.1, 0.1])


DETAIL_VIEWS = 0.2  # share of ordinary works shown as a detail (a closer crop of the composition)


def base_view(rng: np.random.Generator) -> View:
    """The framing of an ordinary work: scale and position nuisance, sometimes a detail view."""
    if rng.random() < DETAIL_VIEWS:
        zoom = float(rng.uniform(1.25, 1.7))
        m = 0.5 - 0.5 / zoom
        return View(zoom=zoom, cx=0.5 + float(rng.uniform(-m, m)), cy=0.5 + float(rng.uniform(-m, m)))
    return View(zoom=float(rng.uniform(0.92, 1.15)), cx=0.5 + float(rng.normal(0, 0.02)),
                cy=0.5 + float(rng.normal(0, 0.02)))


def transform_view(view: View, transform: str, rng: np.random.Generator) -> View:
    """The view of a family member made by `transform` from the original's `view`."""
    jitter = dict(cx=view.cx + float(rng.normal(0, 0.008)), cy=view.cy + float(rng.normal(0, 0.008)))
    if transform in ("original", "copy", "restyle"):
        return replace(view, **jitter)
    if transform == "mirror":
        return replace(view, mirror=not view.mirror, **jitter)
    if transform == "crop":
        zoom = view.zoom * float(rng.uniform(1.35, 1.8))
        m = 0.5 - 0.5 / zoom
        return replace(view, zoom=zoom, cx=0.5 + float(rng.uniform(-m, m)) * 0.8, cy=0.5 + float(rng.uniform(-m, m)) * 0.8)
    if transform == "rescale":
        return replace(view, zoom=view.zoom * float(rng.uniform(0.76, 0.88)),
                       aspect=float(np.exp(rng.choice([-1, 1]) * rng.uniform(0.12, 0.25))), **jitter)
    raise ValueError(f"unknown motif transform {transform!r}; expected one of {TRANSFORMS}")


def _later_date(rng: np.random.Generator, prev: int, start: int, end: int) -> int:
    lo = max(prev + 1, start)
    hi = end if lo > prev + 40 else min(end, prev + 40)
    return int(rng.integers(lo, hi + 1))


def assign_families(works: list[dict], rng: np.random.Generator, fraction: float = 0.12) -> list[list[int]]:
    """Group about `fraction` of `works` into motif families, in place.

    `works` are dicts with genre, style, artist, date, palette, palette_key, composition_key,
    view. Members of a family get the family's composition key, a `motif` id, a
    `motif_transform`, dates increasing along the family, and (for faithful copies) the
    original's palette. Returns the families as lists of work indices, original first.
    """
    target = int(round(fraction * len(works)))
    free = np.ones(len(works), bool)
    genres = np.array([w["genre"] for w in works])
    styles = np.array([w["style"] for w in works])
    ends = np.array([get_artist(w["artist"]).end for w in works])
    families: list[list[int]] = []
    assigned, failures = 0, 0
    while target - assigned >= 3 and failures < 50:
        size = int(min(rng.choice(_SIZES, p=_SIZE_P), target - assigned))
        cand = np.flatnonzero(free)
        first = int(rng.choice(cand))
        genre, style0 = genres[first], styles[first]
        a0 = get_artist(works[first]["artist"])
        date = int(rng.integers(a0.start, a0.start + (a0.end - a0.start) // 2 + 1))
        members, dates, transforms = [first], [date], ["original"]
        free[first] = False
        for _ in range(size - 1):
            later = free & (genres == genre) & (ends > dates[-1])
            same, other = later & (styles == style0), later & (styles != style0)
            faithful = rng.random() < 0.55
            pool = same if (faithful and same.any()) or not other.any() else other
            if not pool.any():
                break
            j = int(rng.choice(np.flatnonzero(pool)))
            art = get_artist(works[j]["artist"])
            members.append(j)
            dates.append(_later_date(rng, dates[-1], art.start, art.end))
            transforms.append(str(rng.choice(_FAITHFUL, p=_FAITHFUL_P)) if styles[j] == style0 else "restyle")
            free[j] = False
        if len(members) < 3:
            free[members] = True
            failures += 1
            continue
        motif = f"m{len(families) + 1:03d}"
        origin = works[first]
        for j, d, t in zip(members, dates, transforms):
            w = works[j]
            w.update(motif=motif, motif_transform=t, date=d, composition_key=origin["composition_key"],
                     view=transform_view(origin["view"], t, rng))
            if t in _FAITHFUL:
                w.update(palette=origin["palette"], palette_key=origin["palette_key"])
        families.append(members)
        assigned += len(members)
    return families
