"""Linear probes: how much of a label a feature space makes linearly readable.

The data chapter uses them to calibrate the benchmark's difficulty (a colour histogram should
not read the style; a pretrained network should, but not perfectly)."""

from __future__ import annotations

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


def probe_table(feature_sets: dict[str, np.ndarray], catalog: pd.DataFrame, labels: list[str], seed: int = 0) -> pd.DataFrame:
    """One row per (features, label): held-out accuracy of a linear probe, with chance level."""
    rows = []
    for name, features in feature_sets.items():
        for label in labels:
            mask = catalog[label].notna().to_numpy()
            result = linear_probe(features[mask], catalog.loc[mask, label].astype(str), seed=seed)
            rows.append({"features": name, "label": label, **result})
    return pd.DataFrame(rows)
