import pandas as pd
import pytest

from artsig.catalog import CatalogError, label_columns, scan_images, summarize, validate_catalog
from conftest import write_image


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
    assert issues == {"broken.jpg": "unreadable", "doc.txt": "unsupported", "gone.jpg": "missing", str(outside): "outside root", "copy": "duplicate"}
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
