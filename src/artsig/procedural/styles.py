"""Styles (the `style` label): renderers that turn a rasterised scene into marks.

Every style receives the same inputs (label map, shaded colour, tone, the work's ground
colour) and differs only in mark-making: smooth modelling, broken dabs, dots, thick warped
strokes with outlines, faceted planes, transparent washes, line hatching, flat posterised
colour with halftone. Mark size, angle and jitter come from the artist's hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from artsig.procedural.artists import Artist
from artsig.procedural.scene import Raster
from artsig.procedural.textures import (
    boundaries,
    canvas,
    fbm,
    grid,
    luminance,
    paper,
    region_mean,
    saturate,
    value_noise,
)

STYLES: tuple[str, ...] = ("realism", "impressionism", "pointillism", "expressionism", "cubism", "watercolour",
                           "ink_hatching", "pop_art")


@dataclass(frozen=True)
class Hand:
    """The artist's hand for one work: the artist's parameters with per-work variation."""

    stroke: float  # mark size multiplier
    angle: float  # degrees
    jitter: float  # degrees
    colour_jitter: float
    outline: float

    @staticmethod
    def of(artist: Artist, rng: np.random.Generator) -> Hand:
        """Per-work variation of an artist's hand (stroke size varies from work to work)."""
        return Hand(stroke=artist.stroke * float(np.exp(rng.normal(0, 0.2))),
                    angle=artist.angle + float(rng.normal(0, 8)),
                    jitter=artist.jitter * float(rng.uniform(0.8, 1.2)),
                    colour_jitter=artist.colour_jitter * float(rng.uniform(0.8, 1.2)),
                    outline=artist.outline * float(rng.uniform(0.8, 1.2)))


def _grid_points(rng: np.random.Generator, size: int, spacing: float, jitter: float = 0.5) -> np.ndarray:
    """Jittered grid of points (n, 2) with the given spacing, in random order."""
    g = np.arange(spacing / 2, size, spacing)
    xx, yy = np.meshgrid(g, g)
    pts = np.stack([xx.ravel(), yy.ravel()], 1)
    pts += rng.uniform(-jitter, jitter, pts.shape) * spacing
    return rng.permutation(np.clip(pts, 0, size - 1))


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    ij = np.clip(pts.astype(np.int32), 0, img.shape[0] - 1)
    return img[ij[:, 1], ij[:, 0]]


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def _draw_strokes(canvas_u8: np.ndarray, paths: np.ndarray, colours: np.ndarray, widths: np.ndarray) -> None:
    """Draw polylines (n, k, 2) with per-stroke colour (0-1) and width, antialiased, in order."""
    fixed = np.round(paths * 16).astype(np.int32)
    cols = np.clip(colours * 255, 0, 255).astype(np.int32).tolist()
    ws = np.maximum(1, np.round(widths)).astype(int).tolist()
    if paths.shape[1] == 2:
        for (x0, y0, x1, y1), c, w in zip(fixed.reshape(len(fixed), 4).tolist(), cols, ws):
            cv2.line(canvas_u8, (x0, y0), (x1, y1), c, w, cv2.LINE_AA, 4)
    else:
        for p, c, w in zip(fixed, cols, ws):
            cv2.polylines(canvas_u8, [p], False, c, w, cv2.LINE_AA, 4)


# --------------------------------------------------------------------------- realism
def render_realism(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Smooth modelling: soft edges, sfumato gradients, fine glazed brushwork, warm varnish."""
    size = r.labels.shape[0]
    k = size / 256
    img = cv2.GaussianBlur(r.lit, (0, 0), (0.7 + 0.4 * hand.stroke) * k)
    soft = cv2.GaussianBlur(r.lit, (0, 0), 4 * k)
    img = 0.7 * img + 0.3 * soft
    # chiaroscuro: deepen shadows a little, lift lights
    lum = luminance(img)[..., None]
    img = img * (0.85 + 0.3 * lum)
    # fine directional brush texture (barely visible, like blended strokes)
    noise = rng.standard_normal((size, size)).astype(np.float32)
    ln = max(3, int(7 * k * hand.stroke)) | 1
    kern = np.zeros((ln, ln), np.float32)
    a = np.deg2rad(hand.angle)
    c = ln // 2
    for t in range(-c, c + 1):
        kern[int(round(c + t * np.sin(a))), int(round(c + t * np.cos(a)))] = 1
    tex = cv2.filter2D(noise, -1, kern / kern.sum())
    img = img * (1 + 0.045 * tex[..., None] + 0.035 * value_noise(rng, size, 40 * k + 2)[..., None])
    varnish = np.array([1.0, 0.93, 0.78], np.float32)
    img = img * (0.9 + 0.1 * varnish)
    return img * canvas(rng, size, 0.4)[..., None]


# --------------------------------------------------------------------------- impressionism
def render_impressionism(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Broken colour: short opaque dabs of jittered colour laid side by side over a loose underpainting."""
    size = r.labels.shape[0]
    k = size / 256
    under = cv2.GaussianBlur(r.lit, (0, 0), 4 * k)
    base = (0.8 * under + 0.2 * ground) * canvas(rng, size, 0.8)[..., None]
    out = _to_u8(base)
    src = cv2.GaussianBlur(r.lit, (0, 0), 0.8 * k)
    spacing = 5.0 * hand.stroke * k
    pts = _grid_points(rng, size, spacing, 0.55)
    n = len(pts)
    col = _sample(src, pts)
    cj = 0.05 * hand.colour_jitter
    col = col * np.exp(rng.normal(0, cj, (n, 1))) + rng.normal(0, cj * 0.8, (n, 3))
    lum = col @ np.array([0.299, 0.587, 0.114])
    touch = rng.random(n) < 0.14 * hand.colour_jitter  # complementary touches: warm lights, cool shadows
    warm, cool = np.array([1.0, 0.85, 0.5]), np.array([0.45, 0.48, 0.85])
    tint = np.where((lum > 0.55)[:, None], warm * np.maximum(lum, 0.5)[:, None] * 1.3,
                    cool * np.maximum(lum, 0.15)[:, None] * 1.6)
    col = np.where(touch[:, None], 0.7 * col + 0.3 * tint, col)
    col = saturate(col.astype(np.float32)[None], 1.12)[0]
    ang = np.deg2rad(hand.angle + rng.normal(0, hand.jitter, n))
    half = spacing * rng.uniform(0.8, 1.3, n)
    dirs = np.stack([np.cos(ang), np.sin(ang)], 1) * half[:, None]
    _draw_strokes(out, np.stack([pts - dirs, pts + dirs], 1), col, spacing * rng.uniform(0.7, 0.95, n))
    return out.astype(np.float32) / 255


# --------------------------------------------------------------------------- pointillism
def _dot_layer(img: np.ndarray, src: np.ndarray, rng: np.random.Generator, spacing: float, radius: float,
               chroma: float, offset: float) -> np.ndarray:
    """Paint one layer of round dots on a jittered grid (vectorised: one dot per grid cell)."""
    size = img.shape[0]
    n = int(np.ceil((size + offset) / spacing)) + 1
    cx = (np.arange(n) * spacing - offset)[None, :] + spacing / 2 + rng.uniform(-0.18, 0.18, (n, n)) * spacing
    cy = (np.arange(n) * spacing - offset)[:, None] + spacing / 2 + rng.uniform(-0.18, 0.18, (n, n)) * spacing
    cx, cy = cx.astype(np.float32), cy.astype(np.float32)
    rad = (radius * rng.uniform(0.8, 1.15, (n, n))).astype(np.float32)
    pts = np.stack([cx.ravel(), cy.ravel()], 1)
    col = _sample(src, pts).reshape(n, n, 3).astype(np.float32)
    # each dot takes the local colour, a lighter warm or a deeper cool variant, all saturated
    pick = rng.random((n, n, 1))
    warm = col * np.array([1.15, 1.05, 0.75], np.float32) + 0.06
    cool = col * np.array([0.75, 0.85, 1.2], np.float32) - 0.03
    col = np.where(pick < 0.16, warm, np.where(pick < 0.32, cool, col))
    col = saturate(col + rng.normal(0, chroma, (n, n, 3)).astype(np.float32), 1.5)
    idx = ((np.arange(size) + offset) // spacing).astype(np.int32)
    iy, ix = idx[:, None], idx[None, :]
    yy, xx = grid(size)
    dist = np.sqrt((xx - cx[iy, ix]) ** 2 + (yy - cy[iy, ix]) ** 2)
    alpha = np.clip(rad[iy, ix] - dist + 0.5, 0, 1)[..., None]
    return img * (1 - alpha) + col[iy, ix] * alpha


def render_pointillism(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Optical mixing: separate round dots of pure, contrasting hues on a pale ground."""
    size = r.labels.shape[0]
    k = size / 256
    src = cv2.GaussianBlur(r.lit, (0, 0), 1.0 * k)
    img = (0.7 * ground + 0.3 * cv2.GaussianBlur(r.lit, (0, 0), 6 * k)) * np.ones((size, size, 1), np.float32)
    d = 6.4 * hand.stroke * k
    for off in (0.0, 0.5):
        img = _dot_layer(img, src, rng, d, d * 0.42, 0.05 * hand.colour_jitter, off * d)
    return img * canvas(rng, size, 0.6)[..., None]


# --------------------------------------------------------------------------- expressionism
def _warp(rng: np.random.Generator, size: int, amp: float, cell: float) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = grid(size)
    return xx + amp * value_noise(rng, size, cell), yy + amp * value_noise(rng, size, cell)


def _outline(labels: np.ndarray, width: float, rng: np.random.Generator, broken: float = 0.0) -> np.ndarray:
    """Soft mask (0-1) of thick outlines along region boundaries, optionally broken."""
    b = boundaries(labels).astype(np.uint8)
    w = max(1, int(round(width)))
    if w > 1:
        b = cv2.dilate(b, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w)))
    m = b.astype(np.float32)
    if broken > 0:
        m *= (value_noise(rng, labels.shape[0], 10) > -1.5 + 2 * broken)
    return cv2.GaussianBlur(m, (0, 0), 0.6)


def render_expressionism(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Warped forms, intensified colour, thick long curved strokes, heavy dark outlines."""
    size = r.labels.shape[0]
    k = size / 256
    mx, my = _warp(rng, size, 0.035 * size * rng.uniform(0.5, 1.4), size / 3)
    lit = cv2.remap(r.lit, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    labels = cv2.remap(r.labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    lit = saturate(0.55 * lit + 0.45 * region_mean(labels, lit), 1.4)
    lit = np.clip(0.5 + (lit - 0.5) * 1.15, 0, 1)
    out = _to_u8(cv2.GaussianBlur(lit, (0, 0), 3 * k))
    flow = float(np.deg2rad(hand.angle)) + float(np.deg2rad(hand.jitter)) * 1.5 * value_noise(rng, size, size / 4)
    d = 7.8 * hand.stroke * k
    pts = _grid_points(rng, size, d, 0.6)
    n = len(pts)
    seg = d * rng.uniform(1.0, 1.5, n)
    path = [pts]
    for _ in range(2):
        a = _sample(flow, path[-1])
        path.append(np.clip(path[-1] + np.stack([np.cos(a), np.sin(a)], 1) * seg[:, None], 0, size - 1))
    paths = np.stack(path, 1) - (path[-1] - pts)[:, None] / 2
    col = _sample(lit, pts) * rng.uniform(0.8, 1.15, (n, 1)) + rng.normal(0, 0.06 * hand.colour_jitter, (n, 3))
    _draw_strokes(out, paths, col, d * rng.uniform(0.55, 0.85, n))
    img = out.astype(np.float32) / 255
    ink = np.array([0.06, 0.05, 0.12], np.float32) * rng.uniform(0.6, 1.6)
    m = _outline(labels, 3.2 * hand.outline * k * rng.uniform(0.4, 1.3), rng, 0.25)[..., None] * rng.uniform(0.6, 0.95)
    return (img * (1 - m) + ink * m) * canvas(rng, size, 1.0)[..., None]


# --------------------------------------------------------------------------- cubism
def render_cubism(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Faceted planes: Voronoi facets that fracture the view, each shaded as a tilted plane, with edges."""
    size = r.labels.shape[0]
    k = size / 256
    n_seeds = int(rng.uniform(35, 130) / hand.stroke ** 1.5)
    seeds = np.zeros((size, size), np.uint8) + 1
    edge_pix = np.flatnonzero(boundaries(r.labels))
    n_edge = min(len(edge_pix), n_seeds // 2)
    pick = np.concatenate([rng.choice(edge_pix, n_edge, replace=False) if n_edge else np.zeros(0, np.int64),
                           rng.integers(0, size * size, n_seeds - n_edge)])
    seeds.ravel()[pick] = 0
    _, vor = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    nv = int(vor.max()) + 1
    # each facet sees the scene from a slightly shifted viewpoint
    shift = 0.025 * size * rng.uniform(0.3, 1.4)
    ox, oy = rng.normal(0, shift, nv).astype(np.float32), rng.normal(0, shift, nv).astype(np.float32)
    yy, xx = grid(size)
    mx, my = xx + ox[vor], yy + oy[vor]
    lit = cv2.remap(r.lit, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    labels = cv2.remap(r.labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    nl = int(labels.max()) + 1
    piece = vor.astype(np.int64) * nl + labels
    _, inv = np.unique(piece.ravel(), return_inverse=True)
    piece = inv.reshape(size, size)
    flat = region_mean(piece, lit)
    # facet planes: a light gradient across every Voronoi cell
    vf = vor.ravel()
    cnt = np.maximum(np.bincount(vf, minlength=nv), 1)
    cxv, cyv = np.bincount(vf, xx.ravel(), nv) / cnt, np.bincount(vf, yy.ravel(), nv) / cnt
    phi = rng.uniform(0, 2 * np.pi, nv)
    radius = size / np.sqrt(n_seeds)
    g = ((xx - cxv[vor]) * np.cos(phi)[vor] + (yy - cyv[vor]) * np.sin(phi)[vor]) / radius
    plane = 1 + 0.32 * np.clip(g, -1.2, 1.2) + rng.normal(0, 0.08, nv)[vor]
    img = saturate(flat, 0.85) * plane[..., None].astype(np.float32)
    e_facet = boundaries(vor).astype(np.float32) * (rng.random(nv) < 0.75)[vor]
    e_scene = boundaries(piece).astype(np.float32)
    w = max(1, int(round(1.6 * hand.outline * k)))
    kern = np.ones((w, w), np.uint8)
    e = np.maximum(cv2.dilate(e_facet, kern), 0.7 * cv2.dilate(e_scene, kern))
    e = cv2.GaussianBlur(e, (0, 0), 0.5)[..., None]
    ed = rng.uniform(0.45, 0.85)
    img = img * (1 - ed * e) + np.array([0.1, 0.09, 0.08], np.float32) * ed * e
    return img * canvas(rng, size, 0.9)[..., None]


# --------------------------------------------------------------------------- watercolour
def render_watercolour(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Transparent washes on textured paper: bleeding wobbly edges, pigment-darkened rims, paper gaps."""
    size = r.labels.shape[0]
    k = size / 256
    paper_tex = paper(rng, size, 1.2)
    mx, my = _warp(rng, size, 2.2 * k * hand.stroke, 7 * k)
    lit = cv2.remap(r.lit, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    labels = cv2.remap(r.labels, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    col = 0.55 * region_mean(labels, lit) + 0.45 * lit
    # pigment density: uneven wash with blooms, granulation on the paper grain
    dens = rng.uniform(0.6, 0.8) * (1 + 0.22 * fbm(rng, size, (40 * k + 2, 12 * k + 2), (1.0, 0.5)))
    dens = dens * (1 + 3.0 * (paper_tex - 1))
    wash = 1 - np.clip(dens, 0, 1)[..., None] * (1 - col)
    # bleeding: wet edges blur into each other where the paper was wet
    wet = (value_noise(rng, size, 30 * k + 2) > 0.3).astype(np.float32)
    wet = cv2.GaussianBlur(wet, (0, 0), 4 * k)[..., None]
    blurred = cv2.GaussianBlur(wash, (0, 0), 1.8 * k * hand.stroke)
    wash = wet * blurred + (1 - wet) * wash
    # darker rims where a wash dried, and white gaps of paper between some washes
    edge = cv2.GaussianBlur(boundaries(labels).astype(np.float32), (0, 0), 1.2 * k)
    edge = np.clip(edge * 2.2, 0, 1)[..., None]
    wash = wash * (1 - 0.22 * edge * (1 - wet))
    gaps = (edge[..., 0] > 0.45) & (value_noise(rng, size, 9 * k + 1) > 0.7)
    wash[gaps] = 0.5 * wash[gaps] + 0.5
    img = ground * paper_tex[..., None] * wash
    if hand.outline > 0.3:  # light pencil / pen underdrawing
        m = _outline(labels, 1, rng, 0.5)[..., None] * 0.3 * min(hand.outline, 1.0)
        img = img * (1 - m) + 0.25 * m
    return img


# --------------------------------------------------------------------------- ink hatching
def render_ink_hatching(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Pen and ink: parallel hatching whose density follows tone (cross-hatched in shadow), contours, paper."""
    size = r.labels.shape[0]
    k = size / 256
    paper_tex = paper(rng, size, 1.0)
    tone = cv2.GaussianBlur(r.tone, (0, 0), 1.0 * k)
    lo, hi = (float(q) for q in np.percentile(tone, (3, 97)))
    tone = np.clip((tone - lo) / max(hi - lo, 1e-3), 0, 1) * 0.9 + 0.08
    yy, xx = grid(size)
    wobble = value_noise(rng, size, 16 * k + 2) * 0.35
    spacing = 3.6 * k * hand.stroke * rng.uniform(0.85, 1.25)
    nl = len(r.roles)
    lab_angle = rng.normal(0, hand.jitter, nl).astype(np.float32)  # hatching turns with each form
    ink = np.zeros((size, size), np.float32)
    layers = ((0.0, 0.82), (90.0 + float(rng.normal(0, 10)), 0.58), (45.0, 0.38), (-45.0, 0.22))
    for j, (da, thr) in enumerate(layers):
        a = np.deg2rad(hand.angle + da + lab_angle[r.labels])
        s = (xx * np.cos(a + np.pi / 2) + yy * np.sin(a + np.pi / 2)) / (spacing * (1 + 0.15 * j)) + wobble
        dist = np.abs(s - np.round(s)) * spacing  # distance to the nearest line in pixels
        line = np.clip(0.55 * max(k, 0.5) * (1.1 - 0.25 * j) - dist + 0.5, 0, 1)
        cover = np.clip((thr - tone) / 0.06, 0, 1)
        ink = np.maximum(ink, line * cover)
    contour = _outline(r.labels, 1.2 * k * hand.outline + 0.4, rng, 0.3) * 0.9
    ink = np.maximum(ink, contour)
    ink_col = np.array([0.08, 0.07, 0.06], np.float32)
    ink_col = 0.5 * ink_col + 0.5 * np.clip(r.flat[1:].min(0), 0, 0.4)  # ink takes the palette's darkest hue
    pap = ground * paper_tex[..., None]
    if rng.random() < 0.45:  # pen and wash: a pale colour wash under the ink
        wash = 1 - 0.35 * (1 - cv2.GaussianBlur(r.lit, (0, 0), 2.5 * k))
        pap = pap * wash
    ink = ink[..., None] * rng.uniform(0.8, 0.95)
    return pap * (1 - ink) + ink_col * ink


# --------------------------------------------------------------------------- pop art
def render_pop_art(r: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Flat posterised colour, thick black outlines, Ben-Day halftone dots in some areas."""
    size = r.labels.shape[0]
    k = size / 256
    flat = region_mean(r.labels, r.lit)
    flat = np.clip(saturate(flat, 1.6) * 1.08, 0, 1)
    # two-level cel shading from the scene's shading
    dark = (r.shade < -0.15)[..., None]
    img = np.where(dark, flat * 0.62, flat)
    # halftone: dots on a rotated grid, radius growing with darkness, in some regions
    nl = len(r.roles)
    halftone = (rng.random(nl) < rng.uniform(0.15, 0.7))[r.labels]
    sp = 5.5 * k * hand.stroke
    ca, sa = math.cos(math.radians(hand.angle)), math.sin(math.radians(hand.angle))
    yy, xx = grid(size)
    u = (xx * ca + yy * sa) / sp
    v = (-xx * sa + yy * ca) / sp
    du, dv = u - np.round(u), v - np.round(v)
    dist = np.sqrt(du * du + dv * dv) * sp
    rad = sp * (0.22 + 0.3 * (1 - r.tone))
    dot = np.clip(rad - dist + 0.5, 0, 1)[..., None] * halftone[..., None]
    dot_col = np.where(flat.mean(-1, keepdims=True) > 0.55, flat * 0.55, np.minimum(flat * 1.6 + 0.25, 1))
    light_bg = np.minimum(flat * 1.25 + 0.12, 1)
    img = np.where(halftone[..., None], light_bg * (1 - dot) + dot_col * dot, img)
    m = _outline(r.labels, 3.4 * hand.outline * k, rng)[..., None]
    return img * (1 - m) + 0.04 * m


RENDERERS: dict[str, Callable[[Raster, Hand, np.random.Generator, np.ndarray], np.ndarray]] = {
    "realism": render_realism,
    "impressionism": render_impressionism,
    "pointillism": render_pointillism,
    "expressionism": render_expressionism,
    "cubism": render_cubism,
    "watercolour": render_watercolour,
    "ink_hatching": render_ink_hatching,
    "pop_art": render_pop_art,
}


#: Techniques a work in a style may borrow for some passages (neighbouring manners).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "realism": ("impressionism", "watercolour", "ink_hatching"),
    "impressionism": ("realism", "pointillism", "expressionism"),
    "pointillism": ("impressionism", "pop_art"),
    "expressionism": ("impressionism", "cubism", "pop_art"),
    "cubism": ("expressionism", "pop_art", "realism"),
    "watercolour": ("realism", "ink_hatching", "impressionism"),
    "ink_hatching": ("watercolour", "realism"),
    "pop_art": ("cubism", "expressionism", "pointillism"),
}
MIX_PROBABILITY = 0.65
MIX_AREA = (0.25, 0.5)


def passage_mask(labels: np.ndarray, rng: np.random.Generator, area: tuple[float, float]) -> np.ndarray:
    """Soft mask (H, W, 1) of whole scene regions, picked at random until they cover `area` of the canvas."""
    lab = labels.ravel()
    frac = np.bincount(lab[::7], minlength=int(lab.max()) + 1) / len(lab[::7])
    lo, hi = rng.uniform(*area), area[1] + 0.1
    chosen, acc = [], 0.0
    for label in rng.permutation(np.flatnonzero(frac)):
        if acc + frac[label] <= hi:
            chosen.append(label)
            acc += frac[label]
            if acc >= lo:
                break
    table = np.zeros(len(frac), np.float32)
    table[chosen] = 1
    k = labels.shape[0] / 256
    return cv2.GaussianBlur(table[labels], (0, 0), 1.5 * k + 0.3)[..., None]


def render_mixed(style: str, raster: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Render in `style`; many works borrow a neighbouring technique for some passages.

    Artists mix manners (a realist's sketchy background, an impressionist's dotted sky, a pen
    drawing washed with watercolour): whole regions of the scene covering 25-50% of the canvas
    are painted in a neighbouring style, so that styles overlap as they do in real collections.
    """
    painted = render_style(style, raster, hand, rng, ground)
    if rng.random() >= MIX_PROBABILITY:
        return painted
    other = render_style(str(rng.choice(NEIGHBOURS[style])), raster, hand, rng, ground)
    m = passage_mask(raster.labels, rng, MIX_AREA)
    return painted * (1 - m) + other * m


def render_style(style: str, raster: Raster, hand: Hand, rng: np.random.Generator, ground: np.ndarray) -> np.ndarray:
    """Render `raster` in `style` (one of STYLES); returns float32 RGB (not yet clipped)."""
    try:
        fn = RENDERERS[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}") from None
    return fn(raster, hand, rng, ground)
