"""Linear probes: how much of a label a feature space makes linearly readable, and the frozen-probe
baseline of the classification chapter (:func:`split_probe`: C chosen on validation; :func:`cv_probe`
for collections too small for a fixed split).

The data chapter uses them to calibrate the benchmark's difficulty (a colour histogram should
not read the style; a pretrained network should, but not perfectly)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def linear_probe(features: np.ndarray, labels, test_fraction: float = 0.3, seed: int = 0, C: float = 1.0) -> dict:
    """Held-out accuracy of a logistic regression on standardised features (stratified split)."""
    labels = np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(f"features has {len(features)} rows but labels has {len(labels)}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise ValueError(f"a probe needs at least 2 classes with 2+ examples each; got {dict(zip(classes, counts))}")
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000))
    model.fit(x_train, y_train)
    accuracy = float((model.predict(x_test) == y_test).mean())
    return {"accuracy": accuracy, "chance": float(counts.max() / counts.sum()), "classes": len(classes), "train": len(y_train), "test": len(y_test)}


def probe_table(feature_sets: dict[str, np.ndarray], catalog: pd.DataFrame, labels: list[str], seed: int = 0,
                min_class_size: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per (features, label): held-out accuracy of a linear probe, with chance level.

    ``min_class_size`` (``{label: n}``) keeps only the classes of that label with at least ``n``
    images (an artist label has hundreds of names with a work or two); a label left with fewer
    than 2 classes is not probed.
    """
    rows = []
    for name, features in feature_sets.items():
        for label in labels:
            values = catalog[label]
            mask = values.notna()
            least = (min_class_size or {}).get(label, 2)
            counts = values[mask].value_counts()
            mask &= values.isin(counts.index[counts >= least])
            if values[mask].nunique() < 2:
                continue
            result = linear_probe(features[mask.to_numpy()], values[mask].astype(str), seed=seed)
            rows.append({"features": name, "label": label, **result, "min_class_size": least})
    return pd.DataFrame(rows)


def default_labels(label_columns: list[str], benchmark: bool) -> list[str]:
    """The labels the data chapter probes: style and genre; on a real collection the artist too
    (restricted by the caller to artists with enough works)."""
    wanted = ("style", "genre") if benchmark else ("style", "genre", "artist")
    return [c for c in wanted if c in label_columns] or label_columns[:1]


#: the grid of inverse regularisation strengths a probe chooses from on the validation split
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def _probe_model(C: float, class_weight: str | None, seed: int):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, random_state=seed))


def split_probe(
    features: np.ndarray, y: np.ndarray, split: np.ndarray, Cs=C_GRID, class_weight: str | None = None, seed: int = 0
) -> dict:
    """Logistic regression on standardised features, trained on ``split == "train"``, ``C`` chosen
    on ``"val"`` (highest accuracy, ties to the lower log-loss, then the smaller C), scored on ``"test"``.

    Returns ``C``, the class probabilities of the validation and test rows (``val_probs``,
    ``probs``, columns = classes 0..max(y)) and the validation accuracy and log-loss of every C (``grid``).
    """
    from sklearn.metrics import log_loss

    y, split = np.asarray(y), np.asarray(split)
    n_classes = int(y.max()) + 1
    parts = {name: split == name for name in ("train", "val", "test")}
    empty = [name for name, mask in parts.items() if not mask.any()]
    if empty:
        raise ValueError(f"split has no {empty} rows: a probe needs train, val and test")
    grid, fitted = [], {}
    for C in Cs:
        model = _probe_model(C, class_weight, seed).fit(features[parts["train"]], y[parts["train"]])
        val_probs = _full_probs(model, features[parts["val"]], n_classes)
        grid.append({"C": C, "val_accuracy": float((val_probs.argmax(1) == y[parts["val"]]).mean()),
                     "val_loss": float(log_loss(y[parts["val"]], val_probs, labels=np.arange(n_classes)))})
        fitted[C] = (model, val_probs)
    grid = pd.DataFrame(grid)
    best = grid.sort_values(["val_accuracy", "val_loss", "C"], ascending=[False, True, True], kind="stable").iloc[0]
    model, val_probs = fitted[best["C"]]
    probs = _full_probs(model, features[parts["test"]], n_classes)
    return {"C": float(best["C"]), "probs": probs, "val_probs": val_probs, "val_accuracy": float(best["val_accuracy"]),
            "val_loss": float(best["val_loss"]), "grid": grid}


def _full_probs(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities for every class 0..n_classes-1 (a class absent from training gets 0)."""
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out / out.sum(axis=1, keepdims=True)  # float32 features give sums 1 +- 1e-7; log-loss wants exact


def cv_probe(features: np.ndarray, y: np.ndarray, k: int, Cs=C_GRID, class_weight: str | None = None, seed: int = 0) -> dict:
    """Stratified ``k``-fold cross-validation of the probe for collections too small for a fixed
    split: every image is predicted once by a model that did not see it, ``C`` chosen inside each
    training part by an inner stratified cross-validation. Returns out-of-fold ``probs`` and the
    per-fold ``accuracy`` and macro ``f1``."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    n_classes = int(y.max()) + 1
    smallest = int(np.bincount(y).min())
    if k < 2 or smallest < k:
        raise ValueError(f"k={k}: cross-validation needs 2 <= k <= the smallest class ({smallest} images)")
    probs, folds = np.zeros((len(y), n_classes)), []
    for fold, (train, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(features, y)):
        inner = StratifiedKFold(max(2, min(3, int(np.bincount(y[train]).min()))), shuffle=True, random_state=seed)
        model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=list(Cs), cv=inner, max_iter=3000, class_weight=class_weight,
                                                                     random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.8 announces new fitted attributes
            model.fit(features[train], y[train])
        probs[test] = _full_probs(model, features[test], n_classes)
        pred = probs[test].argmax(1)
        folds.append({"fold": fold, "accuracy": float((pred == y[test]).mean()),
                      "f1": float(f1_score(y[test], pred, labels=np.arange(n_classes), average="macro", zero_division=0))})
    return {"probs": probs, "folds": pd.DataFrame(folds), "k": int(k)}
