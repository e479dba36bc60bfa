"""Triplet-loss signatures: loss terms, evaluation, training on a tiny drawn collection, index."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

torch = pytest.importorskip("torch")

from artsig.links import links_from_column, split_by_component  # noqa: E402
from artsig.retrieval import (  # noqa: E402
    SignatureIndex,
    TrainConfig,
    ablation_configs,
    cluster_link_report,
    cluster_signatures,
    clustering_scores,
    compound_hinge_loss,
    evaluate_retrieval,
    link_scores,
    make_deterministic,
    summarize_clusters,
    train_signature_model,
)


def drawn_collection(folder, n_families: int = 8, per_family: int = 3, singles: int = 8, size: int = 64, seed: int = 0) -> pd.DataFrame:
    """Families share a composition of shapes (drawn with different colours); singles are random."""
    rng = np.random.default_rng(seed)
    rows = []

    def draw(shapes, path):
        img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 255, 3)))
        pen = ImageDraw.Draw(img)
        for kind, box in shapes:
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            (pen.ellipse if kind else pen.rectangle)(box, fill=colour)
        img.save(path)

    def composition():
        shapes = []
        for _ in range(3):
            x0, y0 = rng.integers(0, size - 20, 2)
            w, h = rng.integers(12, 30, 2)
            shapes.append((int(rng.integers(0, 2)), [int(x0), int(y0), int(x0 + w), int(y0 + h)]))
        return shapes

    for f in range(n_families):
        shapes = composition()
        for i in range(per_family):
            rows.append({"image_id": f"f{f}_{i}", "path": str(folder / f"f{f}_{i}.png"), "motif": f"m{f}", "date": 1500 + 10 * f + i})
            draw(shapes, rows[-1]["path"])
    for i in range(singles):
        rows.append({"image_id": f"s{i}", "path": str(folder / f"s{i}.png"), "motif": None, "date": 1600 + i})
        draw(composition(), rows[-1]["path"])
    catalog = pd.DataFrame(rows)
    catalog["width"] = catalog["height"] = size
    catalog["sha256"] = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in catalog["path"]]
    return catalog


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drawn")
    catalog = drawn_collection(folder)
    links = links_from_column(catalog, "motif")
    catalog, links = split_by_component(catalog, links, fractions=(0.5, 0.25, 0.25), seed=0)
    return catalog, links, folder


def test_loss_terms_switch_on_and_off():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])  # d(A,B) = 2
    c = torch.tensor([[0.6, 0.8]])  # d(A,C) = 0.8, d(B,C) = 0.4
    plain = compound_hinge_loss(a, b, c, margin=0.1, anchor_swap=False, intra_margin=None)
    assert plain.item() == pytest.approx(0.1 + 2 - 0.8)
    swapped = compound_hinge_loss(a, b, c, margin=0.1, anchor_swap=True, intra_margin=None)
    assert swapped.item() == pytest.approx(0.1 + 2 - 0.4)
    full = compound_hinge_loss(a, b, c, margin=0.1, anchor_swap=True, intra_margin=0.5)
    assert full.item() == pytest.approx(0.1 + 2 - 0.4 + (2 - 0.5))
    # an easy triplet costs nothing; the intra term still pulls a far positive pair in
    easy_c = torch.tensor([[-1.0, 0.0]])
    near_b = torch.tensor([[0.8, 0.6]])  # d(A,B) = 0.4
    assert compound_hinge_loss(a, near_b, easy_c, margin=0.1, intra_margin=None).item() == 0
    assert compound_hinge_loss(a, near_b, easy_c, margin=0.1, intra_margin=0.1).item() == 0
    # C opposite to A: d(A,C) = 4 > d(A,B) + margin, so only the intra term can make it count
    assert compound_hinge_loss(a, b, -a, margin=0.1, anchor_swap=False, intra_margin=None).item() == 0
    assert compound_hinge_loss(a, b, -a, margin=0.1, anchor_swap=False, intra_margin=0.0).item() == pytest.approx(0.1 + 2 - 4 + 2)


def test_ablation_configs_switch_terms():
    variants = ablation_configs(TrainConfig(intra_margin=0.2))
    assert variants["full loss"].anchor_swap and variants["full loss"].intra_margin == 0.2
    assert not variants["no anchor swap"].anchor_swap
    assert variants["no intra-sample term"].intra_margin is None
    assert not variants["plain triplet"].anchor_swap and variants["plain triplet"].intra_margin is None


def test_evaluation_on_known_rankings():
    ids = ["a", "b", "c", "d"]
    catalog = pd.DataFrame({"image_id": ids, "split": ["test"] * 4})
    links = pd.DataFrame({"image_id_a": ["a"], "image_id_b": ["b"], "type": ["POSITIVE"]})
    perfect = np.array([[1, 0], [0.99, 0.14], [0, 1], [-1, 0]], dtype=np.float32)
    scores = evaluate_retrieval(perfect, catalog, links, split="test", ks=(1, 2))
    assert scores["queries"] == 2 and scores["mAP"] == 1.0 and scores["recall@1"] == 1.0
    # b's match ranked second for a: AP 1/2
    worse = np.array([[1, 0], [0, 1], [0.99, 0.14], [-1, 0]], dtype=np.float32)
    scores, table = evaluate_retrieval(worse, catalog, links, split="test", ks=(1, 2), per_query=True)
    assert table.set_index("image_id").loc["a", "ap"] == 0.5
    assert scores["recall@1"] < 1.0


@pytest.mark.slow
def test_training_improves_validation_map_and_is_repeatable(collection, tmp_path):
    catalog, links, _ = collection
    config = TrainConfig(image_size=64, epochs=3, patience=3, batch_size=16, lr=1e-3, hard_pool=5)
    make_deterministic(0, threads=1)
    first = train_signature_model(catalog, links, config, device="cpu", checkpoint_dir=tmp_path, name="run", progress=False)
    history = first.history
    assert history["epoch"].tolist()[0] == 0 and len(history) >= 2
    assert history["val_mAP"].max() >= history["val_mAP"].iloc[0]
    assert first.checkpoint.exists()
    make_deterministic(0, threads=1)
    second = train_signature_model(catalog, links, config, device="cpu", checkpoint_dir=tmp_path / "again", name="run", progress=False)
    assert np.allclose(second.history["loss"].iloc[1:], history["loss"].iloc[1:])
    cached = train_signature_model(catalog, links, config, device="cpu", checkpoint_dir=tmp_path, name="run", progress=False)
    assert cached.from_cache and cached.best_epoch == first.best_epoch


def test_index_queries_by_id_path_and_array(collection, tmp_path):
    catalog, links, folder = collection
    config = TrainConfig(image_size=64, epochs=0)
    result = train_signature_model(catalog, links, config, device="cpu", progress=False)
    from artsig.retrieval import embed_images

    sigs = embed_images(result.model, catalog["path"].tolist())
    assert np.allclose(np.linalg.norm(sigs, axis=1), 1, atol=1e-5)
    index = SignatureIndex(sigs, catalog, model=result.model)
    by_id = index.query("f0_0", k=3)
    assert len(by_id) == 3 and "f0_0" not in by_id["image_id"].tolist()
    by_path = index.query(str(folder / "f0_0.png"), k=3, exclude_self=False)
    assert by_path["image_id"].iloc[0] == "f0_0" and by_path["distance"].iloc[0] < 1e-4
    with pytest.raises(FileNotFoundError, match="neither an image id"):
        index.query(str(folder / "missing.png"))
    with pytest.raises(ValueError, match="needs the signature model"):
        SignatureIndex(sigs, catalog).query(str(folder / "f0_0.png"))


def test_approximate_index_agrees_with_exact():
    rng = np.random.default_rng(0)
    sigs = rng.normal(size=(60, 16)).astype(np.float32)
    sigs /= np.linalg.norm(sigs, axis=1, keepdims=True)
    catalog = pd.DataFrame({"image_id": [f"i{i}" for i in range(60)], "path": [f"/x/{i}.png" for i in range(60)]})
    exact, approx = SignatureIndex(sigs, catalog), SignatureIndex(sigs, catalog, exact_limit=10)
    assert exact.kind == "exact" and approx.kind.startswith("approximate")
    for item in ("i0", "i7", "i33"):  # 60 points: the graph finds every true neighbour
        a, b = approx.query(item, k=5), exact.query(item, k=5)
        assert a["image_id"].tolist() == b["image_id"].tolist()
        np.testing.assert_allclose(a["distance"], b["distance"], atol=1e-5)


def test_exact_index_keeps_the_matrix_product_answers():
    """The exact path gives what one matrix product and a stable sort gave before the index class."""
    rng = np.random.default_rng(1)
    sigs = rng.normal(size=(80, 12)).astype(np.float32)
    sigs /= np.linalg.norm(sigs, axis=1, keepdims=True)
    catalog = pd.DataFrame({"image_id": [f"i{i}" for i in range(80)], "path": [f"/x/{i}.png" for i in range(80)]})
    rows, dist = SignatureIndex(sigs, catalog).search(sigs[:7], k=6)
    sims = sigs[:7] @ sigs.T
    want = np.argsort(-sims, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(rows, want)
    np.testing.assert_array_equal(dist, np.maximum(2.0 - 2.0 * np.take_along_axis(sims, want, axis=1), 0.0))


def test_clusters_scored_against_links():
    catalog = pd.DataFrame({"image_id": list("abcdef")})
    truth = pd.DataFrame({"image_id_a": ["a", "b", "d"], "image_id_b": ["b", "c", "e"], "type": ["POSITIVE"] * 3})
    known = truth.iloc[:1]
    labels = np.array([0, 0, 0, 1, 1, -1])
    report = cluster_link_report(labels, catalog, truth, known)
    assert report["precision"].tolist() == [1.0, 1.0]
    assert report["candidates"].tolist() == [2, 1]  # a-c and b-c are new; d-e too
    labels = np.array([0, 0, 1, 1, 0, -1])
    summary = summarize_clusters(cluster_link_report(labels, catalog, truth, known), labels)
    assert summary["pairs"] == 4 and summary["pair precision"] == pytest.approx(1 / 4)
    # the same numbers in the long score table, plus NMI / ARI against the link families
    long = link_scores(labels, catalog, truth, known, clustering="x")
    assert set(long["kind"]) == {"links", "external"} and (long["clustering"] == "x").all()
    assert long[long["kind"] == "links"].set_index("metric")["value"].to_dict() == pytest.approx(summary)
    assert set(long.loc[long["kind"] == "external", "label"]) == {"family"}
    perfect = clustering_scores(np.array([0, 0, 0, 1, 1, -1]), catalog, truth, known)
    assert perfect["family NMI"] == pytest.approx(1.0) and perfect["family ARI"] == pytest.approx(1.0) and perfect["clusters"] == 2
    # two tight bundles of directions and one stray (signatures are compared after L2 normalisation)
    points = np.array([[1, 0, 0], [1, 0.01, 0], [1, 0, 0.01], [0, 1, 0], [0, 1, 0.01], [0.01, 1, 0], [0, 0, 1]], dtype=float)
    for method in ("optics", "hdbscan"):
        found = cluster_signatures(points * 3.0, method, min_samples=2, min_cluster_size=2)
        assert len(set(found[:3])) == 1 and len(set(found[3:6])) == 1 and found[0] != found[3] and found[0] >= 0, (method, found)
    with pytest.raises(ValueError, match="method"):
        cluster_signatures(points, "kmeans")


@pytest.mark.slow
def test_select_by_validation_keeps_the_best_validation_run(collection, tmp_path):
    from artsig.retrieval import select_by_validation

    catalog, links, _ = collection
    config = TrainConfig(image_size=64, epochs=2, patience=2, batch_size=16, lr=1e-3, hard_pool=5)
    selection = select_by_validation(catalog, links, config, "intra_margin", [0.05, 1.0], device="cpu", checkpoint_dir=tmp_path,
                                     threads=1, progress=False)
    table = selection.table
    assert table["intra_margin"].tolist() == [0.05, 1.0]
    best = table.loc[table["best val_mAP"].idxmax(), "intra_margin"]
    assert selection.best_value == best and selection.config.intra_margin == best
    assert table["chosen"].sum() == 1 and table.loc[table["chosen"], "intra_margin"].item() == best
    assert {"d_linked", "d_random"} <= set(table.columns)
    assert set(selection.runs) == {0.05, 1.0} and selection.best is selection.runs[best]
    # the history records the spread of the signatures: unit vectors, so squared distances lie in [0, 4]
    history = selection.best.history
    assert {"d_linked", "d_random"} <= set(history.columns)
    assert ((history[["d_linked", "d_random"]] >= 0) & (history[["d_linked", "d_random"]] <= 4)).all().all()
    with pytest.raises(ValueError, match="not a TrainConfig field"):
        select_by_validation(catalog, links, config, "m2", [0.1], device="cpu", progress=False)


@pytest.mark.slow
def test_select_by_validation_keeps_the_largest_value_within_the_noise(collection, tmp_path):
    from artsig.retrieval import build_signature_model, select_by_validation, trunk_activations

    catalog, links, _ = collection
    config = TrainConfig(image_size=64, epochs=2, patience=2, batch_size=16, lr=1e-3, hard_pool=5)
    activations = trunk_activations(build_signature_model(config, device="cpu"), catalog, progress=False)
    values = [0.05, 0.5, 1.0]
    selection = select_by_validation(catalog, links, config, "intra_margin", values, activations=activations, device="cpu",
                                     checkpoint_dir=tmp_path, threads=1, progress=False)
    table = selection.table.set_index("intra_margin")
    assert {"val AP minus top", "interval low", "interval high"} <= set(table.columns)
    top = table["best val_mAP"].idxmax()
    assert table.loc[top, "val AP minus top"] == 0
    tied = [v for v in values if table.loc[v, "interval high"] >= 0]  # not clearly below the top value
    assert top in tied and selection.best_value == max(tied)
    assert table["chosen"].sum() == 1 and table.loc[selection.best_value, "chosen"]
    with pytest.raises(ValueError, match="prefer must be"):
        select_by_validation(catalog, links, config, "intra_margin", [0.5], activations=activations, device="cpu", threads=1,
                             progress=False, prefer="median")


def test_loss_term_intervals_and_signature_comparison(collection):
    from artsig.retrieval import LOSS_VARIANTS, compare_signatures, loss_term_intervals

    catalog, links, _ = collection
    rng = np.random.default_rng(0)
    family = catalog["component"].to_numpy()
    codes = pd.factorize(pd.Series(family))[0]
    centres = rng.normal(size=(codes.max() + 1, 16))
    good = centres[codes] + 0.1 * rng.normal(size=(len(catalog), 16))
    noise = rng.normal(size=(len(catalog), 16))
    signatures = {f"fine-tuned ({name})": (good if name in ("full loss", "no anchor swap") else noise) for name in LOSS_VARIANTS}
    table = loss_term_intervals(signatures, catalog, links, split="test")
    intra = table.set_index("term").loc["intra-sample term"]
    swap = table.set_index("term").loc["anchor swap"]
    assert intra["verdict"].startswith("raises") and intra["interval low"] > 0
    assert swap["mean effect"] == 0 and swap["verdict"].startswith("no clear effect")
    c = compare_signatures({"good": good, "noise": noise}, "good", "noise", catalog, links, split="test")
    assert c.outcome == "better" and c.groups <= c.items


KILLABLE = """
import os, signal, sys
import numpy as np, pandas as pd
from artsig import retrieval as R
folder, kill_after = sys.argv[1], int(sys.argv[2])
catalog, links = pd.read_pickle(os.path.join(folder, "..", "collection.pkl"))
activations = np.load(os.path.join(folder, "..", "activations.npy"))
saves = []
real_save, real_loss = R._torch_save, R.compound_hinge_loss
def save(obj, target):
    real_save(obj, target)
    if str(target).endswith(".resume"):
        saves.append(obj["epoch"])
def loss(*args, **kwargs):
    if kill_after and len(saves) >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # a real kill -9, in the middle of the next epoch
    return real_loss(*args, **kwargs)
R._torch_save, R.compound_hinge_loss = save, loss
R.make_deterministic(0, threads=1)
config = R.TrainConfig(image_size=64, epochs=4, patience=4, batch_size=16, lr=1e-3, hard_pool=5)
run = R.train_signature_model(catalog, links, config, activations=activations, device="cpu", checkpoint_dir=folder, name="run", progress=False)
run.history.to_pickle(os.path.join(folder, "history.pkl"))
print(run.resumed_from, saves)
"""


@pytest.mark.slow
def test_signature_training_resumes_after_sigkill(collection, tmp_path):
    """Killed in its third epoch, a restart continues from the second one and ends with the same numbers, bit for bit."""
    import signal

    from artsig.retrieval import build_signature_model, resume_path, trunk_activations
    from conftest import run_killable

    catalog, links, _ = collection
    pd.to_pickle((catalog, links), tmp_path / "collection.pkl")
    make_deterministic(0, threads=1)
    model = build_signature_model(TrainConfig(image_size=64), device="cpu")
    np.save(tmp_path / "activations.npy", trunk_activations(model, catalog, progress=False))

    def run(folder, kill_after):
        return run_killable(KILLABLE, folder, kill_after)

    killed = run(tmp_path / "killed", 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert torch.load(resume_path(tmp_path / "killed" / "run.pt"), weights_only=False)["epoch"] == 2
    resumed = run(tmp_path / "killed", 0)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.strip() == "2 [3, 4]"  # epochs 1 and 2 were not trained again
    whole = run(tmp_path / "whole", 0)
    assert whole.stdout.strip() == "0 [1, 2, 3, 4]"
    got, want = (pd.read_pickle(tmp_path / f / "history.pkl").drop(columns="train_images_per_s") for f in ("killed", "whole"))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    a, b = (torch.load(tmp_path / f / "run.pt", weights_only=False) for f in ("killed", "whole"))
    assert a["best_epoch"] == b["best_epoch"] and a["top_state"].keys() == b["top_state"].keys()
    assert all(torch.equal(a["top_state"][k], b["top_state"][k]) for k in a["top_state"])
    assert not resume_path(tmp_path / "killed" / "run.pt").exists()


def test_signature_model_is_an_estimator_over_train_signature_model(collection, tmp_path):
    from sklearn.base import clone

    from artsig.retrieval import SignatureModel, embed_images, signatures_from_activations, trunk_activations

    catalog, links, _ = collection
    config = TrainConfig(image_size=64, epochs=1, patience=1, batch_size=16, lr=1e-3, hard_pool=5)
    estimator = SignatureModel(config, device="cpu", progress=False)
    assert clone(estimator.set_params(name="run")).get_params() == estimator.get_params()
    with pytest.raises(RuntimeError, match="not fitted"):
        estimator.transform(catalog)
    with pytest.raises(TypeError, match="config"):
        SignatureModel({"epochs": 1}).fit(catalog, links)
    make_deterministic(0, threads=1)
    sigs = estimator.fit_transform(catalog, links)
    make_deterministic(0, threads=1)
    run = train_signature_model(catalog, links, config, device="cpu", progress=False)
    assert np.array_equal(estimator.history_["loss"].to_numpy()[1:], run.history["loss"].to_numpy()[1:])
    assert np.array_equal(sigs, signatures_from_activations(run.model, trunk_activations(run.model, catalog, progress=False)))
    assert np.allclose(estimator.transform(catalog["path"].tolist()[:3]), embed_images(run.model, catalog["path"].tolist()[:3]), atol=1e-3)


def test_full_profile_raises_input_size_and_epochs_unless_set_by_hand():
    from artsig.retrieval import FULL_SETTINGS, QUICK_SETTINGS, profile_settings

    assert profile_settings("quick", **QUICK_SETTINGS) == QUICK_SETTINGS
    assert profile_settings("full", **QUICK_SETTINGS) == FULL_SETTINGS
    assert profile_settings("full", **{**QUICK_SETTINGS, "epochs": 3})["epochs"] == 3
    assert FULL_SETTINGS["retrieval_size"] % 32 == 0


def test_quick_settings_are_the_book_defaults():
    import yaml

    from artsig import dcec
    from artsig.retrieval import QUICK_SETTINGS

    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "book" / "params.yml").read_text())
    retrieval = {**params["sections"]["retrieval"], **params["notebooks"]["06_retrieval"]}
    assert {k: retrieval[k] for k in QUICK_SETTINGS} == QUICK_SETTINGS
    assert {k: params["notebooks"]["05_dcec"][k] for k in dcec.QUICK_SETTINGS} == dcec.QUICK_SETTINGS
