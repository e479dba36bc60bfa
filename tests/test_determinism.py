import json
import os
import shutil
import subprocess
import sys

import pytest

from artsig import determinism

# every math library asked for another kernel path than the pinned one (what another processor would pick)
ELSEWHERE = {
    "ONEDNN_MAX_CPU_ISA": "SSE41", "DNNL_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "NPY_DISABLE_CPU_FEATURES": "X86_V3", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "2",
}


def fingerprint(env: dict, one_cpu: bool = False) -> dict:
    """``python -m artsig.determinism`` in a fresh process with ``env`` (and on one CPU)."""
    full = {k: v for k, v in os.environ.items() if k not in determinism.pinned_environment() and k != "ARTSIG_THREADS"}
    full.update(env)
    cmd = [sys.executable, "-m", "artsig.determinism"]
    if one_cpu:
        cmd = ["taskset", "-c", "0", *cmd]
    done = subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not determinism._cpu_has_avx2(), reason="kernel paths are pinned on x86-64 CPUs with AVX2 only")
@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux) to run on one CPU")
def test_pinned_kernels_give_the_same_bits_on_another_path_and_cpu_count():
    here = fingerprint({})
    elsewhere = fingerprint(ELSEWHERE, one_cpu=True)
    assert here.pop("pinning").startswith("math kernels pinned to AVX2")
    elsewhere.pop("pinning")
    assert here == elsewhere
    # the check is not vacuous: unpinned, the same variables change the numbers
    unpinned = fingerprint({**ELSEWHERE, "ARTSIG_PIN_KERNELS": "0"}, one_cpu=True)
    assert unpinned.pop("pinning").startswith("kernel pinning off")
    changed = [k for k in here if here[k] != unpinned[k]]
    assert len(changed) >= 3, f"only {changed} moved when unpinned"


def test_pinned_environment_keeps_a_chosen_openblas_core(monkeypatch):
    monkeypatch.setattr(determinism, "_cpu_has_avx2", lambda: True)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    env = determinism.pinned_environment()
    assert env["OPENBLAS_CORETYPE"] == "Zen"
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2" and env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert determinism.pinned_environment()["OPENBLAS_CORETYPE"] == "Haswell"


def test_thread_count_is_checked_and_configure_does_not_leak_into_children(monkeypatch):
    monkeypatch.setattr(determinism, "_THREADS_OVERRIDE", [])  # an earlier test's configure(n_threads=...)
    monkeypatch.setenv("ARTSIG_THREADS", "two")
    with pytest.raises(ValueError, match="ARTSIG_THREADS='two'"):
        determinism.threads()
    monkeypatch.setenv("ARTSIG_THREADS", "2")
    watched = ["ARTSIG_THREADS", *determinism.pinned_environment()]
    before = {k: os.environ.get(k) for k in watched}
    try:
        determinism.configure(0, n_threads=1)
        assert determinism.threads() == 1
        # notebook kernels started later keep the pinned count
        assert {k: os.environ.get(k) for k in watched} == before
        assert determinism.threads(pinned_only=True) == 2  # what shared caches (features) are computed with
        with pytest.raises(ValueError, match="threads=0"):
            determinism.configure(0, n_threads=0)
    finally:
        determinism._THREADS_OVERRIDE.clear()
    assert determinism.threads() == 2


def test_configure_seeds_numpy_and_torch():
    import numpy as np
    import torch

    determinism.configure(7)
    a = (np.random.rand(3), torch.rand(3))
    determinism.configure(7)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1]) and torch.get_num_threads() == determinism.threads()


def test_opting_out_sets_nothing(monkeypatch):
    monkeypatch.setenv("ARTSIG_PIN_KERNELS", "0")
    assert determinism.pin_environment() == {}
    assert "pinning off" in determinism.describe()
