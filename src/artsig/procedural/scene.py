"""Scenes: the geometry of a composition and its rasterisation into label, colour and tone maps.

A subject composes a scene as a list of `Shape`s in normalised coordinates (x right, y down,
the canvas is [0, 1]^2; backgrounds extend well beyond so that zoomed-out views still cover
the canvas). `rasterize` draws the shapes through a `View` (zoom, centre, mirror, aspect) into
  * labels: one id per shape (painter's order), used by styles for regions and outlines,
  * lit: the smoothly shaded colour image (what a realist would paint),
  * tone: its luminance (what hatching and halftone follow).
A style renderer then turns these maps into marks. The same composition rasterised through
different views is how motif families share one geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from artsig.procedural.textures import grid, luminance

_SHIFT = 4  # sub-pixel bits for cv2 polygon drawing
_ONE = 1 << _SHIFT


@dataclass
class Shape:
    """One painted region: polygons (filled) or polylines (stroked), one role, one shading.

    Shading of a pixel at (u, v) = position relative to `centre` divided by `radius` (both
    in scene units; default: the bounding box):
        s = tone + gx*u + gy*v + relief * (0.55*(u*lx + v*ly) + 0.45*(1 - u^2 - v^2) - 0.2)
    where (lx, ly) points to the light. lit = colour * (1 + 0.38*s) (+ highlight).
    """

    polys: list[np.ndarray]
    role: str
    width: float = 0.0  # > 0: stroke the polylines with this width (scene units) instead of filling
    closed: bool = False
    tone: float = 0.0
    gx: float = 0.0
    gy: float = 0.0
    relief: float = 0.0
    centre: tuple[float, float] | None = None
    radius: tuple[float, float] | None = None


@dataclass
class Scene:
    """A composition: shapes in painter's order, cast shadows / light patches, light direction."""

    shapes: list[Shape]
    light: tuple[float, float] = (-0.6, -0.8)  # direction to the light (image coordinates)
    shadows: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (polygon, strength; <0 = light)
    subject: str = ""


@dataclass(frozen=True)
class View:
    """Which part of the scene a work shows: zoom > 1 crops in, mirror flips left-right."""

    zoom: float = 1.0
    cx: float = 0.5
    cy: float = 0.5
    mirror: bool = False
    aspect: float = 1.0  # > 1 stretches horizontally (a rescaled copy in another format)


@dataclass
class Raster:
    """Rasterised scene: per-pixel label, shaded colour, tone; per-label role and flat colour."""

    labels: np.ndarray  # (H, W) uint16, 0 = nothing
    lit: np.ndarray  # (H, W, 3) float32 0-1
    tone: np.ndarray  # (H, W) float32 0-1 luminance of lit
    shade: np.ndarray  # (H, W) float32 shading term s
    roles: list[str]  # role of label i is roles[i] (roles[0] = "")
    flat: np.ndarray  # (n_labels, 3) float32 flat colour per label
    light: tuple[float, float]


def _gather(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.take(table.astype(np.float32), labels)


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 40,
            start: float = 0.0, stop: float = 360.0) -> np.ndarray:
    """Points of an ellipse (or an arc from `start` to `stop` degrees) as an (n, 2) array."""
    t = np.deg2rad(np.linspace(start, stop, n, endpoint=(stop - start) < 360))
    a = np.deg2rad(angle)
    x, y = rx * np.cos(t), ry * np.sin(t)
    return np.stack([cx + x * np.cos(a) - y * np.sin(a), cy + x * np.sin(a) + y * np.cos(a)], 1)


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Axis-aligned rectangle polygon."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def _to_pixels(pts: np.ndarray, view: View, size: int) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    if view.mirror:
        x = 1.0 - x
    ax, ay = np.sqrt(view.aspect), 1.0 / np.sqrt(view.aspect)
    px = ((x - view.cx) * view.zoom * ax + 0.5) * size
    py = ((y - view.cy) * view.zoom * ay + 0.5) * size
    return np.stack([px, py], 1)


def rasterize(scene: Scene, palette_rgb: dict[str, np.ndarray], size: int, view: View = View()) -> Raster:
    """Draw `scene` through `view` at `size` px with the role colours `palette_rgb`."""
    n = len(scene.shapes) + 1
    labels = np.zeros((size, size), np.uint16)
    scale = view.zoom * size
    lx, ly = scene.light
    if view.mirror:
        lx = -lx
    flat = np.zeros((n, 3), np.float32)
    params = np.zeros((n, 9), np.float32)  # tone gx gy relief cx cy rx ry (pixels)
    params[:, 6:8] = 1.0
    yy, xx = grid(size)
    roles = [""]
    for i, shape in enumerate(scene.shapes, start=1):
        roles.append(shape.role)
        flat[i] = palette_rgb[shape.role]
        pix = [_to_pixels(np.asarray(p, float), view, size) for p in shape.polys]
        fixed = [np.round(p * _ONE).astype(np.int32) for p in pix]
        if shape.width > 0:
            th = max(1, int(round(shape.width * scale)))
            cv2.polylines(labels, fixed, shape.closed, i, th, cv2.LINE_8, _SHIFT)
        else:
            cv2.fillPoly(labels, fixed, i, cv2.LINE_8, _SHIFT)
        if shape.centre is not None:
            c = _to_pixels(np.array([shape.centre], float), view, size)[0]
        else:
            allp = np.concatenate(pix)
            c = (allp.min(0) + allp.max(0)) / 2
        if shape.radius is not None:
            r = np.array(shape.radius, float) * scale * np.array([np.sqrt(view.aspect), 1 / np.sqrt(view.aspect)])
        else:
            allp = np.concatenate(pix)
            r = np.maximum((allp.max(0) - allp.min(0)) / 2, 1.0)
        gx = -shape.gx if view.mirror else shape.gx
        params[i] = (shape.tone, gx, shape.gy, shape.relief, c[0], c[1], r[0], r[1], 0)
    u = _gather(1 / params[:, 6], labels) * (xx - _gather(params[:, 4], labels))
    v = _gather(1 / params[:, 7], labels) * (yy - _gather(params[:, 5], labels))
    shade = _gather(params[:, 0], labels) + _gather(params[:, 1], labels) * u + _gather(params[:, 2], labels) * v
    relief = params[:, 3]
    if relief.any():
        shade += _gather(relief, labels) * (0.55 * (u * lx + v * ly) + 0.45 * (1 - np.minimum(u * u + v * v, 1.5)) - 0.2)
    colour = flat[labels]
    lit = colour * (1 + 0.38 * shade)[..., None] + 0.5 * np.clip(shade - 0.75, 0, None)[..., None]
    if scene.shadows:
        mask = np.zeros((size, size), np.float32)
        for poly, strength in scene.shadows:
            pts = np.round(_to_pixels(np.asarray(poly, float), view, size) * _ONE).astype(np.int32)
            cv2.fillPoly(mask, [pts], float(strength), cv2.LINE_8, _SHIFT)
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, size / 160))
        lit = lit * (1 - np.clip(mask, -0.6, 0.9))[..., None]
    lit = np.clip(lit, 0, 1).astype(np.float32)
    tone = luminance(lit)
    return Raster(labels, lit, tone, shade.astype(np.float32), roles, flat, (lx, ly))
