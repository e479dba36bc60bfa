"""Import torchvision and umap where torchvision's C extension cannot load.

Some environments pair a CPU-only ``torch`` with a ``torchvision`` wheel built for
another torch (a CUDA build, or a different version). ``torchvision/_C.so`` then
fails to load and ``import torchvision`` dies with
``RuntimeError: operator torchvision::nms does not exist``, because torchvision
registers fake (meta) kernels for ``nms`` and ``qnms`` unconditionally. ``import
umap`` pulls in torchvision (through TensorFlow / torch integrations) and dies the
same way.

:func:`import_torchvision` checks whether the C extension loads. When it does,
nothing is touched and torchvision is imported as usual. When it does not, the two
operators ``torchvision::nms`` and ``torchvision::qnms`` are defined with pure-torch
CPU kernels before importing torchvision, so that models, transforms and
``torchvision.ops.nms`` work (the other C++ ops, e.g. ``roi_align`` or
``deform_conv2d``, stay unavailable and raise torchvision's own error when called).

Usage::

    from artsig.torch_compat import import_torchvision, import_umap
    torchvision = import_torchvision()
    umap = import_umap()
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

__all__ = [
    "import_torchvision",
    "import_umap",
    "torchvision_extension_loads",
    "fallbacks_registered",
    "nms_reference",
]

_STATE: dict[str, object] = {"fallbacks": False, "extension": None, "lib": None}


def _extension_path() -> Path | None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    for pattern in ("_C.so", "_C.*.so", "_C.pyd", "_C.*.pyd"):
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def torchvision_extension_loads() -> bool:
    """Whether ``torchvision``'s C++ extension loads into the installed torch.

    The answer is cached for the process. Loading it is what torchvision itself does
    on import, so a successful probe has no side effect beyond doing it early.
    """
    if _STATE["extension"] is not None:
        return bool(_STATE["extension"])
    import torch

    ok = False
    path = _extension_path()
    if path is not None:
        try:
            torch.ops.load_library(str(path))
            ok = True
        except (OSError, ImportError, RuntimeError):
            ok = False
    _STATE["extension"] = ok
    return ok


def fallbacks_registered() -> bool:
    """Whether this process runs torchvision with artsig's CPU fallback operators."""
    return bool(_STATE["fallbacks"])


def nms_reference(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression in plain torch (boxes as ``x1, y1, x2, y2``).

    Returns the kept indices sorted by decreasing score, like ``torchvision.ops.nms``.
    """
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=boxes.device)
    boxes = boxes.float()
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    order = torch.argsort(scores.float(), descending=True, stable=True)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    keep = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        xx1 = torch.maximum(x1[idx], x1)
        yy1 = torch.maximum(y1[idx], y1)
        xx2 = torch.minimum(x2[idx], x2)
        yy2 = torch.minimum(y2[idx], y2)
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[idx] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def _register_fallbacks() -> None:
    """Define ``torchvision::nms`` / ``qnms`` with pure-torch kernels (idempotent)."""
    if _STATE["fallbacks"]:
        return
    import torch

    if _op_exists("nms"):
        _STATE["fallbacks"] = True
        return
    lib = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 (kept alive below)
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

    def _nms(dets, scores, iou_threshold):
        return nms_reference(dets, scores, iou_threshold)

    def _qnms(dets, scores, iou_threshold):
        return nms_reference(dets.dequantize(), scores.dequantize(), iou_threshold)

    # CompositeExplicitAutograd covers CPU, CUDA and others with one kernel.
    lib.impl("nms", _nms, "CompositeExplicitAutograd")
    lib.impl("qnms", _qnms, "CompositeExplicitAutograd")
    _STATE["lib"] = lib  # the registration lives as long as this object
    _STATE["fallbacks"] = True


def _op_exists(name: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def _drop_partial(prefix: str) -> None:
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, registering CPU fallbacks first if needed.

    Where the C extension loads this is exactly ``import torchvision``.
    """
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return sys.modules["torchvision"]
    if importlib.util.find_spec("torchvision") is None:
        raise ImportError("torchvision is not installed: `pip install torchvision`.")
    if not torchvision_extension_loads():
        _register_fallbacks()
    try:
        module = importlib.import_module("torchvision")
    except RuntimeError as err:
        _drop_partial("torchvision")
        if "does not exist" in str(err) and not _STATE["fallbacks"]:
            _register_fallbacks()
            module = importlib.import_module("torchvision")
        else:
            raise
    if _STATE["fallbacks"]:
        _patch_python_nms(module)
    return module


def _patch_python_nms(module: ModuleType) -> None:
    """Route ``torchvision.ops.nms`` to the fallback (it asserts the C extension)."""
    boxes = importlib.import_module("torchvision.ops.boxes")
    if getattr(boxes.nms, "_artsig_fallback", False):
        return

    def nms(boxes_t, scores, iou_threshold: float):
        import torch

        return torch.ops.torchvision.nms(boxes_t, scores, float(iou_threshold))

    nms._artsig_fallback = True  # type: ignore[attr-defined]
    nms.__doc__ = boxes.nms.__doc__
    boxes.nms = nms
    module.ops.nms = nms


def import_umap(parametric: bool = False) -> ModuleType:
    """Return the ``umap`` module (umap-learn) without the crash, and fast.

    ``umap`` imports TensorFlow (for ``ParametricUMAP``), which pulls in torchvision and
    prints pages of logs. By default TensorFlow is kept out of this import (unless it is
    already loaded), so ``umap.UMAP`` loads in a second and ``umap.ParametricUMAP`` is
    umap's placeholder that explains what is missing. ``parametric=True`` imports the full
    module, registering the torchvision fallbacks first.
    """
    existing = sys.modules.get("umap")
    if existing is not None and hasattr(existing, "UMAP"):
        if not parametric or "tensorflow" in sys.modules:
            return existing
        _drop_partial("umap")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    blocked = False
    if parametric:
        try:
            import_torchvision()
        except ImportError:
            pass
    elif "tensorflow" not in sys.modules:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes `import tensorflow` fail fast
        blocked = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module("umap")
    finally:
        if blocked and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
