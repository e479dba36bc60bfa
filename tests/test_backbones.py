"""backbones: trunks, preprocessing, weights errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from artsig import backbones as bb  # noqa: E402


def test_lite_trunk_pretrained_offline_and_preprocessing():
    trunk, prep = bb.load_backbone("efficientnet_lite0", weights="imagenet", device="cpu")
    assert prep.input_size == 224 and prep.mean == (127.0, 127.0, 127.0) and prep.std == (128.0, 128.0, 128.0)
    x = prep(np.full((2, 224, 224, 3), 255, np.uint8), channels_last=False)
    assert x.shape == (2, 3, 224, 224)
    assert torch.allclose(x, torch.full_like(x, 128 / 128))
    with torch.inference_mode():
        pooled, taps = trunk.forward_taps(x, trunk.tap_blocks())
    assert pooled.shape == (2, 1280) and trunk.feature_dim == 1280
    assert [t.shape[1] for t in taps.values()] == [24, 40, 80]
    # the full network (with its ImageNet classifier) is there for fine-tuning
    assert trunk.net._fc.out_features == 1000
    assert any(p.requires_grad for p in trunk.parameters())


@pytest.mark.parametrize("name", ["efficientnet_lite1", "mobilenet_v3_large", "densenet121", "resnet50"])
def test_random_weights_build(name):
    b = bb.load_backbone(name, weights=None, device="cpu")
    with torch.inference_mode():
        out = b.module(b.preprocess(np.zeros((1, b.input_size, b.input_size, 3), np.uint8)))
    assert out.shape == (1, b.feature_dim)


def test_torchvision_imagenet_preprocessing():
    _, prep = bb.load_backbone("mobilenet_v2", weights=None, device="cpu")
    assert prep.mean[0] == pytest.approx(0.485 * 255)


def test_missing_weights_error_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        import urllib.error

        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(bb.WeightsUnavailableError) as info:
        bb.load_backbone("vgg16", weights="imagenet", device="cpu")
    msg = str(info.value)
    assert "vgg16-397923af.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg and "weights=None" in msg


def test_weights_status_uses_cache_file(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(bb, "_network_reachable", lambda url, timeout=4.0: False)
    ok, reason = bb.weights_status("resnet50")
    assert not ok and "resnet50-" in reason
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / reason.split()[0]).write_bytes(b"")
    assert bb.weights_status("resnet50") == (True, "")
    assert bb.weights_status("efficientnet_lite2") == (True, "")


def test_keras_missing_weights_message(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(bb, "_network_reachable", lambda url, timeout=4.0: False)
    ok, reason = bb.weights_status("keras_vgg16")
    assert not ok and "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in reason


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone"):
        bb.load_backbone("alexnet", weights=None)
    with pytest.raises(ValueError, match="Keras"):
        bb.load_backbone("keras_vgg16")
