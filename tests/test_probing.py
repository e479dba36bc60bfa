import numpy as np
import pandas as pd
import pytest

from artsig.probing import linear_probe, probe_table


def test_probe_reads_a_separable_label_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 40)
    informative = rng.normal(size=(120, 5)) + np.repeat(np.eye(3, 5) * 4, 40, axis=0)
    noise = rng.normal(size=(120, 5))
    assert linear_probe(informative, labels)["accuracy"] > 0.9
    assert linear_probe(noise, labels)["accuracy"] < 0.6
    assert linear_probe(noise, labels, seed=1) == linear_probe(noise, labels, seed=1)


def test_probe_rejects_mismatch_and_single_class():
    with pytest.raises(ValueError, match="rows"):
        linear_probe(np.zeros((4, 2)), ["a", "b", "a"])
    with pytest.raises(ValueError, match="2 classes"):
        linear_probe(np.zeros((4, 2)), ["a"] * 4)


def test_probe_table_one_row_per_pair():
    rng = np.random.default_rng(1)
    catalog = pd.DataFrame({"style": np.repeat(["x", "y"], 20), "genre": np.tile(["p", "q"], 20)})
    table = probe_table({"f": rng.normal(size=(40, 3)), "g": rng.normal(size=(40, 3))}, catalog, ["style", "genre"])
    assert len(table) == 4 and set(table["features"]) == {"f", "g"}


def _separable(n_per=30, classes=3, seed=0, signal=4.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per)
    x = rng.normal(size=(len(y), 6)) + np.eye(classes, 6)[y] * signal
    return x, y


def test_split_probe_chooses_c_on_validation_and_scores_test():
    from artsig.probing import C_GRID, split_probe

    x, y = _separable()
    split = np.tile(["train"] * 6 + ["val"] * 2 + ["test"] * 2, 9)
    out = split_probe(x, y, split, seed=0)
    assert out["C"] in C_GRID and len(out["grid"]) == len(C_GRID)
    assert out["probs"].shape == ((split == "test").sum(), 3) and np.allclose(out["probs"].sum(1), 1)
    assert (out["probs"].argmax(1) == y[split == "test"]).mean() > 0.9
    best = out["grid"].sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    assert out["val_accuracy"] == best["val_accuracy"]
    noise = split_probe(np.random.default_rng(1).normal(size=x.shape), y, split)
    assert (noise["probs"].argmax(1) == y[split == "test"]).mean() < 0.7
    with pytest.raises(ValueError, match="no \\['val'\\] rows"):
        split_probe(x, y, np.where(split == "val", "train", split))


def test_cv_probe_predicts_every_image_once_out_of_fold():
    from artsig.probing import cv_probe

    x, y = _separable(n_per=7, classes=4)
    out = cv_probe(x, y, k=5, seed=0)
    assert out["probs"].shape == (28, 4) and len(out["folds"]) == 5 and out["k"] == 5
    assert (out["probs"].argmax(1) == y).mean() > 0.8
    assert np.array_equal(out["probs"], cv_probe(x, y, k=5, seed=0)["probs"])
    with pytest.raises(ValueError, match="smallest class"):
        cv_probe(x, y, k=8)


def test_probe_table_restricts_a_label_to_classes_with_enough_works():
    rng = np.random.default_rng(2)
    artists = ["a"] * 25 + ["b"] * 25 + ["c"] * 3 + ["d"] * 1
    catalog = pd.DataFrame({"artist": artists, "style": np.tile(["x", "y"], 27)})
    x = rng.normal(size=(len(artists), 3))
    table = probe_table({"f": x}, catalog, ["style", "artist"], min_class_size={"artist": 20})
    row = table.set_index("label").loc["artist"]
    assert row["classes"] == 2 and row["train"] + row["test"] == 50 and row["min_class_size"] == 20
    assert probe_table({"f": x}, catalog, ["artist"], min_class_size={"artist": 30}).empty


def test_default_labels_probe_the_artist_only_on_a_real_collection():
    from artsig.probing import default_labels

    assert default_labels(["artist", "style", "genre"], benchmark=True) == ["style", "genre"]
    assert default_labels(["artist", "style"], benchmark=False) == ["style", "artist"]
    assert default_labels(["motif_group"], benchmark=False) == ["motif_group"]
