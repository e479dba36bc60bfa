"""Subjects (the `genre` label): seeded compositions of recognisable scenes.

Each `compose_<subject>(rng)` returns a `Scene` whose layout varies with the generator: horizon
height, number and place of trees, boats, buildings, objects, head position and turn... so a
subject is a family of layouts, not one template. Coordinates are normalised (see scene.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from artsig.procedural.scene import Scene, Shape, ellipse, rect

SUBJECTS: tuple[str, ...] = ("landscape", "seascape", "portrait", "still_life", "cityscape", "interior", "abstract")

_BIG = (-1.5, 2.5)  # extent of backgrounds, so zoomed-out views are still covered


# --------------------------------------------------------------------------- helpers
def _light(rng: np.random.Generator) -> tuple[float, float]:
    lx = float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.85))
    return lx, -float(np.sqrt(1 - lx * lx))


def _ridge(rng: np.random.Generator, y: float, amp: float, bottom: float = _BIG[1], waves: int = 4,
           n: int = 64) -> np.ndarray:
    """Polygon under a smooth random skyline y(x) (hills, fields, sand)."""
    x = np.linspace(_BIG[0], _BIG[1], n)
    top = np.full(n, y)
    for k in range(waves):
        f = rng.uniform(1.5, 5.0) * (k + 1)
        top += amp * rng.uniform(0.3, 1.0) / (k + 1) * np.sin(f * x + rng.uniform(0, 6.3))
    pts = np.stack([x, top], 1)
    return np.concatenate([pts, [[_BIG[1], bottom], [_BIG[0], bottom]]])


def _blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, irregular: float = 0.18,
          n: int = 28) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1 + irregular * sum(rng.uniform(-1, 1) * np.sin(k * t + rng.uniform(0, 6.3)) / k for k in (2, 3, 5))
    return np.stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)], 1)


def _superellipse(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, p: float = 6.0,
                  n: int = 48) -> np.ndarray:
    """A rounded rectangle with slightly irregular, hand-made edges."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    wob = 1 + 0.015 * np.sin(t * rng.integers(5, 9) + rng.uniform(0, 6))
    return np.stack([cx + rx * wob * np.sign(c) * np.abs(c) ** (2 / p), cy + ry * wob * np.sign(s) * np.abs(s) ** (2 / p)], 1)


def _sky(h: float, role: str = "sky") -> Shape:
    return Shape([rect(_BIG[0], _BIG[0], _BIG[1], h + 0.02)], role, tone=0.35, gy=0.45, centre=(0.5, h),
                 radius=(0.5, 0.5))


def _clouds(rng: np.random.Generator, top: float, bottom: float, k: int) -> list[Shape]:
    out = []
    for _ in range(k):
        cx, cy = rng.uniform(-0.1, 1.1), rng.uniform(top, max(top + 0.01, bottom))
        w = rng.uniform(0.08, 0.25)
        for _ in range(rng.integers(2, 4)):
            out.append(Shape([_blob(rng, cx + rng.uniform(-w, w) * 0.6, cy + rng.uniform(-0.02, 0.015),
                                    w * rng.uniform(0.4, 0.8), w * rng.uniform(0.18, 0.35))], "cloud", tone=0.2,
                             relief=0.5))
    return out


def _tree(rng: np.random.Generator, x: float, y: float, size: float, kind: str) -> list[Shape]:
    lean = rng.uniform(-0.1, 0.1) * size
    trunk_h = size * (0.45 if kind != "pine" else 0.2)
    top = (x + lean, y - trunk_h)
    shapes = [Shape([np.array([[x, y], [top[0], top[1] - size * 0.1]])], "trunk", width=max(0.004, size * 0.09),
                    relief=0.4)]
    if kind == "round":
        r = size * 0.42
        for j in range(rng.integers(2, 5)):
            dx, dy = rng.uniform(-0.5, 0.5) * r, rng.uniform(-0.5, 0.2) * r
            role = "foliage" if j % 2 == 0 else "foliage_light"
            shapes.append(Shape([_blob(rng, top[0] + dx, top[1] - r * 0.7 + dy, r * rng.uniform(0.6, 0.9),
                                       r * rng.uniform(0.55, 0.8), 0.15)], role, relief=0.9))
    elif kind == "poplar":
        shapes.append(Shape([_blob(rng, top[0], top[1] - size * 0.35, size * 0.13, size * 0.5, 0.08)], "foliage",
                            relief=0.9))
    else:  # pine
        w = size * 0.3
        for j in range(3):
            yb = y - trunk_h - j * size * 0.22
            shapes.append(Shape([np.array([[x - w * (1 - j * 0.22), yb], [x + w * (1 - j * 0.22), yb],
                                           [x, yb - size * 0.4]])], "foliage", relief=0.7))
    return shapes


def _house(rng: np.random.Generator, x: float, y: float, s: float) -> list[Shape]:
    w, h = s * rng.uniform(0.8, 1.4), s * rng.uniform(0.5, 0.8)
    wall = Shape([rect(x - w / 2, y - h, x + w / 2, y)], "building3", relief=0.3)
    roof = Shape([np.array([[x - w / 2 - s * 0.08, y - h], [x + w / 2 + s * 0.08, y - h], [x, y - h - s * 0.45]])],
                 "roof", relief=0.4)
    door = Shape([rect(x - s * 0.08, y - s * 0.28, x + s * 0.08, y)], "window")
    return [wall, roof, door]


def _figure(rng: np.random.Generator, x: float, y: float, h: float) -> list[Shape]:
    """A small standing figure, feet at (x, y), height h."""
    cloth = str(rng.choice(["cloth", "cloth2", "dark", "foliage"]))
    legs = [np.array([[x + d, y - h * 0.3], [x + d * 1.3, y]]) for d in (-h * 0.05, h * 0.05)]
    body = np.array([[x - h * 0.12, y - h * 0.74], [x + h * 0.12, y - h * 0.74], [x + h * 0.2, y - h * 0.28],
                     [x - h * 0.2, y - h * 0.28]])
    return [Shape(legs, "dark", width=h * 0.05), Shape([body], cloth, relief=0.6),
            Shape([ellipse(x, y - h * 0.85, h * 0.085, h * 0.1)], "skin", relief=0.8),
            Shape([ellipse(x, y - h * 0.9, h * 0.09, h * 0.06, 0, 12, 180, 360)], "hair")]


def _window(x0: float, y0: float, x1: float, y1: float, frame: str = "wood") -> list[Shape]:
    """A window with a sky pane, frame and mullions."""
    pane = rect(x0, y0, x1, y1)
    mull = [np.array([[(x0 + x1) / 2, y0], [(x0 + x1) / 2, y1]]), np.array([[x0, (y0 + y1) / 2], [x1, (y0 + y1) / 2]])]
    return [Shape([pane], "sky", tone=0.4, gy=0.3), Shape([pane], frame, width=0.012, closed=True),
            Shape(mull, frame, width=0.008)]


# --------------------------------------------------------------------------- landscape
def compose_landscape(rng: np.random.Generator) -> Scene:
    """Sky, horizon, layered hills and fields, trees in perspective, sometimes a river or path."""
    h = rng.uniform(0.32, 0.6)
    shapes = [_sky(h)]
    if rng.random() < 0.35:
        shapes.append(Shape([ellipse(rng.uniform(0.1, 0.9), rng.uniform(0.08, h - 0.1), 0.045, 0.045)], "sun",
                            tone=0.5))
    shapes += _clouds(rng, 0.03, h - 0.15, int(rng.integers(0, 5)))
    for j in range(int(rng.integers(1, 3))):
        shapes.append(Shape([_ridge(rng, h - rng.uniform(0.03, 0.14), rng.uniform(0.03, 0.09))], "far_hill",
                            tone=0.15 - 0.15 * j, relief=0.2))
    if rng.random() < 0.45:  # distant tree line
        for x in np.sort(rng.uniform(-0.1, 1.1, int(rng.integers(6, 16)))):
            shapes.append(Shape([_blob(rng, x, h - 0.01, rng.uniform(0.02, 0.05), rng.uniform(0.02, 0.04))],
                                "foliage", tone=-0.1, relief=0.5))
    shapes.append(Shape([_ridge(rng, h, rng.uniform(0.005, 0.03))], str(rng.choice(["grass", "hill", "field"])),
                        tone=0.05, gy=-0.25, centre=(0.5, h), radius=(0.5, 0.5)))
    ys = np.sort(rng.uniform(h + 0.05, 0.95, int(rng.integers(0, 3))))
    for y in ys:
        shapes.append(Shape([_ridge(rng, y, rng.uniform(0.01, 0.05))], str(rng.choice(["grass", "field", "hill"])),
                            tone=0.1, gy=-0.2, centre=(0.5, y), radius=(0.5, 0.5)))
    if rng.random() < 0.5:  # river or path narrowing to the horizon
        vx = rng.uniform(0.2, 0.8)
        bx = vx + rng.uniform(-0.4, 0.4)
        t = np.linspace(0, 1, 16)
        wiggle = 0.06 * np.sin(t * rng.uniform(3, 7) + rng.uniform(0, 6))
        xc = vx + (bx - vx) * t + wiggle * t
        yc = h + 0.01 + (1.1 - h) * t ** 1.3
        half = 0.004 + rng.uniform(0.12, 0.25) * t ** 1.5
        pts = np.concatenate([np.stack([xc - half, yc], 1), np.stack([xc + half, yc], 1)[::-1]])
        shapes.append(Shape([pts], str(rng.choice(["water", "path"])), tone=0.15, gy=0.2, centre=(0.5, h),
                            radius=(0.5, 0.5)))
    if rng.random() < 0.2:  # a lake in the middle ground
        ly = h + rng.uniform(0.03, 0.15)
        shapes.append(Shape([_blob(rng, rng.uniform(0.2, 0.8), ly, rng.uniform(0.25, 0.6), rng.uniform(0.03, 0.07),
                                   0.1, 32)], "water", tone=0.2, gy=-0.2))
    if rng.random() < 0.35:  # a village or a farm
        for x in rng.uniform(0.05, 0.95, int(rng.integers(1, 5))):
            y = h + rng.uniform(0.02, 0.2)
            shapes += _house(rng, x, y, 0.04 + 0.2 * (y - h))
    n = int(rng.integers(2, 9))
    ys = np.sort(rng.uniform(h + 0.02, 1.08, n))
    kinds = ["round", "poplar", "pine"]
    pk = rng.dirichlet([2.0, 1.0, 1.0])
    for y in ys:
        depth = (y - h) / (1.08 - h)
        size = (0.08 + 0.55 * depth) * rng.uniform(0.7, 1.3)
        shapes += _tree(rng, rng.uniform(-0.05, 1.05), y, size, str(rng.choice(kinds, p=pk)))
    return Scene(shapes, _light(rng), subject="landscape")


# --------------------------------------------------------------------------- seascape
def _boat(rng: np.random.Generator, x: float, y: float, s: float) -> list[Shape]:
    w = s * rng.uniform(0.9, 1.3)
    d = s * 0.22
    hull = np.array([[x - w / 2, y - d], [x + w / 2, y - d], [x + w * 0.35, y], [x - w * 0.38, y]])
    mast_h = s * rng.uniform(1.1, 1.6)
    mx = x + rng.uniform(-0.1, 0.1) * w
    out = [Shape([hull], "hull", relief=0.4)]
    sail_role = "sail" if rng.random() < 0.7 else "sail2"
    out.append(Shape([np.array([[mx, y - d - mast_h], [mx, y - d - s * 0.08],
                                [mx - w * rng.uniform(0.35, 0.5) * rng.choice([-1, 1]), y - d - s * 0.1]])],
                     sail_role, relief=0.5))
    if rng.random() < 0.6:
        out.append(Shape([np.array([[mx, y - d - mast_h * 0.9], [mx, y - d - s * 0.1],
                                    [mx + w * 0.42, y - d - s * 0.1]])], "sail", relief=0.5))
    out.append(Shape([np.array([[mx, y - d], [mx, y - d - mast_h * 1.05]])], "hull", width=max(0.003, s * 0.03)))
    return out


def compose_seascape(rng: np.random.Generator) -> Scene:
    """Sky over a sea horizon, rows of waves growing toward the viewer, sailing boats."""
    h = rng.uniform(0.28, 0.55)
    shapes = [_sky(h)]
    sun = rng.random() < 0.3
    sx = rng.uniform(0.15, 0.85)
    if sun:
        shapes.append(Shape([ellipse(sx, rng.uniform(0.08, h - 0.08), 0.05, 0.05)], "sun", tone=0.5))
    shapes += _clouds(rng, 0.03, h - 0.12, int(rng.integers(0, 6)))
    if rng.random() < 0.55:  # headland
        side = rng.choice([-1, 1])
        x_end = rng.uniform(0.15, 0.5)
        xs = np.linspace(0, x_end, 12)
        top = h - rng.uniform(0.04, 0.16) * (1 - (xs / x_end) ** 2) - rng.uniform(0, 0.01, 12)
        xs_full = np.concatenate([[-1.0], xs, [x_end + 0.02]])
        top_full = np.concatenate([[top[0]], top, [h + 0.005]])
        if side > 0:
            xs_full = 1 - xs_full
        pts = np.concatenate([np.stack([xs_full, top_full], 1), [[xs_full[-1], h + 0.01], [xs_full[0], h + 0.01]]])
        shapes.append(Shape([pts], str(rng.choice(["far_hill", "rock"])), relief=0.3))
    shapes.append(Shape([rect(_BIG[0], h, _BIG[1], _BIG[1])], "water", tone=0.1, gy=-0.35, centre=(0.5, h),
                        radius=(0.5, 0.5)))
    shapes.append(Shape([rect(_BIG[0], h, _BIG[1], h + rng.uniform(0.02, 0.06))], "water_far", tone=0.1))
    if sun:
        lines = [np.array([[sx - w, y], [sx + w, y]]) for y, w in
                 zip(np.linspace(h + 0.02, 0.95, 14), rng.uniform(0.01, 0.06, 14))]
        shapes.append(Shape(lines, "sun", width=0.007, tone=0.2))
    rows = np.sort(rng.uniform(0, 1, int(rng.integers(10, 24))))
    for t in rows:
        y = h + 0.02 + (1.1 - h) * t ** 1.5
        ln = 0.02 + 0.16 * t
        arcs = []
        for x in rng.uniform(-0.1, 1.1, int(rng.integers(2, 6))):
            arcs.append(ellipse(x, y, ln, ln * 0.25, 0, 12, 200, 340))
        shapes.append(Shape(arcs, "foam", width=0.003 + 0.012 * t, tone=0.1))
    if rng.random() < 0.35:  # foreground breaking wave
        y0 = rng.uniform(0.78, 0.9)
        x = np.linspace(-0.2, 1.2, 30)
        crest = y0 - 0.06 * np.abs(np.sin(x * rng.uniform(4, 8) + rng.uniform(0, 6)))
        pts = np.concatenate([np.stack([x, crest], 1), [[1.2, 2.0], [-0.2, 2.0]]])
        shapes.append(Shape([pts], "water", tone=-0.3, relief=0.3))
        shapes.append(Shape([np.stack([x, crest], 1)], "foam", width=0.012, tone=0.2))
    if rng.random() < 0.35:  # beach
        yb = rng.uniform(0.8, 0.93)
        shapes.append(Shape([_ridge(rng, yb, 0.03, waves=2)], "sand", tone=0.1, relief=0.2))
    for t in np.sort(rng.uniform(0.05, 0.8, int(rng.integers(1, 4)))):
        y = h + 0.02 + (0.95 - h) * t
        shapes += _boat(rng, rng.uniform(0.08, 0.92), y, 0.05 + 0.25 * t)
    if rng.random() < 0.3:  # a coast on one side, with trees or a cottage
        side = rng.choice([-1, 1])
        w = rng.uniform(0.2, 0.42)
        ys = np.linspace(h - 0.02, 1.6, 14)
        xs = w * (0.3 + 0.7 * (ys - h) / (1.6 - h)) + 0.03 * np.sin(ys * 20)
        pts = np.concatenate([[[-1.0, h - 0.02]], np.stack([xs, ys], 1), [[-1.0, 1.6]]])
        if side > 0:
            pts[:, 0] = 1 - pts[:, 0]
        shapes.append(Shape([pts], str(rng.choice(["grass", "rock", "sand"])), relief=0.4))
        cx = w * 0.4 if side < 0 else 1 - w * 0.4
        if rng.random() < 0.5:
            shapes += _house(rng, cx, h + 0.12, 0.1)
        for _ in range(int(rng.integers(1, 3))):
            shapes += _tree(rng, cx + rng.uniform(-0.1, 0.1), rng.uniform(h + 0.1, 0.9), rng.uniform(0.15, 0.3), "round")
    return Scene(shapes, _light(rng), subject="seascape")


# --------------------------------------------------------------------------- portrait
def compose_portrait(rng: np.random.Generator) -> Scene:
    """Head and shoulders: backdrop, clothed bust, neck, head with hair, eyes, brows, nose, mouth."""
    cx = rng.uniform(0.4, 0.6)
    cy = rng.uniform(0.32, 0.42)
    ry = rng.uniform(0.13, 0.19)
    rx = ry * rng.uniform(0.72, 0.84)
    turn = rng.uniform(-0.35, 0.35)  # three-quarter view
    shapes = [Shape([rect(_BIG[0], _BIG[0], _BIG[1], _BIG[1])],
                    str(rng.choice(["backdrop", "wall", "wall2", "cloth", "foliage"], p=[0.45, 0.2, 0.15, 0.1, 0.1])),
                    tone=0.1, relief=0.6, centre=(cx, cy), radius=(0.6, 0.6))]
    bg = rng.random()
    if bg < 0.2:  # a landscape behind the sitter
        hz = rng.uniform(0.45, 0.7)
        shapes.append(_sky(hz))
        shapes.append(Shape([_ridge(rng, hz - rng.uniform(0.02, 0.1), rng.uniform(0.03, 0.08))], "far_hill", tone=0.1))
        shapes.append(Shape([_ridge(rng, hz + 0.02, 0.02)], str(rng.choice(["grass", "hill", "field"])), tone=0.1))
        for x in rng.choice([rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)], int(rng.integers(1, 3))):
            shapes += _tree(rng, x, hz + rng.uniform(0.03, 0.12), rng.uniform(0.15, 0.3), "round")
    elif bg < 0.32:  # a room: window or door beside the sitter
        x0 = rng.choice([rng.uniform(-0.05, 0.08), rng.uniform(0.68, 0.8)])
        y0 = rng.uniform(0.02, 0.15)
        if rng.random() < 0.6:
            shapes += _window(x0, y0, x0 + rng.uniform(0.2, 0.3), y0 + rng.uniform(0.35, 0.5))
        else:
            shapes.append(Shape([rect(x0, y0, x0 + 0.25, 1.2)], "wood", relief=0.4))
    elif bg < 0.45:  # window with sky on one side
        x0 = rng.choice([rng.uniform(-0.1, 0.05), rng.uniform(0.7, 0.85)])
        shapes.append(Shape([rect(x0, rng.uniform(0.0, 0.15), x0 + rng.uniform(0.25, 0.35), rng.uniform(0.5, 0.7))],
                            "sky", tone=0.3, gy=0.3))
    elif bg < 0.6:  # curtain
        side = rng.choice([-1, 1])
        xs = np.linspace(-0.1, rng.uniform(0.15, 0.3), 8)
        ys = np.linspace(-0.1, 1.2, 8)
        pts = np.concatenate([[[-1.0, -0.1]], np.stack([xs[-1] + 0.04 * np.sin(ys * 14), ys], 1), [[-1.0, 1.2]]])
        if side > 0:
            pts[:, 0] = 1 - pts[:, 0]
        shapes.append(Shape([pts], "cloth2", relief=0.7))
    # bust
    sw = rx * rng.uniform(2.6, 3.6)
    ny = cy + ry * 0.95
    sy = ny + ry * rng.uniform(0.45, 0.7)
    bx = cx + turn * rx * 0.3
    bust = np.array([[bx - sw, _BIG[1]], [bx - sw, sy + 0.12], [bx - sw * 0.85, sy + 0.02], [bx - sw * 0.45, sy - 0.02],
                     [bx + sw * 0.45, sy - 0.02], [bx + sw * 0.85, sy + 0.02], [bx + sw, sy + 0.12], [bx + sw, _BIG[1]]])
    hair_long = rng.random() < 0.45
    hair_role = "hair"
    if hair_long:
        shapes.append(Shape([_blob(rng, cx, cy + ry * 0.35, rx * 1.35, ry * 1.35, 0.06)], hair_role, relief=0.6))
    shapes.append(Shape([rect(cx - rx * 0.38, cy + ry * 0.5, cx + rx * 0.38, sy + 0.02)], "skin", tone=-0.3,
                        relief=0.5))
    shapes.append(Shape([bust], str(rng.choice(["cloth", "cloth2", "dark", "foliage"], p=[0.45, 0.25, 0.2, 0.1])),
                        relief=0.7, centre=(bx, sy + 0.25), radius=(sw, 0.35)))
    collar = rng.random()
    if collar < 0.35:  # white collar
        shapes.append(Shape([np.array([[cx - rx * 0.7, sy - 0.03], [cx + rx * 0.7, sy - 0.03], [cx, sy + ry * 0.6]])],
                            "collar", relief=0.4))
    elif collar < 0.5:  # ruff
        shapes.append(Shape([ellipse(cx, sy - 0.01, rx * 1.1, ry * 0.28)], "collar", relief=0.6))
    # head
    shapes.append(Shape([ellipse(cx + turn * rx * 0.9, cy, rx * 0.2, ry * 0.26)], "skin", tone=-0.1))  # ear
    shapes.append(Shape([ellipse(cx - turn * rx * 0.15, cy + ry * 0.05, rx, ry)], "skin", relief=1.0, tone=0.05))
    # hair cap
    cap = ellipse(cx - turn * rx * 0.15, cy - ry * 0.05, rx * 1.08, ry * 1.02, 0, 20, 180, 360)
    fringe_y = cy - ry * rng.uniform(0.3, 0.55)
    cap = np.concatenate([cap, [[cx + rx * 1.02, fringe_y + ry * 0.25], [cx + rx * 0.4, fringe_y],
                                [cx - rx * 0.3, fringe_y + ry * rng.uniform(-0.05, 0.15)], [cx - rx * 1.02, fringe_y + ry * 0.25]]])
    shapes.append(Shape([cap], hair_role, relief=0.7))
    # face features
    fx = cx - turn * rx * 0.45
    ey = cy + ry * rng.uniform(-0.05, 0.08)
    ed = rx * rng.uniform(0.36, 0.44)
    for side in (-1, 1):
        shrink = 1 - 0.5 * max(0.0, side * turn / 0.35) * 0.5
        ex = fx + side * ed * shrink
        shapes.append(Shape([ellipse(ex, ey, rx * 0.17 * shrink, ry * 0.065)], "eye_white"))
        shapes.append(Shape([ellipse(ex - turn * rx * 0.08, ey, rx * 0.075, ry * 0.065)], "eye"))
        shapes.append(Shape([np.array([[ex - rx * 0.2 * shrink, ey - ry * 0.16], [ex, ey - ry * 0.22],
                                       [ex + rx * 0.2 * shrink, ey - ry * 0.17]])], hair_role, width=ry * 0.05))
    ny_tip = cy + ry * 0.38
    shapes.append(Shape([np.array([[fx - turn * rx * 0.1, ey + ry * 0.05], [fx - turn * rx * 0.3 - rx * 0.05, ny_tip],
                                   [fx + rx * 0.1, ny_tip + ry * 0.03]])], "skin_shadow", width=ry * 0.045))
    my = cy + ry * rng.uniform(0.55, 0.65)
    shapes.append(Shape([ellipse(fx - turn * rx * 0.2, my, rx * rng.uniform(0.22, 0.32), ry * 0.06)], "lips",
                        relief=0.4))
    if rng.random() < 0.2:  # hat
        hy = cy - ry * 0.75
        shapes.append(Shape([ellipse(cx, hy, rx * 1.6, ry * 0.18)], "dark", relief=0.4))
        shapes.append(Shape([rect(cx - rx * 0.9, hy - ry * 0.7, cx + rx * 0.9, hy)], "dark", relief=0.5))
    return Scene(shapes, _light(rng), subject="portrait")


# --------------------------------------------------------------------------- still life
def _vase(cx: float, base: float, h: float, w: float, rng: np.random.Generator) -> np.ndarray:
    t = np.linspace(0, 1, 18)
    a, b = rng.uniform(0.3, 0.6), rng.uniform(0.15, 0.35)
    r = w * (0.55 + 0.45 * np.sin(np.pi * (t * 0.85 + 0.05)) ** a) * (1 - (1 - b) * np.clip((t - 0.7) / 0.3, 0, 1))
    r[-1] = r[-2] * 1.25
    y = base - h * t
    return np.concatenate([np.stack([cx - r, y], 1), np.stack([cx + r, y], 1)[::-1]])


def compose_still_life(rng: np.random.Generator) -> Scene:
    """A table against a wall with vases, bottles, bowls and fruit casting shadows."""
    light = _light(rng)
    ty = rng.uniform(0.5, 0.66)
    front = ty + rng.uniform(0.15, 0.3)
    shapes = [Shape([rect(_BIG[0], _BIG[0], _BIG[1], ty + 0.01)], str(rng.choice(["wall", "wall2", "backdrop"])),
                    tone=0.1, gx=0.25 * light[0], gy=0.1, centre=(0.5, 0.4), radius=(0.6, 0.6))]
    if rng.random() < 0.3:  # drape on the wall
        x0 = rng.uniform(-0.2, 0.5)
        xs = np.linspace(x0, x0 + rng.uniform(0.3, 0.6), 10)
        top = rng.uniform(-0.1, 0.15) + 0.03 * np.sin(xs * 25)
        pts = np.concatenate([np.stack([xs, top], 1), [[xs[-1], ty], [xs[0], ty]]])
        shapes.append(Shape([pts], "cloth2", relief=0.8))
    context = rng.random()
    if context < 0.25:  # a window in the wall behind
        wx = rng.uniform(-0.05, 0.7)
        shapes += _window(wx, rng.uniform(0.0, 0.1), wx + rng.uniform(0.25, 0.4), ty - rng.uniform(0.05, 0.15))
    elif context < 0.4:  # a picture on the wall
        px = rng.uniform(0.05, 0.6)
        py = rng.uniform(0.05, 0.15)
        shapes.append(Shape([rect(px, py, px + 0.3, py + 0.22)], "metal", relief=0.3))
        shapes.append(Shape([rect(px + 0.02, py + 0.02, px + 0.28, py + 0.2)], str(rng.choice(["foliage", "sky", "backdrop"]))))
    cloth = rng.random() < 0.5
    top_role = "tablecloth" if cloth else "wood"
    x_left, x_right = rng.uniform(-0.4, 0.05), rng.uniform(0.95, 1.4)
    shapes.append(Shape([rect(x_left, ty, x_right, front)], top_role, tone=0.1, gy=-0.2, centre=(0.5, ty),
                        radius=(0.5, 0.3)))
    shapes.append(Shape([rect(x_left, front, x_right, _BIG[1])], "wood", tone=-0.4, relief=0.2))
    if cloth:  # hanging cloth with folds
        xs = np.linspace(x_left, x_right, 14)
        hang = front + rng.uniform(0.05, 0.2) + 0.03 * np.sin(xs * 30)
        pts = np.concatenate([[[x_left, front]], np.stack([xs, hang], 1), [[x_right, front]]])
        shapes.append(Shape([pts], "tablecloth", tone=-0.15, relief=0.5))
    n = int(rng.integers(3, 8))
    xs = np.sort(rng.uniform(0.12, 0.88, n))
    kinds = rng.choice(["vase", "bottle", "bowl", "fruit", "grapes", "jug"], n, p=[0.17, 0.16, 0.12, 0.3, 0.1, 0.15])
    kinds[rng.integers(n)] = rng.choice(["vase", "bottle", "jug"])  # at least one tall object
    objects = sorted((ty + (front - ty) * rng.uniform(0.05, 0.85), x, str(kind)) for x, kind in zip(xs, kinds))
    shadows: list[tuple[np.ndarray, float]] = []
    for base, x, kind in objects:
        s = rng.uniform(1.05, 1.6)
        shadow_dx = -light[0] * 0.08 * s
        if kind in ("vase", "bottle", "jug"):
            hgt = {"vase": 0.3, "bottle": 0.34, "jug": 0.22}[kind] * s
            w = {"vase": 0.07, "bottle": 0.045, "jug": 0.07}[kind] * s
            shadow = ellipse(x + shadow_dx, base, w * 1.6, 0.02)
            if kind == "bottle":
                body = np.array([[x - w, base], [x - w, base - hgt * 0.62], [x - w * 0.35, base - hgt * 0.75],
                                 [x + w * 0.35, base - hgt * 0.75], [x + w, base - hgt * 0.62], [x + w, base]])
                shapes.append(Shape([body], "bottle", relief=1.0))
                shapes.append(Shape([rect(x - w * 0.3, base - hgt, x + w * 0.3, base - hgt * 0.7)], "bottle",
                                    relief=0.8))
            else:
                role = str(rng.choice(["vase", "ceramic", "metal", "fruit_orange"], p=[0.45, 0.3, 0.15, 0.1]))
                shapes.append(Shape([_vase(x, base, hgt, w, rng)], role, relief=1.0))
                if kind == "vase" and rng.random() < 0.6:  # flowers
                    for _ in range(int(rng.integers(3, 8))):
                        fx, fy = x + rng.uniform(-0.12, 0.12) * s, base - hgt - rng.uniform(0.04, 0.16) * s
                        shapes.append(Shape([np.array([[x, base - hgt * 0.9], [fx, fy]])], "foliage", width=0.006))
                        shapes.append(Shape([_blob(rng, fx, fy, 0.03 * s, 0.03 * s, 0.3)],
                                            str(rng.choice(["flower", "fruit_yellow", "collar", "cloth2"])), relief=0.7))
                if kind == "jug":
                    shapes.append(Shape([ellipse(x + w * 1.05, base - hgt * 0.6, w * 0.4, hgt * 0.25, 0, 16, -90, 90)],
                                        role, width=0.012, relief=0.5))
        elif kind == "bowl":
            w = 0.12 * s
            shadow = ellipse(x + shadow_dx, base, w * 1.2, 0.02)
            for _ in range(int(rng.integers(2, 5))):
                shapes.append(Shape([ellipse(x + rng.uniform(-0.6, 0.6) * w, base - 0.07 * s, 0.04 * s, 0.04 * s)],
                                    str(rng.choice(["fruit_red", "fruit_orange", "fruit_yellow", "fruit_green"])),
                                    relief=1.0))
            bowl = np.concatenate([ellipse(x, base - 0.065 * s, w, 0.065 * s, 0, 16, 0, 180)[::-1],
                                   [[x - w, base - 0.065 * s]]])
            shapes.append(Shape([bowl], str(rng.choice(["ceramic", "metal", "vase"])), relief=0.9))
        elif kind == "grapes":
            shadow = ellipse(x + shadow_dx, base, 0.07 * s, 0.015)
            for _ in range(int(rng.integers(6, 12))):
                shapes.append(Shape([ellipse(x + rng.uniform(-0.05, 0.05) * s, base - rng.uniform(0.015, 0.09) * s,
                                             0.018 * s, 0.018 * s, 0, 16)], "grape", relief=1.0))
        else:  # fruit
            r = rng.uniform(0.045, 0.07) * s
            shadow = ellipse(x + shadow_dx, base, r * 1.5, 0.015)
            shapes.append(Shape([ellipse(x, base - r, r, r)],
                                str(rng.choice(["fruit_red", "fruit_orange", "fruit_yellow", "fruit_green"])),
                                relief=1.0))
        shadows.append((shadow, 0.45))
    return Scene(shapes, light, shadows=shadows, subject="still_life")


# --------------------------------------------------------------------------- cityscape
def _windows(x0: float, y0: float, x1: float, y1: float, rng: np.random.Generator) -> list[np.ndarray]:
    cols = int(rng.integers(2, 6))
    rows = max(1, int((y1 - y0) / rng.uniform(0.04, 0.07)))
    ww, wh = (x1 - x0) / cols, (y1 - y0) / rows
    out = []
    for i in range(rows):
        for j in range(cols):
            out.append(rect(x0 + (j + 0.28) * ww, y0 + (i + 0.25) * wh, x0 + (j + 0.72) * ww, y0 + (i + 0.75) * wh))
    return out


def _quad_grid(quad: np.ndarray, rows: int, cols: int) -> list[np.ndarray]:
    """Windows on a facade seen in perspective: bilinear cells of a quad (tl, tr, br, bl)."""
    tl, tr, br, bl = quad

    def at(u: float, v: float) -> np.ndarray:
        return (1 - v) * ((1 - u) * tl + u * tr) + v * ((1 - u) * bl + u * br)

    out = []
    for i in range(rows):
        for j in range(cols):
            u0, u1 = (j + 0.25) / cols, (j + 0.75) / cols
            v0, v1 = (i + 0.25) / rows, (i + 0.7) / rows
            out.append(np.array([at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)]))
    return out


def compose_cityscape(rng: np.random.Generator) -> Scene:
    """Buildings with windows and roofs against a skyline: a frontal row or a street in perspective."""
    light = _light(rng)
    shapes: list[Shape] = []
    if rng.random() < 0.62:  # frontal skyline along a street or a river
        ground = rng.uniform(0.6, 0.82)
        shapes.append(_sky(ground - 0.3))
        shapes += _clouds(rng, 0.03, 0.25, int(rng.integers(0, 4)))
        x = -0.1  # far row
        while x < 1.1:
            w = rng.uniform(0.05, 0.12)
            top = ground - rng.uniform(0.25, 0.5)
            shapes.append(Shape([rect(x, top, x + w, ground)], "far_hill", tone=0.25))
            x += w
        x = rng.uniform(-0.15, 0)
        while x < 1.1:
            w = rng.uniform(0.09, 0.22)
            top = ground - rng.uniform(0.15, 0.5)
            role = str(rng.choice(["building", "building2", "building3"]))
            shapes.append(Shape([rect(x, top, x + w, ground)], role, relief=0.3, gx=0.2 * light[0]))
            roof = rng.random()
            if roof < 0.3:
                shapes.append(Shape([np.array([[x - 0.005, top], [x + w + 0.005, top], [x + w / 2, top - w * 0.45]])],
                                    "roof", relief=0.4))
            elif roof < 0.4:
                shapes.append(Shape([ellipse(x + w / 2, top, w * 0.35, w * 0.35, 0, 20, 180, 360)], "dome", relief=0.9))
            elif roof < 0.5:
                shapes.append(Shape([np.array([[x + w * 0.3, top], [x + w * 0.7, top], [x + w / 2, top - w * 1.3]])],
                                    "roof", relief=0.4))
            elif roof < 0.6:
                shapes.append(Shape([rect(x + w * 0.7, top - 0.04, x + w * 0.82, top)], "roof"))
            lit = rng.random() < 0.25
            shapes.append(Shape(_windows(x + 0.01, top + 0.02, x + w - 0.01, ground - 0.04, rng),
                                "window_lit" if lit else "window"))
            shapes.append(Shape([rect(x + w * 0.4, ground - 0.05, x + w * 0.6, ground)], "window"))
            x += w + rng.uniform(0, 0.03)
        water = rng.random() < 0.4
        shapes.append(Shape([rect(_BIG[0], ground, _BIG[1], _BIG[1])], "water" if water else "street", tone=0.1,
                            gy=-0.3, centre=(0.5, ground), radius=(0.5, 0.5)))
        if not water and rng.random() < 0.35:  # street trees
            for x in np.sort(rng.uniform(0, 1, int(rng.integers(2, 6)))):
                shapes += _tree(rng, x, ground + rng.uniform(0.02, 0.1), rng.uniform(0.15, 0.3), "round")
        if water:
            lines = [np.array([[xx - 0.04, yy], [xx + 0.04, yy]]) for xx, yy in
                     zip(rng.uniform(0, 1, 25), rng.uniform(ground + 0.02, 1, 25))]
            shapes.append(Shape(lines, "foam", width=0.005))
        elif rng.random() < 0.6:  # pavement and lamp posts / figures
            shapes.append(Shape([rect(_BIG[0], ground, _BIG[1], ground + 0.03)], "building3", tone=0.1))
            for xx in rng.uniform(0.05, 0.95, int(rng.integers(1, 6))):
                yy = rng.uniform(ground + 0.05, 0.98)
                hh = 0.04 + 0.1 * (yy - ground) / (1 - ground)
                shapes.append(Shape([ellipse(xx, yy - hh * 0.6, hh * 0.22, hh * 0.5)], "dark", relief=0.3))
                shapes.append(Shape([ellipse(xx, yy - hh * 1.2, hh * 0.14, hh * 0.14)], "skin"))
    else:  # street in perspective
        vx, vy = rng.uniform(0.35, 0.65), rng.uniform(0.38, 0.55)
        shapes.append(_sky(vy))
        shapes += _clouds(rng, 0.03, 0.2, int(rng.integers(0, 3)))
        shapes.append(Shape([np.array([[vx, vy], [2.5, 1.4], [-1.5, 1.4]])], "street", tone=0.1, gy=-0.3,
                            centre=(vx, vy), radius=(0.5, 0.5)))
        for side in (-1, 1):
            edge = vx + side * rng.uniform(0.03, 0.08)
            near = 0.5 + side * 0.75
            tops = rng.uniform(0.0, 0.25)
            # split the facade wall into buildings along the depth
            ts = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0.05, 0.95, int(rng.integers(2, 5)))]))
            for a, b in zip(ts[:-1], ts[1:]):
                xa, xb = near + (edge - near) * a, near + (edge - near) * b
                top_near = -0.2 + tops + rng.uniform(-0.08, 0.12)
                ya_top = top_near + (vy - 0.1 - top_near) * a
                yb_top = top_near + (vy - 0.1 - top_near) * b
                ya_bot = 1.15 + (vy + 0.02 - 1.15) * a
                yb_bot = 1.15 + (vy + 0.02 - 1.15) * b
                quad = np.array([[xa, ya_top], [xb, yb_top], [xb, yb_bot], [xa, ya_bot]])
                shapes.append(Shape([quad], str(rng.choice(["building", "building2", "building3"])), relief=0.2,
                                    tone=0.15 * side * light[0]))
                inner = quad.copy()
                inner[2:, 1] = quad[:2, 1][::-1] + (quad[2:, 1] - quad[:2, 1][::-1]) * 0.85
                shapes.append(Shape(_quad_grid(inner, int(rng.integers(3, 7)), max(1, int((b - a) * 10))),
                                    "window_lit" if rng.random() < 0.2 else "window"))
        if rng.random() < 0.25:  # trees along the pavements
            for t in np.sort(rng.uniform(0.1, 0.8, int(rng.integers(2, 5)))):
                side = rng.choice([-1, 1])
                yy = vy + (1.05 - vy) * t
                shapes += _tree(rng, vx + side * (0.1 + 0.55 * t), yy, 0.08 + 0.35 * t, "round")
        for t in np.sort(rng.uniform(0.2, 0.9, int(rng.integers(0, 5)))):  # figures on the street
            yy = vy + (1.05 - vy) * t
            xx = vx + rng.uniform(-0.6, 0.6) * t
            hh = 0.03 + 0.18 * t
            shapes.append(Shape([ellipse(xx, yy - hh * 0.6, hh * 0.22, hh * 0.5)], "dark", relief=0.3))
            shapes.append(Shape([ellipse(xx, yy - hh * 1.2, hh * 0.14, hh * 0.14)], "skin"))
    return Scene(shapes, light, subject="cityscape")


# --------------------------------------------------------------------------- interior
def compose_interior(rng: np.random.Generator) -> Scene:
    """A room in perspective: back wall, side walls, floor, ceiling, a window, furniture, a rug."""
    light = _light(rng)
    vx, vy = rng.uniform(0.35, 0.65), rng.uniform(0.4, 0.55)
    bw, bh = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.55)
    x0 = vx - bw * rng.uniform(0.35, 0.65)
    y0 = vy - bh * rng.uniform(0.4, 0.6)
    x1, y1 = x0 + bw, y0 + bh
    far = -1.2
    wall_role = str(rng.choice(["wall", "wall2", "building3", "dome"], p=[0.4, 0.3, 0.2, 0.1]))
    shapes = [
        Shape([np.array([[far, far], [2.2, far], [x1, y0], [x0, y0]])], "ceiling", tone=0.1),
        Shape([np.array([[far, far], [x0, y0], [x0, y1], [far, 2.2]])], wall_role, tone=0.15 * -light[0] - 0.1),
        Shape([np.array([[2.2, far], [2.2, 2.2], [x1, y1], [x1, y0]])], wall_role, tone=0.15 * light[0] - 0.1),
        Shape([rect(x0, y0, x1, y1)], wall_role, tone=0.15, relief=0.3),
        Shape([np.array([[x0, y1], [x1, y1], [2.2, 2.2], [far, 2.2]])], "floor", tone=0.0, gy=-0.2,
              centre=(vx, y1), radius=(0.5, 0.5)),
    ]

    def floor_line(x: float) -> np.ndarray:  # from the back wall bottom edge to the viewer
        return np.array([[x, y1], [vx + (x - vx) * 6, y1 + (y1 - vy) * 5 + 1.5]])

    if rng.random() < 0.6:
        shapes.append(Shape([floor_line(x) for x in np.linspace(x0, x1, int(rng.integers(5, 10)))], "wood",
                            width=0.004))
    # window on the back wall or a side wall
    if rng.random() < 0.55:
        wx0 = x0 + bw * rng.uniform(0.1, 0.4)
        wx1 = wx0 + bw * rng.uniform(0.25, 0.45)
        wy0, wy1 = y0 + bh * rng.uniform(0.1, 0.2), y0 + bh * rng.uniform(0.55, 0.75)
        pane = rect(wx0, wy0, wx1, wy1)
        shapes.append(Shape([pane], "sky", tone=0.4))
        if rng.random() < 0.5:  # hills seen through the window
            xs = np.linspace(wx0, wx1, 12)
            top = wy0 + (wy1 - wy0) * rng.uniform(0.55, 0.8) + 0.015 * np.sin(xs * 40 + rng.uniform(0, 6))
            shapes.append(Shape([np.concatenate([np.stack([xs, top], 1), [[wx1, wy1], [wx0, wy1]]])], "far_hill"))
        mull = [np.array([[(wx0 + wx1) / 2, wy0], [(wx0 + wx1) / 2, wy1]]), np.array([[wx0, (wy0 + wy1) / 2],
                                                                                       [wx1, (wy0 + wy1) / 2]])]
        shapes.append(Shape([pane], "wood", width=0.012, closed=True))
        shapes.append(Shape(mull, "wood", width=0.008))
        lightpatch = np.array([[wx0, y1 + 0.02], [wx1, y1 + 0.02], [wx1 + 0.15 * light[0], y1 + 0.25],
                               [wx0 + 0.15 * light[0], y1 + 0.25]])
        shadows = [(lightpatch, -0.35)]
    else:
        side = rng.choice([-1, 1])
        xa, xb = (x0 - 0.18, x0 - 0.05) if side < 0 else (x1 + 0.05, x1 + 0.18)
        quad = np.array([[xa, y0 + 0.02 - (0.1 if side < 0 else 0.02)], [xb, y0 + 0.05 - (0.0 if side < 0 else 0.1)],
                         [xb, y1 - 0.05 + (0.0 if side < 0 else 0.1)], [xa, y1 - 0.02 + (0.1 if side < 0 else 0.02)]])
        shapes.append(Shape([quad], "sky", tone=0.45))
        shapes.append(Shape([quad], "wood", width=0.01, closed=True))
        shadows = []
    if rng.random() < 0.5:  # picture on the wall
        px0 = x0 + bw * rng.uniform(0.05, 0.6)
        pw, ph = bw * rng.uniform(0.15, 0.3), bh * rng.uniform(0.15, 0.3)
        py0 = y0 + bh * rng.uniform(0.1, 0.3)
        shapes.append(Shape([rect(px0, py0, px0 + pw, py0 + ph)], "metal", relief=0.3))
        shapes.append(Shape([rect(px0 + 0.012, py0 + 0.012, px0 + pw - 0.012, py0 + ph - 0.012)],
                            str(rng.choice(["foliage", "sky", "backdrop", "cloth2"]))))
    if rng.random() < 0.5:  # door on the back wall
        dx0 = x0 + bw * rng.uniform(0.55, 0.8)
        shapes.append(Shape([rect(dx0, y1 - bh * 0.7, dx0 + bw * 0.18, y1)], "wood", relief=0.3))
    if rng.random() < 0.6:  # rug
        rx0, rx1 = rng.uniform(0.05, 0.4), rng.uniform(0.6, 0.95)
        ry0, ry1 = y1 + rng.uniform(0.05, 0.12), y1 + rng.uniform(0.22, 0.4)
        shapes.append(Shape([np.array([[rx0 + 0.05, ry0], [rx1 - 0.05, ry0], [rx1, ry1], [rx0, ry1]])], "rug",
                            relief=0.2))
    # furniture: a table and / or chairs and a cupboard
    for item in rng.choice(["table", "chair", "cupboard", "bed", "lamp"], size=int(rng.integers(2, 4)), replace=False):
        fx = rng.uniform(0.15, 0.85)
        fy = y1 + rng.uniform(0.12, 0.4)
        s = 0.6 + (fy - y1) * 2.0
        if item == "table":
            tw, td = 0.18 * s, 0.05 * s
            top = np.array([[fx - tw + 0.02, fy - 0.16 * s], [fx + tw - 0.02, fy - 0.16 * s], [fx + tw, fy - 0.16 * s + td],
                            [fx - tw, fy - 0.16 * s + td]])
            legs = [np.array([[fx + dx, fy - 0.16 * s + td], [fx + dx, fy + 0.02]]) for dx in (-tw * 0.9, tw * 0.9)]
            shapes.append(Shape(legs, "wood", width=0.012 * s))
            shapes.append(Shape([top], str(rng.choice(["wood", "tablecloth"])), relief=0.3))
            if rng.random() < 0.6:
                shapes.append(Shape([_vase(fx, fy - 0.16 * s + td / 2, 0.1 * s, 0.025 * s, rng)], "vase", relief=1.0))
            for _ in range(int(rng.integers(0, 4))):
                r = 0.02 * s
                shapes.append(Shape([ellipse(fx + rng.uniform(-0.7, 0.7) * tw, fy - 0.16 * s + td / 2 - r, r, r)],
                                    str(rng.choice(["fruit_red", "fruit_orange", "fruit_yellow"])), relief=1.0))
        elif item == "chair":
            cw = 0.06 * s
            shapes.append(Shape([rect(fx - cw, fy - 0.3 * s, fx + cw, fy - 0.12 * s)], "wood", relief=0.3))
            shapes.append(Shape([np.array([[fx - cw, fy - 0.12 * s], [fx + cw, fy - 0.12 * s], [fx + cw * 1.2, fy - 0.09 * s],
                                           [fx - cw * 1.2, fy - 0.09 * s]])], "cloth2", relief=0.3))
            shapes.append(Shape([np.array([[fx + d, fy - 0.09 * s], [fx + d, fy]]) for d in (-cw * 1.1, cw * 1.1)],
                                "wood", width=0.01 * s))
        elif item == "cupboard":
            cx0 = rng.choice([x0 + 0.02, x1 - 0.2])
            shapes.append(Shape([rect(cx0, y1 - bh * 0.55, cx0 + 0.18, y1 + 0.01)], "wood", relief=0.5))
            shapes.append(Shape([np.array([[cx0 + 0.09, y1 - bh * 0.5], [cx0 + 0.09, y1 - 0.01]])], "dark", width=0.005))
        elif item == "bed":
            bw2 = 0.3 * s
            shapes.append(Shape([rect(fx - bw2, fy - 0.12 * s, fx + bw2, fy)], "wood", relief=0.3))
            shapes.append(Shape([rect(fx - bw2 * 0.95, fy - 0.16 * s, fx + bw2 * 0.95, fy - 0.08 * s)], "tablecloth",
                                relief=0.6))
        else:  # standing lamp
            shapes.append(Shape([np.array([[fx, fy], [fx, fy - 0.35 * s]])], "dark", width=0.006 * s))
            shapes.append(Shape([np.array([[fx - 0.05 * s, fy - 0.33 * s], [fx + 0.05 * s, fy - 0.33 * s],
                                           [fx + 0.03 * s, fy - 0.42 * s], [fx - 0.03 * s, fy - 0.42 * s]])],
                                "window_lit", tone=0.3))
    if rng.random() < 0.3:  # someone in the room
        fy = y1 + rng.uniform(0.1, 0.4)
        shapes += _figure(rng, rng.uniform(0.2, 0.8), fy, 0.5 * (0.6 + (fy - y1) * 2.0))
    return Scene(shapes, light, shadows=shadows, subject="interior")


# --------------------------------------------------------------------------- abstract
_ACCENTS = ["accent1", "accent2", "accent3", "accent4", "accent5", "accent6", "accent7", "sky", "fruit_orange"]


def compose_abstract(rng: np.random.Generator) -> Scene:
    """A non-figurative composition: floating geometry, a Mondrian grid, colour fields or organic forms."""
    mode = rng.choice(["geometric", "grid", "fields", "organic"], p=[0.35, 0.2, 0.2, 0.25])
    bg = str(rng.choice(["accent5", "light", "wall", "backdrop", "accent2", "sky_low"]))
    shapes = [Shape([rect(_BIG[0], _BIG[0], _BIG[1], _BIG[1])], bg, tone=0.1, gx=rng.uniform(-0.3, 0.3),
                    gy=rng.uniform(-0.3, 0.3), centre=(0.5, 0.5), radius=(0.5, 0.5))]
    acc = list(rng.permutation(_ACCENTS))
    if mode == "geometric":  # floating circles, triangles, bars, lines and arcs
        if rng.random() < 0.5:  # a ground split into bands
            y = rng.uniform(0.3, 0.7)
            shapes.append(Shape([rect(_BIG[0], y, _BIG[1], _BIG[1])], str(rng.choice(acc[5:])), tone=0.1,
                                gy=-0.2, centre=(0.5, y), radius=(0.5, 0.5)))
        for _ in range(int(rng.integers(8, 18))):
            kind = rng.choice(["circle", "tri", "rect", "line", "arc"], p=[0.28, 0.2, 0.2, 0.17, 0.15])
            x, y, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.28)
            role = str(rng.choice(acc[:5]))
            if kind == "circle":
                shapes.append(Shape([ellipse(x, y, r, r)], role, relief=rng.uniform(0, 0.6)))
            elif kind == "tri":
                a = rng.uniform(0, 2 * np.pi)
                pts = [[x + r * np.cos(a + t), y + r * np.sin(a + t)] for t in (0, 2.1, 4.2)]
                shapes.append(Shape([np.array(pts)], role))
            elif kind == "rect":
                shapes.append(Shape([ellipse(x, y, r, r * rng.uniform(0.2, 0.6), rng.uniform(0, 180), 4)], role))
            elif kind == "line":
                a = rng.uniform(0, np.pi)
                shapes.append(Shape([np.array([[x - np.cos(a) * r * 2, y - np.sin(a) * r * 2],
                                               [x + np.cos(a) * r * 2, y + np.sin(a) * r * 2]])], "accent6",
                                    width=rng.uniform(0.006, 0.02)))
            else:
                shapes.append(Shape([ellipse(x, y, r, r, 0, 20, rng.uniform(0, 180), rng.uniform(200, 350))], role,
                                    width=rng.uniform(0.01, 0.03)))
    elif mode == "grid":
        xs = np.sort(np.concatenate([[-0.5, 1.5], rng.uniform(0.05, 0.95, int(rng.integers(2, 5)))]))
        ys = np.sort(np.concatenate([[-0.5, 1.5], rng.uniform(0.05, 0.95, int(rng.integers(2, 5)))]))
        for i in range(len(xs) - 1):
            for j in range(len(ys) - 1):
                if rng.random() < 0.35:
                    shapes.append(Shape([rect(xs[i], ys[j], xs[i + 1], ys[j + 1])],
                                        str(rng.choice(["accent1", "accent2", "accent3", acc[0]]))))
        lines = [np.array([[x, -0.5], [x, 1.5]]) for x in xs[1:-1]] + [np.array([[-0.5, y], [1.5, y]]) for y in ys[1:-1]]
        shapes.append(Shape(lines, "accent6", width=rng.uniform(0.012, 0.03)))
    elif mode == "fields":  # soft-edged stacked colour fields
        n = int(rng.integers(2, 4))
        heights = rng.dirichlet(np.full(n, 4.0)) * rng.uniform(0.78, 0.9)
        gap = (1 - heights.sum()) / (n + 1)
        y = gap
        half_w = rng.uniform(0.36, 0.44)
        for j in range(n):
            shapes.append(Shape([_superellipse(rng, 0.5, y + heights[j] / 2, half_w, heights[j] / 2)], str(acc[j]),
                                tone=rng.uniform(-0.2, 0.2), relief=0.3))
            y += heights[j] + gap
    else:  # organic
        for _ in range(int(rng.integers(5, 12))):
            shapes.append(Shape([_blob(rng, rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.07, 0.25),
                                       rng.uniform(0.07, 0.25), 0.35)], str(rng.choice(acc[:6])), relief=rng.uniform(0, 0.7)))
        for _ in range(int(rng.integers(1, 5))):
            t = np.linspace(0, 1, 20)
            x0, y0 = rng.uniform(0, 1, 2)
            pts = np.stack([x0 + 0.4 * t * np.cos(rng.uniform(0, 6)) + 0.05 * np.sin(t * 12),
                            y0 + 0.4 * t * np.sin(rng.uniform(0, 6)) + 0.05 * np.cos(t * 9)], 1)
            shapes.append(Shape([pts], "accent6", width=rng.uniform(0.004, 0.012)))
    return Scene(shapes, _light(rng), subject="abstract")


COMPOSERS: dict[str, Callable[[np.random.Generator], Scene]] = {
    "landscape": compose_landscape,
    "seascape": compose_seascape,
    "portrait": compose_portrait,
    "still_life": compose_still_life,
    "cityscape": compose_cityscape,
    "interior": compose_interior,
    "abstract": compose_abstract,
}


def compose(subject: str, rng: np.random.Generator) -> Scene:
    """A seeded composition of `subject` (one of SUBJECTS)."""
    try:
        return COMPOSERS[subject](rng)
    except KeyError:
        raise ValueError(f"unknown subject {subject!r}; expected one of {SUBJECTS}") from None
