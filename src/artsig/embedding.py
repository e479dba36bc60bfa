"""Embedding a whole collection as a job: Parquet shards of per-image features, resumable, local or on Ray.

``python -m artsig embed --dataset SPEC --features NAME`` (or :func:`embed`) reads a collection
(``folder:``, ``csv:``, ``wikiart:``, ``synthetic`` ... through :func:`artsig.datasets.open_dataset`),
cuts its catalog into shards of ``shard_size`` rows in catalog order and writes, in
``<data_dir>/embeddings/<dataset slug>/<features>/`` (:func:`embedding_folder`):

- ``part-00000.parquet`` ...: columns ``image_id``, ``sha256``, ``path`` (strings) and ``vector``
  (``fixed_size_list<float32>[D]``), rows in catalog order;
- ``manifest.json``: ``features``, ``dim``, ``n_works``, ``dataset``, ``shard_size``, ``shards``
  (``file``, ``rows``, ``sha256`` of the file, and the shard's ``key``), ``complete``, ``skipped``
  (files the catalog scan could not read: ``path``, ``reason``), ``engine`` (the inference engine
  that made the numbers: ``onnx`` or ``torch``), ``executor`` (``local`` or ``ray``), ``runner_key``
  (the feature-cache key of the numbers), ``created_with`` (versions).

Each shard is written atomically, then the manifest; a run killed at any point resumes at the
first shard the manifest does not list as finished, and finished shards are never rewritten.
The shards are computed by the feature machinery (:mod:`artsig.features`: the same runners,
decoding threads and inference engine), so ``embed`` and ``features.extract`` give the same
numbers; :func:`artsig.features.extract` reads a complete embeddings folder of the same
settings instead of recomputing. Only per-image extractors can be sharded (not the ones that
fit a PCA on the collection, nor composites).

With ``executor="ray"`` every unfinished shard is one Ray task on a cluster (``address``: ``auto``
or ``HOST:PORT``; none starts a local one); workers return their shard's vectors and the driver
writes shards and manifest, so the output folder only needs to be on the driver. The image
files must be readable at the same paths on every node (shared storage). A task asks for a GPU
when the cluster has one (``gpus="auto"``); Ray is imported only then.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from artsig import store
from artsig.locks import file_lock
from artsig.paths import dataset_slug

__all__ = ["DEFAULT_SHARD_SIZE", "EmbeddingsIncomplete", "embedding_folder", "embed", "read_embeddings", "lookup", "check_embeddable"]

DEFAULT_SHARD_SIZE = 4096
MANIFEST = "manifest.json"
EXECUTORS = ("local", "ray")


class EmbeddingsIncomplete(FileNotFoundError):
    """An embeddings folder that is missing or not finished; the message names the command that finishes it."""


def embedding_folder(dataset: str, features: str, data_dir: str | os.PathLike = "data") -> Path:
    """Where ``embed`` writes a collection's features: ``<data_dir>/embeddings/<dataset slug>/<features>``."""
    return Path(data_dir) / "embeddings" / dataset_slug(dataset) / features


def check_embeddable(features: str) -> None:
    """Raise naming ``features`` unless it is a per-image extractor (no set-level step, not a composite)."""
    from artsig import features as F

    ext = F._get(features)
    if ext.step is not None or ext.parts:
        ok = [n for n, e in F.EXTRACTORS.items() if e.step is None and not e.parts]
        why = "is a composite of several blocks" if ext.parts else "fits a step on the whole collection (a PCA or a per-set scaling)"
        raise ValueError(f"features={features!r} {why}, so it cannot be computed shard by shard; embed one of: {', '.join(ok)}")


def _versions() -> dict[str, str]:
    import importlib.metadata

    import artsig

    out = {"artsig": artsig.__version__, "python": sys.version.split()[0]}
    for pkg in ("numpy", "pyarrow", "torch", "onnxruntime", "efficientnet-lite-pytorch", "ray"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------------------
# Shards


def _shard_table(rows: pd.DataFrame, X: np.ndarray):
    import pyarrow as pa

    X = np.ascontiguousarray(X, dtype=np.float32)
    vector = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1), type=pa.float32()), X.shape[1])
    return pa.table({
        "image_id": pa.array(rows["image_id"].astype(str).tolist(), type=pa.string()),
        "sha256": pa.array(rows["sha256"].astype(str).tolist(), type=pa.string()),
        "path": pa.array(rows["path"].astype(str).tolist(), type=pa.string()),
        "vector": vector,
    })


def _write_shard(path: Path, rows: pd.DataFrame, X: np.ndarray) -> dict:
    import pyarrow.parquet as pq

    table = _shard_table(rows, X)
    store.atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), lock=False)
    return {"file": path.name, "rows": len(rows), "sha256": store.file_digest(path)}


def _read_shard(path: Path, columns: Sequence[str] | None = None):
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=list(columns) if columns else None)


def _vectors(table) -> np.ndarray:
    col = table.column("vector").combine_chunks()
    dim = col.type.list_size
    return col.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)


def _shard_key(runner_key: str, rows: pd.DataFrame) -> str:
    """What a shard's content depends on: the feature settings and its rows (ids, content hashes, paths)."""
    return store.fingerprint(runner_key, rows["image_id"].astype(str).tolist(), rows["sha256"].astype(str).tolist(),
                             rows["path"].astype(str).tolist())


# --------------------------------------------------------------------------------------
# Computing one shard (the same code on the driver and on Ray workers)

_BUILT: dict[tuple, dict] = {}  # built runners of this process, by settings: a Ray worker builds its model once


def _compute_shard(shas: list[str], paths: list[str], settings: dict, progress=None) -> np.ndarray:
    """The ``(rows, D)`` features of one shard through :mod:`artsig.features`' runner and decoding threads."""
    from artsig import features as F

    data_dir = settings["data_dir"]
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    except OSError:  # a Ray node without the driver's folder: the exported graph goes to a local cache
        data_dir = str(Path(tempfile.gettempdir()) / "artsig-data")
    runner = F._make_runner(settings["runner"], settings["weights"], settings["engine"], data_dir)
    output = settings["output"]

    class Sink:
        """Collects one shard's batches (the interface of the feature cache, without the disk)."""

        outputs = (output,)

        def __init__(self):
            self.rows: dict[str, np.ndarray] = {}

        def has_all(self, keys) -> bool:
            return all(k in self.rows for k in keys)

        def write(self, batch_no, keys, outputs) -> None:
            for k, v in zip(keys, np.asarray(outputs[output], dtype=np.float32)):
                self.rows[k] = v
            if progress is not None:
                progress(len(keys))

        def compact(self) -> None:
            pass

    sink = Sink()
    built = _BUILT.setdefault((runner.key(settings["image_mode"]), settings["device"]), {})
    F._run(shas, paths, [runner], [sink], settings["device"], settings["batch_size"], settings["image_mode"],
           settings["workers"] or F._default_workers(), progress=False, fns=built)
    return np.stack([sink.rows[s] for s in shas]).astype(np.float32, copy=False)


def _local_shards(todo: list[tuple[int, pd.DataFrame]], settings: dict, bar) -> Iterator[tuple[int, np.ndarray]]:
    for i, rows in todo:
        yield i, _compute_shard(rows["sha256"].astype(str).tolist(), rows["path"].astype(str).tolist(), settings, bar.update)


def _ray_module():
    try:
        import ray
    except ImportError:
        raise ImportError("executor 'ray' needs Ray: `pip install -r requirements.txt` (ray is pinned there), "
                          "or use --engine local") from None
    return ray


def _ray_connect(address: str | None):
    """Ray, connected to ``address`` (``auto``, ``HOST:PORT``, or None: the running session or a new local one)."""
    ray = _ray_module()
    if not ray.is_initialized():
        from artsig import determinism

        env = {"env_vars": {**determinism.pinned_environment(), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
        ray.init(address=address, runtime_env=env, include_dashboard=False, log_to_driver=False)
    return ray


def _ray_gpus(ray, gpus, device: str) -> int:
    if device == "cpu":
        return 0
    if gpus == "auto":
        return 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    return int(gpus)


def _ray_task(shas: list[str], paths: list[str], settings: dict) -> np.ndarray:
    import artsig  # noqa: F401 - pins the math kernels in a fresh worker before torch loads

    os.environ["ARTSIG_THREADS"] = str(settings["threads"])  # the CPUs Ray gave this task, not the whole node's
    return _compute_shard(shas, paths, settings)


def _ray_shards(ray, todo: list[tuple[int, pd.DataFrame]], settings: dict, gpus: int, bar) -> Iterator[tuple[int, np.ndarray]]:
    """Every shard as one Ray task; yields them as they finish."""
    from artsig import determinism

    settings = {**settings, "threads": determinism.threads(pinned_only=True)}
    task = ray.remote(num_cpus=settings["threads"], num_gpus=gpus, max_retries=2)(_ray_task)
    pending = {task.remote(rows["sha256"].astype(str).tolist(), rows["path"].astype(str).tolist(), settings): (i, len(rows))
               for i, rows in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        i, n = pending.pop(ready[0])
        X = ray.get(ready[0])
        bar.update(n)
        yield i, X


# --------------------------------------------------------------------------------------
# The job


def _load_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _save_manifest(folder: Path, manifest: dict) -> None:
    store.atomic_write(folder / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)), lock=False)


def _command(dataset: str, features: str, folder: Path) -> str:
    return f"python -m artsig embed --dataset {dataset} --features {features} --out {folder}"


def _prepare_folder(folder: Path, manifest: dict | None, identity: dict, force: bool) -> dict[int, dict]:
    """The finished shards to keep (by index); raises when the folder holds something else, unless ``force``."""
    ours = [p for p in folder.glob("part-*.parquet")] + ([folder / MANIFEST] if (folder / MANIFEST).exists() else [])
    other = [p for p in folder.iterdir() if p not in ours and not p.name.startswith(".")] if folder.is_dir() else []
    if manifest is None:
        if (ours or other) and not force:
            raise FileExistsError(f"{folder} is not empty and holds no embeddings manifest; choose another --out or pass --force")
        if force:
            for p in ours:
                p.unlink()
        return {}
    changed = [k for k, v in identity.items() if manifest.get(k) != v]
    if changed:
        if not force:
            was = ", ".join(f"{k}={manifest.get(k)!r}" for k in changed)
            raise FileExistsError(f"{folder} holds embeddings made with other settings ({was}); pass --force to replace them "
                                  f"or choose another --out")
        for p in ours:
            p.unlink()
        return {}
    return {int(s["index"]): s for s in manifest.get("shards") or [] if s and "index" in s}


def _collection_root(dataset: str) -> Path | None:
    """The folder a collection's data-quality table names files from (None for the generated benchmark)."""
    from artsig.datasets import parse_dataset

    kind, location = parse_dataset(dataset)
    if location is None:
        return None
    return location if location.is_dir() else location.parent


def embed(
    dataset: str,
    features: str = "efficientnet_lite0",
    out: str | os.PathLike | None = None,
    data_dir: str | os.PathLike = "data",
    shard_size: int = DEFAULT_SHARD_SIZE,
    device: str = "auto",
    executor: str = "local",
    address: str | None = None,
    inference: str = "auto",
    batch_size: int = 32,
    weights: str | None = "imagenet",
    image_mode: str = "resize",
    workers: int | None = None,
    gpus: int | str = "auto",
    progress: bool = True,
    force: bool = False,
    dataset_options: dict | None = None,
    _stop_after: int | None = None,
) -> Path:
    """Embed every readable work of ``dataset`` with extractor ``features`` into Parquet shards; return the folder.

    Resumes a killed run (finished shards are kept, never rewritten). ``executor`` is ``local``
    (this process, the default; needs no Ray) or ``ray`` (one task per shard on the cluster at
    ``address``). ``inference``: the engine of the EfficientNet-Lite trunks (``auto`` | ``onnx`` |
    ``torch``, see :mod:`artsig.inference`). ``dataset_options`` go to
    :func:`artsig.datasets.open_dataset` (``csv_dir``, ``path_column``, ``label_column``...).
    """
    from artsig import features as F
    from artsig.datasets import open_dataset
    from artsig.devices import resolve_device

    check_embeddable(features)
    if executor not in EXECUTORS:
        raise ValueError(f"engine (executor) must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive number of works, got {shard_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    ext = F._get(features)
    catalog, quality = open_dataset(dataset, data_dir=data_dir, with_quality=True, progress=progress, **(dataset_options or {}))
    root = _collection_root(dataset)
    skipped = [{"path": str(root / r.file if root is not None else r.file), "reason": f"{r.issue}: {r.detail}"}
               for r in quality.itertuples() if r.action == "skipped"]
    folder = Path(out) if out is not None else embedding_folder(dataset, features, data_dir)

    ray = _ray_connect(address) if executor == "ray" else None
    if ray is not None:
        n_gpus = _ray_gpus(ray, gpus, device)
        dev = "cuda" if n_gpus else "cpu"
    else:
        n_gpus, dev = 0, resolve_device(device)
    engine = F.runner_engine(ext.runner, inference, dev)
    runner = F._make_runner(ext.runner, weights, engine, data_dir)
    runner_key = runner.key(image_mode)
    settings = {"runner": ext.runner, "output": ext.output, "weights": weights, "engine": engine, "image_mode": image_mode,
                "batch_size": int(batch_size), "device": dev, "workers": workers, "data_dir": str(Path(data_dir).resolve())}

    identity = {"features": features, "dataset": dataset, "shard_size": int(shard_size), "runner_key": runner_key}
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / MANIFEST):  # a second run on the same folder waits, then finds the shards done
        return _embed_shards(folder, catalog, identity, settings, skipped, executor, ray, n_gpus, progress, force, _stop_after)


def _embed_shards(folder: Path, catalog: pd.DataFrame, identity: dict, settings: dict, skipped: list, executor: str, ray, n_gpus: int,
                  progress: bool, force: bool, stop_after: int | None) -> Path:
    """The shard loop of :func:`embed` (holding the folder's lock): keep finished shards, compute the others."""
    from tqdm import tqdm

    features, shard_size, runner_key = identity["features"], identity["shard_size"], identity["runner_key"]
    kept = _prepare_folder(folder, _load_manifest(folder), identity, force)
    shards = [catalog.iloc[i : i + shard_size] for i in range(0, len(catalog), shard_size)]
    entries: list[dict | None] = [None] * len(shards)
    for i, rows in enumerate(shards):
        entry = kept.get(i)
        if entry and entry.get("key") == _shard_key(runner_key, rows) and (folder / entry["file"]).is_file():
            entries[i] = entry
    for stale in set(folder.glob("part-*.parquet")) - {folder / e["file"] for e in entries if e}:
        stale.unlink()  # a shard of an older catalog, or one written but not yet listed when the run was killed

    manifest = {**identity, "dim": None, "n_works": len(catalog), "shards": [e for e in entries if e], "complete": False, "skipped": skipped,
                "engine": settings["engine"], "executor": executor, "weights": settings["weights"], "image_mode": settings["image_mode"],
                "batch_size": settings["batch_size"], "device": settings["device"], "created_with": _versions()}
    for e in entries:
        if e and e.get("dim"):
            manifest["dim"] = e["dim"]
    _save_manifest(folder, manifest)
    todo = [(i, rows) for i, rows in enumerate(shards) if entries[i] is None]
    done_rows = sum(len(rows) for i, rows in enumerate(shards) if entries[i] is not None)
    bar = tqdm(total=len(catalog), initial=done_rows, desc=f"embed {features}", unit="img", disable=not progress, smoothing=0.1)
    written = 0
    try:
        stream = _ray_shards(ray, todo, settings, n_gpus, bar) if ray is not None else _local_shards(todo, settings, bar)
        for i, X in stream:
            rows = shards[i]
            entry = _write_shard(folder / f"part-{i:05d}.parquet", rows, X)
            entries[i] = {**entry, "index": i, "key": _shard_key(runner_key, rows), "dim": int(X.shape[1])}
            manifest["dim"] = int(X.shape[1])
            manifest["shards"] = [e for e in entries if e]
            _save_manifest(folder, manifest)
            written += 1
            if stop_after is not None and written >= stop_after:
                raise KeyboardInterrupt(f"stopped after {written} shards (_stop_after)")
    finally:
        bar.close()
    manifest["complete"] = True
    _save_manifest(folder, manifest)
    return folder


# --------------------------------------------------------------------------------------
# Reading


def read_embeddings(folder: str | os.PathLike, verify: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """The works (``image_id``, ``sha256``, ``path``, in catalog order) and their ``(N, D)`` float32 features.

    Raises :class:`EmbeddingsIncomplete` naming the folder and the command that finishes it when
    the folder has no manifest or the run has not finished; ``verify`` checks every shard's sha256.
    """
    folder = Path(folder)
    manifest = _load_manifest(folder)
    if manifest is None:
        raise EmbeddingsIncomplete(f"{folder} holds no embeddings (no {MANIFEST}); make them with "
                                   f"`python -m artsig embed --dataset SPEC --features NAME --out {folder}`")
    if not manifest.get("complete"):
        done = len(manifest.get("shards") or [])
        total = -(-int(manifest.get("n_works") or 0) // max(int(manifest.get("shard_size") or 1), 1))
        raise EmbeddingsIncomplete(f"{folder} is not finished ({done} of {total} shards); finish it with "
                                   f"`{_command(manifest.get('dataset'), manifest.get('features'), folder)}`")
    frames, blocks = [], []
    for entry in manifest["shards"]:
        path = folder / entry["file"]
        if not path.is_file() or (verify and store.file_digest(path) != entry["sha256"]):
            raise EmbeddingsIncomplete(f"{path} is missing or damaged; rerun `{_command(manifest['dataset'], manifest['features'], folder)}`")
        table = _read_shard(path)
        frames.append(table.select(["image_id", "sha256", "path"]).to_pandas())
        blocks.append(_vectors(table))
    dim = int(manifest.get("dim") or 0)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["image_id", "sha256", "path"])
    X = np.concatenate(blocks) if blocks else np.empty((0, dim), dtype=np.float32)
    return frame, np.ascontiguousarray(X, dtype=np.float32)


def lookup(shas: Sequence[str], features: str, runner_key: str, data_dir: str | os.PathLike) -> np.ndarray | None:
    """Features of ``shas`` (rows in that order) from a complete embeddings folder under ``data_dir`` made
    with the same settings (``runner_key``), or None unless one folder holds every one of them."""
    root = Path(data_dir) / "embeddings"
    if not root.is_dir():
        return None
    wanted = set(shas)
    for path in sorted(root.glob(f"*/{features}/{MANIFEST}")):
        manifest = _load_manifest(path.parent)
        if not manifest or not manifest.get("complete") or manifest.get("features") != features or manifest.get("runner_key") != runner_key:
            continue
        files = [path.parent / e["file"] for e in manifest["shards"]]
        if not all(f.is_file() for f in files):
            continue
        have = set()
        for f in files:
            have.update(_read_shard(f, ["sha256"]).column("sha256").to_pylist())
        if not wanted <= have:
            continue
        index: dict[str, np.ndarray] = {}
        for f in files:
            table = _read_shard(f, ["sha256", "vector"])
            keys = table.column("sha256").to_pylist()
            X = _vectors(table)
            for j, k in enumerate(keys):
                if k in wanted and k not in index:
                    index[k] = X[j]
        return np.stack([index[s] for s in shas]).astype(np.float32, copy=False)
    return None
