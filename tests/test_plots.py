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


def test_training_curves_adds_a_distance_panel_only_when_asked():
    from artsig.plots.retrieval import training_curves

    history = pd.DataFrame({"epoch": [0, 1, 2], "loss": [np.nan, 0.5, 0.3], "val_mAP": [0.1, 0.2, 0.25],
                            "d_linked": [1.0, 0.5, 0.4], "d_random": [1.4, 1.2, 1.1]})
    assert len(training_curves({"a": history}).axes) == 2
    fig = training_curves({"a": history, "b": history}, distances=True)
    assert len(fig.axes) == 3 and len(fig.axes[2].lines) == 4


def test_label_distributions_name_the_top_classes_and_sum_the_rest():
    import pandas as pd

    catalog = pd.DataFrame({"artist": [f"a{i % 300}" for i in range(900)], "style": ["x", "y", "z"] * 300})
    fig = label_distributions(catalog, ["artist", "style"], max_classes=20)
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(names) == 21 and names[0] == "other (280 classes)"
    assert fig.get_size_inches()[1] < 10  # not one bar per artist
    assert len(fig.axes[1].get_yticklabels()) == 3
