"""The annotation round trip: export, simulated or hand-made decisions, read back, new links."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artsig.annotation import (
    AnnotationError,
    accepted_pairs,
    annotation_summary,
    cluster_table,
    export_clusters,
    read_annotations,
    simulate_annotations,
    write_annotations,
)
from artsig.links import add_links


@pytest.fixture()
def collection(tmp_path):
    rows = []
    for i, (family, split) in enumerate([("a", "train"), ("a", "train"), ("a", "train"), ("b", "train"), ("b", "train"), (None, "train"), ("c", "test"), ("c", "test")]):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (40, 30), (30 * i, 100, 200 - 20 * i)).save(path)
        rows.append({"image_id": f"img{i}", "path": str(path), "family": family, "split": split, "date": 1600 + i})
    catalog = pd.DataFrame(rows)
    catalog["sha256"] = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in catalog["path"]]
    truth = pd.DataFrame([("img0", "img1"), ("img1", "img2"), ("img3", "img4"), ("img6", "img7")], columns=["image_id_a", "image_id_b"])
    truth["type"] = "POSITIVE"
    known = truth.iloc[:1].assign(split="train")
    # cluster 0 mixes family a with the unlinked img5; cluster 1 mixes b and a test pair
    labels = np.array([0, 0, 0, 1, 1, 0, 1, -1])
    return catalog, truth, known, labels


def test_export_writes_csv_and_offline_html(collection, tmp_path):
    catalog, _, known, labels = collection
    table = cluster_table(labels, catalog, known)
    assert table.groupby("cluster").size().tolist() == [4, 3]
    assert table.loc[table["image_id"] == "img0", "known_links_in_cluster"].item() == 1
    csv_path, html_path = export_clusters(table, tmp_path / "out")
    back = pd.read_csv(csv_path, keep_default_na=False)
    assert back["decision"].eq("").all() and len(back) == 7
    page = html_path.read_text()
    assert page.count("<section>") == 2 and page.count("<img ") == 7
    thumbs = sorted((tmp_path / "out" / "clusters_thumbnails").glob("*.jpg"))
    assert len(thumbs) == 7 and all(f'clusters_thumbnails/{t.name}' in page for t in thumbs)
    assert "http" not in page  # nothing to fetch: opens offline


def test_export_refuses_to_overwrite_annotations(collection, tmp_path):
    catalog, _, known, labels = collection
    table = cluster_table(labels, catalog, known)
    csv_path, _ = export_clusters(table, tmp_path)
    export_clusters(table, tmp_path)  # no decisions yet: a fresh export may replace it
    filled = pd.read_csv(csv_path, keep_default_na=False)
    filled.loc[0, "decision"] = "accept"
    filled.to_csv(csv_path, index=False)
    with pytest.raises(FileExistsError, match="holds annotations; refusing"):
        export_clusters(table, tmp_path)
    with pytest.raises(FileExistsError, match="refusing"):
        write_annotations(table, csv_path)
    assert pd.read_csv(csv_path, keep_default_na=False).loc[0, "decision"] == "accept"
    export_clusters(table, tmp_path, overwrite=True)


def test_simulated_annotations_accept_the_true_family_only_in_allowed_splits(collection, tmp_path):
    catalog, truth, known, labels = collection
    decided = simulate_annotations(cluster_table(labels, catalog, known), catalog, truth, annotate_splits=("train",))
    by_id = decided.set_index("image_id")["decision"]
    assert by_id[["img0", "img1", "img2"]].eq("accept").all()
    assert by_id["img5"] == "reject"
    assert by_id[["img3", "img4"]].eq("accept").all()
    assert by_id["img6"] == ""  # a test image is never annotated
    path = write_annotations(decided, tmp_path / "annotations.csv")
    assert write_annotations(decided, path) == path  # same content again: fine
    back = read_annotations(path, catalog)
    pairs = accepted_pairs(back)
    assert sorted(map(tuple, pairs[["image_id_a", "image_id_b"]].to_numpy())) == [("img0", "img1"), ("img0", "img2"), ("img1", "img2"), ("img3", "img4")]
    assert annotation_summary(back)["accepted pairs"] == 4
    combined, added = add_links(known, pairs)
    assert added == 3 and len(combined) == 4


def test_read_annotations_names_bad_rows(collection, tmp_path):
    catalog = collection[0]
    path = tmp_path / "a.csv"
    path.write_text("cluster,image_id,decision\n0,img0,Yes\n0,img1,maybe\n")
    with pytest.raises(AnnotationError, match=r"a.csv, line 3: decision 'maybe'"):
        read_annotations(path, catalog)
    path.write_text("cluster,image_id,decision\n0,img0,yes\n0,ghost,no\nx,img1,no\n")
    with pytest.raises(AnnotationError, match="line 3: unknown image id 'ghost'"):
        read_annotations(path, catalog)
    table = read_annotations(path, catalog, on_error="skip")
    assert table.to_dict("records") == [{"cluster": 0, "image_id": "img0", "decision": "accept"}]
    path.write_text("image_id,decision\nimg0,yes\n")
    with pytest.raises(AnnotationError, match="missing column"):
        read_annotations(path, catalog)
