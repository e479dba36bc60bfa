"""inference: the ONNX Runtime engine gives torch's runner outputs within 1e-4, deterministically, cached once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig import features as F
from artsig import inference
from artsig.catalog import sha256_of
from artsig.images import fit, open_rgb
from conftest import write_image

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

PEOPLE_ART = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "peopleart-pd"


def real_images(tmp_path: Path, n: int = 4) -> list[Path]:
    """Real paintings from the shared development set when present, else noisy 300 x 220 JPEGs."""
    works = PEOPLE_ART / "works.csv"
    if works.is_file():
        paths = pd.read_csv(works)["path"].iloc[:: 97][:n]
        return [PEOPLE_ART / p for p in paths]
    return [write_image(tmp_path / f"w{i}.jpg", colour=(30 * i, 120, 200 - 20 * i), size=(300, 220), seed=i) for i in range(n)]


def batch(paths, size: int) -> np.ndarray:
    return np.stack([np.asarray(fit(open_rgb(p), size, "resize")) for p in paths])


@pytest.mark.parametrize("name", ["efficientnet_lite0", pytest.param("efficientnet_lite2", marks=pytest.mark.slow)])
def test_onnx_outputs_equal_torch_within_1e4(name, tmp_path):
    images = batch(real_images(tmp_path, 4), F._make_runner(name, "imagenet").input_size)
    torch_out = F._make_runner(name, "imagenet", "torch").build("cpu")(images)
    onnx_out = F._make_runner(name, "imagenet", "onnx", tmp_path / "data").build("cpu")(images)
    assert set(onnx_out) == set(torch_out) == {"pooled", "gram", "stats"}
    for key in ("pooled", "stats"):
        assert onnx_out[key].shape == torch_out[key].shape and onnx_out[key].dtype == np.float32
        assert np.abs(onnx_out[key] - torch_out[key]).max() < 1e-4, key
    # Gram entries reach a few hundred, where float32 steps are 3e-5: 1e-4 of the largest entry
    scale = max(1.0, float(np.abs(torch_out["gram"]).max()))
    assert np.abs(onnx_out["gram"] - torch_out["gram"]).max() < 1e-4 * scale


def test_onnx_numbers_do_not_depend_on_threads_or_batch(tmp_path):
    images = batch(real_images(tmp_path), 224)
    one = inference.onnx_runner("efficientnet_lite0", data_dir=tmp_path, threads=1)(images)
    for threads in (2, 3):
        many = inference.onnx_runner("efficientnet_lite0", data_dir=tmp_path, threads=threads)
        for key, value in many(images).items():
            np.testing.assert_array_equal(value, one[key])
            np.testing.assert_array_equal(many(images[:2])[key], one[key][:2])


def test_export_is_cached_under_the_data_folder(tmp_path, monkeypatch):
    path = inference.onnx_model("efficientnet_lite0", data_dir=tmp_path)
    assert path.parent == tmp_path / "cache" / "onnx" and path.suffix == ".onnx" and path.stat().st_size > 1e6
    monkeypatch.setattr(inference, "_export_bytes", lambda *a: (_ for _ in ()).throw(AssertionError("exported again")))
    assert inference.onnx_model("efficientnet_lite0", data_dir=tmp_path) == path
    inference._EXPORTED.clear()  # a new process: the cached file is read, not exported again
    assert inference.onnx_model("efficientnet_lite0", data_dir=tmp_path) == path


def test_torch_cache_key_is_unchanged_and_onnx_has_its_own():
    # the keys every existing feature cache was written under (before the ONNX engine existed)
    assert F._make_runner("efficientnet_lite0", "imagenet").key("resize") == "efficientnet_lite0-f41e5e8b2e41"
    assert F._make_runner("efficientnet_lite2", "imagenet").key("resize") == "efficientnet_lite2-73698c4be6bc"
    assert F._make_runner("efficientnet_lite0", "imagenet", "onnx").key("resize") != "efficientnet_lite0-f41e5e8b2e41"


def test_engine_choice(monkeypatch):
    monkeypatch.delenv(inference.ENGINE_ENV, raising=False)
    assert inference.resolve_engine("auto", "cpu") == "onnx"
    assert inference.resolve_engine("auto", "cuda") == "torch"
    assert inference.resolve_engine("torch", "cpu") == "torch"
    monkeypatch.setenv(inference.ENGINE_ENV, "torch")
    assert inference.resolve_engine("auto", "cpu") == "torch"
    with pytest.raises(ValueError, match="engine"):
        inference.resolve_engine("tensorrt", "cpu")
    with pytest.raises(ValueError, match="CPU"):
        inference.resolve_engine("onnx", "cuda")
    monkeypatch.setattr(inference, "onnx_available", lambda: False)
    monkeypatch.delenv(inference.ENGINE_ENV)
    assert inference.resolve_engine("auto", "cpu") == "torch"
    with pytest.raises(ImportError, match="onnxruntime"):
        inference.resolve_engine("onnx", "cpu")
    assert F.runner_engine("color_histogram", "onnx", "cpu") == "torch"  # no export: runs as before


def test_extract_engines_agree_and_cache_apart(tmp_path):
    rows = []
    for i in range(6):
        p = write_image(tmp_path / "imgs" / f"i{i}.png", colour=(40 * i, 90, 200), size=(80, 64), fmt="PNG", seed=i)
        rows.append(dict(image_id=f"i{i}", path=str(p), sha256=sha256_of(p)))
    catalog = pd.DataFrame(rows)
    data = tmp_path / "data"
    out = {e: F.extract_many(catalog, ["efficientnet_lite0", "channel_stats"], data_dir=data, device="cpu", engine=e, progress=False)
           for e in ("torch", "onnx")}
    for name in ("efficientnet_lite0", "channel_stats"):
        assert np.abs(out["onnx"][name] - out["torch"][name]).max() < 1e-4
    assert F.cache_folder("efficientnet_lite0", data, engine="onnx") != F.cache_folder("efficientnet_lite0", data, engine="torch")
    assert F.is_cached(catalog, "efficientnet_lite0", data_dir=data, engine="onnx", device="cpu")


def test_engine_threads_follow_the_cpus_unless_pinned(monkeypatch):
    from artsig import determinism

    monkeypatch.delenv("ARTSIG_THREADS", raising=False)
    assert determinism.inference_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("ARTSIG_THREADS", "3")
    assert determinism.inference_threads() == 3
