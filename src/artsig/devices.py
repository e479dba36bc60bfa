"""One ``device`` parameter for every model, and one seed for every random thing."""

from __future__ import annotations


def resolve_device(device: str = "auto") -> str:
    """Turn ``"auto"`` into ``"cuda"`` when a CUDA GPU is visible to torch, else ``"cpu"``.

    Explicit values (``"cpu"``, ``"cuda"``, ``"cuda:1"``) are checked, so a typo fails early.
    """
    if device is None or device == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'")
        return device
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def seed_everything(seed: int, torch_threads: int | None = None) -> None:
    """Seed every generator and fix thread counts: :func:`artsig.determinism.configure`."""
    from artsig.determinism import configure

    configure(seed, n_threads=torch_threads)
