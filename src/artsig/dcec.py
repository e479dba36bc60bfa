"""Deep convolutional embedded clustering (DCEC) of paintings, after Castellano and Vessio.

The model (Guo et al., 2017, "Deep clustering with convolutional autoencoders", as used for
paintings by Castellano and Vessio, 2020) has two phases:

1. a convolutional autoencoder (three strided convolutions, a dense embedding, mirrored
   transposed convolutions) is pretrained on reconstruction;
2. a clustering layer holds ``k`` centroids in the embedding space, initialised by KMeans
   on the embeddings. Each image gets a soft assignment ``q`` (Student's t kernel, one
   degree of freedom); the target ``p`` sharpens ``q`` (``q**2 / cluster frequency``,
   renormalised) and is recomputed on the whole collection every ``update_interval``
   iterations. The encoder, decoder and centroids are trained jointly on
   ``reconstruction + gamma * KL(p || q)`` and training stops when fewer than ``tol`` of the
   hard assignments change between two target updates (or after ``max_iter`` iterations).

:class:`DEC` is the same procedure with a dense autoencoder on the flattened pixels and no
reconstruction term in the second phase (Xie et al., 2016). Both are estimator-like:
``fit(X)``, ``predict(X)``, ``predict_proba(X)``, ``transform(X)`` (the embedding),
``reconstruct(X)``, ``labels_``, ``cluster_centers_``, ``history_`` (a tidy DataFrame of the
training curves), ``save`` / ``load``.

``X`` is an image array (N, H, W, 3): ``uint8`` as :func:`artsig.images.load_array` returns,
or floats in [0, 1]. Everything is seeded; :func:`deterministic` switches torch to
deterministic kernels with a fixed thread count, so the same seed gives the same numbers.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from . import store

__all__ = [
    "ConvAutoencoder",
    "DenseAutoencoder",
    "ClusteringLayer",
    "soft_assignment",
    "target_distribution",
    "pretrain_autoencoder",
    "embed",
    "reconstruct",
    "cluster_all",
    "score",
    "internal_table",
    "external_table",
    "composition",
    "claim_check",
    "verdict",
    "resize_images",
    "DCEC",
    "DEC",
    "deterministic",
    "subsample",
    "kmeans",
    "CLUSTERING_METHODS",
    "fit_cached",
    "profile_settings",
    "label_ks",
]

CLUSTERING_METHODS = ("DCEC", "CAE+KMeans", "DEC", "EfficientNet+KMeans")


def _torch():
    import torch

    return torch


def deterministic(seed: int = 0, threads: int | None = 2) -> None:
    """Seed everything, fix torch's thread count and ask for deterministic kernels.

    On CUDA this also sets ``CUBLAS_WORKSPACE_CONFIG`` (needed by deterministic cuBLAS);
    results are repeatable on one machine and one device type, not across CPU and GPU.
    """
    from artsig import determinism

    _torch()
    determinism.configure(seed, n_threads=threads)


def subsample(catalog: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded random subset of ``n`` rows in the catalog's order (all rows when ``n`` is None
    or not smaller than the catalog)."""
    if n is None or n >= len(catalog):
        return catalog.reset_index(drop=True)
    if n < 2:
        raise ValueError(f"n={n}: a subsample needs at least 2 images")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(catalog), size=int(n), replace=False))
    return catalog.iloc[keep].reset_index(drop=True)


# The chapter's quick settings (the benchmark's time budget, book/params.yml) and what the full
# profile raises them to on a real collection: every image, longer pretraining and clustering.
QUICK_SETTINGS = {"subsample": 1000, "pretrain_epochs": 15, "dec_pretrain_epochs": 10, "max_iter": 40}
FULL_SETTINGS = {"subsample": None, "pretrain_epochs": 30, "dec_pretrain_epochs": 20, "max_iter": 80}


def profile_settings(profile: str, **given) -> dict:
    """``given`` settings, with those still at their quick default raised to :data:`FULL_SETTINGS`
    when ``profile == "full"`` (a value the user changed is kept)."""
    if profile != "full":
        return dict(given)
    return {k: FULL_SETTINGS[k] if k in FULL_SETTINGS and v == QUICK_SETTINGS[k] else v for k, v in given.items()}


def label_ks(catalog: pd.DataFrame, labels: Sequence[str], max_share: float = 1 / 3, max_k: int = 50) -> list[int]:
    """The number of classes of each label, where it makes a usable k (2 to ``max_k`` clusters and
    at most ``max_share`` of the images): the baseline's natural k, k-means at k = the classes."""
    ks = []
    for label in labels:
        if label not in catalog:
            continue
        k = int(catalog[label].dropna().nunique())
        if 2 <= k <= min(max_k, max_share * len(catalog)):
            ks.append(k)
    return sorted(set(ks))


def kmeans(embedding: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """KMeans labels and centres of an embedding (seeded; the baseline and the centroid init):
    the ``kmeans_dcec`` setting of :data:`artsig.scoring.SETTINGS`."""
    from artsig import scoring

    embedding = np.asarray(embedding, dtype=np.float64)
    _check_k(n_clusters, len(embedding))
    model = scoring.clusterer("kmeans_dcec", n_clusters, seed=seed, n_init=n_init).fit(embedding)
    return model.labels_.astype(np.int64), model.cluster_centers_


def _check_k(n_clusters: int, n: int) -> None:
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2:
        raise ValueError(f"n_clusters must be an integer >= 2, got {n_clusters!r}")
    if n <= n_clusters:
        raise ValueError(f"n_clusters={n_clusters} needs more images than clusters; got {n} images")


# --- networks ---------------------------------------------------------------------------------


def _seeded_init(module, seed: int | None) -> None:
    """Re-initialise every layer from ``seed`` (torch's default schemes) without touching the
    global random state, so a network's starting weights depend on its seed only."""
    if seed is None:
        return
    torch = _torch()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in module.modules():
            if layer is not module and hasattr(layer, "reset_parameters"):
                layer.reset_parameters()


@functools.cache
def _modules():
    """The torch network classes (two autoencoders and the clustering layer).

    Long because it holds three class bodies: they are defined inside a function so that
    ``import artsig.dcec`` does not import torch (the classes are built once, on first use).
    """
    torch = _torch()
    nn = torch.nn

    class ConvAutoencoder(nn.Module):
        """DCEC's convolutional autoencoder for square RGB images of ``image_size`` pixels.

        Encoder: conv 5x5/2 -> conv 5x5/2 -> conv 3x3/2 (ReLU, ``filters`` channels) ->
        flatten -> linear embedding of ``embedding_dim``. Decoder mirrors it with transposed
        convolutions and a linear output (pixels in [0, 1], trained with mean squared error).
        """

        def __init__(self, image_size: int = 64, embedding_dim: int = 10, filters: Sequence[int] = (32, 64, 128), channels: int = 3, seed: int | None = 0):
            super().__init__()
            if not isinstance(image_size, (int, np.integer)) or image_size < 8 or image_size % 8:
                raise ValueError(f"image_size must be a multiple of 8 (>= 8) for three stride-2 convolutions, got {image_size!r}")
            if len(filters) != 3 or min(filters) < 1:
                raise ValueError(f"filters must be three positive channel counts, got {filters!r}")
            if embedding_dim < 1:
                raise ValueError(f"embedding_dim must be positive, got {embedding_dim!r}")
            f1, f2, f3 = (int(f) for f in filters)
            self.config = {"image_size": int(image_size), "embedding_dim": int(embedding_dim), "filters": [f1, f2, f3], "channels": int(channels)}
            side = image_size // 8
            self.encoder = nn.Sequential(
                nn.Conv2d(channels, f1, 5, stride=2, padding=2), nn.ReLU(),
                nn.Conv2d(f1, f2, 5, stride=2, padding=2), nn.ReLU(),
                nn.Conv2d(f2, f3, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(f3 * side * side, embedding_dim),
            )
            self.decoder = nn.Sequential(
                nn.Linear(embedding_dim, f3 * side * side), nn.ReLU(),
                nn.Unflatten(1, (f3, side, side)),
                nn.ConvTranspose2d(f3, f2, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(f2, f1, 5, stride=2, padding=2, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(f1, channels, 5, stride=2, padding=2, output_padding=1),
            )
            _seeded_init(self, seed)

        def forward(self, x):
            z = self.encoder(x)
            return z, self.decoder(z)

    class DenseAutoencoder(nn.Module):
        """DEC's stacked autoencoder on flattened pixels: d-500-500-2000-embedding and back
        (ReLU inside, linear embedding and output)."""

        def __init__(self, image_size: int = 64, embedding_dim: int = 10, hidden: Sequence[int] = (500, 500, 2000), channels: int = 3, seed: int | None = 0):
            super().__init__()
            if not isinstance(image_size, (int, np.integer)) or image_size < 1:
                raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
            if not hidden or min(hidden) < 1:
                raise ValueError(f"hidden must be positive layer widths, got {hidden!r}")
            self.config = {"image_size": int(image_size), "embedding_dim": int(embedding_dim), "hidden": [int(h) for h in hidden], "channels": int(channels)}
            self.shape = (channels, image_size, image_size)
            dims = [channels * image_size * image_size, *[int(h) for h in hidden], int(embedding_dim)]
            enc: list = [nn.Flatten()]
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
                enc.append(nn.Linear(a, b))
                if i < len(dims) - 2:
                    enc.append(nn.ReLU())
            dec: list = []
            rev = dims[::-1]
            for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
                dec.append(nn.Linear(a, b))
                if i < len(rev) - 2:
                    dec.append(nn.ReLU())
            dec.append(nn.Unflatten(1, self.shape))
            self.encoder = nn.Sequential(*enc)
            self.decoder = nn.Sequential(*dec)
            _seeded_init(self, seed)

        def forward(self, x):
            z = self.encoder(x)
            return z, self.decoder(z)

    class ClusteringLayer(nn.Module):
        """``k`` learnable centroids; ``forward(z)`` is the Student's t soft assignment ``q``."""

        def __init__(self, n_clusters: int, embedding_dim: int, alpha: float = 1.0, centers=None):
            super().__init__()
            self.alpha = float(alpha)
            init = torch.zeros(n_clusters, embedding_dim) if centers is None else torch.as_tensor(np.asarray(centers), dtype=torch.float32)
            if tuple(init.shape) != (n_clusters, embedding_dim):
                raise ValueError(f"centers must have shape ({n_clusters}, {embedding_dim}), got {tuple(init.shape)}")
            self.centers = nn.Parameter(init.clone())

        def forward(self, z):
            return soft_assignment(z, self.centers, self.alpha)

    return ConvAutoencoder, DenseAutoencoder, ClusteringLayer


def __getattr__(name):  # lazy torch import: `import artsig.dcec` stays cheap
    if name in ("ConvAutoencoder", "DenseAutoencoder", "ClusteringLayer"):
        conv, dense, layer = _modules()
        globals().update(ConvAutoencoder=conv, DenseAutoencoder=dense, ClusteringLayer=layer)
        return globals()[name]
    raise AttributeError(f"module 'artsig.dcec' has no attribute {name!r}")


def soft_assignment(z, centers, alpha: float = 1.0):
    """Student's t similarity of embeddings ``z`` (n, d) to ``centers`` (k, d), rows summing to 1.

    ``q_ij = (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2)``, normalised over ``j``.
    Works on torch tensors and NumPy arrays.
    """
    if isinstance(z, np.ndarray):
        dist = ((z[:, None, :] - np.asarray(centers)[None, :, :]) ** 2).sum(-1)
        q = (1.0 + dist / alpha) ** (-(alpha + 1.0) / 2.0)
        return q / q.sum(1, keepdims=True)
    dist = ((z.unsqueeze(1) - centers.unsqueeze(0)) ** 2).sum(-1)
    q = (1.0 + dist / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(1, keepdim=True)


def target_distribution(q):
    """DEC's sharpened target ``p_ij = (q_ij^2 / f_j) / sum_j'(q_ij'^2 / f_j')`` with ``f_j = sum_i q_ij``."""
    weight = q**2 / q.sum(0)
    return weight / weight.sum(1, keepdims=True) if isinstance(q, np.ndarray) else weight / weight.sum(1, keepdim=True)


# --- data -------------------------------------------------------------------------------------


def _as_tensor(X, image_size: int | None = None, name: str = "X"):
    """Images (N, H, W, C) uint8 / float in [0, 1] -> float32 tensor (N, C, H, W) on CPU."""
    torch = _torch()
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be an image array (N, H, W, 3), got shape {X.shape}")
    if image_size is not None and X.shape[1:3] != (image_size, image_size):
        raise ValueError(f"{name} holds {X.shape[1]}x{X.shape[2]} images but the model was built for image_size={image_size}; load them with that size")
    if len(X) == 0:
        raise ValueError(f"{name} holds no images")
    if X.dtype == np.uint8:
        data = X.astype(np.float32) / 255.0
    else:
        data = X.astype(np.float32)
        if data.min() < -1e-6 or data.max() > 1 + 1e-6:
            raise ValueError(f"{name}: float images must lie in [0, 1] (pass uint8 for 0..255)")
    return torch.from_numpy(np.ascontiguousarray(data.transpose(0, 3, 1, 2)))


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _encode(model, data, batch_size: int, device: str, decode: bool = False):
    torch = _torch()
    model.eval()
    zs, rs = [], []
    with torch.inference_mode():
        for part in _batches(len(data), batch_size):
            z, rec = model(data[part].to(device))
            zs.append(z.cpu())
            if decode:
                rs.append(rec.cpu())
    z = torch.cat(zs)
    return (z, torch.cat(rs)) if decode else z


def embed(autoencoder, X, batch_size: int = 256) -> np.ndarray:
    """The embedding (N, embedding_dim) of images ``X`` by an autoencoder (on the CPU)."""
    return _encode(autoencoder.cpu(), _as_tensor(X, autoencoder.config["image_size"]), batch_size, "cpu").numpy()


def reconstruct(autoencoder, X, batch_size: int = 256) -> np.ndarray:
    """An autoencoder's reconstructions of images ``X`` as uint8 images (N, H, W, 3)."""
    _, rec = _encode(autoencoder.cpu(), _as_tensor(X, autoencoder.config["image_size"]), batch_size, "cpu", decode=True)
    return (rec.clamp(0, 1).numpy().transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)


def pretrain_autoencoder(
    model,
    X,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = 2,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
):
    """Train an autoencoder on reconstruction (MSE, Adam, seeded shuffles); return (model, history).

    ``history`` has one row per epoch: ``phase="pretrain"``, ``epoch``, ``reconstruction``.
    With ``cache_dir`` the trained weights and history are stored there, keyed by the network,
    its starting weights, the images and every training parameter: a rerun loads them (the
    same weights, bit for bit) instead of training again.
    """
    torch = _torch()
    from tqdm import tqdm

    from artsig.devices import resolve_device

    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    device = resolve_device(device)
    deterministic(seed, threads)
    path = None
    if cache_dir is not None:
        key = _fit_key(type(model).__name__, model.config, _weights(model), np.asarray(X), epochs, batch_size, lr, seed, threads, device)
        path = store.cache_path(cache_dir, f"pretrain-{type(model).__name__}", key, ".pt")
        saved = store.load_torch(path)
        if saved is not None:
            model.load_state_dict(saved["state"])
            if epochs:
                model.train()
            return model.cpu(), saved["history"]
    data = _as_tensor(X, model.config["image_size"])
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    bar = tqdm(range(epochs), desc="pretrain autoencoder", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for part in _batches(len(data), batch_size):
            batch = data[order[part]].to(device)
            _, rec = model(batch)
            loss = torch.nn.functional.mse_loss(rec, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * batch.shape[0]
        rows.append({"phase": "pretrain", "epoch": epoch + 1, "reconstruction": total / len(data)})
        bar.set_postfix(mse=f"{rows[-1]['reconstruction']:.4f}")
    model.cpu()
    history = pd.DataFrame(rows, columns=["phase", "epoch", "reconstruction"])
    if path is not None:
        store.save_torch(path, {"state": model.state_dict(), "history": history})
    return model, history


#: bump when a change to pretraining or to DCEC / DEC fitting makes their cached results stale
FIT_CACHE_VERSION = "1"


def _weights(module) -> dict[str, np.ndarray]:
    """A network's parameters and buffers as arrays: the starting point a cache key reads."""
    return {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}


def _fit_key(*parts) -> str:
    """The key of a cached training run: ``parts`` (the last one the device) plus what else decides
    its last digits: torch's version, the device type, the kernel pinning and the CPUs this process
    may use (so ``make kernel-check``, one CPU and other kernel paths, trains again instead of reading
    what this machine stored)."""
    from artsig import determinism

    torch = _torch()
    *parts, device = parts
    pinned = determinism.pinned_environment()
    kernels = pinned if determinism.pinning_enabled() else {name: os.environ.get(name) for name in pinned}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return store.fingerprint(FIT_CACHE_VERSION, torch.__version__, torch.device(device).type, kernels, cpus, *parts, length=20)


# --- estimators -------------------------------------------------------------------------------


class _EmbeddedClustering(ClusterMixin, BaseEstimator):
    """Shared fit / predict logic of DCEC and DEC (see the module docstring).

    scikit-learn conventions: ``__init__`` only stores the parameters (each subclass lists them,
    so ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work), ``fit`` checks them.
    """

    kind = "conv"
    reconstruction_weight = 1.0
    #: parameters a saved model keeps (not the pretrained network, the device or the progress bar)
    _SAVED = ("n_clusters", "image_size", "embedding_dim", "gamma", "pretrain_epochs", "max_iter", "update_interval", "tol", "batch_size", "lr", "cluster_lr", "alpha", "n_init",
              "seed")

    def _store(self, params: dict) -> None:
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _validate(self) -> None:
        """Check the parameters (scikit-learn checks in fit, not in __init__); messages name the parameter."""
        if not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 2:
            raise ValueError(f"n_clusters must be an integer >= 2, got {self.n_clusters!r}")
        for name in ("max_iter", "update_interval", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.tol < 1:
            raise ValueError(f"tol must be a share in [0, 1), got {self.tol!r}")
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma!r}")
        ae = self.autoencoder
        if ae is not None and (ae.config["image_size"] != self.image_size or ae.config["embedding_dim"] != self.embedding_dim):
            raise ValueError(
                f"autoencoder was built for image_size={ae.config['image_size']}, embedding_dim={ae.config['embedding_dim']}; "
                f"this model has image_size={self.image_size}, embedding_dim={self.embedding_dim}"
            )

    # the network of each variant
    def _new_autoencoder(self):
        raise NotImplementedError

    def _check_fitted(self):
        if not hasattr(self, "autoencoder_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")

    def fit(self, X) -> _EmbeddedClustering:
        """Pretrain (unless a pretrained ``autoencoder`` was given), initialise the centroids by
        KMeans, then train jointly until fewer than ``tol`` of the assignments change."""
        from artsig.devices import resolve_device

        self._validate()
        data = _as_tensor(X, self.image_size)
        _check_k(self.n_clusters, len(data))
        device = resolve_device(self.device)
        autoencoder, histories = self._start_autoencoder(data, device)
        autoencoder.to(device)
        z0 = _encode(autoencoder, data, 256, device).numpy()
        init_labels, centers = kmeans(z0, self.n_clusters, self.seed, self.n_init)
        _, _, Layer = _modules()
        layer = Layer(self.n_clusters, self.embedding_dim, self.alpha, centers).to(device)
        rows, iteration, converged = self._cluster(autoencoder, layer, data, device, init_labels)
        autoencoder.cpu()
        layer.cpu()
        self.autoencoder_ = autoencoder
        self.clustering_layer_ = layer
        self.n_iter_ = iteration + 1 if self.max_iter else 0
        self.converged_ = converged
        self.init_labels_ = init_labels
        cluster = pd.DataFrame(rows, columns=["phase", "iteration", "kl", "reconstruction", "loss", "changed"])
        self.history_ = pd.concat([*histories, cluster], ignore_index=True) if histories else cluster
        self.embedding_ = _encode(autoencoder, data, 256, "cpu").numpy()
        self.labels_ = soft_assignment(self.embedding_.astype(np.float64), self.cluster_centers_.astype(np.float64), self.alpha).argmax(1).astype(np.int64)
        return self

    def _start_autoencoder(self, data, device: str) -> tuple[object, list[pd.DataFrame]]:
        """A copy of the given pretrained autoencoder, or a new one pretrained here (with its history)."""
        if self.autoencoder is not None:
            autoencoder = copy.deepcopy(self.autoencoder)
            deterministic(self.seed, self.threads)
            return autoencoder, []
        deterministic(self.seed, self.threads)
        autoencoder, pre = pretrain_autoencoder(
            self._new_autoencoder(), data.numpy().transpose(0, 2, 3, 1), epochs=self.pretrain_epochs, batch_size=self.batch_size,
            lr=self.lr, seed=self.seed, device=device, threads=self.threads, progress=self.progress,
        )
        return autoencoder, [pre]

    def _cluster(self, autoencoder, layer, data, device: str, init_labels: np.ndarray) -> tuple[list[dict], int, bool]:
        """The joint training: refresh the target every ``update_interval`` steps, stop when fewer
        than ``tol`` of the assignments change. Returns the history rows, last iteration, convergence."""
        torch = _torch()
        from tqdm import tqdm

        params = list(layer.parameters()) + list(autoencoder.encoder.parameters())
        if self.reconstruction_weight > 0:
            params += list(autoencoder.decoder.parameters())
        optimiser = torch.optim.Adam(params, lr=self.cluster_lr)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.seed))
        previous = init_labels
        rows = []
        converged = False
        n_batches = int(np.ceil(len(data) / self.batch_size))
        bar = tqdm(range(self.max_iter), desc=f"{type(self).__name__} k={self.n_clusters}", disable=not self.progress, leave=False)
        p, iteration = None, -1
        for iteration in bar:
            if iteration % self.update_interval == 0:
                z = _encode(autoencoder, data, 256, device)
                with torch.no_grad():
                    q = layer(z.to(device)).cpu()
                p = target_distribution(q.double()).float()
                labels = q.argmax(1).numpy()
                changed = float((labels != previous).mean())
                rows.append({"phase": "cluster", "iteration": iteration, "changed": changed})
                previous = labels
                bar.set_postfix(changed=f"{changed:.3f}")
                if iteration > 0 and changed < self.tol:
                    converged = True
                    break
            idx = order[slice((iteration % n_batches) * self.batch_size, min((iteration % n_batches + 1) * self.batch_size, len(data)))]
            rows.append({"phase": "cluster", "iteration": iteration + 1, **self._step(autoencoder, layer, optimiser, data[idx].to(device), p[idx].to(device), device)})
        return rows, iteration, converged

    def _step(self, autoencoder, layer, optimiser, batch, p_batch, device: str) -> dict:
        """One optimiser step on ``reconstruction_weight * reconstruction + gamma * KL(p || q)``: its loss terms."""
        torch = _torch()

        autoencoder.train()
        if self.reconstruction_weight > 0:
            z, rec = autoencoder(batch)
            rec_loss = torch.nn.functional.mse_loss(rec, batch)
        else:  # DEC: the decoder is not trained any more, skip it
            z = autoencoder.encoder(batch)
            rec_loss = torch.zeros((), device=device)
        q_batch = layer(z)
        kl = torch.nn.functional.kl_div(q_batch.clamp_min(1e-12).log(), p_batch, reduction="batchmean")
        loss = self.reconstruction_weight * rec_loss + self.gamma * kl
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return {"kl": float(kl.detach()), "reconstruction": float(rec_loss.detach()), "loss": float(loss.detach())}

    def fit_predict(self, X) -> np.ndarray:
        return self.fit(X).labels_

    @property
    def cluster_centers_(self) -> np.ndarray:
        self._check_fitted()
        return self.clustering_layer_.centers.detach().numpy().copy()

    def transform(self, X, batch_size: int = 256) -> np.ndarray:
        """The embedding (N, embedding_dim) of images ``X``."""
        self._check_fitted()
        return _encode(self.autoencoder_, _as_tensor(X, self.image_size), batch_size, "cpu").numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignments ``q`` (N, k)."""
        return soft_assignment(self.transform(X).astype(np.float64), self.cluster_centers_.astype(np.float64), self.alpha)

    def predict(self, X) -> np.ndarray:
        """Hard cluster labels (argmax of ``q``)."""
        return self.predict_proba(X).argmax(1).astype(np.int64)

    def reconstruct(self, X, batch_size: int = 256) -> np.ndarray:
        """Reconstructions as uint8 images (N, H, W, 3)."""
        self._check_fitted()
        return reconstruct(self.autoencoder_, X, batch_size)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model (weights, centroids, parameters, history) to one file, atomically."""
        self._check_fitted()
        state = {
            "class": type(self).__name__, "params": {k: v for k, v in self.get_params().items() if k in self._SAVED or k in ("filters", "hidden")}, "network": self.autoencoder_.config,
            "autoencoder": self.autoencoder_.state_dict(), "centers": self.cluster_centers_,
            "history": self.history_.to_dict("list"), "labels": self.labels_, "n_iter": self.n_iter_, "converged": self.converged_,
        }
        return store.save_torch(path, state)

    @classmethod
    def load(cls, path: str | os.PathLike) -> _EmbeddedClustering:
        """Read a model written by :meth:`save`."""
        torch = _torch()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no saved model there")
        state = torch.load(path, weights_only=False)
        klass = {"DCEC": DCEC, "DEC": DEC}.get(state.get("class"))
        if klass is None or (cls is not _EmbeddedClustering and klass is not cls):
            raise ValueError(f"{path}: holds a {state.get('class')!r} model, not a {cls.__name__}")
        params = dict(state["params"])
        model = klass(**params, progress=False)
        autoencoder = model._new_autoencoder()
        autoencoder.load_state_dict(state["autoencoder"])
        _, _, Layer = _modules()
        model.autoencoder_ = autoencoder
        model.clustering_layer_ = Layer(model.n_clusters, model.embedding_dim, model.alpha, state["centers"])
        model.history_ = pd.DataFrame(state["history"])
        model.labels_ = np.asarray(state["labels"])
        model.n_iter_ = state["n_iter"]
        model.converged_ = state["converged"]
        return model

class DCEC(_EmbeddedClustering):
    """Deep convolutional embedded clustering: :class:`ConvAutoencoder` + clustering layer,
    trained on ``reconstruction + gamma * KL(p || q)`` (Guo et al. 2017; gamma = 0.1).

    Extra keyword: ``filters=(32, 64, 128)``. Pass ``autoencoder=`` a pretrained
    :class:`ConvAutoencoder` to skip pretraining (it is copied, never modified), e.g. to share
    one pretraining across a sweep over ``n_clusters``.
    """

    kind = "conv"
    reconstruction_weight = 1.0

    def __init__(
        self,
        n_clusters: int = 7,
        image_size: int = 64,
        embedding_dim: int = 10,
        gamma: float = 0.1,
        pretrain_epochs: int = 10,
        max_iter: int = 200,
        update_interval: int = 20,
        tol: float = 0.001,
        batch_size: int = 64,
        lr: float = 1e-3,
        cluster_lr: float = 1e-4,
        alpha: float = 1.0,
        n_init: int = 20,
        autoencoder=None,
        seed: int = 0,
        device: str = "auto",
        threads: int | None = 2,
        progress: bool = True,
        filters: Sequence[int] = (32, 64, 128),
    ):
        self._store(locals())

    def _new_autoencoder(self):
        Conv, _, _ = _modules()
        return Conv(self.image_size, self.embedding_dim, tuple(self.filters), seed=self.seed)


class DEC(_EmbeddedClustering):
    """Deep embedded clustering (Xie et al. 2016): :class:`DenseAutoencoder` on the flattened
    pixels + clustering layer trained on the KL term only (the decoder is dropped after
    pretraining; ``gamma`` scales the KL loss, default 1).

    Extra keyword: ``hidden=(500, 500, 2000)``. Differences from the paper: the autoencoder is
    pretrained end to end with Adam (not greedy layer-wise with dropout, SGD).
    """

    kind = "dense"
    reconstruction_weight = 0.0

    def __init__(
        self,
        n_clusters: int = 7,
        image_size: int = 64,
        embedding_dim: int = 10,
        gamma: float = 1.0,
        pretrain_epochs: int = 10,
        max_iter: int = 200,
        update_interval: int = 20,
        tol: float = 0.001,
        batch_size: int = 64,
        lr: float = 1e-3,
        cluster_lr: float = 1e-4,
        alpha: float = 1.0,
        n_init: int = 20,
        autoencoder=None,
        seed: int = 0,
        device: str = "auto",
        threads: int | None = 2,
        progress: bool = True,
        hidden: Sequence[int] = (500, 500, 2000),
    ):
        self._store(locals())

    def _new_autoencoder(self):
        _, Dense, _ = _modules()
        return Dense(self.image_size, self.embedding_dim, tuple(self.hidden), seed=self.seed)


# --- the chapter's study: every method, every k, scored in its own and in a common space --------


def fit_cached(model: _EmbeddedClustering, X, cache_dir: str | os.PathLike | None = None) -> _EmbeddedClustering:
    """``model.fit(X)``, or, with ``cache_dir``, the stored result of the same fit (same class,
    parameters, starting autoencoder weights, images, threads, device type and torch version):
    the fitted attributes come back bit for bit, so a rerun skips the training."""
    from artsig.devices import resolve_device

    if cache_dir is None:
        return model.fit(X)
    deterministic(model.seed, model.threads)  # as fit does first: the key then reads this fit's thread count
    start = model.autoencoder  # a pretrained autoencoder given to the model, or None
    params = {k: v for k, v in model.get_params().items() if k not in ("autoencoder", "device", "threads", "progress")}
    X = np.asarray(X)
    key = _fit_key(type(model).__name__, params, None if start is None else _weights(start), X, model.threads, resolve_device(model.device))
    path = store.cache_path(cache_dir, f"fit-{type(model).__name__.lower()}-k{model.n_clusters}", key, ".pt")
    saved = store.load_torch(path)
    if saved is None:
        model.fit(X)
        store.save_torch(path, {
            "autoencoder": model.autoencoder_.state_dict(), "centers": model.cluster_centers_, "history": model.history_,
            "labels": model.labels_, "n_iter": model.n_iter_, "converged": model.converged_, "init_labels": model.init_labels_,
            "embedding": model.embedding_,
        })
        return model
    autoencoder = copy.deepcopy(start) if start is not None else model._new_autoencoder()
    autoencoder.load_state_dict(saved["autoencoder"])
    autoencoder.cpu().eval()
    _, _, Layer = _modules()
    model.autoencoder_ = autoencoder
    model.clustering_layer_ = Layer(model.n_clusters, model.embedding_dim, model.alpha, saved["centers"])
    model.n_iter_, model.converged_, model.init_labels_ = saved["n_iter"], saved["converged"], saved["init_labels"]
    model.history_, model.embedding_, model.labels_ = saved["history"], saved["embedding"], saved["labels"]
    return model


def _study_inputs(images, common, image_ids, ks) -> tuple[np.ndarray, np.ndarray, list[str], list[int]]:
    """The study's images, common features, image ids and k values, checked against each other."""
    images = np.asarray(images)
    common = np.asarray(common)
    if len(common) != len(images):
        raise ValueError(f"common features have {len(common)} rows but there are {len(images)} images; extract them for the same catalog")
    ids = list(image_ids) if image_ids is not None else [str(i) for i in range(len(images))]
    if len(ids) != len(images):
        raise ValueError(f"image_ids has {len(ids)} entries for {len(images)} images")
    ks = [int(k) for k in ks]
    for k in ks:
        _check_k(k, len(images))
    return images, common, ids, ks


def _deep_models(k: int, conv_autoencoder, dense_autoencoder, dcec_gamma: float, shared: dict) -> dict:
    """Unfitted DCEC and DEC for ``k`` clusters, each starting from its shared pretrained network."""
    return {
        "DCEC": DCEC(k, embedding_dim=conv_autoencoder.config["embedding_dim"], gamma=dcec_gamma, autoencoder=conv_autoencoder,
                     filters=tuple(conv_autoencoder.config["filters"]), **shared),
        "DEC": DEC(k, embedding_dim=dense_autoencoder.config["embedding_dim"], autoencoder=dense_autoencoder,
                   hidden=tuple(dense_autoencoder.config["hidden"]), **{**shared, "image_size": dense_autoencoder.config["image_size"]}),
    }


def _method_history(histories: list[pd.DataFrame]) -> pd.DataFrame:
    """The fits' training histories in one table, ``method`` and ``k`` first."""
    history = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    if len(history):
        history = history[["method", "k", *[c for c in history.columns if c not in ("method", "k")]]]
    return history


def cluster_all(
    images: np.ndarray,
    common: np.ndarray,
    ks: Sequence[int],
    conv_autoencoder,
    dense_autoencoder,
    image_ids: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = 2,
    progress: bool = True,
    keep_models: Sequence[int] = (),
    dense_images: np.ndarray | None = None,
    cache_dir: str | os.PathLike | None = None,
    **fit_params,
) -> dict:
    """Run the four methods for every ``k`` on the same images.

    ``common`` holds the pretrained-backbone features of the same rows; ``conv_autoencoder`` and
    ``dense_autoencoder`` are pretrained once and shared by every ``k`` (each fit works on a
    copy). ``dense_images`` are the same images at DEC's input size (resized from ``images``
    when not given). ``fit_params`` go to :class:`DCEC` and :class:`DEC` (``max_iter``, ``update_interval``,
    ``tol``, ``batch_size``, ``lr``, ``gamma`` for DCEC only as ``dcec_gamma``). With ``cache_dir``
    each DCEC / DEC fit is stored there and a rerun loads it (:func:`fit_cached`).

    Returns ``{"assignments": DataFrame(image_id, method, k, cluster), "embeddings":
    {(method, k): array}, "history": DataFrame(method, k, phase, iteration, kl, reconstruction,
    loss, changed), "fits": DataFrame(method, k, n_iter, converged), "models": {(method, k): model}}``
    with models kept for ``k`` in ``keep_models``.
    """
    from tqdm import tqdm

    images, common, ids, ks = _study_inputs(images, common, image_ids, ks)
    dcec_gamma = fit_params.pop("dcec_gamma", 0.1)
    size = conv_autoencoder.config["image_size"]
    shared = dict(image_size=size, seed=seed, device=device, threads=threads, progress=False, **fit_params)
    cae_embedding = _encode(conv_autoencoder, _as_tensor(images, size), 256, "cpu").numpy()
    dense_pixels = resize_images(images, dense_autoencoder.config["image_size"]) if dense_images is None else np.asarray(dense_images)
    if len(dense_pixels) != len(images):
        raise ValueError(f"dense_images has {len(dense_pixels)} rows for {len(images)} images")
    assignments, embeddings, histories, fits, models = [], {}, [], [], {}
    bar = tqdm(ks, desc="clusterings", disable=not progress)
    for k in bar:
        bar.set_postfix(k=k)
        results = {}
        for name, model in _deep_models(k, conv_autoencoder, dense_autoencoder, dcec_gamma, shared).items():
            pixels = images if name == "DCEC" else dense_pixels
            fit_cached(model, pixels, cache_dir)
            results[name] = (model.labels_, model.embedding_)
            histories.append(model.history_.assign(method=name, k=k))
            fits.append({"method": name, "k": k, "n_iter": model.n_iter_, "converged": model.converged_})
            if k in keep_models:
                models[(name, k)] = model
        results["CAE+KMeans"] = (kmeans(cae_embedding, k, seed)[0], cae_embedding)
        results["EfficientNet+KMeans"] = (kmeans(common, k, seed)[0], common)
        for name in CLUSTERING_METHODS:
            labels, embedding = results[name]
            embeddings[(name, k)] = embedding
            assignments.append(pd.DataFrame({"image_id": ids, "method": name, "k": k, "cluster": labels}))
    return {
        "assignments": pd.concat(assignments, ignore_index=True),
        "embeddings": embeddings,
        "history": _method_history(histories),
        "fits": pd.DataFrame(fits, columns=["method", "k", "n_iter", "converged"]),
        "models": models,
    }


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Images (N, H, W, 3) uint8 resized to size x size (bilinear); returned as is when already that size."""
    if images.shape[1:3] == (size, size):
        return images
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR)) for img in images])


def score(assignments: pd.DataFrame, embeddings: dict, common: np.ndarray, catalog: pd.DataFrame, labels: Sequence[str] | None = None,
          seed: int = 0) -> pd.DataFrame:
    """Every clustering scored in its own space, in the common space and against the labels.

    :func:`artsig.scoring.score_partition`'s long table with ids ``method, k, space``
    (``space`` is ``"own"`` or ``"common"`` for internal metrics, None for external ones);
    :func:`internal_table` and :func:`external_table` are its two wide views. ``labels``
    default to :func:`artsig.scoring.label_names` of style, genre and artist; ``catalog``
    rows must be those of the assignments (by ``image_id``).
    """
    from sklearn.metrics import pairwise_distances

    from artsig import scoring

    labels = scoring.label_names(catalog, ("style", "genre", "artist")) if labels is None else list(labels)
    missing = [c for c in labels if c not in catalog]
    if missing:
        raise ValueError(f"labels {missing} are not columns of the catalog; it has {list(catalog.columns)}")
    by_id = catalog.set_index(catalog["image_id"].astype(str))
    common = np.asarray(common, dtype=np.float64)
    # one distance matrix serves every silhouette in the common space (the costly part)
    common_distances = pairwise_distances(common) if len(common) <= 5000 else None
    runs = []
    for (method, k), part in assignments.groupby(["method", "k"], sort=False):
        cluster = part["cluster"].to_numpy()
        truth = by_id.loc[part["image_id"].astype(str), labels].reset_index(drop=True)
        ids = {"method": method, "k": k}
        runs += [{"partition": cluster, "features": embeddings[(method, k)], **ids, "space": "own"},
                 {"partition": cluster, "features": common, "distances": common_distances, **ids, "space": "common"},
                 {"partition": cluster, "labels": truth if labels else None, **ids, "space": None}]
    return scoring.score_many(runs, seed=seed)


def internal_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, k, space): ``n_clusters_found`` and the internal metrics (a view of :func:`score`)."""
    from artsig import scoring

    part = scores[scores["kind"] == "internal"]
    table = scoring.wide(part, ["method", "k", "space"], meta=["n_clusters"]).reset_index()
    return table.rename(columns={"n_clusters": "n_clusters_found"})


def external_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, k, label): NMI, ARI and purity (a view of :func:`score`)."""
    from artsig import scoring

    part = scores[scores["kind"] == "external"]
    if part.empty:
        return pd.DataFrame(columns=["method", "k", "label", "nmi", "ari", "purity"])
    return scoring.wide(part, ["method", "k", "label"]).reset_index()[["method", "k", "label", "nmi", "ari", "purity"]]


def composition(assignments: pd.DataFrame, catalog: pd.DataFrame, method: str, k: int, label: str) -> pd.DataFrame:
    """Share of each ``label`` class inside each cluster (rows: clusters, summing to 1)."""
    part = assignments[(assignments["method"] == method) & (assignments["k"] == k)]
    if part.empty:
        raise ValueError(f"no assignments for method={method!r}, k={k}")
    if label not in catalog:
        raise ValueError(f"label={label!r} is not a column of the catalog")
    merged = part.merge(catalog[["image_id", label]].astype({"image_id": str}), on="image_id", how="left")
    table = pd.crosstab(merged["cluster"], merged[label], normalize="index")
    table.index.name = "cluster"
    return table


def claim_check(external: pd.DataFrame, method: str = "DCEC", coarse: int = 3, fine: int = 7, metric: str = "nmi") -> pd.DataFrame:
    """The paper's claim in numbers: at ``coarse`` k clusters should agree more with style than
    with genre, at ``fine`` k more with genre (content) than at ``coarse`` k, relative to style.

    One row per k: the ``metric`` with style and with genre, which is higher, and the
    genre-minus-style gap. Empty when the collection lacks style or genre.
    """
    have = set(external["label"])
    if not {"style", "genre"} <= have:
        return pd.DataFrame(columns=["method", "k", f"{metric}_style", f"{metric}_genre", "closer_to", "genre_minus_style"])
    rows = []
    for k in (coarse, fine):
        part = external[(external["method"] == method) & (external["k"] == k)].set_index("label")[metric]
        if part.empty:
            raise ValueError(f"no scores for method={method!r}, k={k}")
        rows.append({"method": method, "k": k, f"{metric}_style": part["style"], f"{metric}_genre": part["genre"],
                     "closer_to": "style" if part["style"] > part["genre"] else "genre", "genre_minus_style": part["genre"] - part["style"]})
    return pd.DataFrame(rows)


def _partition(assignments: pd.DataFrame, method: str, k: int) -> pd.Series:
    """The cluster of each image (index: image_id) in ``method``'s clustering at ``k``; empty if not run."""
    part = assignments[(assignments["method"] == method) & (assignments["k"] == k)]
    return part.set_index("image_id")["cluster"]


def claim_intervals(assignments: pd.DataFrame, catalog: pd.DataFrame, methods: Sequence[str] = CLUSTERING_METHODS, ks: Sequence[int] = (3, 7),
                    seed: int = 0, n_boot: int = 500) -> pd.DataFrame:
    """NMI with genre minus NMI with style per (method, k), with a 95 % bootstrap interval over
    the clustered images, and which label the clusters are closer to ("no clear difference"
    when the interval holds zero). Empty when the catalog lacks style or genre."""
    from artsig.comparison import bootstrap_statistic, nmi_fast

    if not {"style", "genre"} <= set(catalog.columns):
        return pd.DataFrame(columns=["method", "k", "nmi_genre", "nmi_style", "genre_minus_style", "low", "high", "closer_to"])
    by_id = catalog.set_index(catalog["image_id"].astype(str))
    rows = []
    for method in methods:
        for k in ks:
            part = _partition(assignments, method, k)
            if part.empty:
                continue
            truth = by_id.loc[part.index.astype(str)]
            known = (truth["style"].notna() & truth["genre"].notna()).to_numpy()
            cluster = part.to_numpy()[known]
            style, genre = truth["style"].to_numpy()[known], truth["genre"].to_numpy()[known]
            c = bootstrap_statistic(lambda r: (nmi_fast(genre[r], cluster[r]), nmi_fast(style[r], cluster[r])), len(cluster),
                                    "genre", "style", "NMI", n_boot=n_boot, seed=seed)
            closer = {"better": "genre", "worse": "style", "no clear difference": "no clear difference"}[c.outcome]
            rows.append({"method": method, "k": k, "nmi_genre": c.mean_a, "nmi_style": c.mean_b, "genre_minus_style": c.difference,
                         "low": c.low, "high": c.high, "closer_to": closer})
    return pd.DataFrame(rows)


def gap_shift(assignments: pd.DataFrame, catalog: pd.DataFrame, method: str = "DCEC", coarse: int = 3, fine: int = 7,
              seed: int = 0, n_boot: int = 500):
    """How far the genre-minus-style NMI gap moves from ``coarse`` to ``fine`` clusters, with a
    bootstrap interval over the images (both clusterings scored on each resample); None when
    the catalog lacks style or genre or a clustering is missing."""
    from artsig.comparison import bootstrap_statistic, nmi_fast

    if not {"style", "genre"} <= set(catalog.columns):
        return None
    by_id = catalog.set_index(catalog["image_id"].astype(str))
    parts = [_partition(assignments, method, k) for k in (coarse, fine)]
    if any(part.empty for part in parts):
        return None
    truth = by_id.loc[parts[0].index.astype(str)]
    known = (truth["style"].notna() & truth["genre"].notna()).to_numpy()
    style, genre = truth["style"].to_numpy()[known], truth["genre"].to_numpy()[known]
    c_coarse, c_fine = parts[0].to_numpy()[known], parts[1].reindex(parts[0].index).to_numpy()[known]

    def gaps(r):
        return (nmi_fast(genre[r], c_fine[r]) - nmi_fast(style[r], c_fine[r]),
                nmi_fast(genre[r], c_coarse[r]) - nmi_fast(style[r], c_coarse[r]))

    return bootstrap_statistic(gaps, len(style), f"gap at k={fine}", f"gap at k={coarse}", "genre-minus-style NMI", n_boot=n_boot, seed=seed)


def versus_baseline(assignments: pd.DataFrame, catalog: pd.DataFrame, method: str = "DCEC", baseline: str = "EfficientNet+KMeans",
                    ks: Sequence[int] = (3, 7), labels: Sequence[str] = ("style", "genre"), seed: int = 0, n_boot: int = 500) -> list:
    """``method`` against the ``baseline`` clustering of the same images: NMI with each label at
    each k, with a paired bootstrap interval over the images (:class:`artsig.comparison.Comparison`)."""
    from artsig.comparison import bootstrap_statistic, nmi_fast

    by_id = catalog.set_index(catalog["image_id"].astype(str))
    out = []
    for k in ks:
        a, b = _partition(assignments, method, k), _partition(assignments, baseline, k)
        if a.empty or b.empty:
            continue
        b = b.reindex(a.index)
        for label in labels:
            if label not in by_id:
                continue
            truth = by_id.loc[a.index.astype(str), label]
            known = truth.notna().to_numpy()
            y, ca, cb = truth.to_numpy()[known], a.to_numpy()[known], b.to_numpy()[known]
            out.append(bootstrap_statistic(lambda r: (nmi_fast(y[r], ca[r]), nmi_fast(y[r], cb[r])), len(y),
                                           f"{method} k={k}", f"{baseline} k={k}", f"NMI with {label}", n_boot=n_boot, seed=seed))
    return out


def verdict(external: pd.DataFrame, method: str = "DCEC", coarse: int = 3, fine: int = 7, metric: str = "nmi",
            intervals: pd.DataFrame | None = None, shift=None) -> str:
    """A sentence per claim, derived from the numbers (for the chapter's conclusion). With
    ``intervals`` (:func:`claim_intervals`) a gap inside the noise reads "no clear difference",
    and with ``shift`` (:func:`gap_shift`) so does a move of the gap between the two k."""
    table = claim_check(external, method, coarse, fine, metric)
    if table.empty:
        lacking = " and ".join(c for c in ("style", "genre") if c not in set(external["label"]))
        return f"The collection has no {lacking} labels, so the paper's claim (style at coarse k, content at finer k) cannot be tested on it."
    c, f = table.iloc[0], table.iloc[1]

    def answer(row, k: int, wanted: str) -> str:
        hit = pd.DataFrame() if intervals is None or intervals.empty else intervals[(intervals["method"] == method) & (intervals["k"] == k)]
        if hit.empty:
            return "yes" if row["closer_to"] == wanted else "no"
        h = hit.iloc[0]
        word = "yes" if h["closer_to"] == wanted else "no clear difference" if h["closer_to"] == "no clear difference" else "no"
        return f"{word}, genre-minus-style interval {h['low']:+.3f} to {h['high']:+.3f}"

    first = (f"Coarse clusters follow style: {answer(c, coarse, 'style')} "
             f"(k={coarse}: {metric.upper()} with style {c[f'{metric}_style']:.3f}, with genre {c[f'{metric}_genre']:.3f}).")
    second = (f"Finer clusters follow content (genre): {answer(f, fine, 'genre')} "
              f"(k={fine}: {metric.upper()} with style {f[f'{metric}_style']:.3f}, with genre {f[f'{metric}_genre']:.3f}).")
    moved = f['genre_minus_style'] - c['genre_minus_style']
    direction = 'towards genre' if moved > 0 else 'towards style'
    if shift is not None and shift.outcome == "no clear difference":
        direction = f"neither way clearly (shift {shift.difference:+.3f}, interval {shift.low:+.3f} to {shift.high:+.3f})"
    elif shift is not None:
        direction += f" (shift {shift.difference:+.3f}, interval {shift.low:+.3f} to {shift.high:+.3f})"
    third = (f"Going from k={coarse} to k={fine} moves the clusters {direction} "
             f"(genre-minus-style {metric.upper()} gap {c['genre_minus_style']:+.3f} -> {f['genre_minus_style']:+.3f}).")
    return "\n".join([first, second, third])
