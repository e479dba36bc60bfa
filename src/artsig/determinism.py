"""Same numbers on any x86-64 machine: the one place that pins math kernels, threads and seeds.

CPU math libraries pick an instruction path (SSE, AVX2, AVX-512) and split work between
threads at run time, from the processor they find; each path rounds differently, so an
AVX-512 Intel machine and an AVX2 AMD machine print different last digits, and a trained
model can drift further. :func:`pin_environment` fixes each library's choice *before it loads*
(``import artsig`` calls it, the book runner and the test session export it to the kernels
they start); :func:`configure` applies the run-time half (torch / TensorFlow threads,
deterministic algorithms) and seeds every generator. Nothing else in the library seeds or
sets thread counts.

What is pinned (all to the widest path every x86-64 processor of the last decade runs):

========================  =========================================  =====================
library                   variable                                   pinned to
========================  =========================================  =====================
torch's own kernels       ``ATEN_CPU_CAPABILITY``                    ``avx2``
oneDNN (torch and TF)     ``ONEDNN_MAX_CPU_ISA``, ``DNNL_MAX_CPU_ISA``  ``AVX2``
MKL (torch's BLAS)        ``MKL_CBWR``, ``MKL_ENABLE_INSTRUCTIONS``  ``AVX2``
OpenBLAS (numpy, scipy)   ``OPENBLAS_CORETYPE``                      ``Haswell`` (a value already set is kept)
numpy's own SIMD loops    ``NPY_DISABLE_CPU_FEATURES``               AVX-512 groups off
thread pools              ``OMP/MKL_NUM_THREADS``, TF pools, torch   ``ARTSIG_THREADS`` (2)
OpenBLAS threads          ``OPENBLAS_NUM_THREADS``                   1 (it caps at the CPUs)
========================  =========================================  =====================

``ARTSIG_PIN_KERNELS=0`` turns the pinning off (faster on a big machine, numbers may then
differ from the book's references in the last digits); ``ARTSIG_THREADS=N`` changes the thread
count (numbers may then differ too: float sums depend on how work is split).
"""

from __future__ import annotations

import os
import random
import sys
import warnings

import_order_warned: set[str] = set()

#: the thread count every math library uses unless ``ARTSIG_THREADS`` says otherwise
DEFAULT_THREADS = 2
#: libraries whose kernels are fixed when they load: imported before artsig, they are not pinned
_LOAD_TIME = ("torch", "tensorflow")
#: numpy's AVX-512 dispatch groups (numpy >= 2.4 names; numpy refuses names it does not know)
_NUMPY_AVX512 = "X86_V4,AVX512_ICL,AVX512_SPR"


def pinning_enabled() -> bool:
    """False when the user turned pinning off with ``ARTSIG_PIN_KERNELS=0``."""
    return os.environ.get("ARTSIG_PIN_KERNELS", "1").strip().lower() not in ("0", "false", "no", "off")


_THREADS_OVERRIDE: list[int] = []


def threads(pinned_only: bool = False) -> int:
    """The thread count of every math library: the last :func:`configure` ``n_threads``, else
    ``ARTSIG_THREADS``, else 2. ``pinned_only`` ignores a chapter's own ``n_threads``: cached
    results shared between chapters (features) are computed with the same count in every process."""
    if _THREADS_OVERRIDE and not pinned_only:
        return _THREADS_OVERRIDE[-1]
    raw = os.environ.get("ARTSIG_THREADS", str(DEFAULT_THREADS))
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"ARTSIG_THREADS={raw!r}: expected a whole number of threads >= 1") from None
    if n < 1:
        raise ValueError(f"ARTSIG_THREADS={raw!r}: expected a whole number of threads >= 1")
    return n


def inference_threads() -> int:
    """Threads of the ONNX Runtime engine (:mod:`artsig.inference`): ``ARTSIG_THREADS`` when set, else
    every CPU this process may use. Its outputs do not depend on the count (tested), unlike torch's
    sums, so it need not be held at the pinned count."""
    if os.environ.get("ARTSIG_THREADS"):
        return threads(pinned_only=True)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return " avx2" in fh.read(1 << 16)
    except OSError:  # not Linux: let the libraries choose
        return False


def pinned_environment() -> dict[str, str]:
    """The variables :func:`pin_environment` sets: kernel paths and thread counts."""
    n = str(threads())
    env = {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        # OpenBLAS caps its threads at the CPUs it may use, and its sums change with the count:
        # one thread is the only count every machine gives (its matrices here are small)
        "OPENBLAS_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": "1",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    }
    if _cpu_has_avx2():
        env.update({
            "ATEN_CPU_CAPABILITY": "avx2",
            "ONEDNN_MAX_CPU_ISA": "AVX2",
            "DNNL_MAX_CPU_ISA": "AVX2",
            "MKL_CBWR": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "NPY_DISABLE_CPU_FEATURES": _NUMPY_AVX512,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE") or "Haswell",
        })
    return env


def pin_environment() -> dict[str, str]:
    """Export :func:`pinned_environment` into ``os.environ`` (a no-op with ``ARTSIG_PIN_KERNELS=0``).

    Must run before numpy, torch or TensorFlow load to take full effect: ``import artsig`` does it,
    so import ``artsig`` first in a notebook. Warns once per library that was loaded earlier.
    Returns what was set.
    """
    if not pinning_enabled():
        return {}
    env = pinned_environment()
    os.environ.update(env)
    for m in _LOAD_TIME:
        if m in sys.modules and m not in import_order_warned:
            import_order_warned.add(m)
            warnings.warn(f"{m} was imported before artsig, so its math kernels are not pinned and "
                          f"numbers may differ from the book's references; import artsig first", stacklevel=3)
    return env


def configure(seed: int = 0, n_threads: int | None = None, device: str = "cpu") -> None:
    """The one determinism entry point: seed Python, NumPy, torch and TensorFlow, and fix
    torch's and TensorFlow's thread counts and deterministic algorithms.

    Libraries not imported yet are configured when :func:`configure_torch` /
    :func:`configure_tensorflow` run (the modules that import them call those).
    """
    import numpy as np

    global _SEED
    _SEED = int(seed)
    if n_threads is not None:
        # this process only: the environment (which child processes inherit) is left alone
        if int(n_threads) < 1:
            raise ValueError(f"threads={n_threads!r}: expected a whole number of threads >= 1")
        _THREADS_OVERRIDE[:] = [int(n_threads)]
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        configure_torch()
    if "tensorflow" in sys.modules or "keras" in sys.modules:
        configure_tensorflow(device=device)


_SEED = 0
_TF_CONFIGURED: dict = {}


def configure_torch():
    """torch with the pinned thread count, deterministic algorithms and the current seed; returns torch."""
    import torch

    n = threads() if pinning_enabled() else max(1, torch.get_num_threads())
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    torch.use_deterministic_algorithms(True)
    # deterministic mode also fills every new tensor with NaN, which costs more than the
    # training itself on CPU; results do not depend on it
    torch.utils.deterministic.fill_uninitialized_memory = False
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    torch.manual_seed(_SEED)
    return torch


def configure_tensorflow(device: str = "cpu"):
    """TensorFlow with the pinned thread pools, deterministic ops and the current seed; returns tf.

    Thread pools can only be sized before TensorFlow's first op; a later call with another
    count warns instead of silently running with other numbers.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    n = threads()
    if not _TF_CONFIGURED:
        try:
            if device == "cpu":
                tf.config.set_visible_devices([], "GPU")
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError as exc:  # TensorFlow already initialised by someone else
            warnings.warn(f"TensorFlow was already initialised; threads={n} / device={device!r} not applied ({exc})", stacklevel=2)
        tf.config.experimental.enable_op_determinism()
        tf.get_logger().setLevel("ERROR")
        _TF_CONFIGURED.update(threads=n, device=device)
    elif n != _TF_CONFIGURED.get("threads"):
        warnings.warn(f"threads={n} ignored: TensorFlow already runs with threads={_TF_CONFIGURED.get('threads')}", stacklevel=2)
    keras.utils.set_random_seed(_SEED)
    return tf


def describe() -> str:
    """One line for a page or a log: what is pinned in this process."""
    if not pinning_enabled():
        return f"kernel pinning off (ARTSIG_PIN_KERNELS=0); {threads()} threads"
    env = pinned_environment()
    isa = env.get("ONEDNN_MAX_CPU_ISA", "library default (no AVX2 on this CPU)")
    return f"math kernels pinned to {isa}, OpenBLAS core {env.get('OPENBLAS_CORETYPE', 'default')}, {threads()} threads"


def kernel_fingerprint(torch_too: bool = True, tensorflow_too: bool = True) -> dict[str, str]:
    """Hashes of small computations through every pinned library: equal dicts mean equal kernels.

    numpy matrix product and sort, scikit-learn logistic regression and k-means, a torch
    convolution trained for a few steps, a Keras model trained for a few steps.
    ``python -m artsig.determinism`` prints it; tests compare it across kernel paths and CPU counts.
    """
    import hashlib

    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression

    def h(*arrays) -> str:
        return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()[:12]

    configure(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 300)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    out = {
        "numpy matmul": h(x @ x.T),
        "numpy exp": h(np.exp(x)),
        "numpy argsort": h(np.argsort(np.round(x[:, :50], 1), axis=None)),
        "sklearn logistic regression": h(LogisticRegression(max_iter=300).fit(x, y).coef_),
        "sklearn k-means": h(KMeans(8, n_init=3, random_state=0).fit(x.astype(np.float64)).cluster_centers_),
    }
    images = rng.random((16, 48, 48, 3)).astype(np.float32)
    if torch_too:
        torch = configure_torch()
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                                  torch.nn.Conv2d(16, 8, 3, groups=8), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4))
        batch = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=torch.channels_last)
        optimiser = torch.optim.Adam(net.parameters(), 1e-2)
        for _ in range(5):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(batch), torch.arange(16) % 4)
            loss.backward()
            optimiser.step()
        out["torch training"] = h(*[p.detach().numpy() for p in net.parameters()])
    if tensorflow_too:
        configure_tensorflow()
        import keras

        model = keras.Sequential([keras.Input((48, 48, 3)), keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.BatchNormalization(),
                                  keras.layers.DepthwiseConv2D(3), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(images, np.arange(16) % 4, epochs=3, batch_size=8, verbose=0, shuffle=False)
        out["keras training"] = h(*model.get_weights())
    return out


if __name__ == "__main__":  # python -m artsig.determinism: the fingerprint of this process's kernels, as JSON
    import json

    print(json.dumps({"pinning": describe(), **kernel_fingerprint()}))
