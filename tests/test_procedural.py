"""Tests of the procedural-art benchmark (artsig.procedural): small counts and sizes, seconds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from artsig.procedural import (
    ARTISTS,
    STYLE_PERIODS,
    STYLES,
    SUBJECTS,
    TRANSFORMS,
    View,
    generate_benchmark,
    plan_works,
    render_work,
    specimen_grid,
)
from artsig.procedural.generate import tables

COUNT, SIZE = 40, 64


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    metadata, links = generate_benchmark(root, count=COUNT, size=SIZE, seed=0, n_jobs=1, progress=False)
    return root, metadata, links


def _bytes(root, metadata):
    return [(root / f).read_bytes() for f in metadata["file"]]


def test_tables_columns_and_files(bench):
    root, metadata, links = bench
    assert len(metadata) == COUNT
    for col in ("image_id", "file", "artist", "style", "genre", "date", "motif", "motif_transform"):
        assert col in metadata.columns
    assert list(links.columns) == ["image_id_a", "image_id_b", "type"]
    assert metadata["image_id"].is_unique
    assert metadata["image_id"].iloc[0] == "pa00001"
    assert metadata["file"].iloc[0] == "images/pa00001.jpg"
    assert pd.api.types.is_integer_dtype(metadata["date"])
    assert set(metadata["style"]) <= set(STYLES)
    assert set(metadata["genre"]) <= set(SUBJECTS)
    assert (root / "spec.json").exists() and (root / "metadata.csv").exists() and (root / "links.csv").exists()
    from PIL import Image

    for f in metadata["file"][:5]:
        with Image.open(root / f) as im:
            assert im.size == (SIZE, SIZE) and im.mode == "RGB" and im.format == "JPEG"


def test_artists_styles_dates(bench):
    _, metadata, _ = bench
    by_name = {a.name: a for a in ARTISTS}
    assert len(ARTISTS) >= 16
    for style in STYLES:
        assert sum(a.style == style for a in ARTISTS) >= 2
    for a in ARTISTS:
        lo, hi = STYLE_PERIODS[a.style]
        assert lo <= a.start < a.end <= hi
    for _, row in metadata.iterrows():
        a = by_name[row["artist"]]
        assert a.style == row["style"]
        assert a.start <= row["date"] <= a.end


def test_deterministic_bytes(bench, tmp_path):
    root, metadata, links = bench
    again, again_links = generate_benchmark(tmp_path / "again", count=COUNT, size=SIZE, seed=0, n_jobs=2,
                                            progress=False)
    pd.testing.assert_frame_equal(metadata, again)
    pd.testing.assert_frame_equal(links, again_links)
    assert _bytes(root, metadata) == _bytes(tmp_path / "again", again)


def test_different_seed_differs(bench, tmp_path):
    root, metadata, _ = bench
    other, _ = generate_benchmark(tmp_path / "other", count=COUNT, size=SIZE, seed=1, n_jobs=1, progress=False)
    a, b = _bytes(root, metadata), _bytes(tmp_path / "other", other)
    assert sum(x != y for x, y in zip(a, b)) == COUNT
    assert not metadata[["style", "genre", "artist"]].equals(other[["style", "genre", "artist"]])


def test_render_work_single_image():
    img = render_work("portrait", "pop_art", seed=3, size=72)
    assert img.shape == (72, 72, 3) and img.dtype == np.uint8
    assert np.array_equal(img, render_work("portrait", "pop_art", seed=3, size=72))
    assert not np.array_equal(img, render_work("portrait", "pop_art", seed=4, size=72))
    mirrored = render_work("portrait", "realism", seed=3, size=72, view=View(mirror=True))
    assert mirrored.shape == (72, 72, 3)
    with pytest.raises(ValueError, match="style"):
        render_work("portrait", "baroque")
    with pytest.raises(ValueError, match="subject"):
        render_work("battle", "realism")


def test_specimen_grid_shape():
    grid = specimen_grid(styles=("realism", "pop_art"), genres=("portrait", "landscape", "abstract"), size=40, gap=1)
    assert grid.shape == (2 * 42, 3 * 42, 3) and grid.dtype == np.uint8


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_every_subject(style):
    for i, genre in enumerate(SUBJECTS):
        img = render_work(genre, style, seed=i, size=64)
        assert img.shape == (64, 64, 3)
        assert img.std() > 5  # not blank


def test_every_subject_and_style_present_and_imbalanced():
    works, _ = plan_works(600, seed=0)
    metadata, _ = tables(works, _)
    genres, styles = metadata["genre"].value_counts(), metadata["style"].value_counts()
    assert set(genres.index) == set(SUBJECTS) and set(styles.index) == set(STYLES)
    assert genres.max() >= 2.5 * genres.min()
    assert styles.max() >= 2.5 * styles.min()
    assert metadata["artist"].nunique() == len(ARTISTS)
    # the default count keeps every class above ~80 images
    works, fams = plan_works(2000, seed=0)
    metadata, _ = tables(works, fams)
    assert metadata["genre"].value_counts().min() >= 80
    assert metadata["style"].value_counts().min() >= 80


def test_motif_families_forward_in_time_and_links():
    works, families = plan_works(600, seed=2)
    metadata, links = tables(works, families)
    in_family = metadata["motif"].notna()
    assert 0.08 <= in_family.mean() <= 0.16
    assert metadata.loc[~in_family, "motif_transform"].isna().all()
    assert set(metadata.loc[in_family, "motif_transform"]) <= set(TRANSFORMS)
    expected = set()
    for _, fam in metadata[in_family].groupby("motif"):
        assert 3 <= len(fam) <= 8
        assert fam["genre"].nunique() == 1
        orig = fam[fam["motif_transform"] == "original"]
        assert len(orig) == 1
        assert (fam.drop(orig.index)["date"] > orig["date"].iloc[0]).all()
        faithful = fam[fam["motif_transform"].isin(["copy", "mirror", "crop", "rescale"])]
        assert (faithful["style"] == orig["style"].iloc[0]).all()
        assert (fam[fam["motif_transform"] == "restyle"]["style"] != orig["style"].iloc[0]).all()
        ids = sorted(fam["image_id"])
        expected |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
        keys = {works[int(i[2:]) - 1]["composition_key"] for i in ids}
        assert len(keys) == 1  # one composition shared by the family
    got = set(zip(links["image_id_a"], links["image_id_b"]))
    assert got == expected
    assert (links["type"] == "POSITIVE").all()
    assert (links["image_id_a"] < links["image_id_b"]).all()


def test_cache_reuse(bench):
    root, metadata, links = bench
    stamp = {f: (root / f).stat().st_mtime_ns for f in metadata["file"]}
    again, again_links = generate_benchmark(root, count=COUNT, size=SIZE, seed=0, progress=False)
    pd.testing.assert_frame_equal(metadata, again)
    pd.testing.assert_frame_equal(links, again_links)
    assert stamp == {f: (root / f).stat().st_mtime_ns for f in metadata["file"]}


def test_missing_image_is_rerendered(bench):
    root, metadata, _ = bench
    victim = root / metadata["file"].iloc[3]
    data = victim.read_bytes()
    victim.unlink()
    generate_benchmark(root, count=COUNT, size=SIZE, seed=0, progress=False)
    assert victim.read_bytes() == data


def test_refuses_other_spec_and_user_files(bench, tmp_path):
    root, _, _ = bench
    with pytest.raises(FileExistsError, match="another spec"):
        generate_benchmark(root, count=COUNT + 1, size=SIZE, seed=0, progress=False)
    with pytest.raises(FileExistsError, match="another spec"):
        generate_benchmark(root, count=COUNT, size=SIZE, seed=5, progress=False)
    assert json.loads((root / "spec.json").read_text())["count"] == COUNT
    user = tmp_path / "user"
    user.mkdir()
    (user / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match="no benchmark spec"):
        generate_benchmark(user, count=COUNT, size=SIZE, seed=0, progress=False)
    assert (user / "holiday.jpg").read_bytes() == b"not ours"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="count"):
        generate_benchmark(tmp_path / "x", count=0)
    with pytest.raises(ValueError, match="size"):
        generate_benchmark(tmp_path / "x", size=8)


def test_refuses_a_folder_drawn_by_another_generator_version(bench, tmp_path):
    import shutil

    root, metadata, _ = bench
    for victim, change in (("metadata.csv", lambda b: b.replace(b"m00", b"m99", 1)), (metadata["file"].iloc[0], lambda b: b[:-10] + b"\0" * 10)):
        copy = tmp_path / f"stale-{len(victim)}"
        shutil.copytree(root, copy)
        path = copy / victim
        changed = change(path.read_bytes())
        assert changed != path.read_bytes()
        path.write_bytes(changed)
        with pytest.raises(FileExistsError, match="another version of the procedural generator"):
            generate_benchmark(copy, count=COUNT, size=SIZE, seed=0, progress=False)
        assert path.read_bytes() == changed  # refused, not overwritten
