import pandas as pd

from artsig.results import save_table


def test_save_table_writes_parquet_and_csv(tmp_path):
    frame = pd.DataFrame({"model": ["cnn"], "accuracy": [0.5]})
    path = save_table(frame, tmp_path / "run", "results")
    assert pd.read_parquet(path).equals(frame)
    assert pd.read_csv(tmp_path / "run" / "results.csv").equals(frame)
