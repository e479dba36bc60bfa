"""Two runs at once on one data folder: caches written atomically, under a file lock."""

import json
import os
import subprocess
import sys
import time

import pytest

from artsig.locks import atomic_write, file_lock, lock_path

RUN = """
import hashlib, json, sys
from artsig import datasets, features, images
data_dir = sys.argv[1]
catalog = datasets.open_dataset("synthetic", data_dir=data_dir, n_images=40, image_size=64, seed=3, progress=False)
pixels = images.load_array(catalog, 24, cache_dir=data_dir + "/arrays", progress=False)
hist = features.extract(catalog, "color_histogram", data_dir=data_dir, progress=False)
print(json.dumps({"ids": hashlib.sha256("|".join(catalog["sha256"]).encode()).hexdigest(),
                  "pixels": hashlib.sha256(pixels.tobytes()).hexdigest(), "hist": hashlib.sha256(hist.tobytes()).hexdigest()}))
"""


def _start(data_dir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", RUN, str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _result(proc) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_runs_at_once_on_one_data_folder_both_get_correct_results(tmp_path):
    """Both generate the benchmark, scan it, cache image arrays and features in one folder at once."""
    shared = tmp_path / "shared"
    first, second = _start(shared), _start(shared)
    reference = _result(_start(tmp_path / "alone"))
    assert _result(first) == reference
    assert _result(second) == reference
    assert _result(_start(shared)) == reference  # what they left behind is whole
    assert not list(shared.rglob("*.tmp*"))


def test_lock_excludes_a_second_holder(tmp_path):
    target = tmp_path / "cache.bin"
    code = ("import sys, time; from artsig.locks import file_lock\n"
            "with file_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(1.0)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    atomic_write(target, lambda tmp: tmp.write_bytes(b"x" * 1000))
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert waited > 0.5 and target.read_bytes() == b"x" * 1000
    assert lock_path(target).name == "cache.bin.lock" and lock_path(target).parent.name == ".locks"


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []
    with file_lock(target, shared=True), file_lock(target, shared=True):
        pass  # readers share
