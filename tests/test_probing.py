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
