"""The inference engine of the frozen EfficientNet-Lite trunks: ONNX Runtime on the CPU, torch elsewhere.

The feature runners of ``efficientnet_lite0/1/2`` (pooled features, and the Gram matrices and
channel statistics of the tapped middle layers) run on ONNX Runtime when the CPU does the work:
about five times PyTorch eager's speed here with the same weights. One graph does the whole
runner: ``uint8`` images ``(N, H, W, 3)`` in, the normalisation ``(x - 127) / 128``, the trunk,
and the three outputs the runner gives (``pooled``, ``gram``, ``stats``) out. It is exported once
from the torch module (``torch.onnx.export``) and kept at
``<data_dir>/cache/onnx/<name>-<key>.onnx``, keyed by the weights (the weights file's digest),
the export settings and the versions of torch, the exporter settings and this module.

``engine`` is ``"auto"`` (ONNX Runtime on the CPU when ``onnxruntime`` imports, else torch;
``ARTSIG_ENGINE=torch|onnx`` overrides it), ``"onnx"`` or ``"torch"``. CUDA always runs torch;
torch stays the training engine. The outputs equal torch's within 1e-4 (pooled features and
channel statistics absolutely; Gram entries, which reach a few hundred, relatively), but not
bitwise: features computed by ONNX Runtime live under their own feature-cache key (the torch
key is unchanged), so one engine's numbers are never mixed with the other's, and a rerun with
the same engine gives the same numbers. ONNX Runtime runs with a fixed number of intra-op
threads (:func:`artsig.determinism.inference_threads`: ``ARTSIG_THREADS`` or every CPU available)
and sequential execution; its outputs do not depend on the thread count or the batch size
(tested), so a bigger machine uses its cores without changing the numbers.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import numpy as np

from artsig import store
from artsig.locks import file_lock

__all__ = [
    "ENGINES",
    "EXPORT_VERSION",
    "OPSET",
    "resolve_engine",
    "use_engine",
    "supports",
    "engine_config",
    "onnx_model",
    "onnx_session",
    "onnx_runner",
]

ENGINES = ("auto", "onnx", "torch")
ENGINE_ENV = "ARTSIG_ENGINE"
EXPORT_VERSION = "1"  # bump when the exported graph changes
OPSET = 17
SPINNING = False  # see onnx_session
_EXPORTED: dict[str, bytes] = {}  # graphs exported in this process, by key (a test session exports each once)


def onnx_available() -> bool:
    """Whether ``onnxruntime`` can be imported here (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


_PROCESS_DEFAULT: list[str | None] = [None]  # what "auto" means in this process when set (use_engine)


def use_engine(engine: str | None) -> None:
    """Set what ``engine="auto"`` resolves to in this process (``None``: the default rule again).

    :func:`artsig.chapter.start` pins ``"torch"`` for the procedural benchmark: its printed
    numbers are checked by CI on processors of every kind, and only torch's kernels can be pinned
    to one instruction path; a real collection gets ONNX Runtime's speed."""
    if engine not in (None, "onnx", "torch"):
        raise ValueError(f"use_engine: expected 'onnx', 'torch' or None, got {engine!r}")
    _PROCESS_DEFAULT[0] = engine


def resolve_engine(engine: str = "auto", device: str = "cpu") -> str:
    """``"onnx"`` or ``"torch"`` for a resolved ``device``; raises naming ``engine`` when it cannot run.

    ``"auto"``: ``ARTSIG_ENGINE`` when set, else the process default of :func:`use_engine`, else
    ONNX Runtime on the CPU when it imports, torch otherwise."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        forced = os.environ.get(ENGINE_ENV, "").strip().lower()
        if forced:
            if forced not in ("onnx", "torch"):
                raise ValueError(f"{ENGINE_ENV}={forced!r}: expected 'onnx' or 'torch'")
            engine = forced
        elif _PROCESS_DEFAULT[0] == "torch" or device != "cpu":
            return "torch"
        else:
            return "onnx" if onnx_available() else "torch"
    if engine == "onnx":
        if device != "cpu":
            raise ValueError(f"engine='onnx' runs on the CPU, but device={device!r}; use engine='torch' (or 'auto') on a GPU")
        if not onnx_available():
            raise ImportError("engine='onnx' needs onnxruntime: `pip install -r requirements.txt` (or use engine='torch')")
    return engine


def supports(runner: str) -> bool:
    """Whether a feature runner has an ONNX export (the plain EfficientNet-Lite runners)."""
    from artsig.backbones import LITE_VARIANTS

    return runner in LITE_VARIANTS


def _weights_identity(name: str, weights: str | None) -> str:
    """What the trunk's numbers depend on: the ImageNet weights file's digest, or the seeded random init."""
    if weights is None:
        return "random-init-seed0"
    from artsig.backbones import LITE_VARIANTS

    pkg, cls, _ = LITE_VARIANTS[name]
    path = getattr(__import__(pkg), cls).get_model_file_path()
    return store.file_digest(path)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def engine_config() -> dict:
    """What the ONNX engine adds to a feature-cache key: the engine and its versions."""
    return {"engine": "onnx", "onnxruntime": _version("onnxruntime"), "opset": OPSET, "export": EXPORT_VERSION}


def _export_key(name: str, weights: str | None) -> str:
    from artsig.backbones import LITE_STYLE_STAGES, LITE_VARIANTS

    return store.fingerprint(
        name, _weights_identity(name, weights), LITE_VARIANTS[name][2], list(LITE_STYLE_STAGES), "uint8-nhwc", "lite-norm",
        OPSET, EXPORT_VERSION, _version("torch"), _version("efficientnet-lite-pytorch"),
    )


def _export_module(name: str, weights: str | None):
    """The runner as one torch module: uint8 NHWC images -> (pooled, gram, stats), as ``features`` computes them."""
    import torch

    from artsig import backbones as bb

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # weights=None: the same random network as the torch runner
        trunk, prep = bb.load_backbone(name, weights=weights, device="cpu")
    trunk.eval()
    taps = trunk.tap_blocks()

    class RunnerGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = trunk
            self.register_buffer("mean", torch.tensor(prep.mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(prep.std, dtype=torch.float32).view(1, 3, 1, 1))
            with torch.inference_mode():
                _, maps = trunk.forward_taps(torch.zeros(1, 3, 64, 64), taps)
            # upper triangles as flat indices: the exporter has no triu_indices
            self.upper = {}
            for t in taps:
                c = int(maps[t].shape[1])
                iu = torch.triu_indices(c, c)
                self.upper[c] = iu[0] * c + iu[1]

        def forward(self, images):
            x = (images.permute(0, 3, 1, 2).float() - self.mean) / self.std
            pooled, tapped = self.trunk.forward_taps(x, taps)
            grams, stats = [], []
            for t in taps:
                fmap = tapped[t]
                n, c, h, w = fmap.shape
                f = fmap.reshape(n, c, h * w)
                gram = torch.bmm(f, f.transpose(1, 2)) / float(h * w)
                grams.append(gram.reshape(n, c * c)[:, self.upper[int(c)]])
                stats.append(torch.cat([f.mean(-1), f.std(-1, unbiased=False)], dim=1))
            return pooled, torch.cat(grams, 1), torch.cat(stats, 1)

    return RunnerGraph().eval(), prep.input_size


def _export_bytes(name: str, weights: str | None, path: Path) -> None:
    import contextlib
    import io
    import warnings

    import torch

    module, size = _export_module(name, weights)
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    axes = {k: {0: "batch"} for k in ("images", "pooled", "gram", "stats")}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["images"],
                          output_names=["pooled", "gram", "stats"], dynamic_axes=axes, opset_version=OPSET)


def onnx_model(name: str, weights: str | None = "imagenet", data_dir: str | os.PathLike = "../data") -> Path:
    """The exported graph of runner ``name``, exported on first use and cached under ``data_dir``."""
    if not supports(name):
        raise ValueError(f"no ONNX export for feature runner {name!r}; the ONNX engine runs efficientnet_lite0/1/2")
    key = _export_key(name, weights)
    path = store.cache_dir(data_dir, "onnx") / f"{name}-{key}.onnx"
    if path.is_file():
        return path
    with file_lock(path):
        if not path.is_file():
            if key not in _EXPORTED:
                tmp = store.temporary_path(path.with_name(path.name + ".export"))
                try:
                    _export_bytes(name, weights, tmp)
                    _EXPORTED[key] = tmp.read_bytes()
                finally:
                    tmp.unlink(missing_ok=True)
            store.atomic_write(path, lambda t: t.write_bytes(_EXPORTED[key]), lock=False)
    return path


def onnx_session(path: str | os.PathLike, threads: int | None = None, spinning: bool = SPINNING):
    """An ONNX Runtime CPU session with deterministic settings: ``threads`` intra-op threads, sequential.

    ``spinning=False`` lets its idle threads sleep instead of spinning, leaving the cores to the
    pipeline's decoding threads between batches (numbers do not change).
    """
    import onnxruntime as ort

    from artsig import determinism

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads or determinism.inference_threads()))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_runner(name: str, weights: str | None = "imagenet", data_dir: str | os.PathLike = "../data", threads: int | None = None,
                spinning: bool | None = None):
    """A feature runner on ONNX Runtime: ``run(uint8 (N, H, W, 3)) -> {"pooled", "gram", "stats"}``."""
    spinning = SPINNING if spinning is None else spinning
    path = onnx_model(name, weights, data_dir)
    try:
        session = onnx_session(path, threads, spinning)
    except Exception:  # noqa: BLE001 - a damaged cache file (onnxruntime raises its own types): export again
        path.unlink(missing_ok=True)
        session = onnx_session(onnx_model(name, weights, data_dir), threads, spinning)
    names = [o.name for o in session.get_outputs()]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        arr = np.ascontiguousarray(batch, dtype=np.uint8)
        if arr.ndim == 3:
            arr = arr[None]
        return dict(zip(names, session.run(None, {"images": arr})))

    run.session = session
    return run
