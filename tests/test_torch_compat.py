"""torch_compat: torchvision imports with or without its C extension."""

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from artsig import torch_compat  # noqa: E402


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_import_torchvision_and_nms_matches_reference():
    tv = torch_compat.import_torchvision()
    assert hasattr(tv, "models")
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 9, 9.5]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    keep = tv.ops.nms(boxes, scores, 0.5)
    assert keep.tolist() == torch_compat.nms_reference(boxes, scores, 0.5).tolist()
    assert keep.tolist() == [3, 2]
    # batched nms keeps overlapping boxes of different classes
    keep_b = tv.ops.batched_nms(boxes, scores, torch.tensor([0, 1, 0, 1]), 0.5)
    assert sorted(keep_b.tolist()) == [0, 1, 2, 3] or sorted(keep_b.tolist()) == [0, 2, 3]


def test_fallbacks_only_when_extension_fails():
    # registered iff the extension did not load
    torch_compat.import_torchvision()
    assert torch_compat.fallbacks_registered() == (not torch_compat.torchvision_extension_loads())


@pytest.mark.slow
def test_extension_path_untouched_when_it_loads():
    # Simulate an environment where the extension loads: the real import must be used
    # unchanged and no fallback library defined. Where the extension truly fails this
    # import fails, which we then expect.
    out = _run(
        """
        import artsig.torch_compat as tc
        tc._STATE["extension"] = True
        try:
            import torchvision
            ok = tc.import_torchvision() is torchvision
        except RuntimeError:
            ok = "raised"
        print(ok, tc.fallbacks_registered())
        """
    )
    if torch_compat.torchvision_extension_loads():
        assert out.split() == ["True", "False"]
    else:
        assert out.split() == ["raised", "False"]


def test_models_build_with_fallbacks():
    tv = torch_compat.import_torchvision()
    model = tv.models.mobilenet_v2(weights=None).eval()
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


@pytest.mark.slow
def test_import_umap_in_fresh_process():
    out = _run(
        """
        from artsig.torch_compat import import_umap
        umap = import_umap()
        print(hasattr(umap, "UMAP"))
        """
    )
    assert out.strip().endswith("True")


@pytest.mark.slow
def test_import_umap_keeps_tensorflow_out_by_default():
    out = _run(
        """
        import sys
        from artsig.torch_compat import import_umap
        umap = import_umap()
        print(hasattr(umap, "UMAP"), "tensorflow" in sys.modules)
        import importlib.util
        print(importlib.util.find_spec("tensorflow") is not None)
        """
    )
    lines = out.strip().splitlines()
    assert lines[-2] == "True False"
