"""The whole flow, end to end, on a tiny generated collection: catalog -> features (cached) ->
reduce and cluster -> scores -> a classifier on frozen features -> retrieval -> result tables.

Each step is called through the public entry point a chapter uses; the flow runs twice on one
data folder, and the second run must read every cache instead of computing again. `make fast`
runs it with two cheap extractors; with EfficientNet-Lite0 (half a minute on two cores) it is slow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig.catalog import validate_catalog
from artsig.clustering import compare
from artsig.datasets import open_dataset, synthetic_links
from artsig.features import extract_many, features_frame
from artsig.links import split_by_component
from artsig.paths import cache_dir, run_dir
from artsig.probing import probe_table
from artsig.results import save_table
from artsig.retrieval import SignatureIndex, l2_normalize, retrieval_table

DATASET, N_IMAGES, IMAGE_SIZE, SEED = "synthetic", 120, 64, 0  # 120: the fewest images with 3 motif families to split
METHODS = ("kmeans", "gmm", "agglomerative")
LABELS = ("style", "genre")


def run_flow(extractors: tuple[str, ...], data_dir: Path, results_root: Path) -> dict:
    """Every step once, as the chapters chain them; the last extractor's features serve as signatures.

    Returns what each step made and the paths of the tables written."""
    catalog = open_dataset(DATASET, data_dir=data_dir, n_images=N_IMAGES, image_size=IMAGE_SIZE, seed=SEED, progress=False)
    features = extract_many(catalog, extractors, data_dir=data_dir, device="cpu", batch_size=16, workers=1, seed=SEED, progress=False)
    scores, assignments, scans = compare(features, catalog, methods=METHODS, k=3, k_values=range(2, 6), n_components=10, seed=SEED,
                                         progress=False, cache_dir=cache_dir(data_dir, "clustering"))
    probes = probe_table(features, catalog, list(LABELS), seed=SEED)
    split, links = split_by_component(catalog, synthetic_links(data_dir, N_IMAGES, IMAGE_SIZE, SEED), seed=SEED)
    signatures = {name: l2_normalize(X) for name, X in features.items()}
    retrieval = retrieval_table(signatures, split, links, split="test")
    index = SignatureIndex(signatures[extractors[-1]], catalog)
    neighbours = index.query(str(catalog["image_id"].iloc[0]), k=5)
    tables = {
        ("data", "catalog"): catalog.drop(columns="path"),
        ("clustering", "scores"): scores,
        ("clustering", "assignments"): assignments,
        ("clustering", "k_scans"): scans,
        ("classification", "linear_probes"): probes,
        ("retrieval", "retrieval"): retrieval,
        ("retrieval", "neighbours"): neighbours.drop(columns="path"),
    }
    written = {key: save_table(frame, run_dir(DATASET, results_root, key[0]), key[1]) for key, frame in tables.items()}
    return {"catalog": catalog, "features": features, "index": index, "tables": tables, "written": written}


def cache_state(data_dir: Path) -> dict[str, int]:
    """Every file under the data folder's caches, with its modification time (nanoseconds)."""
    root = data_dir / "cache"
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file() and ".locks" not in p.parts}


@pytest.fixture(scope="module", params=[("color_histogram", "pca"), pytest.param(("color_histogram", "efficientnet_lite0"), marks=pytest.mark.slow)],
                ids=["cheap", "lite0"])
def flow(request, tmp_path_factory):
    """The flow run twice on one data folder, with the cache files seen after each run."""
    data_dir, results_root = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("results")
    first = run_flow(request.param, data_dir, results_root)
    after_first = cache_state(data_dir)
    second = run_flow(request.param, data_dir, results_root)
    return {"extractors": request.param, "first": first, "second": second, "caches": (after_first, cache_state(data_dir)), "results": results_root}


def test_catalog_is_valid_with_unique_ids(flow):
    catalog = flow["first"]["catalog"]
    validate_catalog(catalog)
    assert len(catalog) == N_IMAGES and catalog["image_id"].is_unique
    assert catalog[list(LABELS)].notna().all().all()
    assert all(os.path.isfile(p) for p in catalog["path"])


def test_features_have_one_finite_row_per_image_in_catalog_order(flow):
    catalog, features = flow["first"]["catalog"], flow["first"]["features"]
    assert list(features) == list(flow["extractors"])
    for name, X in features.items():
        assert X.ndim == 2 and X.shape[0] == N_IMAGES and X.shape[1] > 1, name
        assert np.isfinite(X).all(), name
        assert features_frame(catalog, X).index.tolist() == catalog["image_id"].astype(str).tolist()
    assert features["color_histogram"].shape[1] == 18 * 4 * 4


def test_clustering_keeps_every_image_and_scores_lie_in_range(flow):
    catalog, tables, extractors = flow["first"]["catalog"], flow["first"]["tables"], flow["extractors"]
    assignments, scores = tables[("clustering", "assignments")], tables[("clustering", "scores")]
    assert assignments["image_id"].astype(str).tolist() == catalog["image_id"].astype(str).tolist()
    assert {f"{e}/{m}" for e in extractors for m in METHODS} <= set(assignments.columns)
    assert assignments[[f"{e}/kmeans" for e in extractors]].nunique().eq(3).all()  # k=3 was asked for
    nmi = scores[scores["metric"] == "nmi"]
    assert set(nmi["label"]) >= set(LABELS) and set(nmi["extractor"]) == set(extractors) and set(nmi["method"]) == set(METHODS)
    assert nmi["value"].between(0, 1).all()


def test_classifier_on_frozen_features_scores_every_pair(flow):
    probes = flow["first"]["tables"][("classification", "linear_probes")]
    assert len(probes) == len(flow["extractors"]) * len(LABELS)
    assert probes["accuracy"].between(0, 1).all() and probes["chance"].between(0, 1).all()
    assert (probes["train"] + probes["test"]).eq(N_IMAGES).all()


def test_retrieval_scores_and_nearest_neighbours(flow):
    run = flow["first"]
    retrieval, neighbours, index = run["tables"][("retrieval", "retrieval")], run["tables"][("retrieval", "neighbours")], run["index"]
    assert set(retrieval["signatures"]) == set(flow["extractors"])
    assert retrieval["mAP"].between(0, 1).all() and (retrieval["queries"] > 0).all()
    first_id = str(run["catalog"]["image_id"].iloc[0])
    assert len(neighbours) == 5 and first_id not in neighbours["image_id"].tolist()
    assert neighbours["distance"].is_monotonic_increasing
    itself = index.query(first_id, k=1, exclude_self=False)
    assert itself["image_id"].iloc[0] == first_id and itself["distance"].iloc[0] < 1e-4


def test_tables_are_written_per_chapter_and_read_back_equal(flow):
    run = flow["first"]
    for (chapter, name), path in run["written"].items():
        assert path == flow["results"] / "synthetic" / chapter / f"{name}.parquet"
        frame = run["tables"][(chapter, name)].reset_index(drop=True)
        pd.testing.assert_frame_equal(pd.read_parquet(path), frame, check_dtype=False)
        assert len(pd.read_csv(path.with_suffix(".csv"))) == len(frame)


def test_second_run_reads_the_caches_and_gives_the_same_tables(flow):
    first, second, (after_first, after_second) = flow["first"], flow["second"], flow["caches"]
    assert any(key.startswith("features") for key in after_first) and any(key.startswith("clustering") for key in after_first)
    assert set(after_second) == set(after_first)  # no new cache file: nothing was computed again
    computed = [key for key in after_first if not key.startswith("catalogs/")]  # the scan cache is rewritten with the same rows
    assert {key: after_second[key] for key in computed} == {key: after_first[key] for key in computed}  # read, never rewritten
    for key, frame in first["tables"].items():
        pd.testing.assert_frame_equal(second["tables"][key], frame, obj=str(key))
    for name, X in first["features"].items():
        np.testing.assert_array_equal(second["features"][name], X)
