"""benchmarks/small_collection.py: the small folder collection built from the development set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKS = ROOT.parent / "shared" / "data" / "peopleart-pd" / "works.csv"


def load_script():
    spec = importlib.util.spec_from_file_location("small_collection", ROOT / "benchmarks" / "small_collection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_choose_works_takes_the_largest_eligible_classes_with_ties_by_name():
    script = load_script()
    counts = {"a": 9, "b": 6, "c": 8, "d": 10, "e": 6, "f": 5}
    works = pd.DataFrame([{"artist": name, "path": f"{name}/{i}.jpg"} for name, n in counts.items() for i in range(n)])
    chosen = script.choose_works(works, n_classes=3, min_works=6, max_works=9)
    assert chosen["artist"].value_counts().to_dict() == {"a": 9, "c": 8, "b": 6}  # d too large, f too small, b before e
    with pytest.raises(SystemExit, match="only 4 artists"):
        script.choose_works(works, n_classes=5, min_works=6, max_works=9)


@pytest.mark.skipif(not WORKS.is_file(), reason=f"the development set is not present ({WORKS}): skipped")
def test_small_collection_from_the_development_set_has_the_reported_shape(tmp_path):
    from artsig import datasets

    script = load_script()
    script.build(tmp_path / "small", WORKS)
    catalog = datasets.open_dataset(f"folder:{tmp_path / 'small'}", data_dir=tmp_path / "data", progress=False)
    sizes = catalog["style"].value_counts()
    assert len(sizes) == 27 and sizes.between(6, 9).all()
    assert 190 <= len(catalog) <= 210
    again = script.build(tmp_path / "again", WORKS)
    assert sorted(p.name for p in (tmp_path / "again").rglob("*.jpg")) == sorted(Path(t).name for t in again["target"])
    assert sorted(str(p.relative_to(tmp_path / "again")) for p in (tmp_path / "again").rglob("*") if p.is_file()) == \
        sorted(str(p.relative_to(tmp_path / "small")) for p in (tmp_path / "small").rglob("*") if p.is_file())
