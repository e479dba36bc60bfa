from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artsig.catalog import CatalogError
from artsig.datasets import (
    open_dataset,
    parse_dataset,
    parse_wikiart_filename,
    read_artgan_classes,
    read_artgan_split,
    read_artgan_tasks,
)
from conftest import fuzz_collection, write_image

ARTGAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikiart-artgan"


def test_folder_layout_labels_from_folders(image_folder, tmp_path):
    catalog = open_dataset(f"folder:{image_folder}", data_dir=tmp_path / "data", label_column="style", progress=False)
    assert len(catalog) == 12
    assert sorted(catalog["style"].unique()) == ["baroque", "cubism", "impressionism"]
    assert "split" not in catalog


def test_folder_layout_with_splits(tmp_path):
    root = tmp_path / "coll"
    for split in ("train", "valid", "test"):
        for label in ("portrait", "landscape"):
            write_image(root / split / label / f"{split}-{label}.png", fmt="PNG", seed=hash((split, label)) % 100)
    catalog = open_dataset(f"folder:{root}", data_dir=tmp_path / "data", label_column="genre", progress=False)
    assert sorted(catalog["split"].unique()) == ["test", "train", "val"]
    assert set(catalog["genre"]) == {"portrait", "landscape"}


def test_bad_dataset_specs_name_the_problem(tmp_path):
    with pytest.raises(CatalogError, match="unknown kind 'flickr'"):
        parse_dataset("flickr:/x")
    with pytest.raises(CatalogError, match="does not exist"):
        parse_dataset(f"folder:{tmp_path / 'nowhere'}")
    with pytest.raises(CatalogError, match="needs a location"):
        parse_dataset("folder:")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match="no sub-folders"):
        open_dataset(f"folder:{tmp_path / 'empty'}", data_dir=tmp_path / "data", progress=False)
    (tmp_path / "hollow" / "style_a").mkdir(parents=True)
    with pytest.raises(CatalogError, match="hold no files"):
        open_dataset(f"folder:{tmp_path / 'hollow'}", data_dir=tmp_path / "data", progress=False)


def test_csv_collection(tmp_path):
    for i in range(3):
        write_image(tmp_path / "imgs" / f"w{i}.jpg", seed=i)
    table = pd.DataFrame({"file": [f"imgs/w{i}.jpg" for i in range(3)], "artist": ["A", "B", "A"], "date": [1880, 1890, None]})
    table.to_csv(tmp_path / "works.csv", index=False)
    catalog = open_dataset(f"csv:{tmp_path / 'works.csv'}", data_dir=tmp_path / "data", path_column="file", progress=False)
    assert catalog["artist"].tolist() == ["A", "B", "A"]
    assert catalog["date"].isna().sum() == 1
    with pytest.raises(CatalogError, match="no column 'path'"):
        open_dataset(f"csv:{tmp_path / 'works.csv'}", data_dir=tmp_path / "data", progress=False)


def test_best_artworks_layout(tmp_path):
    root = tmp_path / "best"
    pd.DataFrame({"id": [0, 1], "name": ["Claude Monet", "Frida Kahlo"], "years": ["1840 - 1926", "1907 - 1954"],
                  "genre": ["Impressionism", "Primitivism,Surrealism"], "nationality": ["French", "Mexican"]}).to_csv(root / "artists.csv" if root.mkdir() is None else None, index=False)
    write_image(root / "images" / "images" / "Claude_Monet" / "Claude_Monet_1.jpg")
    write_image(root / "images" / "images" / "Frida_Kahlo" / "Frida_Kahlo_1.jpg", seed=2)
    catalog = open_dataset(f"best-artworks:{root}", data_dir=tmp_path / "data", progress=False)
    by_artist = catalog.set_index("artist")
    assert by_artist.loc["Frida Kahlo", "style"] == "Primitivism"
    assert by_artist.loc["Claude Monet", "artist_born"] == 1840


def test_wikiart_fixture_quirks(tmp_path):
    """Header row, ',,' separators, CRLF and blank lines all occur in the real ArtGAN files."""
    (tmp_path / "Style").mkdir()
    (tmp_path / "Style" / "style_class.txt").write_text("0 Impressionism\n1 Realism\n")
    (tmp_path / "Style" / "style_train.csv").write_text("Impressionism/claude-monet_water-lilies-1916.jpg,0\r\nRealism/a-b_c.jpg,1\r\n")
    (tmp_path / "Style" / "style_val.csv").write_text("Realism/gustave-courbet_the-sea-1865(2).jpg,1\r\n")
    (tmp_path / "Artist").mkdir()
    (tmp_path / "Artist" / "artist_class").write_text("0 Claude_Monet\n")
    (tmp_path / "Artist" / "artist_train").write_text("(Path to image),, (Groundtruth class) \n\nImpressionism/claude-monet_water-lilies-1916.jpg,,0\n")
    (tmp_path / "Artist" / "artist_val").write_text("")
    table = read_artgan_tasks(tmp_path).set_index("image_id")
    monet = table.loc["Impressionism/claude-monet_water-lilies-1916"]
    assert (monet["style"], monet["artist"], monet["date"], monet["split"]) == ("Impressionism", "Claude_Monet", 1916, "train")
    assert table.loc["Realism/gustave-courbet_the-sea-1865(2)", "date"] == 1865
    assert pd.isna(table.loc["Realism/a-b_c", "date"])
    (tmp_path / "Style" / "style_val.csv").write_text("Realism/x.jpg,7\n")
    with pytest.raises(CatalogError, match="style_val.csv, line 1: class index 7"):
        read_artgan_tasks(tmp_path)


def test_wikiart_images_joined_to_labels(tmp_path):
    (tmp_path / "csv" / "Style").mkdir(parents=True)
    (tmp_path / "csv" / "Style" / "style_class.txt").write_text("0 Realism\n")
    (tmp_path / "csv" / "Style" / "style_train.csv").write_text("Realism/ilya-repin_a-1880.jpg,0\nRealism/ilya-repin_gone.jpg,0\n")
    (tmp_path / "csv" / "Style" / "style_val.csv").write_text("")
    write_image(tmp_path / "img" / "Realism" / "ilya-repin_a-1880.jpg")
    catalog, quality = open_dataset(f"wikiart:{tmp_path / 'img'}", data_dir=tmp_path / "data", csv_dir=tmp_path / "csv", progress=False, with_quality=True)
    assert catalog["artist"].tolist() == ["Ilya Repin"] and catalog["date"].tolist() == [1880]
    assert quality["issue"].tolist() == ["missing"]


def test_filename_parsing():
    assert parse_wikiart_filename("Symbolism/theodor-severin-kittelsen_kvitebj-rn-kong-valemon-1912-2.jpg") == (
        "Theodor Severin Kittelsen", "kvitebj rn kong valemon", 1912)
    assert parse_wikiart_filename("x/gene-davis_untitled-1979(3).jpg")[2] == 1979
    assert parse_wikiart_filename("x/camille-corot_mantes-cathedral.jpg")[2] is None


@pytest.mark.skipif(not ARTGAN.is_dir(), reason="real ArtGAN metadata not present (../shared/data/wikiart-artgan)")
def test_real_artgan_metadata():
    table = read_artgan_tasks(ARTGAN)
    assert len(table) == table["image_id"].nunique() > 80_000
    assert table["style"].nunique() == len(read_artgan_classes(ARTGAN / "Style" / "style_class.txt")) == 27
    assert table["genre"].nunique() == 10
    assert table["artist"].nunique() == 23
    assert set(table["split"]) == {"train", "val"}
    assert 0.4 < table["date"].notna().mean() < 0.8
    assert table["date"].dropna().between(1000, 2030).all()
    val = read_artgan_split(ARTGAN / "Genre" / "genre_val.csv", read_artgan_classes(ARTGAN / "Genre" / "genre_class"))
    assert len(val) > 19_000 and not val["path"].str.contains("\r").any()


def test_fuzz_folder_of_bad_files_beside_good_ones(tmp_path, deny_locked, capsys):
    """No traceback, every bad file named once with its reason, every good file kept with the same
    labels, sizes, hashes and features as in a folder holding the good files alone."""
    from artsig import features
    from artsig.__main__ import main

    expected = fuzz_collection(tmp_path / "mixed", with_bad=True)
    fuzz_collection(tmp_path / "clean", with_bad=False)
    assert len(expected) >= 25 and len(set(expected.values())) >= 13  # 25+ bad files of 13+ reasons
    mixed, quality = open_dataset(f"folder:{tmp_path / 'mixed'}", data_dir=tmp_path / "data", progress=False, with_quality=True)
    clean, clean_quality = open_dataset(f"folder:{tmp_path / 'clean'}", data_dir=tmp_path / "data", progress=False, with_quality=True)
    assert clean_quality.empty
    assert quality["file"].is_unique
    assert dict(zip(quality["file"], quality["issue"])) == expected
    repaired = set(quality.loc[quality["action"] == "kept", "file"])
    assert repaired == {"cubism/café.jpg", "cubism/animated.gif", "cubism/pages.tif", "baroque/b9-copy"}
    columns = ["image_id", "style", "width", "height", "sha256"]
    kept = mixed[mixed["image_id"].isin(clean["image_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[columns], clean[columns])
    assert set(mixed["image_id"]) - set(clean["image_id"]) == {"cubism/café", "cubism/animated", "cubism/pages", "baroque/b9-copy"}
    hist_mixed = features.extract(kept, "color_histogram", data_dir=tmp_path / "data", progress=False)
    hist_clean = features.extract(clean, "color_histogram", data_dir=tmp_path / "data2", progress=False)
    np.testing.assert_array_equal(hist_mixed, hist_clean)
    assert len(features.extract(mixed, "color_histogram", data_dir=tmp_path / "data", progress=False)) == len(mixed)
    assert main(["catalog", f"folder:{tmp_path / 'mixed'}", "--data-dir", str(tmp_path / "data")]) == 0
    printed = capsys.readouterr().out
    assert f"{len(expected)} data-quality issue(s)" in printed and "café.jpg" in printed


def test_csv_dir_from_the_environment(tmp_path, monkeypatch):
    """``python -m artsig book --set csv_dir=...`` hands csv_dir to every chapter through ARTSIG_CSV_DIR."""
    (tmp_path / "csv" / "Style").mkdir(parents=True)
    (tmp_path / "csv" / "Style" / "style_class.txt").write_text("0 Realism\n")
    (tmp_path / "csv" / "Style" / "style_train.csv").write_text("Realism/ilya-repin_a-1880.jpg,0\n")
    (tmp_path / "csv" / "Style" / "style_val.csv").write_text("")
    write_image(tmp_path / "img" / "Realism" / "ilya-repin_a-1880.jpg")
    with pytest.raises(CatalogError, match="ArtGAN CSVs not found"):
        open_dataset(f"wikiart:{tmp_path / 'img'}", data_dir=tmp_path / "data", progress=False)
    monkeypatch.setenv("ARTSIG_CSV_DIR", str(tmp_path / "csv"))
    assert open_dataset(f"wikiart:{tmp_path / 'img'}", data_dir=tmp_path / "data", progress=False)["style"].tolist() == ["Realism"]
