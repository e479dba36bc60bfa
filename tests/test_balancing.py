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


# --- the split of a collection ------------------------------------------------------------------


def test_collection_split_without_a_split_is_one_seeded_stratified_split(skewed):
    from artsig.balancing import collection_split

    split = collection_split(skewed, "genre", seed=3)
    assert split["image_id"].tolist() == skewed["image_id"].tolist()
    assert set(split["split"]) == {"train", "val", "test"} and split["source"].iloc[0].startswith("one seeded stratified split by 'genre'")
    per = pd.crosstab(skewed["genre"], split["split"].to_numpy())
    assert (per[["train", "val", "test"]] >= 1).all().all()
    assert per.loc["land", ["train", "val", "test"]].tolist() == [42, 9, 9]  # 70 / 15 / 15 of 60
    assert split.equals(collection_split(skewed, "genre", seed=3))
    assert not split["split"].equals(collection_split(skewed, "genre", seed=4)["split"])


def test_collection_split_keeps_the_collections_own_split(skewed):
    from artsig.balancing import collection_split

    own = skewed.assign(split=(["train"] * 5 + ["val", "test"]) * 19)
    split = collection_split(own, "genre")
    assert split["split"].tolist() == own["split"].tolist() and split["source"].iloc[0] == "the collection's own split"


def test_a_missing_validation_part_is_carved_out_of_train_and_val_alone_is_test(skewed):
    from artsig.balancing import collection_split

    two = skewed.assign(split=(["train"] * 4 + ["test"]) * 26 + ["train"] * 3)
    split = collection_split(two, "genre", seed=0)["split"]
    assert (split[two["split"] == "test"] == "test").all()  # test untouched
    assert set(split[two["split"] == "train"]) == {"train", "val"}
    carved = pd.crosstab(two["genre"], split)
    assert (carved["val"] >= 1).all()
    wikiart = skewed.assign(split=(["train"] * 4 + ["val"]) * 26 + ["train"] * 3)  # WikiArt: train / val, val is its test
    split = collection_split(wikiart, "genre", seed=0)
    assert (split["split"][wikiart["split"] == "val"] == "test").all() and "used as test" in split["source"].iloc[0]
    assert (split["split"] == "val").sum() > 0


def test_tiny_classes_still_get_a_split():
    from artsig.balancing import collection_split

    frame = pd.DataFrame({"image_id": [f"i{i}" for i in range(7)], "style": ["a"] * 6 + ["b"]})
    split = collection_split(frame, "style")
    assert split["split"].iloc[-1] == "train"  # a class of one stays in train
    assert sorted(split["split"][:6].value_counts().tolist()) == [1, 1, 4]


def test_load_split_reads_the_data_chapters_file_or_makes_it_and_says_so(skewed, tmp_path, capsys):
    from artsig.balancing import collection_split, load_split, split_path

    written = collection_split(skewed, "genre", seed=5)
    path = tmp_path / "split.parquet"
    written.to_parquet(path)
    shuffled = skewed.sample(frac=1, random_state=0)
    read = load_split(shuffled, "genre", path)
    assert read["image_id"].tolist() == shuffled["image_id"].tolist()
    assert read.set_index("image_id")["split"].equals(written.set_index("image_id")["split"].loc[shuffled["image_id"]])
    made = load_split(skewed, "genre", tmp_path / "absent.parquet", seed=5)
    assert made["split"].equals(written["split"])
    extra = pd.concat([skewed, pd.DataFrame({"image_id": ["new"], "genre": ["land"]})], ignore_index=True)
    load_split(extra, "genre", path)
    assert "1 of this catalog's images are not in it" in capsys.readouterr().out
    assert split_path("csv:/x/works.csv", "res").name == "split.parquet"


def test_a_collection_with_its_own_split_is_balanced_within_it_never_re_split(skewed):
    from artsig.balancing import collection_split

    own = skewed.assign(split=(["train"] * 5 + ["val", "test"]) * 19)
    split = collection_split(own, "genre")
    out = balance(own, "genre", top_k=3, per_class=20, min_per_class=10, seed=0, split=split.set_index(own.index)["split"])
    kept = own.set_index("image_id").loc[out["image_id"], "split"]
    assert (kept.to_numpy() == out["split"].to_numpy()).all()  # every image keeps its part
    per = out.groupby(["genre", "split"]).size().unstack()
    assert (per.nunique() == 1).all()  # equal per class within each part
    assert per["train"].iloc[0] == 14  # 70 % of per_class=20


def test_balance_or_reason_lets_a_small_collection_go_on(skewed):
    from artsig.balancing import balance_or_reason, collection_split

    table, why = balance_or_reason(skewed, "genre", collection_split(skewed, "genre"), top_k=4, per_class=60, min_per_class=20, seed=0)
    assert table is None and why.startswith("no balanced table") and "min_per_class=20" in why
    table, why = balance_or_reason(skewed, "genre", None, top_k=3, per_class=60, min_per_class=20, seed=0)
    assert why is None and table["genre"].value_counts().tolist() == [25, 25, 25]


def test_distribution_names_the_top_classes_and_sums_the_rest(skewed):
    out = distribution(skewed, skewed[skewed["genre"] != "sea"], "genre", top=2)
    before = out[out["stage"] == "before"].set_index("class")["images"]
    assert before.to_dict() == {"land": 60, "port": 40, "other (2 classes)": 33}
    after = out[out["stage"] == "after"].set_index("class")["images"]
    assert after["other (2 classes)"] == 8
