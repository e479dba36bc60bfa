from pathlib import Path

from artsig.paths import cache_dir, dataset_slug, display_path, run_dir


def test_slugs_are_short_and_safe():
    assert dataset_slug("synthetic") == "synthetic"
    assert dataset_slug("folder:/home/me/My Paintings/") == "folder-my-paintings"
    assert dataset_slug("csv:/x/works.csv") == "csv-works.csv"


def test_run_and_cache_dirs_are_created(tmp_path):
    assert run_dir("folder:/a/b", tmp_path, "data") == tmp_path / "folder-b" / "data"
    assert (tmp_path / "folder-b" / "data").is_dir()
    assert cache_dir(tmp_path, "features").is_dir()


def test_display_path_hides_machine_paths(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "results" / "x").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert display_path(tmp_path / "results" / "x") == str(Path("..") / "results" / "x")
    assert display_path(tmp_path / "notebooks" / "a.ipynb") == "a.ipynb"
