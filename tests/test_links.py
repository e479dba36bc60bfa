"""Links tables: reading a morphograph CSV, validation errors, the split by component."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
import pytest

from artsig.links import (
    LinksError,
    add_links,
    components,
    links_from_column,
    read_links,
    relevance_sets,
    split_by_component,
    split_summary,
    validate_links,
)


def toy_catalog(n_families: int = 6, per_family: int = 3, singles: int = 6) -> pd.DataFrame:
    """A catalog without files: families f0..f5 of three images and some unlinked images."""
    rows = []
    for f in range(n_families):
        rows += [{"image_id": f"f{f}_{i}", "motif": f"m{f}"} for i in range(per_family)]
    rows += [{"image_id": f"s{i}", "motif": None} for i in range(singles)]
    catalog = pd.DataFrame(rows)
    catalog["path"] = "/nowhere/" + catalog["image_id"] + ".png"
    catalog["width"] = catalog["height"] = 32
    catalog["sha256"] = [hashlib.sha256(i.encode()).hexdigest() for i in catalog["image_id"]]
    return catalog


def test_read_morphograph_csv_with_replica_column_names(tmp_path):
    catalog = toy_catalog()
    file = tmp_path / "morphograph.csv"
    file.write_text("uid_connection,img1_uid,img2_uid,type\n1,f0_0,f0_1,positive\n2,f1_0,f1_1,DUPLICATE\n3,f0_0,s0,NEGATIVE\n")
    links = read_links(file, catalog)
    assert list(links.columns) == ["image_id_a", "image_id_b", "type"]
    assert links["type"].tolist() == ["POSITIVE", "DUPLICATE", "NEGATIVE"]
    assert links.iloc[2][["image_id_a", "image_id_b"]].tolist() == ["f0_0", "s0"]


@pytest.mark.parametrize(
    "row, message",
    [
        ("f0_0,nope,POSITIVE", "line 3: unknown image id 'nope'"),
        ("f0_2,f0_2,POSITIVE", "line 3: self-link"),
        ("f0_1,f0_0,POSITIVE", "line 3: duplicate pair 'f0_0' - 'f0_1' (already on line 2)"),
        ("f0_0,f0_2,MAYBE", "line 3: unknown type 'MAYBE'"),
    ],
)
def test_bad_rows_raise_naming_file_and_line(tmp_path, row, message):
    file = tmp_path / "links.csv"
    file.write_text(f"image_id_a,image_id_b,type\nf0_0,f0_1,POSITIVE\n{row}\n")
    with pytest.raises(LinksError, match="links.csv") as info:
        read_links(file, toy_catalog())
    assert message in str(info.value)


def test_bad_rows_skipped_and_logged_when_asked(tmp_path, caplog):
    file = tmp_path / "links.csv"
    file.write_text("image_id_a,image_id_b,type\nf0_0,f0_1,POSITIVE\nf0_0,ghost,POSITIVE\nf1_0,f1_1,POSITIVE\n")
    with caplog.at_level(logging.WARNING, logger="artsig.links"):
        links = read_links(file, toy_catalog(), on_error="skip")
    assert len(links) == 2
    assert "line 3" in caplog.text and "ghost" in caplog.text


def test_missing_column_is_named(tmp_path):
    file = tmp_path / "links.csv"
    file.write_text("a,b\nf0_0,f0_1\n")
    with pytest.raises(LinksError, match="image_id_a"):
        read_links(file, toy_catalog())


def test_components_and_transitive_relevance():
    catalog = toy_catalog()
    links = pd.DataFrame({"image_id_a": ["f0_0", "f0_1"], "image_id_b": ["f0_1", "f0_2"], "type": ["POSITIVE", "POSITIVE"]})
    comp = components(catalog, links)
    assert comp["f0_0"] == comp["f0_2"] != comp["f1_0"]
    assert relevance_sets(catalog, links)["f0_0"] == {"f0_1", "f0_2"}
    assert relevance_sets(catalog, links, transitive=False)["f0_0"] == {"f0_1"}


def test_split_keeps_components_whole_and_is_seeded():
    catalog = toy_catalog(n_families=10)
    links = links_from_column(catalog, "motif")
    split_catalog, split_links = split_by_component(catalog, links, fractions=(0.6, 0.2, 0.2), seed=3)
    # every family sits in one split, and so does each of its links
    assert (split_catalog.groupby("motif")["split"].nunique() == 1).all()
    assert split_links["split"].notna().all()
    summary = split_summary(split_catalog, split_links)
    assert summary["linked components"].tolist() == [6, 2, 2]
    assert summary["images"].sum() == len(catalog)
    again, _ = split_by_component(catalog, links, fractions=(0.6, 0.2, 0.2), seed=3)
    assert again["split"].tolist() == split_catalog["split"].tolist()
    other, _ = split_by_component(catalog, links, fractions=(0.6, 0.2, 0.2), seed=4)
    assert other["split"].tolist() != split_catalog["split"].tolist()


def test_split_needs_enough_components():
    catalog = toy_catalog(n_families=2)
    with pytest.raises(LinksError, match="at least 3"):
        split_by_component(catalog, links_from_column(catalog), seed=0)


def test_add_links_counts_only_new_pairs():
    catalog = toy_catalog()
    links = validate_links(links_from_column(catalog), catalog)
    split_catalog, split_links = split_by_component(catalog, links, seed=0)
    new = pd.DataFrame({"image_id_a": ["f0_1", "s0", "s1"], "image_id_b": ["f0_0", "s1", "s0"]})
    combined, added = add_links(split_links, new, catalog=split_catalog)
    assert added == 1
    assert len(combined) == len(split_links) + 1
    assert combined.iloc[-1][["image_id_a", "image_id_b", "type"]].tolist() == ["s0", "s1", "POSITIVE"]
    expected = split_catalog.set_index("image_id")["split"]
    assert combined.iloc[-1]["split"] == (expected["s0"] if expected["s0"] == expected["s1"] else None) or pd.isna(combined.iloc[-1]["split"])


def test_links_from_column_pairs_each_family():
    catalog = toy_catalog(n_families=2, per_family=4, singles=2)
    links = links_from_column(catalog, "motif")
    assert len(links) == 2 * 6
    assert set(np.unique(links[["image_id_a", "image_id_b"]].to_numpy())) == {f"f{f}_{i}" for f in range(2) for i in range(4)}


def test_collection_without_links_skips_the_chapter(tmp_path):
    import pandas as pd
    import pytest

    from artsig.book import ChapterSkipped
    from artsig.links import load_links

    catalog = pd.DataFrame({"image_id": ["a", "b"], "style": ["x", "y"]})
    with pytest.raises(ChapterSkipped, match="links_file"):
        load_links(catalog, "folder:/somewhere")


# --- weak links for collections without known links ------------------------------------------


def artist_catalog(sizes=(2, 3, 30), singles: int = 4) -> pd.DataFrame:
    """Works of a few artists (groups of the given sizes) and some artists with one work."""
    rows = [{"image_id": f"a{g}_{i:02d}", "artist": f"artist{g}"} for g, n in enumerate(sizes) for i in range(n)]
    rows += [{"image_id": f"s{i}", "artist": f"single{i}"} for i in range(singles)]
    return pd.DataFrame(rows)


def test_weak_links_keep_each_group_one_component_with_few_partners():
    from artsig.links import weak_links

    catalog = artist_catalog()
    links = weak_links(catalog, "artist", per_work=4, seed=0)
    assert len(links) == len(links.drop_duplicates(["image_id_a", "image_id_b"]))
    assert (links["image_id_a"] < links["image_id_b"]).all() and (links["type"] == "POSITIVE").all()
    comp = components(catalog, links)
    for g, n in enumerate((2, 3, 30)):
        assert comp[[f"a{g}_{i:02d}" for i in range(n)]].nunique() == 1  # one component per artist, even when sampled
    assert comp.nunique() == 3 + 4
    big = links[links["image_id_a"].str.startswith("a2_")]
    assert len(big) < 30 * 29 / 2  # sampled, not every pair
    partners = pd.concat([big["image_id_a"], big["image_id_b"]]).value_counts()
    assert partners.max() <= 2 * 4 + 2  # about per_work partners each (own draws plus others' draws)
    assert weak_links(catalog, "artist", per_work=4, seed=0).equals(links)
    assert not weak_links(catalog, "artist", per_work=4, seed=1).equals(links)


def test_choose_positives_prefers_a_file_then_motif_then_artist_then_style(tmp_path):
    from artsig.links import choose_positives

    catalog = artist_catalog().assign(style=lambda d: d["artist"].str[:7])
    assert choose_positives(catalog, "csv:/x.csv", links_file=str(tmp_path / "l.csv")) == "file"
    assert choose_positives(catalog, "synthetic") == "benchmark"
    assert choose_positives(catalog, "csv:/x.csv") == "artist"
    assert choose_positives(catalog.drop(columns="artist").assign(style=["s1", "s2", "s3"] * 13), "folder:/x") == "style"
    with_motif = catalog.assign(motif=["m1", "m1", "m2", "m2", "m3", "m3"] + [None] * 33)
    assert choose_positives(with_motif, "csv:/x.csv") == "motif"
    assert choose_positives(with_motif, "csv:/x.csv", positives="artist") == "artist"


def test_choose_positives_skips_naming_the_parameters_when_nothing_links_works():
    from artsig.book import ChapterSkipped
    from artsig.links import choose_positives, load_links

    two_groups = artist_catalog(sizes=(2, 2), singles=3)  # only 2 shared artists: too few to split
    with pytest.raises(ChapterSkipped, match="links_file=.*positives="):
        choose_positives(two_groups, "folder:/x")
    with pytest.raises(ChapterSkipped, match="positives='genre'"):
        load_links(artist_catalog(), "folder:/x", positives="genre")
    with pytest.raises(LinksError, match="positives='colour'"):
        choose_positives(artist_catalog(), "folder:/x", positives="colour")


def test_small_collection_links_split_or_say_which_parameter_to_change():
    from artsig.links import load_links

    catalog = artist_catalog(sizes=(6, 7, 8, 9, 6, 7), singles=0)  # a small folder: 6 classes of 6-9 works
    links = load_links(catalog, "folder:/x")
    split_catalog, split_links = split_by_component(catalog, links, seed=0)
    summary = split_summary(split_catalog, split_links).set_index("split")
    assert (summary["linked components"] >= 1).all()
    with pytest.raises(LinksError, match="split_fractions"):
        split_by_component(catalog, links, fractions=(0.5, 0.6, 0.2), seed=0)


def test_a_collection_with_its_own_split_keeps_it_and_drops_links_across_parts():
    catalog = toy_catalog(n_families=6)
    # families 0-3 in train, 4 in val, 5 in test; one work of family 0 is in test: its links cross parts
    part = {0: "train", 1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}
    catalog["split"] = [part[int(i[1])] if i.startswith("f") else "train" for i in catalog["image_id"]]
    catalog.loc[catalog["image_id"] == "f0_2", "split"] = "test"
    links = links_from_column(catalog, "motif")
    split_catalog, split_links = split_by_component(catalog, links, fractions=(0.6, 0.2, 0.2), seed=3)
    assert split_catalog["split"].tolist() == catalog["split"].tolist()
    crossing = split_links[(split_links["image_id_a"] == "f0_2") | (split_links["image_id_b"] == "f0_2")]
    assert len(crossing) == 2 and crossing["split"].isna().all()
    assert split_links["split"].notna().sum() == len(links) - 2
    # the test work of family 0 is not in the component of its train relatives
    component = split_catalog.set_index("image_id")["component"]
    assert component["f0_2"] != component["f0_0"] and component["f0_0"] == component["f0_1"]
    catalog.loc[catalog["image_id"].isin(["f4_0", "f4_1"]), "split"] = "train"  # val keeps one work, no link
    with pytest.raises(LinksError, match="part 'val' has no link"):
        split_by_component(catalog, links_from_column(catalog, "motif"))


def test_the_split_line_says_whether_the_collection_brought_its_own_split():
    from artsig.links import describe_split

    catalog = pd.DataFrame({"image_id": list("abcde"), "split": ["train", "train", "val", "test", "test"]})
    assert describe_split(catalog) == "split: the collection's own (train 2, val 1, test 2 works; links across parts left out)"
    assert describe_split(catalog.drop(columns="split"), (0.6, 0.2, 0.2), seed=3).startswith("split: by linked component, seeded (seed 3")
