"""Frame times of the two WebGL scatter libraries considered for the explorer, at 100k points.

    python benchmarks/compare_map_libraries.py [--points 100000] [--seconds 5]

Packs regl-scatterplot 1.16.0 (with its peers regl 2.1.1 and pub-sub-es 3.0.0) from the npm
registry into a temporary folder, writes one page per library drawing the same points (8 Gaussian
blobs, coloured by blob), and lets headless Chromium pan and zoom each for a few seconds, recording
the interval between animation frames. deck.gl is the explorer's vendored bundle. This is the
measurement behind the README's choice of library; it needs node/npm and the system Chromium.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DECK = ROOT / "src" / "artsig" / "explorer_page" / "vendor" / "deck.gl-9.4.0.min.js"
BROWSER_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"]

COMMON = """
<canvas id="c" style="position:absolute;inset:0;width:100%;height:100%"></canvas><div id="d" style="position:absolute;inset:0"></div>
<script src="points.js"></script>
"""

REGL_PAGE = """<!DOCTYPE html><html><body style="margin:0;width:1400px;height:850px;overflow:hidden">""" + COMMON + """
<script src="regl.min.js"></script><script src="pubsub.js"></script><script src="regl-scatterplot.min.js"></script>
<script>
const canvas = document.getElementById('c');
const sp = createScatterplot.default({canvas, width: 1400, height: 850, pointSize: 3, colorBy: 'category',
  pointColor: ['#4e79a7','#f28e2b','#e15759','#76b7b2','#59a14f','#edc948','#b07aa1','#ff9da7']});
const n = P.x.length, x = new Float32Array(n), y = new Float32Array(n);
for (let i = 0; i < n; i++) { x[i] = P.x[i] / 50 - 1; y[i] = P.y[i] / 50 - 1; }
sp.draw({x, y, z: P.c}).then(() => { window.ready = true; });
window.move = (t) => sp.set({cameraTarget: [Math.sin(t) * 0.3, Math.cos(t) * 0.3], cameraDistance: 1.2 + Math.sin(2 * t) * 0.8});
</script></body></html>"""

DECK_PAGE = """<!DOCTYPE html><html><body style="margin:0;width:1400px;height:850px;overflow:hidden">""" + COMMON + """
<script src="deck.min.js"></script>
<script>
const {Deck, OrthographicView, ScatterplotLayer} = deck;
const n = P.x.length, pos = new Float32Array(2 * n), col = new Uint8Array(4 * n);
const pal = [[78,121,167],[242,142,43],[225,87,89],[118,183,178],[89,161,79],[237,201,72],[176,122,161],[255,157,167]];
for (let i = 0; i < n; i++) { pos[2*i] = P.x[i]; pos[2*i+1] = P.y[i]; col.set([...pal[P.c[i]], 255], 4*i); }
let vs = {target: [50, 50, 0], zoom: 3};
const layer = new ScatterplotLayer({id: 'dots', data: {length: n, attributes: {getPosition: {value: pos, size: 2}, getFillColor: {value: col, size: 4, normalized: true}}},
  radiusUnits: 'pixels', getRadius: 1.5});
const d = new Deck({parent: document.getElementById('d'), views: new OrthographicView({flipY: true}), viewState: vs, layers: [layer],
  onAfterRender: () => { window.ready = true; }});
window.move = (t) => { vs = {target: [50 + Math.sin(t) * 15, 50 + Math.cos(t) * 15, 0], zoom: 3 + Math.sin(2 * t)}; d.setProps({viewState: vs}); };
</script></body></html>"""

FRAMES = """async (seconds) => {
  const times = []; let last = performance.now(); const t0 = last;
  return await new Promise((resolve) => {
    function frame(now) { times.push(now - last); last = now; const t = (now - t0) / 1000; window.move(t);
      if (t < seconds) requestAnimationFrame(frame); else resolve(times); }
    requestAnimationFrame(frame);
  });
}"""


def npm_pack(spec: str, folder: Path) -> Path:
    """``npm pack`` one package into ``folder`` and unpack it; returns its package folder."""
    name = subprocess.run(["npm", "pack", "--silent", spec], cwd=folder, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    target = folder / name.removesuffix(".tgz")
    target.mkdir()
    subprocess.run(["tar", "xzf", name, "-C", str(target)], cwd=folder, check=True)
    return target / "package"


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="map-libraries-"))
    try:
        rs, regl, pubsub = (npm_pack(s, work) for s in ("regl-scatterplot@1.16.0", "regl@2.1.1", "pub-sub-es@3.0.0"))
        shutil.copy(rs / "dist" / "regl-scatterplot.min.js", work)
        shutil.copy(regl / "dist" / "regl.min.js", work)
        source = (pubsub / "dist" / "index.js").read_text()  # an ES module: made a global for the UMD bundle
        (work / "pubsub.js").write_text(re.sub(r"^export .*$", "", source, flags=re.M) + "\nwindow.createPubSub = createPubSub;\n")
        shutil.copy(DECK, work / "deck.min.js")
        rng = np.random.default_rng(0)
        c = rng.integers(0, 8, args.points)
        centres = rng.uniform(15, 85, (8, 2))
        xy = np.clip(centres[c] + rng.normal(scale=6, size=(args.points, 2)), 0, 100)
        (work / "points.js").write_text("const P = " + json.dumps({"x": np.round(xy[:, 0], 3).tolist(), "y": np.round(xy[:, 1], 3).tolist(), "c": c.tolist()}) + ";")
        (work / "regl.html").write_text(REGL_PAGE)
        (work / "deck.html").write_text(DECK_PAGE)
        report = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=BROWSER_ARGS)
            for name in ("regl", "deck"):
                page = browser.new_page(viewport={"width": 1400, "height": 850})
                errors = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto((work / f"{name}.html").as_uri())
                page.wait_for_function("window.ready === true", timeout=120_000)
                times = np.array(page.evaluate(FRAMES, args.seconds)[2:])
                report[name] = {"frames": len(times), "median_ms": round(float(np.median(times)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
                                "fps": round(1000 / float(np.mean(times)), 1), "errors": errors}
                page.close()
            browser.close()
        print(json.dumps({"points": args.points, **report}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
