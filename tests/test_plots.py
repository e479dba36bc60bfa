import numpy as np
import pandas as pd

from artsig.plots import class_bars, montage, montage_by
from artsig.plots.data import label_distributions, motif_timeline
from conftest import write_image


def test_montage_from_arrays_and_paths(tmp_path):
    paths = [str(write_image(tmp_path / f"{i}.jpg", seed=i)) for i in range(5)]
    fig = montage(paths[:3] + [np.zeros((8, 8, 3), np.uint8)] * 2, labels=list("abcde"), ncols=3, borders=["g", None, "r", None, None])
    assert len(fig.axes) == 6
    catalog = pd.DataFrame({"path": paths, "style": list("xxyyy"), "genre": list("ppqqq"), "motif": ["m1", "m1", None, None, None],
                            "date": [1900, 1910, 1, 2, 3]})
    assert montage_by(catalog, "style", per_group=2).axes
    assert motif_timeline(catalog).axes
    assert label_distributions(catalog, ["style", "genre"]).axes
    table = pd.DataFrame({"stage": ["before", "after"], "class": ["x", "x"], "images": [3, 2]})
    assert class_bars(table) is not None
