import os

import pandas as pd
import pytest

from artsig.catalog import CatalogError, label_columns, scan_images, summarize, validate_catalog
from conftest import write_bad_files, write_image, write_odd_modes


def _records(root, names):
    return pd.DataFrame({"image_id": [n.split(".")[0] for n in names], "path": names, "style": ["a"] * len(names)})


def test_scan_measures_hashes_and_validates(tmp_path):
    write_image(tmp_path / "x.jpg", size=(50, 20))
    write_image(tmp_path / "y.png", fmt="PNG", seed=3)
    catalog, quality = scan_images(_records(tmp_path, ["x.jpg", "y.png"]), root=tmp_path, progress=False)
    assert list(catalog.columns[:5]) == ["image_id", "path", "width", "height", "sha256"]
    assert catalog.loc[0, "width"] == 50 and catalog.loc[0, "height"] == 20
    assert quality.empty
    assert label_columns(catalog) == ["style"]


def test_bad_files_are_skipped_and_reported_never_silently(tmp_path, caplog):
    write_image(tmp_path / "ok.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tmp_path / "doc.txt").write_text("hello")
    outside = write_image(tmp_path.parent / "elsewhere.jpg")
    dup = tmp_path / "copy.jpg"
    dup.write_bytes((tmp_path / "ok.jpg").read_bytes())
    names = ["ok.jpg", "broken.jpg", "doc.txt", "gone.jpg", str(outside), "copy.jpg"]
    catalog, quality = scan_images(_records(tmp_path, names), root=tmp_path, progress=False)
    assert catalog["image_id"].tolist() == ["ok", "copy"]
    issues = dict(zip(quality["file"], quality["issue"]))
    assert issues == {"broken.jpg": "not an image", "doc.txt": "unsupported", "gone.jpg": "missing", str(outside): "outside root", "copy": "duplicate"}
    assert "broken.jpg" in caplog.text


def test_scan_cache_reuses_measurements(tmp_path):
    write_image(tmp_path / "x.jpg")
    cache = tmp_path / "scan.parquet"
    first, _ = scan_images(_records(tmp_path, ["x.jpg"]), root=tmp_path, cache_file=cache, progress=False)
    cached = pd.read_parquet(cache)
    cached["width"] = 999  # a cache hit shows the cached value
    cached.to_parquet(cache)
    second, _ = scan_images(_records(tmp_path, ["x.jpg"]), root=tmp_path, cache_file=cache, progress=False)
    assert second.loc[0, "width"] == 999 and first.loc[0, "width"] == 40


def test_all_unreadable_is_one_clear_error(tmp_path):
    (tmp_path / "a.jpg").write_text("nope")
    with pytest.raises(CatalogError, match="no readable images.*a.jpg"):
        scan_images(_records(tmp_path, ["a.jpg"]), root=tmp_path, progress=False)


def test_validate_names_the_column():
    good = pd.DataFrame({"image_id": ["a"], "path": ["/x.jpg"], "width": [3], "height": [4], "sha256": ["0" * 64]})
    validate_catalog(good)
    with pytest.raises(CatalogError, match="sha256"):
        validate_catalog(good.drop(columns="sha256"))
    with pytest.raises(CatalogError, match="'split'"):
        validate_catalog(good.assign(split="holdout"))
    with pytest.raises(CatalogError, match="unique"):
        validate_catalog(pd.concat([good, good]))
    with pytest.raises(CatalogError, match="'width'"):
        validate_catalog(good.assign(width=[0]))


def test_summarize_counts_classes(tmp_path):
    frame = pd.DataFrame({"image_id": list("abc"), "style": ["x", "x", "y"], "date": pd.array([1900, None, 1950], dtype="Int64")})
    table = summarize(frame).set_index("column")
    assert table.loc["style", "classes"] == 2 and table.loc["style", "largest"] == "x (2)"
    assert table.loc["date", "largest"] == "latest 1950"


def test_choose_label_falls_back_to_what_exists():
    from artsig.catalog import choose_label

    frame = pd.DataFrame({"image_id": ["a", "b"], "style": ["x", "y"]})
    assert choose_label(frame, "style") == "style"
    assert choose_label(frame, "genre") == "style"
    with pytest.raises(CatalogError, match="no label column"):
        choose_label(frame[["image_id"]], "genre")


def test_choose_label_prefers_style_to_hundreds_of_artists():
    from artsig.catalog import choose_label

    frame = pd.DataFrame({"image_id": ["a", "b"], "artist": ["p", "q"], "style": ["x", "y"]})
    assert choose_label(frame, "genre") == "style"
    assert choose_label(frame[["image_id", "artist"]], "genre") == "artist"
    assert choose_label(frame, "artist") == "artist"


def _scan_folder(folder, **kwargs):
    names = sorted(os.fsdecode(n) for n in os.listdir(os.fsencode(folder)))
    records = pd.DataFrame({"path": pd.Series(names, dtype=object), "style": ["a"] * len(names)})  # object: names may hold any bytes
    return scan_images(records, root=folder, progress=False, **kwargs)


def test_every_bad_file_named_once_with_its_reason(tmp_path, deny_locked):
    folder = tmp_path / "coll"
    good = write_image(folder / "good.jpg", size=(64, 48))
    expected = write_bad_files(folder, good)
    catalog, quality = _scan_folder(folder, alias_dir=tmp_path / "aliases")
    assert quality["file"].is_unique
    assert dict(zip(quality["file"], quality["issue"])) == expected
    kept = set(quality.loc[quality["action"] == "kept", "file"])
    assert kept == {"café.jpg", "animated.gif", "pages.tif"}
    assert sorted(catalog["image_id"]) == ["animated", "café", "good", "pages"]
    frames = quality.set_index("file").loc["pages.tif", "detail"]
    assert "first of 3 frames" in frames
    quality.to_csv(tmp_path / "q.csv")  # printable, UTF-8 encodable
    catalog.to_parquet(tmp_path / "c.parquet")


def test_name_that_is_not_utf8_is_catalogued_through_a_usable_path(tmp_path):
    folder = tmp_path / "coll"
    folder.mkdir()
    latin = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    write_image(tmp_path / "src.jpg", size=(30, 20))
    os.rename(tmp_path / "src.jpg", latin)
    catalog, quality = _scan_folder(folder, cache_file=tmp_path / "cache" / "scan.parquet")
    path = catalog.loc[0, "path"]
    path.encode("utf-8")  # a valid str: parquet, printing and every library accept it
    assert open(path, "rb").read() == open(latin, "rb").read()
    assert catalog.loc[0, "image_id"] == "café" and catalog.loc[0, "width"] == 30
    assert quality.loc[0, "file"] == "café.jpg" and quality.loc[0, "action"] == "kept"
    again, _ = _scan_folder(folder, cache_file=tmp_path / "cache" / "scan.parquet")
    assert again.loc[0, "path"] == path


def test_file_vanishing_during_the_scan_is_named(tmp_path, monkeypatch):
    import artsig.catalog as catalog_module

    write_image(tmp_path / "stays.jpg")
    write_image(tmp_path / "goes.jpg", seed=4)
    real = catalog_module.read_image

    def vanish(path, *args, **kwargs):
        if path.name == "goes.jpg":
            path.unlink()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(catalog_module, "read_image", vanish)
    catalog, quality = scan_images(_records(tmp_path, ["stays.jpg", "goes.jpg"]), root=tmp_path, progress=False)
    assert catalog["image_id"].tolist() == ["stays"]
    assert quality[["file", "issue"]].values.tolist() == [["goes.jpg", "vanished"]]


def test_odd_modes_are_kept_and_not_listed(tmp_path):
    files = write_odd_modes(tmp_path)
    catalog, quality = scan_images(_records(tmp_path, [f.name for f in files]), root=tmp_path, progress=False)
    assert len(catalog) == len(files) and quality.empty


def test_pixel_cap_lists_the_file_and_can_be_raised(tmp_path, monkeypatch):
    write_image(tmp_path / "ok.jpg")
    write_image(tmp_path / "wide.png", size=(300, 200), fmt="PNG")
    records = _records(tmp_path, ["ok.jpg", "wide.png"])
    catalog, quality = scan_images(records, root=tmp_path, progress=False, max_pixels=50_000)
    assert catalog["image_id"].tolist() == ["ok"]
    assert quality.loc[0, "issue"] == "too large" and "max_pixels" in quality.loc[0, "detail"]
    monkeypatch.setenv("ARTSIG_MAX_PIXELS", "1e5")
    assert len(scan_images(records, root=tmp_path, progress=False)[0]) == 2


def test_describe_labels_gives_size_classes_and_dates():
    from artsig.catalog import describe_labels

    catalog = pd.DataFrame({"image_id": list("abcd"), "style": ["x", "x", "y", None], "date": pd.array([1900, None, 1850, 1901], dtype="Int64")})
    assert describe_labels(catalog) == "4 images; labels: style (2 classes, 1-2 works each, 3 labelled), date (3 dated, 1850-1901)"
    assert describe_labels(catalog.assign(split=["train", "train", "val", "test"])) == describe_labels(catalog)  # not a label
    assert describe_labels(catalog[["image_id"]]) == "4 images; labels: none"
