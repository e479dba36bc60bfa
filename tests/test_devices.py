import numpy as np
import pytest

from artsig.devices import resolve_device, seed_everything


def test_auto_picks_cpu_without_gpu_and_rejects_typos():
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


def test_seed_everything_repeats_draws():
    import torch

    seed_everything(3)
    a = (np.random.rand(3), torch.rand(3))
    seed_everything(3)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
