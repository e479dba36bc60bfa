import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artsig.images import ImageError, fit, load_array, load_image, open_rgb, thumbnail
from conftest import write_image


def test_decodes_png_webp_rgba_greyscale_to_rgb(tmp_path):
    for name, mode, fmt in [("a.png", "RGBA", "PNG"), ("b.webp", "RGB", "WEBP"), ("c.jpg", "L", "JPEG"), ("d.png", "P", "PNG")]:
        img = open_rgb(write_image(tmp_path / name, mode=mode, fmt=fmt))
        assert img.mode == "RGB" and img.size == (40, 30)


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    img.save(tmp_path / "rotated.jpg", exif=exif)
    assert open_rgb(tmp_path / "rotated.jpg").size == (20, 40)


def test_truncated_and_non_image_files_raise_naming_the_file(tmp_path):
    good = write_image(tmp_path / "good.jpg", size=(200, 200))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:600])
    (tmp_path / "notes.jpg").write_text("not an image")
    for bad in (truncated, tmp_path / "notes.jpg", tmp_path / "missing.jpg"):
        with pytest.raises(ImageError, match=bad.name):
            open_rgb(bad)


@pytest.mark.parametrize("mode", ["letterbox", "resize", "center_crop"])
def test_fit_gives_requested_size(mode):
    img = Image.new("RGB", (90, 30), (10, 200, 10))
    out = fit(img, (32, 48), mode)
    assert out.size == (32, 48)
    if mode == "letterbox":  # padded top and bottom, picture kept whole
        pixels = np.asarray(out)
        assert pixels[0, 16].sum() == 0 and pixels[24, 16, 1] > 150


def test_fit_rejects_unknown_mode_and_bad_size():
    img = Image.new("RGB", (10, 10))
    with pytest.raises(ValueError, match="mode"):
        fit(img, 8, "stretchy")
    with pytest.raises(ValueError, match="size"):
        fit(img, 0)


def test_load_array_is_cached_and_ordered(tmp_path):
    paths = [write_image(tmp_path / f"{i}.png", colour=(i * 50, 0, 0), fmt="PNG", seed=i) for i in range(3)]
    catalog = pd.DataFrame({"path": [str(p) for p in paths], "sha256": [f"{i:064x}" for i in range(3)]})
    first = load_array(catalog, 16, cache_dir=tmp_path / "cache", progress=False)
    assert first.shape == (3, 16, 16, 3) and first.dtype == np.uint8
    assert first[2, ..., 0].mean() > first[0, ..., 0].mean()
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    for p in paths:
        p.unlink()  # a cache hit must not touch the files
    np.testing.assert_array_equal(load_array(catalog, 16, cache_dir=tmp_path / "cache", progress=False), first)


def test_thumbnail_cached_on_disk(tmp_path):
    src = write_image(tmp_path / "big.jpg", size=(300, 200))
    thumb = thumbnail(src, 64, cache_dir=tmp_path / "thumbs")
    assert max(Image.open(thumb).size) == 64
    assert thumbnail(src, 64, cache_dir=tmp_path / "thumbs") == thumb
    assert load_image(src, 20).shape == (20, 20, 3)



def _finished_thumbnails(folder) -> dict[str, tuple[int, int]]:
    """{name: (inode, mtime_ns)} of the thumbnails in ``folder`` (not temporary or lock files)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.jpg") if not p.name.startswith(".")}


@pytest.mark.slow
def test_killed_thumbnail_export_resumes_without_redoing_finished_ones(tmp_path):
    """SIGKILL mid-way through an annotation export: the rerun keeps the finished thumbnails (same inode and
    mtime), makes the rest, and every thumbnail has the bytes of an uninterrupted run."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from artsig.annotation import export_clusters

    paths = [write_image(tmp_path / "imgs" / f"w{i:03d}.png", size=(480, 360), fmt="PNG", seed=i) for i in range(120)]
    table = pd.DataFrame({"cluster": [i % 4 for i in range(120)], "image_id": [p.stem for p in paths], "path": [str(p) for p in paths],
                          "date": np.nan, "known_links_in_cluster": 0, "decision": ""})
    table.to_csv(tmp_path / "table.csv", index=False)
    out, thumbs = tmp_path / "out", tmp_path / "out" / "clusters_thumbnails"
    script = textwrap.dedent(
        f"""
        import pandas as pd
        from artsig.annotation import export_clusters
        table = pd.read_csv({str(tmp_path / 'table.csv')!r}, keep_default_na=False, na_values={{"date": [""]}})
        export_clusters(table, {str(out)!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and len(_finished_thumbnails(thumbs) if thumbs.is_dir() else {}) < 10 and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _finished_thumbnails(thumbs)
    if not before or len(before) == len(table) or (out / "clusters.html").exists():
        pytest.skip(f"the subprocess made {len(before)} of {len(table)} thumbnails before the kill")
    time.sleep(0.01)  # a rewrite now would show in mtime_ns
    export_clusters(table, out)
    after = _finished_thumbnails(thumbs)
    assert len(after) == len(table)
    assert {name: after[name] for name in before} == before  # finished thumbnails were not redone
    export_clusters(table, tmp_path / "ref")
    ref = tmp_path / "ref" / "clusters_thumbnails"
    assert set(_finished_thumbnails(ref)) == set(after)
    for name in after:
        assert (thumbs / name).read_bytes() == (ref / name).read_bytes(), name
    assert (out / "clusters.html").read_text() == (tmp_path / "ref" / "clusters.html").read_text()


def test_odd_modes_become_faithful_rgb(tmp_path):
    from conftest import multi_frame, write_odd_modes

    by_name = {p.name: p for p in write_odd_modes(tmp_path)}
    for path in by_name.values():
        img = open_rgb(path)
        assert img.mode == "RGB" and img.size == (40, 30)
    grey16 = np.asarray(open_rgb(by_name["grey16.png"]))[..., 0]
    assert grey16.min() == 0 and grey16.max() == 255 and 100 < grey16.mean() < 155  # scaled, not clipped to white
    cmyk = np.asarray(open_rgb(by_name["cmyk.jpg"])).mean(axis=(0, 1))
    assert cmyk[0] > cmyk[2] + 60  # the orange written stays orange
    first = np.asarray(open_rgb(multi_frame(tmp_path / "anim.gif")))
    assert first[..., 0].mean() > 200 and first[..., 1].mean() < 50  # first (red) frame


def test_read_image_names_reasons(tmp_path):
    from artsig.images import read_image
    from conftest import multi_frame, png_header_only

    (tmp_path / "empty.png").write_bytes(b"")
    png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    for name, kind in [("empty.png", "empty file"), ("bomb.png", "too large"), ("missing.png", "vanished")]:
        with pytest.raises(ImageError, match=name) as info:
            read_image(tmp_path / name)
        assert info.value.kind == kind
    assert Image.MAX_IMAGE_PIXELS == 89478485  # PIL's limit is lifted per call only, never left changed
    _, info = read_image(multi_frame(tmp_path / "pages.tif", fmt="TIFF"))
    assert info["frames"] == 3 and info["notes"] == ["first of 3 frames used"]


PEAK_SCRIPT = """
import json, resource, sys
import pandas as pd
from artsig.catalog import scan_images
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
records = pd.DataFrame({"path": sys.argv[2:]})
catalog, quality = scan_images(records, root=sys.argv[1], progress=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"sizes": catalog[["width", "height"]].values.tolist(), "issues": quality["issue"].tolist(),
                  "details": quality["detail"].tolist(), "extra_mb": (after - before) / 1024}))
"""


@pytest.mark.slow
def test_20000_square_scans_are_read_at_reduced_resolution_in_bounded_memory(tmp_path):
    """A 400-megapixel PNG and JPEG (above PIL's bomb limit) are catalogued, and peak memory
    stays far below one full decode (20000 x 20000 x 3 bytes = 1144 MiB)."""
    import json
    import os
    import subprocess
    import sys

    from conftest import big_jpeg, big_png

    big_png(tmp_path / "scan-a.png", 20000, 20000)
    big_jpeg(tmp_path / "scan-b.jpg", 20000, 20000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(tmp_path), "scan-a.png", "scan-b.jpg"],
                         capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sizes"] == [[20000, 20000], [20000, 20000]]
    assert result["issues"] == ["large", "large"] and "reduced resolution" in result["details"][0]
    assert result["extra_mb"] < 400, f"peak memory grew by {result['extra_mb']:.0f} MiB"
    assert "(4000 x 4000)" in result["details"][0]  # 1/5 per side: under 16.8 megapixels
