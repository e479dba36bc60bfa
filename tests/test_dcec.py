"""dcec: soft assignment, target distribution, the networks, DCEC / DEC fit-predict, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from artsig import dcec  # noqa: E402


def blobs(n_per=12, size=16, seed=0):
    """Three colour families of tiny noisy images: an easy clustering problem."""
    rng = np.random.default_rng(seed)
    colours = np.array([[230, 40, 40], [40, 200, 60], [40, 60, 220]])
    X, y = [], []
    for c, colour in enumerate(colours):
        for _ in range(n_per):
            img = colour[None, None, :] + rng.normal(0, 20, (size, size, 3))
            X.append(np.clip(img, 0, 255))
            y.append(c)
    return np.asarray(X, dtype=np.uint8), np.asarray(y)


SMALL = dict(image_size=16, embedding_dim=4, pretrain_epochs=80, max_iter=12, update_interval=4, batch_size=12, lr=3e-3, n_init=4, device="cpu", threads=1, progress=False)


def test_soft_assignment_rows_sum_to_one_and_favour_nearest_centre():
    z = np.array([[0.0, 0.0], [5.0, 5.0], [0.2, -0.1]])
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    q = dcec.soft_assignment(z, centers)
    np.testing.assert_allclose(q.sum(1), 1.0)
    assert (q.argmax(1) == [0, 1, 0]).all()
    # Student's t with alpha = 1: q_ij proportional to 1 / (1 + d^2)
    expected = 1 / (1 + np.array([0.0, 50.0]))
    np.testing.assert_allclose(q[0], expected / expected.sum())
    qt = dcec.soft_assignment(torch.tensor(z), torch.tensor(centers))
    np.testing.assert_allclose(qt.numpy(), q)


def test_target_distribution_sharpens_and_normalises():
    q = np.array([[0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    p = dcec.target_distribution(q)
    np.testing.assert_allclose(p.sum(1), 1.0)
    # the dominant entry of each row grows
    assert (p.max(1) > q.max(1)).all()
    f = q.sum(0)
    manual = (q**2 / f) / (q**2 / f).sum(1, keepdims=True)
    np.testing.assert_allclose(p, manual)
    np.testing.assert_allclose(dcec.target_distribution(torch.tensor(q)).numpy(), p)


def test_conv_autoencoder_shapes_and_bad_size():
    model = dcec.ConvAutoencoder(image_size=32, embedding_dim=7, filters=(4, 8, 16))
    z, rec = model(torch.rand(2, 3, 32, 32))
    assert z.shape == (2, 7) and rec.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="image_size"):
        dcec.ConvAutoencoder(image_size=30)
    dense = dcec.DenseAutoencoder(image_size=8, embedding_dim=3, hidden=(20, 10))
    z, rec = dense(torch.rand(5, 3, 8, 8))
    assert z.shape == (5, 3) and rec.shape == (5, 3, 8, 8)


@pytest.mark.slow
def test_pretraining_lowers_reconstruction_error():
    X, _ = blobs()
    model, history = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (8, 16, 16)), X, epochs=6, batch_size=12, device="cpu", threads=1, progress=False)
    assert list(history.columns) == ["phase", "epoch", "reconstruction"]
    assert history["reconstruction"].iloc[-1] < history["reconstruction"].iloc[0]


@pytest.mark.slow
def test_dcec_fits_predicts_and_finds_colour_families():
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs()
    model = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **SMALL).fit(X)
    assert model.labels_.shape == (len(X),)
    assert set(np.unique(model.labels_)) <= {0, 1, 2}
    assert model.cluster_centers_.shape == (3, 4)
    assert model.transform(X).shape == (len(X), 4)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert model.reconstruct(X[:3]).shape == (3, 16, 16, 3) and model.reconstruct(X[:3]).dtype == np.uint8
    assert adjusted_rand_score(y, model.labels_) > 0.8
    history = model.history_
    assert set(history["phase"]) == {"pretrain", "cluster"}
    assert history.loc[history["phase"] == "cluster", "kl"].notna().any()
    assert 0 < model.n_iter_ <= SMALL["max_iter"]


@pytest.mark.slow
def test_dcec_is_deterministic():
    X, _ = blobs()
    a = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **SMALL).fit(X)
    b = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **SMALL).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    pd.testing.assert_frame_equal(a.history_, b.history_)


@pytest.mark.slow
def test_shared_pretrained_autoencoder_is_not_modified():
    X, _ = blobs()
    ae, _ = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (8, 16, 16)), X, epochs=2, batch_size=12, device="cpu", threads=1, progress=False)
    before = {k: v.clone() for k, v in ae.state_dict().items()}
    model = dcec.DCEC(n_clusters=3, autoencoder=ae, filters=(8, 16, 16), **SMALL).fit(X)
    for key, value in ae.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert "pretrain" not in set(model.history_["phase"])
    with pytest.raises(ValueError, match="embedding_dim"):
        dcec.DCEC(n_clusters=3, autoencoder=ae, **{**SMALL, "embedding_dim": 5}).fit(X)


@pytest.mark.slow
def test_tolerance_stops_early():
    X, _ = blobs()
    model = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **{**SMALL, "max_iter": 200, "tol": 0.5}).fit(X)
    assert model.converged_ and model.n_iter_ < 200


@pytest.mark.slow
def test_dec_dense_baseline():
    X, y = blobs()
    model = dcec.DEC(n_clusters=3, hidden=(32, 16), **SMALL).fit(X)
    assert model.gamma == 1.0 and model.reconstruction_weight == 0
    assert model.labels_.shape == (len(X),)
    cluster = model.history_[model.history_["phase"] == "cluster"]
    assert (cluster["reconstruction"].dropna() == 0).all()


@pytest.mark.slow
def test_save_and_load_round_trip(tmp_path):
    X, _ = blobs()
    model = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **SMALL).fit(X)
    path = model.save(tmp_path / "m.pt")
    again = dcec.DCEC.load(path)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="DCEC"):
        dcec.DEC.load(path)


def test_bad_input_names_the_parameter():
    X, _ = blobs()
    with pytest.raises(ValueError, match="n_clusters"):
        dcec.DCEC(n_clusters=1).fit(X)
    with pytest.raises(ValueError, match="image_size=32"):
        dcec.DCEC(n_clusters=3, **{**SMALL, "image_size": 32}).fit(X)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        dcec.DCEC(n_clusters=3, **SMALL).fit(X[:, :, :, 0])
    with pytest.raises(ValueError, match="more images than clusters"):
        dcec.DCEC(n_clusters=3, **SMALL).fit(X[:3])
    with pytest.raises(RuntimeError, match="not fitted"):
        dcec.DCEC(n_clusters=3).predict(X)
    with pytest.raises(ValueError, match="tol"):
        dcec.DCEC(n_clusters=3, tol=2).fit(X)


def test_subsample_is_seeded_and_ordered():
    catalog = pd.DataFrame({"image_id": [f"i{i}" for i in range(20)]})
    a = dcec.subsample(catalog, 5, seed=3)
    b = dcec.subsample(catalog, 5, seed=3)
    assert a.equals(b) and len(a) == 5
    assert list(a["image_id"]) == sorted(a["image_id"], key=lambda s: int(s[1:]))
    assert len(dcec.subsample(catalog, None)) == 20 and len(dcec.subsample(catalog, 100)) == 20


def tiny_study(ks=(2, 3)):
    X, y = blobs(n_per=8)
    ids = [f"im{i:03d}" for i in range(len(X))]
    styles = np.array(["red", "green", "blue"])[y]
    genres = np.where(np.arange(len(X)) % 2 == 0, "landscape", "portrait")
    catalog = pd.DataFrame({"image_id": ids, "style": styles, "genre": genres, "path": ["x"] * len(X)})
    cae, _ = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (8, 16, 16)), X, epochs=30, batch_size=12, lr=3e-3, device="cpu", threads=1, progress=False)
    dae, _ = dcec.pretrain_autoencoder(dcec.DenseAutoencoder(8, 4, (32, 16)), dcec.resize_images(X, 8), epochs=30, batch_size=12, lr=3e-3, device="cpu", threads=1, progress=False)
    common = X.reshape(len(X), -1)[:, ::7].astype(np.float32)  # stand-in for backbone features
    run = dcec.cluster_all(X, common, ks, cae, dae, image_ids=ids, device="cpu", threads=1, progress=False, keep_models=(3,),
                           max_iter=8, update_interval=4, batch_size=12, n_init=2)
    return catalog, common, run


@pytest.mark.slow
def test_cluster_all_and_score_tables():
    catalog, common, run = tiny_study()
    a = run["assignments"]
    assert set(a["method"]) == set(dcec.CLUSTERING_METHODS) and set(a["k"]) == {2, 3}
    assert len(a) == 4 * 2 * len(catalog)
    assert set(run["models"]) == {("DCEC", 3), ("DEC", 3)}
    assert run["embeddings"][("EfficientNet+KMeans", 3)] is common
    scores = dcec.score(a, run["embeddings"], common, catalog)
    assert set(scores["kind"]) == {"internal", "external"}
    internal, external = dcec.internal_table(scores), dcec.external_table(scores)
    assert list(internal.columns) == ["method", "k", "space", "n_clusters_found", "silhouette", "davies_bouldin", "calinski_harabasz"]
    assert len(internal) == 4 * 2 * 2 and set(internal["space"]) == {"own", "common"}
    # the backbone baseline's own space is the common space: same numbers both ways
    eff = internal[internal["method"] == "EfficientNet+KMeans"].pivot(index="k", columns="space", values="silhouette")
    np.testing.assert_allclose(eff["own"], eff["common"])
    assert set(external["label"]) == {"style", "genre"}  # no artist column: skipped
    assert external["nmi"].between(0, 1).all()
    # colour = style here, so KMeans on the pixel stand-in recovers style exactly at k=3
    row = external[(external["method"] == "EfficientNet+KMeans") & (external["k"] == 3) & (external["label"] == "style")]
    assert row["nmi"].iloc[0] == pytest.approx(1.0)
    comp = dcec.composition(a, catalog, "DCEC", 3, "style")
    np.testing.assert_allclose(comp.sum(1), 1.0)


def test_pretraining_cache_gives_the_same_weights_without_training(tmp_path, monkeypatch):
    X, _ = blobs(n_per=4)
    args = dict(epochs=3, batch_size=6, lr=3e-3, device="cpu", threads=1, progress=False, cache_dir=tmp_path)
    fresh, fresh_history = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (4, 8, 8)), X, **args)
    monkeypatch.setattr(torch.optim, "Adam", None)  # a cache hit must not train: building an optimiser would fail
    again, again_history = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (4, 8, 8)), X, **args)
    for name, value in fresh.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name
    pd.testing.assert_frame_equal(fresh_history, again_history)
    assert again.training == fresh.training
    with pytest.raises(TypeError):  # other images: trains again
        dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (4, 8, 8)), X[::-1].copy(), **args)


def test_cluster_all_cache_gives_bit_identical_results_without_fitting(tmp_path, monkeypatch):
    X, _ = blobs(n_per=4)
    ids = [f"im{i:03d}" for i in range(len(X))]
    cae, _ = dcec.pretrain_autoencoder(dcec.ConvAutoencoder(16, 4, (4, 8, 8)), X, epochs=2, batch_size=6, device="cpu", threads=1, progress=False)
    dae, _ = dcec.pretrain_autoencoder(dcec.DenseAutoencoder(8, 4, (16, 8)), dcec.resize_images(X, 8), epochs=2, batch_size=6, device="cpu", threads=1, progress=False)
    common = X.reshape(len(X), -1)[:, ::7].astype(np.float32)
    args = dict(image_ids=ids, device="cpu", threads=1, progress=False, keep_models=(3,), max_iter=6, update_interval=3, batch_size=6, n_init=2)
    fresh = dcec.cluster_all(X, common, (2, 3), cae, dae, cache_dir=tmp_path, **args)
    assert len(list(tmp_path.glob("fit-*.pt"))) == 4  # DCEC and DEC at k = 2 and 3

    def no_fit(self, X):
        raise AssertionError("a cached fit was fitted again")

    monkeypatch.setattr(dcec._EmbeddedClustering, "fit", no_fit)
    again = dcec.cluster_all(X, common, (2, 3), cae, dae, cache_dir=tmp_path, **args)
    pd.testing.assert_frame_equal(fresh["assignments"], again["assignments"])
    pd.testing.assert_frame_equal(fresh["history"], again["history"])
    pd.testing.assert_frame_equal(fresh["fits"], again["fits"])
    for key, embedding in fresh["embeddings"].items():
        np.testing.assert_array_equal(embedding, again["embeddings"][key])
    for key, model in fresh["models"].items():
        loaded, pixels = again["models"][key], X if key[0] == "DCEC" else dcec.resize_images(X, 8)
        np.testing.assert_array_equal(model.cluster_centers_, loaded.cluster_centers_)
        np.testing.assert_array_equal(model.predict_proba(pixels), loaded.predict_proba(pixels))
        np.testing.assert_array_equal(model.init_labels_, loaded.init_labels_)
        assert loaded.n_iter_ == model.n_iter_ and loaded.converged_ == model.converged_
        reread = dcec._EmbeddedClustering.load(loaded.save(tmp_path / "saved" / f"{key[0]}.pt"))  # a loaded fit saves like a fresh one
        np.testing.assert_array_equal(reread.labels_, model.labels_)
    with pytest.raises(AssertionError, match="fitted again"):  # another parameter: not the same fit
        dcec.cluster_all(X, common, (2,), cae, dae, cache_dir=tmp_path, **{**args, "max_iter": 5})


def test_claim_check_and_verdict():
    external = pd.DataFrame({
        "method": ["DCEC"] * 4, "k": [3, 3, 7, 7], "label": ["style", "genre"] * 2,
        "nmi": [0.5, 0.2, 0.3, 0.4], "ari": [0.0] * 4, "purity": [0.0] * 4,
    })
    table = dcec.claim_check(external)
    assert list(table["closer_to"]) == ["style", "genre"]
    text = dcec.verdict(external)
    assert text.startswith("Coarse clusters follow style: yes") and "follow content (genre): yes" in text and "towards genre" in text
    flipped = external.assign(nmi=[0.1, 0.2, 0.5, 0.1])
    assert "style: no" in dcec.verdict(flipped) and "(genre): no" in dcec.verdict(flipped)
    assert "no genre labels" in dcec.verdict(external[external["label"] == "style"])


def test_initial_weights_depend_on_the_seed_only():
    torch.manual_seed(1)
    a = dcec.ConvAutoencoder(16, 4, (4, 8, 8), seed=5)
    torch.manual_seed(2)
    b = dcec.ConvAutoencoder(16, 4, (4, 8, 8), seed=5)
    c = dcec.ConvAutoencoder(16, 4, (4, 8, 8), seed=6)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values()))


def test_claim_intervals_and_baseline_comparison_follow_the_labels():
    rng = np.random.default_rng(0)
    n = 300
    style, genre = rng.integers(0, 3, n), rng.integers(0, 3, n)
    catalog = pd.DataFrame({"image_id": [f"w{i}" for i in range(n)], "style": style.astype(str), "genre": genre.astype(str)})
    rows = []
    for method, k, cluster in (("DCEC", 3, genre), ("DCEC", 7, rng.integers(0, 7, n)), ("EfficientNet+KMeans", 3, style),
                               ("EfficientNet+KMeans", 7, style)):
        rows.append(pd.DataFrame({"image_id": catalog["image_id"], "method": method, "k": k, "cluster": cluster}))
    assignments = pd.concat(rows, ignore_index=True)
    table = dcec.claim_intervals(assignments, catalog, methods=("DCEC", "EfficientNet+KMeans"), n_boot=200).set_index(["method", "k"])
    assert table.loc[("DCEC", 3), "closer_to"] == "genre" and table.loc[("DCEC", 3), "low"] > 0
    assert table.loc[("EfficientNet+KMeans", 3), "closer_to"] == "style"
    assert table.loc[("DCEC", 7), "closer_to"] == "no clear difference"
    external = pd.DataFrame([{"method": m, "k": k, "label": lab, "nmi": table.loc[(m, k), f"nmi_{lab}"]}
                             for m, k in table.index for lab in ("style", "genre")])
    text = dcec.verdict(external, "DCEC", 3, 7, intervals=table.reset_index())
    assert "Coarse clusters follow style: no," in text and "Finer clusters follow content (genre): no clear difference" in text
    versus = dcec.versus_baseline(assignments, catalog, "DCEC", "EfficientNet+KMeans", ks=(3,), n_boot=200)
    by_label = {c.metric: c for c in versus}
    assert by_label["NMI with style"].outcome == "worse" and by_label["NMI with genre"].outcome == "better"
    assert dcec.claim_intervals(assignments, catalog.drop(columns="genre")).empty


def test_gap_shift_inside_the_noise_reads_neither_way():
    rng = np.random.default_rng(1)
    n = 300
    style, genre = rng.integers(0, 3, n), rng.integers(0, 3, n)
    catalog = pd.DataFrame({"image_id": [f"w{i}" for i in range(n)], "style": style.astype(str), "genre": genre.astype(str)})
    assignments = pd.concat([pd.DataFrame({"image_id": catalog["image_id"], "method": "DCEC", "k": k, "cluster": rng.integers(0, k, n)})
                             for k in (3, 7)], ignore_index=True)
    shift = dcec.gap_shift(assignments, catalog, "DCEC", 3, 7, n_boot=200)
    assert shift.outcome == "no clear difference"
    external = pd.DataFrame([{"method": "DCEC", "k": k, "label": lab, "nmi": 0.1} for k in (3, 7) for lab in ("style", "genre")])
    assert "neither way clearly" in dcec.verdict(external, "DCEC", 3, 7, shift=shift)
    assert dcec.gap_shift(assignments, catalog.drop(columns="style")) is None


def test_dcec_and_dec_follow_scikit_learn_conventions():
    from sklearn.base import clone

    model = dcec.DCEC(n_clusters=1, tol=2, filters=(8, 16, 16))  # checked in fit, not here
    params = model.get_params()
    assert params["n_clusters"] == 1 and params["filters"] == (8, 16, 16) and params["gamma"] == 0.1
    copy = clone(model.set_params(n_clusters=4, tol=0.01))
    assert type(copy) is dcec.DCEC and copy.get_params() == model.get_params()
    dec = dcec.DEC(hidden=(32, 16))
    assert dec.get_params()["gamma"] == 1.0 and clone(dec).get_params()["hidden"] == (32, 16)
    X, _ = blobs()
    fitted = dcec.DCEC(n_clusters=3, filters=(8, 16, 16), **SMALL).fit(X)
    assert not hasattr(clone(fitted), "labels_") and hasattr(fitted, "labels_")


def test_full_profile_raises_only_the_settings_left_at_their_quick_default():
    quick = dict(subsample=1000, pretrain_epochs=15, dec_pretrain_epochs=10, max_iter=40)
    assert dcec.profile_settings("quick", **quick) == quick
    full = dcec.profile_settings("full", **{**quick, "max_iter": 7})
    assert full["subsample"] is None and full["pretrain_epochs"] > 15 and full["max_iter"] == 7  # the user's value wins
    assert list(full) == list(quick)  # same order: the notebook unpacks .values()


def test_label_ks_are_usable_class_counts():
    catalog = pd.DataFrame({"style": list("abcdefg") * 6, "artist": [f"p{i}" for i in range(42)], "genre": ["x"] * 42})
    assert dcec.label_ks(catalog, ["style", "artist", "genre", "missing"]) == [7]  # 42 artists: a k as large as the images
    assert dcec.label_ks(catalog.iloc[:14], ["style"]) == []  # 7 classes in 14 images: more than a third


def test_baseline_comparison_without_genre_names_the_baseline_and_margin():
    ids = [f"i{i}" for i in range(60)]
    style = np.repeat(["a", "b", "c"], 20)
    catalog = pd.DataFrame({"image_id": ids, "style": style})
    rng = np.random.default_rng(0)
    rows = []
    for k in (3, 7):
        rows.append(pd.DataFrame({"image_id": ids, "method": "DCEC", "k": k, "cluster": rng.integers(0, k, 60)}))
        rows.append(pd.DataFrame({"image_id": ids, "method": "EfficientNet+KMeans", "k": k, "cluster": np.repeat(np.arange(3), 20) * (k // 3)}))
    assignments = pd.concat(rows, ignore_index=True)
    assert dcec.claim_intervals(assignments, catalog).empty
    external = pd.DataFrame({"method": ["DCEC"] * 2, "k": [3, 7], "label": ["style"] * 2, "nmi": [0.1, 0.1], "ari": [0.0, 0.0], "purity": [0.4, 0.4]})
    assert "no genre labels" in dcec.verdict(external, intervals=dcec.claim_intervals(assignments, catalog))
    lines = [c.sentence() for c in dcec.versus_baseline(assignments, catalog, ks=(3, 7), labels=("style",), n_boot=100)]
    assert len(lines) == 2
    assert all("EfficientNet+KMeans" in line and "NMI with style" in line and "is better" in line for line in lines)
