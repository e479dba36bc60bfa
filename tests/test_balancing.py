import pandas as pd
import pytest

from artsig.balancing import balance, class_counts, distribution, stratified_split, top_k_classes, undersample
from artsig.catalog import CatalogError


@pytest.fixture
def skewed():
    labels = ["land"] * 60 + ["port"] * 40 + ["sea"] * 25 + ["still"] * 8
    return pd.DataFrame({"image_id": [f"i{i}" for i in range(len(labels))], "genre": labels})


def test_top_k_and_counts(skewed):
    assert top_k_classes(skewed, "genre", 2) == ["land", "port"]
    assert class_counts(skewed, "genre").tolist() == [60, 40, 25, 8]
    with pytest.raises(CatalogError, match="no such column"):
        class_counts(skewed, "style")


def test_balance_equalises_and_splits(skewed):
    out = balance(skewed, "genre", top_k=3, min_per_class=10, seed=1)
    assert out["genre"].value_counts().tolist() == [25, 25, 25]
    per_class = out.groupby(["genre", "split"]).size().unstack()
    assert (per_class["test"] >= 3).all() and (per_class["train"] > per_class["val"]).all()
    assert out.equals(balance(skewed, "genre", top_k=3, min_per_class=10, seed=1))
    assert not set(out["image_id"]) == set(balance(skewed, "genre", top_k=3, min_per_class=10, seed=2)["image_id"])


def test_too_small_class_names_it(skewed):
    with pytest.raises(CatalogError, match="class 'still' has 8 images"):
        balance(skewed, "genre", top_k=4, min_per_class=10)
    with pytest.raises(CatalogError, match="per_class=30"):
        undersample(skewed, "genre", per_class=30)


def test_split_rejects_bad_fractions(skewed):
    with pytest.raises(CatalogError, match="fractions"):
        stratified_split(skewed, "genre", (0.5, 0.5, 0.5))


def test_distribution_is_tidy(skewed):
    table = distribution(skewed, balance(skewed, "genre", top_k=2, seed=0), "genre")
    assert set(table["stage"]) == {"before", "after"}
    assert table.query("stage == 'after'")["images"].tolist() == [40, 40]


def test_per_class_is_an_upper_bound_that_warns_on_a_small_collection(skewed):
    three = skewed[skewed["genre"] != "still"]
    with pytest.warns(UserWarning, match="fewer than per_class=30; every class is balanced to 25"):
        out = undersample(three, "genre", per_class=30, min_per_class=10)
    assert out["genre"].value_counts().tolist() == [25, 25, 25]
    assert undersample(three, "genre", per_class=20, seed=3)["genre"].value_counts().tolist() == [20, 20, 20]
