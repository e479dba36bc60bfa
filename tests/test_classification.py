"""Classification: data preparation, errors, metrics, training rows, transfer, save + predict.

Everything runs on a tiny hand-made catalog of PIL-drawn images (three shapes = genre, two
colours = style) at 32 px, so each test takes seconds.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("tensorflow")

from artsig import classification as cls  # noqa: E402
from artsig.catalog import CatalogError, scan_images  # noqa: E402

SHAPES = ("circle", "square", "stripes")
COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220)}


def _draw(shape, colour, rng, size=48):
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(200, 255, 3)))
    d = ImageDraw.Draw(img)
    c = COLOURS[colour]
    o = int(rng.integers(2, 8))
    if shape == "circle":
        d.ellipse([o, o, size - o, size - o], fill=c)
    elif shape == "square":
        d.rectangle([o, o, size - o - 4, size - o - 4], fill=c)
    else:
        for x in range(o, size, 10):
            d.rectangle([x, 0, x + 4, size], fill=c)
    return img


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinyart")
    rng = np.random.default_rng(0)
    rows = []
    for shape in SHAPES:
        for i in range(14):
            colour = "red" if i % 2 else "blue"
            path = root / f"{shape}_{i}.png"
            _draw(shape, colour, rng).save(path)
            rows.append({"image_id": f"{shape}{i:02d}", "path": str(path), "genre": shape, "style": colour})
    cat, quality = scan_images(pd.DataFrame(rows), root=root, progress=False)
    assert quality.empty
    return cat


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    cls.configure(seed=0, device="cpu", threads=2)
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def genre(catalog, data_dir):
    return cls.prepare(catalog, "genre", input_size=32, per_class=12, data_dir=data_dir, progress=False)


@pytest.fixture(autouse=True)
def offline_imagenet(monkeypatch):
    """Never try the network in tests: Keras ImageNet weights count as unavailable."""
    monkeypatch.setitem(cls._IMAGENET_STATUS, "mobilenet_v2", "offline (test)")
    monkeypatch.setitem(cls._IMAGENET_STATUS, "densenet121", "offline (test)")


def test_prepare_balances_and_loads_pixels(genre):
    assert genre["x"].shape == (36, 32, 32, 3) and genre["x"].dtype == np.uint8
    assert genre["classes"] == sorted(SHAPES)
    assert np.bincount(genre["y"]).tolist() == [12, 12, 12]
    sizes = cls.split_sizes(genre)
    assert sum(sizes.values()) == 36 and min(sizes.values()) >= 3


def test_prepare_lowers_per_class_to_smallest_class(catalog, data_dir, capsys):
    data = cls.prepare(catalog, "genre", input_size=32, per_class=100, data_dir=data_dir, progress=False)
    assert len(data["y"]) == 3 * 14
    assert "lowered to 14" in capsys.readouterr().out


def test_bad_input_names_the_parameter(catalog, data_dir):
    with pytest.raises(CatalogError, match="label='artist'"):
        cls.prepare(catalog, "artist", input_size=32, data_dir=data_dir, progress=False)
    with pytest.raises(ValueError, match="input_size=8"):
        cls.prepare(catalog, "genre", input_size=8, data_dir=data_dir, progress=False)
    with pytest.raises(CatalogError, match="class"):
        cls.prepare(catalog, "genre", input_size=32, per_class=None, min_per_class=20, data_dir=data_dir, progress=False)
    with pytest.raises(ValueError, match="model='resnet50'"):
        cls.default_plan(["cnn", "resnet50"])
    with pytest.raises(ValueError, match="input_size=20: densenet121 needs at least 32"):
        cls.build_trunk("densenet121", 20, pretrained=False)


def test_resolve_labels_falls_back_to_the_label_the_catalog_has(catalog):
    assert cls.resolve_labels(catalog, "genre", "style") == ("genre", "style", [])
    folder_like = catalog.drop(columns=["genre"])
    label, transfer, notes = cls.resolve_labels(folder_like, "genre", "style")
    assert (label, transfer) == ("style", None)
    assert "runs on 'style'" in notes[0] and "already the classified label" in notes[1]
    with pytest.raises(CatalogError, match="no categorical label"):
        cls.resolve_labels(catalog.drop(columns=["genre", "style"]), "genre", "style")


def test_default_plan_is_the_study():
    plan = cls.default_plan()
    assert len(plan) == 10
    assert plan[plan.model == "mobilenet_v2"].lr.dropna().tolist() == [1e-4, 5e-4, 1e-3]
    assert plan[plan.model == "densenet121"].lr.dropna().tolist() == [1e-3, 1e-4]
    assert set(plan.training) == set(cls.TRAININGS)
    assert cls.default_plan("cnn, efficientnet_lite0").model.tolist() == ["cnn", "efficientnet_lite0", "efficientnet_lite0"]


def test_metrics_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.15, 0.8, 0.05], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    m = cls.metrics(y, probs)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["k"] == 2  # three classes: top-2, never the trivial top-3
    assert m["top_k_accuracy"] == pytest.approx(5 / 6)
    assert m["recall"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx((1 / 3 + 1 / 2 + 1) / 3)
    conf = cls.confusion(y, probs, ["a", "b", "c"])
    assert conf.loc["a", "b"] == 1 and conf.loc["c", "a"] == 1 and np.trace(conf.to_numpy()) == 3


def _cnn_row(genre, data_dir, cache=False):
    return cls.train_row(genre, "cnn", "from scratch", 1e-3, epochs=3, patience=3, data_dir=data_dir, progress=False, cache=cache)


@pytest.mark.slow
def test_cnn_row_is_deterministic(genre, data_dir):
    a, b = _cnn_row(genre, data_dir), _cnn_row(genre, data_dir)
    assert np.array_equal(a.probs, b.probs)
    s = a.summary
    assert s["weights"] == "random init" and not s["pretrained"]
    assert a.probs.shape == (cls.split_sizes(genre)["test"], 3)
    assert list(a.curve["epoch"]) == [1, 2, 3]
    assert np.isfinite(a.curve["val_loss"]).all()


def test_classifier_is_an_estimator_and_train_row_its_result(genre, data_dir):
    from sklearn.base import clone

    clf = cls.Classifier("cnn", "from scratch", 1e-3, epochs=2, patience=2, data_dir=data_dir, progress=False, cache=False)
    assert clone(clf.set_params(seed=0)).get_params() == clf.get_params()
    assert cls.Classifier.from_config("cnn", "from scratch", 1e-3, cls.TrainingConfig(epochs=2)).get_params()["epochs"] == 2
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict(genre["x"][:2])
    with pytest.raises(ValueError, match="training="):
        cls.Classifier("cnn", "frozen").fit(genre)
    fitted = clf.fit(genre)
    assert not hasattr(clone(fitted), "result_")
    row = cls.train_row(genre, "cnn", "from scratch", 1e-3, config=cls.TrainingConfig(epochs=2, patience=2, data_dir=data_dir, progress=False, cache=False))
    test = (genre["catalog"]["split"] == "test").to_numpy()
    assert np.array_equal(row.probs, fitted.result_.probs) and row.row == "cnn scratch"
    assert np.allclose(fitted.predict_proba(genre["x"][test]), row.probs, atol=1e-5)
    assert fitted.score(genre["x"][test], genre["y"][test]) == pytest.approx(row.summary["accuracy"])


@pytest.mark.slow
def test_frozen_row_on_random_weights_is_labelled_random_features(genre, data_dir):
    r = cls.train_row(genre, "mobilenet_v2", "frozen", 1e-3, head_epochs=2, data_dir=data_dir, progress=False)
    s = r.summary
    assert s["training"] == "frozen (random features)"
    assert s["weights"] == "random init (ImageNet unavailable)" and s["pretrained"] is False


@pytest.mark.slow
def test_pretrained_lite0_frozen_row(genre, data_dir):
    """A frozen row on the converted ImageNet trunk: labelled pretrained, its head fits the
    training features, and the saved full model equals head-on-features. (Test accuracy on
    six test images is too noisy to assert; the logits test proves the weights.)"""
    r = cls.train_row(genre, "efficientnet_lite0", "frozen", 1e-3, head_epochs=30, data_dir=data_dir, progress=False)
    s = r.summary
    assert s["pretrained"] and s["weights"] == "ImageNet (PyTorch file, converted)" and s["training"] == "frozen"
    assert r.curve["accuracy"].iloc[-1] >= 0.9
    # the assembled model (pixels -> logits) agrees with head-on-features
    test = (genre["catalog"]["split"] == "test").to_numpy()
    full = cls.softmax(cls.logits(r.model, genre["x"][test]))
    assert np.allclose(full, r.probs, atol=1e-4)


@pytest.mark.slow
def test_run_study_transfer_save_and_predict(catalog, genre, data_dir, tmp_path):
    plan = pd.DataFrame([("cnn", "from scratch", 1e-3)], columns=["model", "training", "lr"])
    study = cls.run_study(genre, plan, epochs=2, patience=2, data_dir=data_dir, progress=False)
    assert study.best == "cnn scratch"
    assert list(study.table["task"]) == ["genre"]
    style = cls.prepare(catalog, "style", input_size=32, per_class=12, data_dir=data_dir, progress=False)
    style_study = cls.transfer_study(study, style, epochs=2, patience=2, data_dir=data_dir, progress=False)
    rows = style_study.table["row"].tolist()
    assert rows == ["cnn transfer from genre", "cnn direct scratch"]
    assert style_study.table["n_classes"].iloc[0] == 2

    cls.save_study(study, tmp_path, "genre")
    cls.save_study(style_study, tmp_path, "style")
    assert (tmp_path / "genre_results.parquet").exists() and (tmp_path / "style_curves.csv").exists()
    pred = cls.predict(catalog["path"].iloc[0], tmp_path / "models")
    assert pred["task"].tolist() == ["genre"] * 3 + ["style"] * 2
    assert set(pred[pred.task == "genre"]["label"]) == set(SHAPES)
    assert pred.groupby("task")["probability"].sum().le(1 + 1e-6).all()
    # the saved model reproduces the in-memory one
    x = genre["x"][:4]
    model, meta = cls.load_classifier(tmp_path / "models", "genre")
    assert meta["classes"] == genre["classes"] and meta["input_size"] == 32
    assert np.allclose(cls.logits(model, x), cls.logits(study.results["cnn scratch"].model, x), atol=1e-5)

    with pytest.raises(FileNotFoundError, match="no saved model"):
        cls.predict(catalog["path"].iloc[0], tmp_path / "nowhere")


def test_verdicts_compare_rows_on_the_same_test_images(genre):
    test = (genre["catalog"]["split"] == "test").to_numpy()
    y = genre["y"][test]
    n_classes = len(genre["classes"])
    right = np.eye(n_classes)[y]
    wrong = np.eye(n_classes)[(y + 1) % n_classes]
    table = pd.DataFrame({"row": ["good pretrained", "bad scratch"], "pretrained": [True, False], "val_accuracy": [0.9, 0.2], "val_loss": [0.1, 2.0]})
    def row(probs):
        return cls.RowResult(summary={}, curve=pd.DataFrame(), probs=probs, val_probs=probs)

    study = cls.Study(table=table, curves=pd.DataFrame(), results={"good pretrained": row(right), "bad scratch": row(wrong)}, best="good pretrained", data=genre)
    assert study.best_result.probs is right
    assert cls.correct(study, "good pretrained").mean() == 1.0 and cls.correct(study, "bad scratch").mean() == 0.0
    verdict = cls.pretrained_vs_scratch(study)
    assert verdict.name_a == "good pretrained" and verdict.outcome == "better" and verdict.difference == 1.0
    same = cls.compare_rows(dataclasses.replace(study, results={"good pretrained": row(right), "bad scratch": row(right)}), "good pretrained", "bad scratch")
    assert same.outcome == "no clear difference"
    with pytest.raises(KeyError, match="not in the study"):
        cls.compare_rows(study, "good pretrained", "missing")
    assert cls.pretrained_vs_scratch(dataclasses.replace(study, table=table.iloc[:1])) is None


@pytest.mark.slow
def test_finished_rows_are_cached_by_content_and_parameters(genre, tmp_path, monkeypatch):
    plan = pd.DataFrame([("cnn", "from scratch", 1e-3), ("mobilenet_v2", "frozen", 1e-3)], columns=["model", "training", "lr"])
    kwargs = dict(epochs=2, patience=2, head_epochs=2, data_dir=tmp_path, progress=False)
    first = cls.run_study(genre, plan, **kwargs)
    trained = []
    real_fit = cls.fit
    monkeypatch.setattr(cls, "fit", lambda *a, **k: trained.append(a[9]) or real_fit(*a, **k))  # a[9]: the row's name
    again = cls.run_study(genre, plan, **kwargs)
    assert trained == []  # nothing trained again
    pd.testing.assert_frame_equal(first.table, again.table, check_exact=True)
    pd.testing.assert_frame_equal(first.curves, again.curves, check_exact=True)
    for row, result in first.results.items():
        assert np.array_equal(result.probs, again.results[row].probs)
        x = genre["x"][:4]
        assert np.array_equal(cls.logits(result.model, x), cls.logits(again.results[row].model, x))
    # another parameter (epochs), other data (another label order) or another seed: trained again
    cls.run_study(genre, plan.iloc[:1], **{**kwargs, "epochs": 3})
    cls.run_study(genre, plan.iloc[:1], seed=1, **kwargs)
    assert trained == ["cnn scratch", "cnn scratch"]
    assert len(list((tmp_path / "cache" / "classification").glob("*/row.pkl"))) == 4
    assert not list((tmp_path / "cache" / "classification").glob("*/*.ckpt"))


@pytest.mark.slow
def test_a_warm_run_trains_nothing_again_transfer_study_included(catalog, genre, tmp_path, monkeypatch):
    plan = pd.DataFrame([("cnn", "from scratch", 1e-3)], columns=["model", "training", "lr"])
    kwargs = dict(epochs=2, patience=2, data_dir=tmp_path, progress=False)
    style = cls.prepare(catalog, "style", input_size=32, per_class=12, data_dir=tmp_path, progress=False)
    first = cls.transfer_study(cls.run_study(genre, plan, **kwargs), style, **kwargs)
    trained = []
    real_fit = cls.fit
    monkeypatch.setattr(cls, "fit", lambda *a, **k: trained.append(a[9]) or real_fit(*a, **k))  # a[9]: the row's name
    again = cls.transfer_study(cls.run_study(genre, plan, **kwargs), style, **kwargs)
    assert trained == []  # the transfer row's key reads the genre trunk's weights: the reloaded trunk gives the same key
    pd.testing.assert_frame_equal(first.table.drop(columns="seconds"), again.table.drop(columns="seconds"), check_exact=True)


KILLABLE = """
import os, signal, sys
import numpy as np, pandas as pd
from artsig import classification as cls
folder, kill_at = sys.argv[1], int(sys.argv[2])
cls.configure(seed=0, device="cpu", threads=2)
cls._IMAGENET_STATUS.update(mobilenet_v2="offline (test)", densenet121="offline (test)")
data = pd.read_pickle(os.path.join(folder, "..", "data.pkl"))
written = []
real_write = cls._write_pickle
def write(path, obj):
    if str(path).endswith(".ckpt"):
        if len(written) + 1 == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9: this epoch was trained but never saved
        written.append(len(obj["logs"]))
    real_write(path, obj)
cls._write_pickle = write
plan = pd.DataFrame([("cnn", "from scratch", 1e-3)], columns=["model", "training", "lr"])
study = cls.run_study(data, plan, epochs=5, patience=5, data_dir=folder, progress=False)
pd.to_pickle((study.table.drop(columns="seconds"), study.curves, study.results["cnn scratch"].probs), os.path.join(folder, "result.pkl"))
print(written)
"""


@pytest.mark.slow
def test_classifier_training_resumes_after_sigkill(genre, tmp_path):
    """Killed in its fourth epoch, a row restarts from its third and ends with the same numbers; a finished row is not trained again."""
    import signal

    from conftest import run_killable

    pd.to_pickle(genre, tmp_path / "data.pkl")

    def run(folder, kill_at):
        return run_killable(KILLABLE, folder, kill_at)

    killed = run(tmp_path / "killed", 4)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run(tmp_path / "killed", 0)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.strip() == "[4, 5]"  # epochs 1-3 were not trained again
    whole = run(tmp_path / "whole", 0)
    assert whole.stdout.strip() == "[1, 2, 3, 4, 5]", whole.stderr[-2000:]
    got, want = pd.read_pickle(tmp_path / "killed" / "result.pkl"), pd.read_pickle(tmp_path / "whole" / "result.pkl")
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
    assert np.array_equal(got[2], want[2])
    again = run(tmp_path / "killed", 0)
    assert again.stdout.strip() == "[]"  # the finished row comes from the cache


@pytest.mark.slow
def test_two_stage_row_resumes_from_a_cached_start(genre, data_dir, tmp_path, monkeypatch):
    """A transfer-style row (new head on frozen features, then fine-tuning) started from a frozen row
    loaded from the cache, interrupted in its fine-tuning stage: the rerun restores the finished head
    stage, continues the fine-tuning and ends with the numbers of an uninterrupted run from a fresh start."""
    kw = dict(epochs=2, patience=2, head_epochs=2, head_patience=2, progress=False)
    fresh = cls.train_row(genre, "efficientnet_lite0", "frozen", 1e-3, data_dir=tmp_path, **kw)
    loaded = cls.train_row(genre, "efficientnet_lite0", "frozen", 1e-3, data_dir=tmp_path, **kw)
    assert np.array_equal(loaded.probs, fresh.probs) and loaded.trunk is not fresh.trunk
    whole = cls.train_row(genre, "efficientnet_lite0", "fine-tuned", None, data_dir=data_dir, init={"trunk": fresh.trunk, "head": None}, cache=False, **kw)
    init = {"trunk": loaded.trunk, "head": None}
    written, real_write = [], cls._write_pickle

    class Killed(Exception):
        pass

    def write(path, obj):
        if str(path).endswith(".ckpt"):
            written.append(Path(path).stem)
            if written == ["head"] * 2 + ["full"] * 2:  # the second fine-tuning epoch never reaches the disk
                raise Killed
        real_write(path, obj)

    monkeypatch.setattr(cls, "_write_pickle", write)
    with pytest.raises(Killed):
        cls.train_row(genre, "efficientnet_lite0", "fine-tuned", None, data_dir=tmp_path, init=init, **kw)
    written.clear()
    resumed = cls.train_row(genre, "efficientnet_lite0", "fine-tuned", None, data_dir=tmp_path, init=init, **kw)
    assert written == ["full"]  # the head stage and the first fine-tuning epoch were not trained again
    assert np.array_equal(resumed.probs, whole.probs) and np.array_equal(resumed.val_probs, whole.val_probs)
    pd.testing.assert_frame_equal(resumed.curve, whole.curve, check_exact=True)


def test_prepare_from_table_trains_on_the_data_chapters_images(catalog, data_dir, tmp_path, capsys):
    from artsig.balancing import balance

    table = balance(catalog, "genre", per_class=12, seed=1)
    path = tmp_path / "balanced.parquet"
    table.to_parquet(path, index=False)
    data = cls.prepare_from_table(catalog, "genre", path, input_size=32, data_dir=data_dir, progress=False)
    assert data["catalog"]["image_id"].tolist() == table["image_id"].tolist()
    assert data["catalog"]["split"].tolist() == table["split"].tolist()
    assert data["classes"] == sorted(SHAPES) and data["x"].shape == (len(table), 32, 32, 3)
    # absent: balanced here, with the fallback settings, and said so
    alone = cls.prepare_from_table(catalog, "genre", tmp_path / "missing.parquet", input_size=32, data_dir=data_dir, progress=False, per_class=12)
    assert "not found" in capsys.readouterr().out
    here = cls.prepare(catalog, "genre", input_size=32, per_class=12, data_dir=data_dir, progress=False)
    assert alone["catalog"]["image_id"].tolist() == here["catalog"]["image_id"].tolist() and np.array_equal(alone["x"], here["x"])
    # balanced on genre but asked for another label with unequal classes: not used
    uneven = table[~((table["style"] == "red") & (table["genre"] == "circle"))]
    cls.prepare_from_table(catalog, "style", uneven, input_size=32, data_dir=data_dir, progress=False, per_class=12)
    assert "not balanced on 'style'" in capsys.readouterr().out
    assert cls.balanced_table_path("synthetic", "res").as_posix() == "res/synthetic/data/balanced.parquet"


# --- the collection's split, the full profile, the frozen-probe baseline, small collections ------


def test_prepare_split_uses_every_image_of_the_collections_split(catalog, data_dir):
    from artsig.balancing import collection_split

    uneven = catalog[~((catalog["genre"] == "circle") & (catalog["style"] == "red"))].reset_index(drop=True)  # 7 circles, 14 others
    split = collection_split(uneven, "genre", seed=0)
    data = cls.prepare_split(uneven, "genre", split, input_size=32, data_dir=data_dir, min_per_class=5, progress=False)
    assert len(data["catalog"]) == len(uneven) and data["catalog"]["split"].tolist() == split["split"].tolist()
    assert data["source"].startswith("one seeded stratified split") and data["notes"] == []
    assert cls.resolve_class_weight("auto", data) == "balanced"
    few = cls.prepare_split(uneven, "genre", split, input_size=32, data_dir=data_dir, min_per_class=10, progress=False)
    assert "circle" not in few["classes"] and "min_per_class=10" in few["notes"][0]
    with pytest.raises(CatalogError, match="min_per_class"):
        cls.prepare_split(uneven, "genre", split, input_size=32, data_dir=data_dir, min_per_class=15, progress=False)


def test_class_weights_make_every_class_weigh_the_same():
    weights = cls.balanced_class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights[0] * 3 == pytest.approx(weights[1] * 1) and weights[2] == 0.0


def test_prepare_run_picks_the_profile_and_cross_validates_a_small_collection(catalog, data_dir, tmp_path):
    from artsig.balancing import collection_split

    split = collection_split(catalog, "genre", seed=0)
    quick = cls.prepare_run(catalog, "genre", "quick", split, tmp_path / "absent.parquet", input_size=32, data_dir=data_dir,
                            per_class=12, min_per_class=10, progress=False)
    assert quick["mode"] == "balanced" and quick["data"]["input_size"] == 32
    assert cls.resolve_class_weight("auto", quick["data"]) is None  # balanced: no weights, rows keep their cache keys
    small = cls.prepare_run(catalog, "genre", "full", split, None, min_per_class=20, progress=False)
    assert small["mode"] == "cross-validation" and small["data"] is None and "min_per_class=20" in small["reason"]


def test_full_plan_keeps_pretrained_backbones_and_the_scratch_cnn():
    plan, notes = cls.full_plan(["cnn", "mobilenet_v2", "efficientnet_lite0"], fine_tune=["efficientnet_lite0"])
    assert list(zip(plan["model"], plan["training"])) == [("cnn", "from scratch"), ("efficientnet_lite0", "frozen"), ("efficientnet_lite0", "fine-tuned")]
    assert len(notes) == 1 and notes[0].startswith("mobilenet_v2: no ImageNet weights")
    plan, _ = cls.full_plan(["efficientnet_lite0"], fine_tune=[])
    assert plan["training"].tolist() == ["frozen"]
    with pytest.raises(ValueError, match="none of them"):
        cls.full_plan(["densenet121"])


def _fake_row(data, probs_for_test, name, training="fine-tuned", val=0.5):
    n = len(data["classes"])
    val_probs = np.full(((data["catalog"]["split"] == "val").sum(), n), 1.0 / n)
    summary = {"row": name, "model": "cnn", "training": training, "weights": "random init", "pretrained": False, "lr": 1e-3, "epochs": 1,
               "accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "top_k_accuracy": 0.0, "k": 2, "n_classes": n,
               "val_accuracy": val, "val_loss": 1.0, "trainable_params": 1}
    return cls.RowResult(summary, pd.DataFrame({"row": [name], "epoch": [1], "loss": [1.0], "val_loss": [1.0], "stage": ["full"], "best": [True]}),
                         probs_for_test, val_probs)


def test_probe_row_is_a_row_beside_the_trained_ones_with_a_verdict(genre):
    test = (genre["catalog"]["split"] == "test").to_numpy()
    y = genre["y"]
    rng = np.random.default_rng(0)
    separable = rng.normal(size=(len(y), 8)) + np.eye(3, 8)[y] * 5
    probe = cls.probe_row(genre, separable, "efficientnet_lite0", baseline=True)
    assert probe.summary["row"] == "efficientnet_lite0 probe (baseline)" and probe.summary["training"].startswith("frozen probe")
    assert probe.summary["accuracy"] > 0.9 and probe.probs.shape == (test.sum(), 3)
    wrong = np.eye(3)[(y[test] + 1) % 3]
    trained = _fake_row(genre, wrong, "cnn scratch", training="from scratch")
    study = cls._study({"cnn scratch": trained}, genre)
    study = cls.with_rows(study, {probe.row: probe})
    assert study.best == "cnn scratch"  # chosen among trained rows: the probe is the baseline, not a candidate
    assert cls.baseline_row(study) == probe.row and list(study.table["baseline"]) == [False, True]
    verdict = cls.best_vs_baseline(study)
    assert verdict.name_b == probe.row and verdict.outcome == "worse" and verdict.mean_a == 0.0
    assert cls.probes_vs_baseline(study) is None and cls.each_probe_vs_baseline(study) == []
    assert "cnn scratch" in set(study.curves["row"]) and probe.row not in set(study.curves["row"])
    assert len(cls.trained_rows(study.table)) == 1


def test_probe_rows_name_the_parameter_for_unknown_features(genre):
    with pytest.raises(ValueError, match="probe_features"):
        cls.probe_rows(genre, ["no_such_extractor"])
    with pytest.raises(ValueError, match="probe_features"):
        cls.probe_rows(genre, [])


def test_probe_rows_on_registered_features_and_an_extra_probe(genre, data_dir):
    rows = cls.probe_rows(genre, ["color_histogram", "pca"], data_dir=data_dir, progress=False)
    assert list(rows) == ["color_histogram probe (baseline)", "pca probe"]
    study = cls.with_rows(cls._study({"cnn": _fake_row(genre, rows["pca probe"].probs, "cnn")}, genre), rows)
    extra = cls.probes_vs_baseline(study)
    assert extra.name_a == "pca probe" and extra.name_b == "color_histogram probe (baseline)"
    each = cls.each_probe_vs_baseline(study)
    assert [(c.name_a, c.name_b) for c in each] == [("pca probe", "color_histogram probe (baseline)")]


def test_cross_validated_probes_for_a_small_collection(catalog, data_dir):
    table, correct = cls.cross_validated_probes(catalog, "genre", ["color_histogram", "pca"], data_dir=data_dir, progress=False)
    assert table["folds"].iloc[0] == 5 and table["images"].iloc[0] == len(catalog) and table["accuracy"].between(0, 1).all()
    assert set(correct) == set(table["row"]) and len(correct[table["row"].iloc[0]]) == len(catalog)
    verdicts = cls.cv_verdicts(table, correct)
    assert len(verdicts) == 1 and verdicts[0].items == len(catalog)
    from artsig.book import ChapterSkipped

    lonely = catalog.assign(genre=["only"] * (len(catalog) - 1) + ["single"])
    with pytest.raises(ChapterSkipped, match="02_classification.label"):
        cls.cross_validated_probes(lonely, "genre", ["color_histogram"], data_dir=data_dir, progress=False)


def test_merge_studies_keeps_each_rows_input_size(genre, catalog, data_dir):
    other = {**cls._load_data(genre["catalog"], "genre", 24, data_dir, False)}
    test = (genre["catalog"]["split"] == "test").to_numpy()
    onehot = np.eye(3)[genre["y"][test]]
    a = cls._study({"frozen": _fake_row(genre, onehot, "frozen", val=0.4)}, genre)
    b = cls._study({"cnn": _fake_row(other, onehot, "cnn", val=0.6)}, other)
    merged = cls.merge_studies(a, b)
    assert merged.best == "cnn" and merged.data["row_input_size"] == {"frozen": 32, "cnn": 24}
    assert "input 32 / 24 px" in cls.study_header(merged, "synthetic", 0)
    with pytest.raises(ValueError, match="same images"):
        cls.merge_studies(a, cls._study({"cnn": _fake_row(other, onehot, "cnn")}, {**other, "classes": ["x", "y", "z"]}))


def _dev_set():
    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "peopleart-pd" / "works.csv"
    if not root.is_file():
        pytest.skip(f"the development set is not here ({root.resolve()}): the shared folder is absent")
    return root.resolve()


@pytest.mark.slow
def test_dev_set_baseline_on_its_split(tmp_path):
    """The frozen-probe baseline on the real development set (2,183 paintings): style by default,
    one seeded split, a score well above chance and near the issue's 0.49."""
    from artsig import datasets
    from artsig.balancing import collection_split

    csv = _dev_set()
    catalog = datasets.open_dataset(f"csv:{csv}", data_dir=tmp_path)
    label, transfer, _ = cls.resolve_labels(catalog, "genre", "style")
    assert label == "style" and transfer is None
    split = collection_split(catalog, label, seed=0)
    data = cls.prepare_split(catalog, label, split, input_size=32, data_dir=tmp_path, progress=False)
    assert len(data["classes"]) == 19 and cls.split_sizes(data)["test"] > 300
    row = next(iter(cls.probe_rows(data, ["efficientnet_lite0"], data_dir=tmp_path, progress=False).values()))
    assert 0.35 < row.summary["accuracy"] < 0.7 and row.summary["f1"] > 0.3


def test_transfer_from_a_scratch_network_gets_the_scratch_budget_in_the_full_profile(monkeypatch):
    from types import SimpleNamespace

    from artsig import classification as cls

    study = SimpleNamespace(table=None, results={"cnn scratch": SimpleNamespace(summary={"model": "cnn"}),
                                                 "lite fine-tuned": SimpleNamespace(summary={"model": "efficientnet_lite0"})})
    for source, full, expected in [("cnn scratch", True, 15), ("lite fine-tuned", True, 2), ("cnn scratch", False, 4)]:
        monkeypatch.setattr(cls, "_transfer_source", lambda table, s=source: s)
        assert cls.transfer_epochs(study, full, epochs=4, full_epochs=2, scratch_epochs=15) == expected
