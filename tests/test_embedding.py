"""embedding: Parquet shards in catalog order, the manifest contract, resume after a kill, extract reads them, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from artsig import embedding as E
from artsig import features as F
from artsig import inference
from artsig.datasets import open_dataset
from conftest import write_image

pytest.importorskip("torch")


def collection(root: Path, n: int, broken: bool = True) -> str:
    """``folder:`` collection of ``n`` small JPEGs in three styles (and one corrupt file)."""
    for i in range(n):
        write_image(root / f"s{i % 3}" / f"w{i:03d}.jpg", colour=(6 * i % 256, 100, 200 - 4 * i % 200), size=(64, 64), seed=i)
    if broken:
        (root / "s0" / "broken.jpg").write_bytes(b"not an image")
    return f"folder:{root}"


def seeded_data(tmp_path: Path) -> Path:
    """A data folder already holding the exported graph (as a machine has after its first run)."""
    data = tmp_path / "data"
    if inference.onnx_available():
        inference.onnx_model("efficientnet_lite0", data_dir=data)
    return data


def test_embed_writes_the_contract_and_equals_extract(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = collection(tmp_path / "works", 11)
    data = seeded_data(tmp_path)
    folder = E.embed(dataset, "efficientnet_lite0", data_dir=data, shard_size=4, batch_size=3, progress=False)
    assert folder == E.embedding_folder(dataset, "efficientnet_lite0", data) == data / "embeddings" / "folder-works" / "efficientnet_lite0"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["features"] == "efficientnet_lite0" and manifest["dataset"] == dataset
    assert (manifest["dim"], manifest["n_works"], manifest["shard_size"]) == (1280, 11, 4)
    assert [s["file"] for s in manifest["shards"]] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [s["rows"] for s in manifest["shards"]] == [4, 4, 3]
    assert manifest["engine"] in ("onnx", "torch") and "numpy" in manifest["created_with"]
    assert [Path(s["path"]).name for s in manifest["skipped"]] == ["broken.jpg"] and "not an image" in manifest["skipped"][0]["reason"]
    schema = pq.read_schema(folder / "part-00000.parquet")
    assert schema.field("vector").type == pa.list_(pa.float32(), 1280)
    assert all(schema.field(c).type == pa.string() for c in ("image_id", "sha256", "path"))

    frame, X = E.read_embeddings(folder, verify=True)
    catalog = open_dataset(dataset, data_dir=data, progress=False)
    assert frame["image_id"].tolist() == catalog["image_id"].tolist() and frame["sha256"].tolist() == catalog["sha256"].tolist()
    assert X.dtype == np.float32 and X.shape == (11, 1280)
    # the same numbers as the feature pipeline, computed afresh elsewhere ...
    np.testing.assert_array_equal(X, F.extract(catalog, "efficientnet_lite0", data_dir=seeded_data(tmp_path / "fresh"), progress=False))

    # ... and extract reads the shards instead of computing (any order, any subset of the rows)
    def no_decoding(*args, **kwargs):
        raise AssertionError("a complete embeddings folder must be read, not recomputed")

    monkeypatch.setattr(F, "_decode_batch", no_decoding)
    order = np.random.default_rng(0).permutation(11)[:7]
    np.testing.assert_array_equal(F.extract(catalog.iloc[order], "efficientnet_lite0", data_dir=data, progress=False), X[order])
    with pytest.raises(AssertionError, match="recomputed"):  # a work the shards do not hold: computed, not guessed
        F.extract(catalog.assign(sha256=catalog["sha256"].str[::-1]), "efficientnet_lite0", data_dir=data, progress=False)


def test_interrupted_embed_resumes_without_rewriting_shards(tmp_path):
    dataset = collection(tmp_path / "works", 10, broken=False)
    data = seeded_data(tmp_path)
    ref = E.read_embeddings(E.embed(dataset, data_dir=data, out=tmp_path / "ref", shard_size=4, progress=False))[1]
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        E.embed(dataset, data_dir=data, out=out, shard_size=4, progress=False, _stop_after=1)
    with pytest.raises(E.EmbeddingsIncomplete, match="1 of 3 shards.*python -m artsig embed"):
        E.read_embeddings(out)
    first = (out / "part-00000.parquet").stat()
    E.embed(dataset, data_dir=data, out=out, shard_size=4, progress=False)
    again = (out / "part-00000.parquet").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    np.testing.assert_array_equal(E.read_embeddings(out)[1], ref)


def test_bad_requests_raise_clear_errors(tmp_path):
    dataset = collection(tmp_path / "works", 4, broken=False)
    data = seeded_data(tmp_path)
    with pytest.raises(ValueError, match="gram.*shard by shard.*efficientnet_lite0"):
        E.embed(dataset, "gram", data_dir=data, progress=False)
    with pytest.raises(E.EmbeddingsIncomplete, match="no embeddings"):
        E.read_embeddings(tmp_path / "nowhere")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="--force"):
        E.embed(dataset, data_dir=data, out=foreign, progress=False)
    E.embed(dataset, data_dir=data, out=tmp_path / "one", shard_size=2, progress=False)
    with pytest.raises(FileExistsError, match="shard_size"):  # other settings in the folder: kept unless --force
        E.embed(dataset, data_dir=data, out=tmp_path / "one", shard_size=3, progress=False)
    E.embed(dataset, data_dir=data, out=tmp_path / "one", shard_size=3, progress=False, force=True)
    assert json.loads((tmp_path / "one" / "manifest.json").read_text())["shard_size"] == 3
    assert sorted(p.name for p in (tmp_path / "one").glob("part-*")) == ["part-00000.parquet", "part-00001.parquet"]


@pytest.mark.slow
def test_killed_cli_resumes_to_identical_features(tmp_path):
    dataset = collection(tmp_path / "works", 24, broken=False)
    data = seeded_data(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "artsig", "embed", "--dataset", dataset, "--data-dir", str(data), "--out", str(out),
           "--shard-size", "4", "--batch-size", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120

    def finished() -> int:
        try:
            return len(json.loads((out / "manifest.json").read_text())["shards"])
        except (OSError, ValueError, KeyError):
            return 0

    while time.time() < deadline and finished() < 1 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    manifest = json.loads((out / "manifest.json").read_text())
    if manifest["complete"]:
        pytest.skip("the embedding finished before the kill")
    kept = {s["file"]: (out / s["file"]).stat() for s in manifest["shards"]}
    assert kept
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for name, before in kept.items():
        after = (out / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), name
    ref = E.embed(dataset, data_dir=data, out=tmp_path / "ref", shard_size=4, batch_size=2, progress=False)
    np.testing.assert_array_equal(E.read_embeddings(out)[1], E.read_embeddings(ref)[1])


@pytest.mark.slow
def test_ray_cluster_gives_the_local_features(tmp_path):
    ray = pytest.importorskip("ray")
    dataset = collection(tmp_path / "works", 40)
    data = seeded_data(tmp_path)
    local = E.read_embeddings(E.embed(dataset, data_dir=data, out=tmp_path / "local", shard_size=16, progress=False))
    for attempt in (1, 2):  # Ray waits a fixed 30 s for its node to register: a busy machine can miss that once
        try:
            ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
            break
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when its node times out
            ray.shutdown()
            if attempt == 2:
                pytest.skip(f"a local Ray node did not start on this machine: {exc}")
    try:
        folder = E.embed(dataset, data_dir=data, out=tmp_path / "ray", shard_size=16, executor="ray", device="cpu", progress=False)
    finally:
        ray.shutdown()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["executor"] == "ray" and manifest["complete"] and len(manifest["shards"]) == 3
    frame, X = E.read_embeddings(folder)
    assert frame.equals(local[0])
    np.testing.assert_array_equal(X, local[1])


def test_cli_embeds_and_reports(tmp_path, capsys):
    from artsig.__main__ import main

    dataset = collection(tmp_path / "works", 5)
    data = seeded_data(tmp_path)
    assert main(["embed", "--dataset", dataset, "--data-dir", str(data), "--shard-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "5 works x 1280 features" in out and "3 shards" in out and "broken.jpg" in out
    assert E.read_embeddings(E.embedding_folder(dataset, "efficientnet_lite0", data))[1].shape == (5, 1280)
    assert main(["embed", "--dataset", dataset, "--data-dir", str(data), "--features", "pca"]) == 2
    assert "cannot be computed shard by shard" in capsys.readouterr().err
