import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from artsig.comparison import bootstrap_means, bootstrap_statistic, comparison_table, nmi_fast, paired_bootstrap


def test_a_clear_gap_is_better_and_its_reverse_worse():
    rng = np.random.default_rng(0)
    b = rng.random(200)
    a = b + 0.2 + rng.normal(0, 0.05, 200)
    c = paired_bootstrap(a, b, "new", "old", metric="accuracy")
    assert c.outcome == "better" and 0 < c.low < c.difference < c.high
    assert paired_bootstrap(b, a).outcome == "worse"
    assert "new is better" in c.sentence() and "200 items" in c.sentence()


def test_a_gap_inside_the_noise_is_no_clear_difference():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 60).astype(float)  # 60 test images, right or wrong
    b = a.copy()
    b[:3] = 1 - b[:3]  # three images change: a few points of accuracy
    c = paired_bootstrap(a, b)
    assert c.low <= 0 <= c.high and c.outcome == "no clear difference"
    assert "no clear difference" in c.sentence()


def test_same_seed_same_interval_and_groups_widen_it():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(10), 8)  # 10 families of 8 correlated queries
    shift = rng.normal(0, 0.3, 10)[groups]
    a, b = shift + rng.normal(0, 0.05, 80) + 0.05, rng.normal(0, 0.05, 80)
    one, two = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert one == two
    grouped = paired_bootstrap(a, b, groups=groups, seed=3)
    assert grouped.groups == 10 and grouped.items == 80
    assert (grouped.high - grouped.low) > 1.5 * (one.high - one.low)


def test_bootstrap_means_by_group_weights_items_equally():
    values = np.array([1.0, 1.0, 1.0, 0.0])
    groups = np.array(["a", "a", "a", "b"])
    means = bootstrap_means(values, groups, n_boot=400, seed=0)[:, 0]
    # resamples draw {a, a}, {a, b} or {b, b}: means 1, 0.75 or 0
    assert set(np.round(np.unique(means), 3)) <= {0.0, 0.75, 1.0}


def test_bad_input_names_what_was_expected():
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="groups has 2 entries"):
        paired_bootstrap(np.ones(3), np.ones(3), groups=[0, 1])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(np.ones(3), np.ones(3), level=95)


def test_nmi_fast_equals_scikit_learn():
    rng = np.random.default_rng(4)
    for _ in range(5):
        y = rng.integers(0, 6, 300)
        c = (y + rng.integers(0, 3, 300)) % 8
        assert nmi_fast(y, c) == pytest.approx(normalized_mutual_info_score(y, c), abs=1e-12)
    labels = np.array(["a", "b", "a", "c"])
    assert nmi_fast(labels, labels) == pytest.approx(1.0)
    assert nmi_fast(labels, np.zeros(4)) == 0.0


def test_bootstrap_statistic_of_nmi_and_table():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 400)
    good = np.where(rng.random(400) < 0.8, y, rng.integers(0, 4, 400))
    bad = rng.integers(0, 4, 400)
    c = bootstrap_statistic(lambda r: (nmi_fast(y[r], good[r]), nmi_fast(y[r], bad[r])), 400, "good", "bad", "NMI", n_boot=200)
    assert c.outcome == "better" and c.mean_a > c.mean_b
    table = comparison_table([c, paired_bootstrap(good == y, bad == y)])
    assert list(table["outcome"]) == ["better", "better"] and {"low", "high", "difference"} <= set(table.columns)
