"""style_subject: subject erasure, combination, evaluation."""

import numpy as np
import pandas as pd
import pytest

from artsig import style_subject as S


def toy(n=300, seed=0):
    """Features = strong genre signal + weaker style signal + noise."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, 3, n)
    style = rng.integers(0, 2, n)
    X = np.zeros((n, 6))
    X[:, 0] = 5 * genre
    X[:, 1] = 5 * (genre == 1)
    X[:, 2] = 2 * style
    X += rng.normal(0, 0.3, X.shape)
    cat = pd.DataFrame({"image_id": [str(i) for i in range(n)], "genre": np.array(list("abc"))[genre], "style": np.array(list("xy"))[style]})
    return X, cat


@pytest.mark.parametrize("method", ["leace", "mean_diff"])
def test_erasure_equalises_class_means(method):
    X, cat = toy()
    E = S.erase_linear(X, cat["genre"], method=method)
    means = pd.DataFrame(E).groupby(cat["genre"].to_numpy()).mean().to_numpy()
    np.testing.assert_allclose(means, means[0][None].repeat(3, 0), atol=1e-8)
    # style direction survives
    assert abs(np.corrcoef(E[:, 2], (cat["style"] == "y").to_numpy())[0, 1]) > 0.8


def test_erasure_blinds_a_linear_probe():
    X, cat = toy()
    before = S.linear_probe(X, cat["genre"])
    after = S.linear_probe(S.erase_linear(X, cat["genre"]), cat["genre"])
    assert before > 0.95 and after < 0.6


def test_missing_subject_labels_and_bad_method():
    X, cat = toy(60)
    y = cat["genre"].astype(object).copy()
    y.iloc[:10] = None
    assert S.erase_linear(X, y).shape == X.shape
    with pytest.raises(ValueError, match="method"):
        S.erase_linear(X, cat["genre"], method="inlp")


def test_center_by_group():
    X, cat = toy()
    C = S.center_by_group(X, cat["genre"])
    means = pd.DataFrame(C).groupby(cat["genre"].to_numpy()).mean().to_numpy()
    np.testing.assert_allclose(means - means[0], 0, atol=1e-9)


def test_combine_balances_blocks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 8)) * 100, rng.normal(size=(50, 3))
    Z = S.combine([a, b], n_components=5)
    assert Z.shape == (50, 8)
    assert Z[:, :5].var(0).sum() == pytest.approx(Z[:, 5:].var(0).sum())


def test_build_and_evaluate_prefers_style_after_erasure():
    X, cat = toy()
    feats = {"efficientnet_lite0": X, "gram": X[:, 2:] + 0.0, "channel_stats": X[:, 2:4]}
    reps = S.build_representations(feats, cat["genre"], n_components=5)
    assert "pooled" in reps and "pooled - genre (LEACE)" in reps and "gram + stats - genre (LEACE)" in reps
    table = S.evaluate(reps, cat, k=2)
    t = table.set_index("representation")
    assert t.loc["pooled - genre (LEACE)", "nmi_style"] > t.loc["pooled", "nmi_style"]
    assert t.loc["pooled - genre (LEACE)", "probe_genre"] < t.loc["pooled", "probe_genre"]
    assert {"nmi_style", "nmi_genre", "style_minus_genre", "probe_style"} <= set(table.columns)


def test_cached_representations_are_identical_and_not_rebuilt(tmp_path, monkeypatch):
    X, cat = toy()
    feats = {"efficientnet_lite0": X, "gram": X[:, 2:] + 0.0, "channel_stats": X[:, 2:4]}
    fresh = S.build_representations(feats, cat["genre"], n_components=5, cache_dir=tmp_path)
    monkeypatch.setattr(S, "erase_linear", None)  # a cache hit builds nothing: calling it would fail
    again = S.build_representations(feats, cat["genre"], n_components=5, cache_dir=tmp_path)
    assert list(again) == list(fresh)
    for name, Z in fresh.items():
        np.testing.assert_array_equal(Z, again[name])
        assert Z.dtype == again[name].dtype
    monkeypatch.undo()
    np.testing.assert_array_equal(fresh["pooled"], S.build_representations(feats, cat["genre"], n_components=5)["pooled"])
    monkeypatch.setattr(S, "erase_linear", None)
    with pytest.raises(TypeError):  # other subject labels: built again
        S.build_representations(feats, cat["style"], n_components=5, cache_dir=tmp_path)


def test_leace_eraser_is_an_estimator_that_erases_new_rows():
    from sklearn.base import clone

    from artsig.style_subject import LeaceEraser

    rng = np.random.default_rng(1)
    y = np.repeat(["a", "b", "c"], 20)
    X = rng.normal(size=(60, 6)) + (y == "a")[:, None] * 3.0
    eraser = LeaceEraser()
    assert clone(eraser.set_params(method="mean_diff")).get_params() == {"method": "mean_diff", "eps": 1e-8}
    for method in ("leace", "mean_diff"):
        fitted = LeaceEraser(method=method).fit(X, y)
        assert np.array_equal(fitted.transform(X), S.erase_linear(X, y, method))
    new = rng.normal(size=(10, 6)) + 3.0
    erased = LeaceEraser().fit(X, y).transform(np.vstack([X, new]))[60:]
    assert not np.allclose(erased, new)
    with pytest.raises(ValueError, match="method"):
        LeaceEraser(method="svd").fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        LeaceEraser().fit(X, y).transform(X[:, :3])


def test_without_a_subject_label_only_label_free_representations():
    X, cat = toy()
    feats = {"efficientnet_lite0": X, "gram": X[:, 2:] + 0.0, "channel_stats": X[:, 2:4]}
    reps = S.build_representations(feats, None, n_components=5)
    assert set(reps) == {"pooled", "gram", "channel_stats", "pooled + gram", "gram + stats"}
    table = S.evaluate(reps, cat.drop(columns="genre"), k=2, labels=("style", "genre"), probes=("style", "genre"))
    assert "nmi_genre" not in table.columns and "probe_genre" not in table.columns


def test_baseline_verdict_names_the_baseline_and_the_margin():
    X, cat = toy()
    feats = {"efficientnet_lite0": X, "gram": X[:, 2:] + 0.0, "channel_stats": X[:, 2:4]}
    reps = S.build_representations(feats, cat["genre"], n_components=5)
    table = S.evaluate(reps, cat, k=2, probes=())
    v = S.baseline_verdict(reps, cat, table, k=2, label="style", seed=0)
    t = table.set_index("representation")
    assert v["best"] == t["nmi_style"].idxmax() and v["baseline"] == "pooled"
    assert v["nmi_best"] == pytest.approx(t.loc[v["best"], "nmi_style"], abs=1e-9)
    assert v["nmi_baseline"] == pytest.approx(t.loc["pooled", "nmi_style"], abs=1e-9)
    assert v["margin"] == pytest.approx(v["nmi_best"] - v["nmi_baseline"]) and v["margin"] > 0.2
    assert v["outcome"] == "better" and "pooled (baseline)" in v["verdict"]
    assert v == S.baseline_verdict(reps, cat, table, k=2, label="style", seed=0)  # deterministic
    with pytest.raises(ValueError, match="baseline"):
        S.baseline_verdict(reps, cat, table, k=2, baseline="nope")


def test_erasure_check_compares_the_subject_probe_with_chance():
    from artsig.style_subject import erasure_check

    catalog = pd.DataFrame({"genre": ["a"] * 6 + ["b"] * 3 + ["c"] * 1, "style": list("xyxyxyxyxy")})
    table = pd.DataFrame({"representation": ["pooled", "pooled - genre (LEACE)", "gram", "gram - genre means"],
                          "probe_genre": [0.9, 0.62, 0.5, 0.7], "probe_style": [0.8, 0.79, 0.6, 0.7]})
    out = erasure_check(table, catalog, subject="genre")
    assert out["representation"].tolist() == ["pooled", "pooled - genre (LEACE)", "gram - genre means"]
    assert out["chance_genre"].tolist() == [0.6] * 3
    assert out["subject_near_chance"].tolist() == [False, True, False]
    with pytest.raises(ValueError, match="probe_subject"):
        erasure_check(table, catalog.rename(columns={"genre": "subject"}), subject="subject")
