"""Metrics as Keras computes them: engine.metrics (names, serialized forms, log keys, checks) and
engine.metric_state (stateful values over an epoch) against Keras 3's live metrics and the
golden numbers of Keras' own tests.

Every comparison feeds the same float32 batches to NN Designer's :class:`MetricSet` and to the
Keras metric (``keras.metrics.get(spec)``, ``update_state`` per batch, ``result()``), checks the
running value after every batch of two epochs (``reset`` between them), and allows float32
rounding only.
"""

from __future__ import annotations

import copy
import inspect
import re
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.metric_state import MetricSet, batch_metrics
from engine.metrics import (
    DEFAULT_KEYS,
    METRIC_DEFAULTS,
    MetricSpec,
    metric_problem,
    resolve_metric,
)

F32 = np.float32
REL, ABS = 1e-5, 1e-6  # float32 rounding
#: Two epochs of batches, of different sizes (a batch of one sample among them); the state
#: accumulates over an epoch's batches and is reset between the epochs.
EPOCHS = ((7, 16, 1, 9), (12, 5, 3))
#: The loss a network with these targets trains on (only the shape-resolved accuracy reads it).
LOSS_OF = {
    "prob": "binary_crossentropy",
    "uniform": "binary_crossentropy",
    "linear": "binary_crossentropy",
    "logits": "binary_crossentropy",
    "onehot": "categorical_crossentropy",
    "sparse": "sparse_categorical_crossentropy",
    "sparse_col": "sparse_categorical_crossentropy",
    "regression": "mean_squared_error",
}
R2_WARNINGS = (
    "ignore:More independent predictors than datapoints:UserWarning",
    "ignore:Division by zero in Adjusted R2 score:UserWarning",
)


@pytest.fixture(scope="module")
def keras(tf_ready):
    import keras

    return keras


def m(cls: str, **config) -> dict:
    """A serialized metric as ``compile.metrics`` holds it."""
    return {"class_name": cls, "config": config}


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def make_batch(kind: str, n: int, width: int, rng: np.random.Generator):
    """``(y_true, y_pred)`` of one batch: ``y_pred`` float32 as a network's output.

    prob: 0/1 targets, scores on a 0.1 grid (ties; exactly 0, 0.5 and 1); uniform: 0/1
    targets, continuous scores; linear: 0/1 targets, a linear output on a 0.1 grid (outside
    [0, 1], ties); logits: 0/1 targets, logits; onehot: one-hot targets, softmax scores on a
    0.1 grid (ties); sparse / sparse_col: integer labels ``(n,)`` / ``(n, 1)``, the same
    scores; regression: real targets and predictions.
    """
    if kind in ("prob", "uniform", "linear", "logits"):
        y_true = rng.integers(0, 2, (n, width)).astype(F32)
        if kind == "prob":
            y_pred = rng.integers(0, 11, (n, width)) / 10
        elif kind == "uniform":
            y_pred = rng.uniform(0.0, 1.0, (n, width))
        elif kind == "linear":
            y_pred = np.round(rng.normal(0.4, 0.9, (n, width)), 1)
        else:
            y_pred = rng.normal(0.0, 3.0, (n, width))
        return y_true, y_pred.astype(F32)
    if kind in ("onehot", "sparse", "sparse_col"):
        labels = rng.integers(0, width, n)
        y_pred = np.round(softmax(rng.normal(0.0, 1.5, (n, width))), 1).astype(F32)
        if kind == "onehot":
            return np.eye(width, dtype=F32)[labels], y_pred
        return (labels if kind == "sparse" else labels[:, None]), y_pred
    if kind == "regression":
        y_true = rng.normal(0.0, 1.0, (n, width))
        y_pred = y_true + rng.normal(0.0, 0.6, (n, width))
        return y_true.astype(F32), y_pred.astype(F32)
    raise AssertionError(kind)


def epochs_of(kind: str, width: int, seed: int):
    rng = np.random.default_rng(seed)
    return [[make_batch(kind, n, width, rng) for n in sizes] for sizes in EPOCHS]


def seed_of(text: str) -> int:
    return zlib.crc32(text.encode())


def keras_value(metric) -> float:
    """The Keras metric's value: one number (F1Score's average=None on a one-unit output is a
    vector of one score, its only element)."""
    value = np.asarray(metric.result())
    assert value.size == 1, value
    return float(value.reshape(()))


def assert_same_as_keras(ours: MetricSet, theirs, epochs, label: str) -> None:
    """Feed both the same batches; the running values agree after every batch."""
    (key,) = ours.keys
    for e, epoch in enumerate(epochs):
        ours.reset()
        theirs.reset_state()
        for b, (y_true, y_pred) in enumerate(epoch):
            ours.update(y_true, y_pred)
            theirs.update_state(y_true, y_pred)
            got, want = ours.results()[key], keras_value(theirs)
            assert got == pytest.approx(want, rel=REL, abs=ABS), (
                f"{label}: epoch {e}, batch {b} (sizes {EPOCHS[e][: b + 1]}): "
                f"NN Designer {got!r}, Keras {want!r}"
            )


# --------------------------------------------------------------------------------------------
# Every metric class and a spread of its settings, against the live Keras metric
# --------------------------------------------------------------------------------------------

#: (id, spec, data kind, output width)
CASES = [
    # accuracies
    ("binary_accuracy-w1", "binary_accuracy", "prob", 1),
    ("BinaryAccuracy-t0.3-w3", m("BinaryAccuracy", threshold=0.3), "prob", 3),
    ("BinaryAccuracy-t0-linear", m("BinaryAccuracy", threshold=0.0), "linear", 2),
    ("categorical_accuracy-w4", "categorical_accuracy", "onehot", 4),
    ("CategoricalAccuracy-multihot", m("CategoricalAccuracy"), "prob", 3),
    ("sparse_categorical_accuracy-w4", "sparse_categorical_accuracy", "sparse", 4),
    ("SparseCategoricalAccuracy-col", m("SparseCategoricalAccuracy"), "sparse_col", 3),
    ("top_k-k5-w3", "top_k_categorical_accuracy", "onehot", 3),
    ("TopK-k2-w5", m("TopKCategoricalAccuracy", k=2), "onehot", 5),
    ("TopK-k1-w3", m("TopKCategoricalAccuracy", k=1), "onehot", 3),
    ("sparse_top_k-k5-w6", "sparse_top_k_categorical_accuracy", "sparse", 6),
    ("SparseTopK-k2-w5", m("SparseTopKCategoricalAccuracy", k=2), "sparse", 5),
    ("SparseTopK-k3-col", m("SparseTopKCategoricalAccuracy", k=3), "sparse_col", 4),
    # precision and recall
    ("precision-w1", "precision", "prob", 1),
    ("Precision-w3", "Precision", "prob", 3),
    ("Precision-linear", m("Precision"), "linear", 2),
    ("Precision-t0.3-linear", m("Precision", thresholds=0.3), "linear", 2),
    ("Precision-t[0.7]", m("Precision", thresholds=[0.7]), "uniform", 2),
    ("Precision-top_k2", m("Precision", top_k=2), "prob", 4),
    ("Precision-top_k1-linear", m("Precision", top_k=1), "linear", 3),
    ("Precision-class_id1", m("Precision", class_id=1), "prob", 3),
    ("Precision-class_id2-t0.2-linear", m("Precision", class_id=2, thresholds=0.2), "linear", 3),
    ("Precision-top_k2-t0.4", m("Precision", top_k=2, thresholds=0.4), "prob", 4),
    ("Precision-top_k2-class_id0", m("Precision", top_k=2, class_id=0), "uniform", 4),
    ("recall-w1", "recall", "prob", 1),
    ("Recall-t0.6-linear", m("Recall", thresholds=0.6), "linear", 2),
    ("Recall-top_k3", m("Recall", top_k=3), "uniform", 5),
    ("Recall-class_id0", m("Recall", class_id=0), "prob", 2),
    ("Recall-top_k1-t0.5-class_id2", m("Recall", top_k=1, thresholds=0.5, class_id=2), "prob", 3),
    # AUC
    ("auc-w1", "auc", "prob", 1),
    ("AUC-uniform-w1", "AUC", "uniform", 1),
    ("AUC-linear", m("AUC"), "linear", 1),
    ("AUC-flat-w3", m("AUC"), "prob", 3),
    ("AUC-ROC-minoring", m("AUC", summation_method="minoring"), "prob", 1),
    ("AUC-ROC-majoring-linear", m("AUC", summation_method="majoring"), "linear", 2),
    ("AUC-PR", m("AUC", curve="PR"), "prob", 2),
    ("AUC-PR-minoring", m("AUC", curve="PR", summation_method="minoring"), "uniform", 1),
    ("AUC-PR-majoring-linear", m("AUC", curve="PR", summation_method="majoring"), "linear", 1),
    ("AUC-PR-linear", m("AUC", curve="PR"), "linear", 2),
    ("AUC-PRGAIN", m("AUC", curve="PRGAIN"), "prob", 1),
    ("AUC-PRGAIN-minoring", m("AUC", curve="PRGAIN", summation_method="minoring"), "uniform", 2),
    ("AUC-PRGAIN-majoring", m("AUC", curve="PRGAIN", summation_method="majoring"), "prob", 1),
    ("AUC-n3", m("AUC", num_thresholds=3), "prob", 1),
    ("AUC-n7-PR", m("AUC", num_thresholds=7, curve="PR"), "uniform", 1),
    ("AUC-n1000", m("AUC", num_thresholds=1000), "uniform", 1),
    ("AUC-thresholds-even", m("AUC", thresholds=[0.25, 0.5, 0.75]), "prob", 1),
    ("AUC-thresholds-uneven-linear", m("AUC", thresholds=[0.1, 0.35, 0.8]), "linear", 1),
    (
        "AUC-thresholds-unsorted-PR",
        m("AUC", thresholds=[0.7, 0.2, 0.45], curve="PR"),
        "uniform",
        2,
    ),
    ("AUC-multi_label", m("AUC", multi_label=True), "prob", 3),
    ("AUC-multi_label-num_labels", m("AUC", multi_label=True, num_labels=3), "uniform", 3),
    (
        "AUC-multi_label-label_weights",
        m("AUC", multi_label=True, label_weights=[0.2, 0.5, 0.3]),
        "prob",
        3,
    ),
    ("AUC-multi_label-PR-linear", m("AUC", multi_label=True, curve="PR"), "linear", 2),
    (
        "AUC-multi_label-PRGAIN-thresholds",
        m("AUC", multi_label=True, curve="PRGAIN", thresholds=[0.3, 0.6]),
        "prob",
        2,
    ),
    ("AUC-label_weights-flat", m("AUC", label_weights=[1.0, 2.0, 0.5]), "prob", 3),
    ("AUC-from_logits", m("AUC", from_logits=True), "logits", 1),
    (
        "AUC-from_logits-multi_label-PR",
        m("AUC", from_logits=True, multi_label=True, curve="PR"),
        "logits",
        2,
    ),
    # F1 and F-beta
    ("F1-w1-t0.5", m("F1Score", threshold=0.5), "prob", 1),
    ("f1_score-w1", "f1_score", "uniform", 1),
    ("F1-micro", m("F1Score", average="micro"), "onehot", 3),
    ("F1-macro", m("F1Score", average="macro"), "onehot", 4),
    ("F1-weighted", m("F1Score", average="weighted"), "onehot", 3),
    ("F1-macro-t0.4", m("F1Score", average="macro", threshold=0.4), "prob", 3),
    ("F1-weighted-t0.5-linear", m("F1Score", average="weighted", threshold=0.5), "linear", 3),
    ("F1-micro-t1.0", m("F1Score", average="micro", threshold=1.0), "prob", 2),
    ("FBeta-macro", m("FBetaScore", average="macro"), "onehot", 3),
    ("FBeta-beta2-macro", m("FBetaScore", average="macro", beta=2.0), "onehot", 4),
    (
        "FBeta-beta0.5-weighted-t0.3",
        m("FBetaScore", average="weighted", beta=0.5, threshold=0.3),
        "prob",
        3,
    ),
    (
        "FBeta-beta2-micro-t0.6",
        m("FBetaScore", average="micro", beta=2.0, threshold=0.6),
        "uniform",
        2,
    ),
    ("f_beta_score-w1", "f_beta_score", "prob", 1),
    # regression
    ("mse", "mse", "regression", 1),
    ("mean_squared_error-w3", "mean_squared_error", "regression", 3),
    ("MeanSquaredError-prob", m("MeanSquaredError"), "prob", 2),
    ("mae", "mae", "regression", 1),
    ("MeanAbsoluteError-w3", m("MeanAbsoluteError"), "regression", 3),
    ("root_mean_squared_error", "root_mean_squared_error", "regression", 1),
    ("RootMeanSquaredError-w3", m("RootMeanSquaredError"), "regression", 3),
    ("r2_score-w1", "r2_score", "regression", 1),
    ("R2-uniform-w3", m("R2Score", class_aggregation="uniform_average"), "regression", 3),
    (
        "R2-variance_weighted-w3",
        m("R2Score", class_aggregation="variance_weighted_average"),
        "regression",
        3,
    ),
    ("R2-num_regressors2-w1", m("R2Score", num_regressors=2), "regression", 1),
    (
        "R2-num_regressors5-variance_weighted-w2",
        m("R2Score", num_regressors=5, class_aggregation="variance_weighted_average"),
        "regression",
        2,
    ),
    ("R2-num_regressors60-w1", m("R2Score", num_regressors=60), "regression", 1),
]
CASE_PARAMS = [pytest.param(spec, kind, width, id=cid) for cid, spec, kind, width in CASES]


def test_the_cases_cover_every_metric_class():
    assert {resolve_metric(spec).cls for _, spec, _, _ in CASES} == set(METRIC_DEFAULTS)


@pytest.mark.filterwarnings(*R2_WARNINGS)
@pytest.mark.parametrize(("spec", "kind", "width"), CASE_PARAMS)
def test_metric_set_is_the_keras_metric_over_batches_and_epochs(keras, spec, kind, width, request):
    cid = request.node.callspec.id
    epochs = epochs_of(kind, width, seed_of(cid))
    ours = MetricSet([spec], LOSS_OF[kind])
    theirs = keras.metrics.get(copy.deepcopy(spec))
    assert type(theirs).__name__ == ours.specs[0].cls
    assert_same_as_keras(ours, theirs, epochs, cid)


def test_one_metric_set_holds_many_metrics_apart(keras):
    """Many metrics in one MetricSet (a compile list) keep apart: each state is its Keras
    metric, over two epochs of batches."""
    specs = [
        "binary_accuracy",
        m("BinaryAccuracy", threshold=0.3, name="ba3"),
        "Precision",
        m("Precision", top_k=2, name="p_top2"),
        m("Recall", class_id=1, name="r1"),
        "auc",
        m("AUC", multi_label=True, curve="PR", name="auc_ml"),
        m("AUC", label_weights=[1.0, 2.0, 0.5], name="auc_lw"),
        m("F1Score", average="macro", threshold=0.4),
        m("FBetaScore", average="weighted", beta=0.5),
        "mse",
        "mae",
    ]
    ours = MetricSet(specs, "binary_crossentropy")
    assert len(set(ours.keys)) == len(specs)
    theirs = [keras.metrics.get(copy.deepcopy(s)) for s in specs]
    rng = np.random.default_rng(11)
    for sizes in EPOCHS:
        ours.reset()
        for t in theirs:
            t.reset_state()
        for n in sizes:
            y_true, y_pred = make_batch("prob", n, 3, rng)
            ours.update(y_true, y_pred)
            for t in theirs:
                t.update_state(y_true, y_pred)
        got = ours.results()
        for key, t in zip(ours.keys, theirs, strict=True):
            want = keras_value(t)
            assert got[key] == pytest.approx(want, rel=REL, abs=ABS), f"{key}: Keras {want}"


def test_batch_metrics_is_one_fresh_update(keras):
    rng = np.random.default_rng(3)
    y_true, y_pred = make_batch("prob", 20, 1, rng)
    specs = ["accuracy", "auc", m("Precision", thresholds=0.3), "mse"]
    got = batch_metrics(specs, "binary_crossentropy", y_true, y_pred)
    assert list(got) == ["accuracy", "auc", "precision", "mse"]
    ms = MetricSet(specs, "binary_crossentropy")
    ms.update(y_true, y_pred)
    assert got == ms.results()
    assert got["auc"] == pytest.approx(
        keras_value(_updated(keras.metrics.AUC(), y_true, y_pred)), rel=REL, abs=ABS
    )
    assert batch_metrics([], "binary_crossentropy", y_true, y_pred) == {}
    assert batch_metrics(None, "binary_crossentropy", y_true, y_pred) == {}


def _updated(metric, y_true, y_pred):
    metric.update_state(y_true, y_pred)
    return metric


def test_a_fresh_or_reset_metric_set_reads_zero_and_refuses_an_empty_batch():
    specs = ["precision", "auc", "f1_score", "r2_score", "mse", "accuracy"]
    ms = MetricSet(specs, "mean_squared_error")
    assert bool(ms) and not MetricSet([], "mean_squared_error")
    assert all(v == 0.0 for v in ms.results().values())
    ms.update(np.ones((4, 1), F32), np.full((4, 1), 0.9, F32))
    assert ms.results()["precision"] == 1.0
    ms.reset()
    assert all(v == 0.0 for v in ms.results().values())
    with pytest.raises(ValueError, match="empty batch"):
        ms.update(np.zeros((0, 1), F32), np.zeros((0, 1), F32))


# --------------------------------------------------------------------------------------------
# Golden values from Keras' own tests (keras/src/metrics/*_test.py, Keras 3.15)
# --------------------------------------------------------------------------------------------

_AUC_PRED = [[0.0], [0.5], [0.3], [0.9]]  # AUCTest.setUp
_AUC_TRUE = [[0], [0], [1], [1]]
_MULTI_PRED = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]]).T  # MultiAUCTest.setUp
_MULTI_GOOD = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
_FB_TRUE = [[0, 0, 1], [1, 1, 0], [1, 1, 1]]  # FBetaScoreTest.test_fbeta_random_score
_FB_PRED = [[0.7, 0.7, 0.7], [1, 0, 0], [0.9, 0.8, 0]]
_FBN_TRUE = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
_FBN_PRED = [  # FBetaScoreTest.test_fbeta_random_score_none
    [0.9, 0.1, 0],
    [0.2, 0.6, 0.2],
    [0, 0, 1],
    [0.4, 0.3, 0.3],
    [0, 0.9, 0.1],
    [0, 0, 1],
]
_R2_TRUE = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # R2ScoreTest
_R2_PRED = [[0.4, 0.5, 0.6], [0.1, 0.2, 0.3], [0.5, 0.8, 0.2]]
_REG_TRUE = [[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]]
_REG_PRED = [[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]]
_MC_PRED = [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
_MC_TRUE = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]


def _logit(p):
    p = np.asarray(p, dtype=np.float64)
    return -np.log(1.0 / (p + 1e-12) - 1.0)  # as AUCTest.setUp makes y_pred_logits


#: (Keras test, spec, y_true, y_pred, expected, the test's atol). 1-D inputs of Keras' tests
#: are given as a network's output: a column, or a row of units for top_k.
GOLDEN = [
    # confusion_metrics_test.py
    (
        "PrecisionTest.test_unweighted",
        "precision",
        [[0], [1], [1], [0]],
        [[1], [0], [1], [0]],
        0.5,
        1e-7,
    ),
    ("PrecisionTest.test_div_by_zero", "precision", [[0]] * 4, [[0]] * 4, 0.0, 0.0),
    (
        "PrecisionTest.test_unweighted_top_k",
        m("Precision", top_k=3),
        [[0, 1, 1, 0, 0]],
        [[0.2, 0.1, 0.5, 0, 0.2]],
        1.0 / 3,
        1e-7,
    ),
    (
        "PrecisionTest.test_unweighted_class_id_multiclass",
        m("Precision", class_id=1),
        _MC_TRUE,
        _MC_PRED,
        1.0,
        1e-7,
    ),
    (
        "PrecisionTest.test_unweighted_top_k_and_threshold",
        m("Precision", thresholds=0.7, top_k=2),
        [[0, 1, 1, 0, 1]],
        [[0.2, 0.8, 0.6, 0, 0.2]],
        1.0,
        1e-7,
    ),
    ("RecallTest.test_unweighted", "recall", [[0], [1], [1], [0]], [[1], [0], [1], [0]], 0.5, 1e-7),
    (
        "RecallTest.test_unweighted_top_k",
        m("Recall", top_k=3),
        [[0, 1, 1, 0, 0]],
        [[0.2, 0.1, 0.5, 0, 0.2]],
        0.5,
        1e-7,
    ),
    (
        "RecallTest.test_unweighted_class_id_multiclass",
        m("Recall", class_id=1),
        _MC_TRUE,
        _MC_PRED,
        1.0,
        1e-7,
    ),
    (
        "RecallTest.test_unweighted_top_k_and_threshold",
        m("Recall", thresholds=0.7, top_k=2),
        [[1, 1, 1, 0, 1]],
        [[0.2, 0.8, 0.6, 0, 0.2]],
        0.25,
        1e-7,
    ),
    ("AUCTest.test_unweighted_all_correct", "auc", _AUC_TRUE, _AUC_TRUE, 1.0, 0.0),
    ("AUCTest.test_unweighted", m("AUC", num_thresholds=3), _AUC_TRUE, _AUC_PRED, 0.75, 1e-3),
    (
        "AUCTest.test_unweighted_from_logits",
        m("AUC", num_thresholds=3, from_logits=True),
        _AUC_TRUE,
        _logit(_AUC_PRED),
        0.75,
        1e-3,
    ),
    (
        "AUCTest.test_manual_thresholds",
        m("AUC", num_thresholds=2, thresholds=[0.5]),
        _AUC_TRUE,
        _AUC_PRED,
        0.75,
        1e-3,
    ),
    (
        "AUCTest.test_prgain_interpolation",
        m("AUC", num_thresholds=3, curve="PRGAIN"),
        [[v] for v in (0, 0, 0, 1, 0, 1, 0, 1, 1, 1)],
        [[v] for v in (0.1, 0.2, 0.3, 0.3, 0.4, 0.4, 0.6, 0.6, 0.8, 0.9)],
        0.666666 * 0.333333 + 0.333333 * 0.833333,
        1e-3,
    ),
    (
        "MultiAUCTest.test_unweighted",
        m("AUC", num_thresholds=5, multi_label=True),
        _MULTI_GOOD,
        _MULTI_PRED,
        (0.875 + 1.0) / 2.0,
        1e-3,
    ),
    (
        "MultiAUCTest.test_unweighted_from_logits",
        m("AUC", num_thresholds=5, multi_label=True, from_logits=True),
        _MULTI_GOOD,
        _logit(_MULTI_PRED),
        (0.875 + 1.0) / 2.0,
        1e-3,
    ),
    (
        "MultiAUCTest.test_label_weights",
        m("AUC", num_thresholds=5, multi_label=True, label_weights=[0.75, 0.25]),
        _MULTI_GOOD,
        _MULTI_PRED,
        (0.875 * 0.75 + 1.0 * 0.25) / (0.75 + 0.25),
        1e-3,
    ),
    (
        "MultiAUCTest.test_label_weights_flat",
        m("AUC", num_thresholds=5, label_weights=[0.75, 0.25]),
        _MULTI_GOOD,
        _MULTI_PRED,
        1.0 - ((1.0 - 0.375) * 0.375 / 2.0),
        1e-2,
    ),
    (
        "MultiAUCTest.test_unweighted_flat",
        m("AUC", num_thresholds=5),
        _MULTI_GOOD,
        _MULTI_PRED,
        1.0 - (3.0 / 32.0),
        1e-3,
    ),
    (
        "MultiAUCTest.test_manual_thresholds",
        m("AUC", num_thresholds=2, thresholds=[0.5], multi_label=True),
        _MULTI_GOOD,
        _MULTI_PRED,
        (0.75 + 0.5) / 2.0,
        1e-3,
    ),
    (
        "MultiAUCTest.test_unweighted_all_correct",
        m("AUC", multi_label=True),
        _MULTI_GOOD,
        _MULTI_GOOD,
        1.0,
        0.0,
    ),
    # f_score_metrics_test.py
    *[
        (
            f"FBetaScoreTest.test_fbeta_random_score[{average}-{beta}]",
            m("FBetaScore", average=average, beta=beta, threshold=0.66),
            _FB_TRUE,
            _FB_PRED,
            result,
            1e-6,
        )
        for average, beta, result in [
            ("micro", 0.5, 0.6666667),
            ("micro", 2.0, 0.6666667),
            ("macro", 0.5, 0.6825397),
            ("macro", 1.0, 0.6555555),
            ("macro", 2.0, 0.6548822),
            ("weighted", 0.5, 0.6825397),
            ("weighted", 2.0, 0.6548822),
        ]
    ],
    *[
        (
            f"FBetaScoreTest.test_fbeta_random_score_none[{average}-{beta}]",
            m("FBetaScore", average=average, beta=beta),
            _FBN_TRUE,
            _FBN_PRED,
            result,
            1e-6,
        )
        for average, beta, result in [
            ("micro", 1.0, 0.833334),
            ("macro", 0.5, 0.821549),
            ("macro", 1.0, 0.822222),
            ("macro", 2.0, 0.849206),
            ("weighted", 0.5, 0.880471),
            ("weighted", 1.0, 0.844445),
            ("weighted", 2.0, 0.829365),
        ]
    ],
    (
        "FBetaScoreTest.test_fbeta_perfect_score[macro-2.0]",
        m("FBetaScore", average="macro", beta=2.0, threshold=0.66),
        [[1, 1, 1], [1, 0, 0], [1, 1, 0]],
        _FB_PRED,
        1.0,
        1e-6,
    ),
    (
        "FBetaScoreTest.test_fbeta_worst_score[weighted-0.5]",
        m("FBetaScore", average="weighted", beta=0.5, threshold=0.66),
        [[0, 0, 0], [0, 1, 0], [0, 0, 1]],
        _FB_PRED,
        0.0,
        1e-6,
    ),
    # F1ScoreTest.test_correctness: F1Score is FBetaScore(beta=1.0); macro of
    # test_fbeta_random_score_none's data.
    (
        "F1ScoreTest.test_correctness[macro]",
        m("F1Score", average="macro"),
        _FBN_TRUE,
        _FBN_PRED,
        0.822222,
        1e-6,
    ),
    # regression_metrics_test.py
    ("MeanSquaredErrorTest.test_unweighted", "mse", _REG_TRUE, _REG_PRED, 0.5, 1e-5),
    ("MeanAbsoluteErrorTest.test_unweighted", "mae", _REG_TRUE, _REG_PRED, 0.5, 1e-5),
    (
        "RootMeanSquaredErrorTest.test_unweighted",
        "root_mean_squared_error",
        [[2], [4], [6]],
        [[1], [3], [2]],
        np.sqrt(6),
        1e-3,
    ),
    (
        "R2ScoreTest.test_r2_sklearn_comparison[uniform_average]",
        m("R2Score", class_aggregation="uniform_average"),
        _R2_TRUE,
        _R2_PRED,
        -0.12,
        1e-6,
    ),
    (
        "R2ScoreTest.test_r2_sklearn_comparison[variance_weighted_average]",
        m("R2Score", class_aggregation="variance_weighted_average"),
        _R2_TRUE,
        _R2_PRED,
        -0.12,
        1e-6,
    ),
    # accuracy_metrics_test.py
    (
        "BinaryAccuracyTest.test_unweighted",
        "binary_accuracy",
        [[1], [1], [0], [0]],
        [[0.98], [1], [0], [0.6]],
        0.75,
        1e-3,
    ),
    (
        "BinaryAccuracyTest.test_unweighted[broadcast]",
        "binary_accuracy",
        [1, 1, 0, 0],
        [[0.98], [1], [0], [0.6]],
        0.75,
        1e-3,
    ),
    (
        "BinaryAccuracyTest.test_threshold[0.3]",
        m("BinaryAccuracy", threshold=0.3),
        [[1], [1], [0], [0]],
        [[0.98], [0.5], [0.1], [0.2]],
        1.0,
        1e-6,
    ),
    (
        "BinaryAccuracyTest.test_threshold[0.9]",
        m("BinaryAccuracy", threshold=0.9),
        [[1], [1], [0], [0]],
        [[0.98], [0.5], [0.1], [0.2]],
        0.75,
        1e-6,
    ),
    (
        "CategoricalAccuracyTest.test_unweighted",
        "categorical_accuracy",
        [[0, 0, 1], [0, 1, 0]],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        0.5,
        1e-3,
    ),
    (
        "SparseCategoricalAccuracyTest.test_unweighted",
        "sparse_categorical_accuracy",
        [[2], [1]],
        [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
        0.5,
        1e-3,
    ),
    (
        "TopKCategoricalAccuracyTest.test_unweighted",
        m("TopKCategoricalAccuracy", k=1),
        [[0, 0, 1], [0, 1, 0]],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        0.5,
        1e-3,
    ),
    (
        "SparseTopKCategoricalAccuracyTest.test_unweighted",
        m("SparseTopKCategoricalAccuracy", k=1),
        [2, 1],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        0.5,
        1e-3,
    ),
]


SPARSE_CLASSES = ("SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy")


@pytest.mark.parametrize(
    ("spec", "y_true", "y_pred", "expected", "atol"),
    [pytest.param(*g[1:], id=g[0]) for g in GOLDEN],
)
def test_keras_own_test_values(spec, y_true, y_pred, expected, atol):
    y_true = np.asarray(y_true)
    if resolve_metric(spec).cls not in SPARSE_CLASSES:  # integer labels stay integers
        y_true = y_true.astype(F32)
    ms = MetricSet([spec], "mean_squared_error")
    ms.update(y_true, np.asarray(y_pred, dtype=F32))
    (got,) = ms.results().values()
    assert got == pytest.approx(expected, abs=atol + 1e-6 * abs(expected))


def test_multiple_updates_as_keras_precision_test():
    """PrecisionTest.test_multiple_updates, unweighted and at one threshold: two updates with
    the same batch keep the ratio; a second epoch after reset starts afresh."""
    y_true = np.array([[0, 1], [1, 0]], F32)
    y_pred = np.array([[1, 0], [0.6, 0]], F32)
    ms = MetricSet([m("Precision", thresholds=[0.5])], "binary_crossentropy")
    for _ in range(2):
        ms.update(y_true, y_pred)
    assert ms.results() == {"precision": pytest.approx(0.5)}
    ms.reset()
    ms.update(np.array([[1, 0]], F32), np.array([[0.9, 0.1]], F32))
    assert ms.results() == {"precision": pytest.approx(1.0)}


# --------------------------------------------------------------------------------------------
# "accuracy": resolved by the shapes, as Keras' compile resolves it; the Perceptron's
# --------------------------------------------------------------------------------------------

#: (id, name, targets kind, width, loss, the class Keras chooses)
ACCURACY_CASES = [
    ("binary-w1", "accuracy", "prob", 1, "binary_crossentropy", "BinaryAccuracy"),
    (
        "binary-w1-rank1-targets",
        "accuracy",
        "prob_rank1",
        1,
        "binary_crossentropy",
        "BinaryAccuracy",
    ),
    ("acc-binary-linear", "acc", "linear", 1, "hinge", "BinaryAccuracy"),
    ("binary-regression", "accuracy", "regression", 1, "mean_squared_error", "BinaryAccuracy"),
    (
        "sparse",
        "accuracy",
        "sparse",
        4,
        "sparse_categorical_crossentropy",
        "SparseCategoricalAccuracy",
    ),
    (
        "acc-sparse-col",
        "acc",
        "sparse_col",
        3,
        "sparse_categorical_crossentropy",
        "SparseCategoricalAccuracy",
    ),
    ("categorical", "accuracy", "onehot", 3, "categorical_crossentropy", "CategoricalAccuracy"),
    (
        "Accuracy-categorical",
        "Accuracy",
        "onehot",
        5,
        "categorical_crossentropy",
        "CategoricalAccuracy",
    ),
    ("multihot-bce", "accuracy", "prob", 3, "binary_crossentropy", "CategoricalAccuracy"),
]


@pytest.mark.parametrize(
    ("name", "kind", "width", "loss", "keras_class"),
    [pytest.param(*c[1:], id=c[0]) for c in ACCURACY_CASES],
)
def test_accuracy_resolves_by_shapes_as_keras_compile(keras, name, kind, width, loss, keras_class):
    from keras.src.trainers.compile_utils import get_metric

    rank1 = kind == "prob_rank1"
    epochs = epochs_of("prob" if rank1 else kind, width, seed_of(name + kind + str(width)))
    if rank1:
        epochs = [[(t[:, 0], p) for t, p in epoch] for epoch in epochs]
    y_true, y_pred = epochs[0][0]
    theirs = get_metric(name, y_true, y_pred)  # Keras' compile: the class from the shapes
    assert type(theirs).__name__ == keras_class
    ours = MetricSet([name], loss)
    assert ours.keys == [name] == [theirs.name]
    assert_same_as_keras(ours, theirs, epochs, f"{name} on {kind}")


@pytest.mark.parametrize("rank1", [False, True], ids=["column-targets", "rank1-targets"])
def test_the_perceptrons_accuracy_is_the_fraction_of_signs_equal(rank1):
    rng = np.random.default_rng(21)
    ms = MetricSet(["accuracy"], None)
    for epoch in EPOCHS:
        ms.reset()
        equal = total = 0
        for n in epoch:
            y_true = rng.choice([-1.0, 1.0], (n, 1)).astype(F32)
            y_pred = rng.choice([-1.0, 1.0], (n, 1)).astype(F32)
            equal += int((y_true == y_pred).sum())
            total += n
            ms.update(y_true[:, 0] if rank1 else y_true, y_pred)
            assert ms.results() == {"accuracy": pytest.approx(equal / total, abs=1e-12)}
    # the shape rule would call it a binary accuracy at 0.5 and count every -1 target wrong
    ms.reset()
    ms.update(np.full((4, 1), -1.0, F32), np.full((4, 1), -1.0, F32))
    assert ms.results()["accuracy"] == 1.0


# --------------------------------------------------------------------------------------------
# resolve_metric: classes, complete configs, log keys, serialized forms, messages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "cls", "key"),
    [
        pytest.param(*c, id=c[0] if isinstance(c[0], str) else f"{c[0]['class_name']}-dict-{c[2]}")
        for c in [
            ("accuracy", "accuracy", "accuracy"),
            ("acc", "accuracy", "acc"),
            ("Accuracy", "accuracy", "Accuracy"),
            ("mse", "MeanSquaredError", "mse"),
            ("mae", "MeanAbsoluteError", "mae"),
            ("mean_squared_error", "MeanSquaredError", "mean_squared_error"),
            ("auc", "AUC", "auc"),
            ("AUC", "AUC", "AUC"),
            ("precision", "Precision", "precision"),
            ("Precision", "Precision", "Precision"),
            ("recall", "Recall", "recall"),
            ("f1_score", "F1Score", "f1_score"),
            ("F1Score", "F1Score", "F1Score"),
            ("f_beta_score", "FBetaScore", "f_beta_score"),
            ({"class_name": "FBetaScore"}, "FBetaScore", "fbeta_score"),
            ("r2_score", "R2Score", "r2_score"),
            ("top_k_categorical_accuracy", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"),
            ("root_mean_squared_error", "RootMeanSquaredError", "root_mean_squared_error"),
            ({"class_name": "AUC"}, "AUC", "auc"),
            (m("AUC", curve="PR"), "AUC", "auc"),
            (m("F1Score", average="macro"), "F1Score", "f1_score"),
            (
                {"class_name": "RootMeanSquaredError", "config": {}},
                "RootMeanSquaredError",
                "root_mean_squared_error",
            ),
            (
                {"class_name": "root_mean_squared_error"},
                "RootMeanSquaredError",
                "root_mean_squared_error",
            ),
            (m("Precision", name="p_at_3", thresholds=0.3), "Precision", "p_at_3"),
            (m("MeanSquaredError", name="mse_x", dtype="float32"), "MeanSquaredError", "mse_x"),
        ]
    ],
)
def test_log_keys_are_keras_names(spec, cls, key):
    got = resolve_metric(spec)
    assert (got.cls, got.key) == (cls, key)


@pytest.mark.parametrize(
    "spec",
    [
        "acc",
        "accuracy",
        "AUC",
        "auc",
        "Precision",
        "mse",
        "mae",
        "f1_score",
        "r2_score",
        "sparse_top_k_categorical_accuracy",
        m("AUC", curve="PR", name="prauc"),
        m("FBetaScore", beta=2.0, average="macro", name="f2"),
    ],
    ids=lambda s: s if isinstance(s, str) else s["config"]["name"],
)
def test_log_keys_are_the_names_keras_compile_gives(keras, spec):
    from keras.src.trainers.compile_utils import get_metric

    sparse = spec == "sparse_top_k_categorical_accuracy"
    y_true = np.array([0, 1, 2]) if sparse else np.eye(3, dtype=F32)
    y_pred = np.full((3, 3), 1 / 3, F32)
    assert resolve_metric(spec).key == get_metric(copy.deepcopy(spec), y_true, y_pred).name


@pytest.mark.parametrize("cls", list(METRIC_DEFAULTS))
def test_defaults_and_default_keys_are_keras(keras, cls):
    """Each class's defaults are its Keras constructor's; its default key the name a first
    instance gets (Keras numbers later ones: auc_1, auc_2)."""
    keras_class = getattr(keras.metrics, cls)
    metric = keras_class()
    assert DEFAULT_KEYS[cls] == re.sub(r"_\d+$", "", metric.name)
    parameters = inspect.signature(keras_class.__init__).parameters
    assert set(parameters) - {"self", "name", "dtype"} == set(METRIC_DEFAULTS[cls])
    for key, value in METRIC_DEFAULTS[cls].items():
        assert parameters[key].default == value, key
    # Keras' serialized form of a default metric resolves to the defaults and the name
    serialized = keras.metrics.serialize(metric)
    got = resolve_metric(serialized)
    assert (got.cls, got.key) == (cls, metric.name)
    assert got.config == METRIC_DEFAULTS[cls]


@pytest.mark.parametrize("cls", list(METRIC_DEFAULTS))
def test_a_name_is_taken_where_keras_takes_it(keras, cls):
    """The class name, its snake-case form and its instances' default name: each string
    resolves where ``keras.metrics.get`` takes it, and is refused where Keras refuses it
    (Keras takes "f_beta_score", not "fbeta_score")."""
    from engine.keras_objects import snake_case

    for name in {cls, snake_case(cls), DEFAULT_KEYS[cls]}:
        try:
            keras.metrics.get(name)
        except ValueError:
            with pytest.raises(ValueError, match="unknown metric"):
                resolve_metric(name)
        else:
            assert (resolve_metric(name).cls, resolve_metric(name).key) == (cls, name)


def test_a_serialized_pr_auc_resolves_with_its_curve_and_name(keras):
    serialized = keras.metrics.serialize(keras.metrics.AUC(curve="PR", name="prauc"))
    assert {"module", "registered_name"} <= set(serialized)
    got = resolve_metric(serialized)
    assert got == MetricSpec("AUC", "prauc", {**METRIC_DEFAULTS["AUC"], "curve": "PR"})
    assert "name" not in got.config and "dtype" not in got.config


def test_serialized_settings_resolve_and_compute_as_keras(keras):
    made = [
        keras.metrics.AUC(thresholds=[0.2, 0.7], summation_method="minoring", name="a"),
        keras.metrics.Precision(thresholds=0.3, top_k=2, class_id=1, name="p"),
        keras.metrics.FBetaScore(beta=2.0, average="macro", threshold=0.4, name="f"),
        keras.metrics.R2Score(class_aggregation="variance_weighted_average", name="r"),
        keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="s"),
    ]
    kinds = ["prob", "prob", "prob", "regression", "sparse"]
    for metric, kind in zip(made, kinds, strict=True):
        spec = keras.metrics.serialize(metric)
        ours = MetricSet([spec], LOSS_OF[kind])
        assert ours.keys == [metric.name]
        assert_same_as_keras(ours, metric, epochs_of(kind, 4, 5), metric.name)


def test_settings_are_normalized_as_keras_reads_them():
    assert resolve_metric(m("AUC", curve="pr")).config["curve"] == "PR"
    assert resolve_metric(m("AUC", summation_method="Majoring")).config["summation_method"] == (
        "majoring"
    )
    assert resolve_metric(m("Precision", thresholds=[0.3])).config["thresholds"] == 0.3
    assert resolve_metric(m("Recall", thresholds=0.4)).config["thresholds"] == 0.4
    assert resolve_metric(m("AUC", thresholds=(0.4, 0.2))).config["thresholds"] == [0.4, 0.2]
    assert resolve_metric("accuracy") == MetricSpec("accuracy", "accuracy", {})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("dice", "unknown metric 'dice'", id="unknown-name"),
        pytest.param("rmse", "unknown metric 'rmse'", id="keras-has-no-rmse-alias"),
        pytest.param({"class_name": "Dice"}, "unknown metric 'Dice'", id="unknown-class"),
        pytest.param({"class_name": 3}, "unknown metric 3", id="class-not-a-string"),
        pytest.param(42, "a metric must be a name", id="not-a-spec"),
        pytest.param({"class_name": "accuracy"}, "shape-resolved", id="accuracy-as-a-class"),
        pytest.param(
            m("AUC", curvature="PR"), "AUC has no setting 'curvature'", id="unknown-setting"
        ),
        pytest.param(m("F1Score", beta=2.0), "F1Score has no setting 'beta'", id="F1-has-no-beta"),
        pytest.param({"class_name": "AUC", "cfg": {}}, "unknown key 'cfg'", id="unknown-key"),
        pytest.param({"class_name": "AUC", "config": [1]}, "must be a mapping", id="config-a-list"),
        pytest.param(m("AUC", name=""), "'name' must be a non-empty string", id="empty-name"),
        pytest.param(m("AUC", dtype="int32"), "'dtype' must be a float dtype", id="int-dtype"),
        pytest.param(
            m("TopKCategoricalAccuracy", k=0), "'k' must be a whole number at least 1", id="k=0"
        ),
        pytest.param(
            m("SparseTopKCategoricalAccuracy", k=2.5), "'k' must be a whole number", id="k=2.5"
        ),
        pytest.param(
            m("TopKCategoricalAccuracy", k=True), "'k' must be a whole number", id="k=True"
        ),
        pytest.param(
            m("SparseTopKCategoricalAccuracy", from_sorted_ids=True),
            "from_sorted_ids=True",
            id="from_sorted_ids",
        ),
        pytest.param(
            m("Precision", thresholds=[0.2, 0.6]),
            "2 thresholds give a vector",
            id="precision-threshold-vector",
        ),
        pytest.param(
            m("Recall", thresholds=[0.1, 0.5, 0.9]),
            "3 thresholds give a vector",
            id="recall-vector",
        ),
        pytest.param(
            m("Precision", thresholds=1.5),
            "thresholds must be numbers in [0, 1]",
            id="threshold-1.5",
        ),
        pytest.param(
            m("Precision", top_k=0), "'top_k' must be a whole number at least 1", id="top_k=0"
        ),
        pytest.param(
            m("Recall", class_id=-1),
            "'class_id' must be a whole number at least 0",
            id="class_id=-1",
        ),
        pytest.param(
            m("BinaryAccuracy", threshold="high"),
            "'threshold' must be a number",
            id="binary-threshold",
        ),
        pytest.param(
            m("F1Score", average="bogus"), "'average' must be None, 'micro'", id="average-bogus"
        ),
        pytest.param(
            m("FBetaScore", beta=-1.0), "'beta' must be a number above 0", id="fbeta-beta=-1"
        ),
        pytest.param(
            m("FBetaScore", beta=0.0), "'beta' must be a number above 0", id="fbeta-beta=0"
        ),
        pytest.param(
            m("F1Score", threshold=0.0),
            "'threshold' must be None or in (0, 1]",
            id="f1-threshold-0",
        ),
        pytest.param(
            m("FBetaScore", threshold=1.5),
            "'threshold' must be None or in (0, 1]",
            id="fbeta-threshold",
        ),
        pytest.param(
            m("AUC", curve="XYZ"),
            "'curve' must be 'ROC', 'PR' or 'PRGAIN', got 'XYZ'",
            id="curve-XYZ",
        ),
        pytest.param(
            m("AUC", summation_method="trapezoid"), "'summation_method' must be", id="summation"
        ),
        pytest.param(
            m("AUC", num_thresholds=1),
            "'num_thresholds' must be a whole number at least 2",
            id="n=1",
        ),
        pytest.param(
            m("AUC", thresholds=[]),
            "'thresholds' must be a list of numbers",
            id="auc-no-thresholds",
        ),
        pytest.param(
            m("AUC", thresholds=[0.2, 2.0]),
            "thresholds must be numbers in [0, 1]",
            id="auc-threshold-2",
        ),
        pytest.param(
            m("AUC", multi_label="yes"), "'multi_label' must be true or false", id="multi_label-str"
        ),
        pytest.param(
            m("AUC", from_logits=1), "'from_logits' must be true or false", id="from_logits-int"
        ),
        pytest.param(
            m("AUC", num_labels=3),
            "'num_labels' is needed only when 'multi_label' is true",
            id="num_labels-alone",
        ),
        pytest.param(
            m("AUC", multi_label=True, num_labels=0),
            "'num_labels' must be a whole number",
            id="num_labels=0",
        ),
        pytest.param(
            m("AUC", label_weights="even"),
            "'label_weights' must be a list of numbers",
            id="label_weights",
        ),
        pytest.param(
            m("R2Score", class_aggregation=None),
            "'class_aggregation' must be 'uniform_average'",
            id="r2-None",
        ),
        pytest.param(
            m("R2Score", class_aggregation="mean"), "'class_aggregation' must be", id="r2-mean"
        ),
        pytest.param(
            m("R2Score", num_regressors=-1),
            "'num_regressors' must be a whole number at least 0",
            id="r2-p",
        ),
    ],
)
def test_bad_specs_are_refused_with_a_message(spec, message):
    with pytest.raises(ValueError) as info:
        resolve_metric(spec)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(m("AUC", curve="XYZ"), id="curve-XYZ"),
        pytest.param(m("AUC", num_labels=3), id="num_labels-alone"),
        pytest.param(m("AUC", num_thresholds=1), id="n=1"),
        pytest.param(m("FBetaScore", beta=-1.0), id="beta=-1"),
        pytest.param(m("F1Score", average="bogus"), id="average-bogus"),
        pytest.param(m("F1Score", threshold=1.5), id="threshold-1.5"),
        pytest.param(m("R2Score", class_aggregation="mean"), id="r2-mean"),
        pytest.param(m("R2Score", num_regressors=-1), id="r2-p"),
    ],
)
def test_specs_keras_refuses_are_refused(keras, spec):
    """Where Keras' constructor raises, so does resolve_metric (before any training)."""
    with pytest.raises(ValueError):
        keras.metrics.get(copy.deepcopy(spec))
    with pytest.raises(ValueError):
        resolve_metric(spec)


# --------------------------------------------------------------------------------------------
# metric_problem: a metric that cannot score this output against these targets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "width", "sparse", "perceptron", "words"),
    [
        pytest.param(
            "sparse_top_k_categorical_accuracy",
            5,
            False,
            False,
            "integer class labels",
            id="sparse-topk-onehot",
        ),
        pytest.param(
            m("SparseCategoricalAccuracy", name="sca"),
            3,
            False,
            False,
            "integer class labels",
            id="sca-onehot",
        ),
        pytest.param("precision", 3, True, False, "integer labels", id="precision-sparse"),
        pytest.param("Recall", 3, True, False, "integer labels", id="recall-sparse"),
        pytest.param(m("AUC", name="my_auc"), 3, True, False, "integer labels", id="auc-sparse"),
        pytest.param(
            m("F1Score", average="macro"), 3, True, False, "integer labels", id="f1-sparse"
        ),
        pytest.param(
            m("FBetaScore", average="micro", name="f2"),
            3,
            True,
            False,
            "integer labels",
            id="fbeta-sparse",
        ),
        pytest.param("r2_score", 3, True, False, "integer labels", id="r2-sparse"),
        pytest.param(
            "top_k_categorical_accuracy",
            5,
            True,
            False,
            "SparseTopKCategoricalAccuracy",
            id="topk-sparse",
        ),
        pytest.param(
            "top_k_categorical_accuracy", 1, False, False, "2 units or more", id="topk-width1"
        ),
        pytest.param(
            m("SparseTopKCategoricalAccuracy", k=1, name="stk"),
            1,
            True,
            False,
            "2 units or more",
            id="sparse-topk-w1",
        ),
        pytest.param(
            m("Precision", class_id=3, name="p3"), 3, False, False, "class_id=3", id="class_id-out"
        ),
        pytest.param(m("Recall", class_id=1), 1, False, False, "class_id=1", id="class_id-width1"),
        pytest.param(
            m("Recall", top_k=4, name="r4"), 3, False, False, "top_k=4", id="top_k-over-width"
        ),
        pytest.param(
            m("AUC", label_weights=[1.0, 2.0], name="lw"),
            3,
            False,
            False,
            "2 label_weights",
            id="label_weights-flat",
        ),
        pytest.param(
            m("AUC", multi_label=True, label_weights=[1.0, 2.0, 3.0, 4.0]),
            3,
            False,
            False,
            "4 label_weights",
            id="label_weights-multi",
        ),
        pytest.param(
            m("AUC", multi_label=True, num_labels=2),
            3,
            False,
            False,
            "num_labels=2",
            id="num_labels",
        ),
        pytest.param("f1_score", 3, False, False, "average=None", id="f1-average-None"),
        pytest.param(
            m("FBetaScore", beta=2.0, name="f2"),
            2,
            False,
            False,
            "average=None",
            id="fbeta-average-None",
        ),
        pytest.param("precision", 1, False, True, "Perceptron", id="perceptron-precision"),
        pytest.param("auc", 1, False, True, "Perceptron", id="perceptron-auc"),
        pytest.param(
            "binary_accuracy", 1, False, True, "Perceptron", id="perceptron-binary_accuracy"
        ),
    ],
)
def test_metric_problem_names_the_metric(spec, width, sparse, perceptron, words):
    resolved = resolve_metric(spec)
    message = metric_problem(resolved, width, sparse, perceptron)
    assert message is not None
    assert resolved.key in message
    assert words in message


@pytest.mark.parametrize(
    ("spec", "width", "sparse", "perceptron"),
    [
        pytest.param("accuracy", 1, False, False, id="accuracy-binary"),
        pytest.param("accuracy", 4, True, False, id="accuracy-sparse"),
        pytest.param("acc", 4, False, False, id="acc-categorical"),
        pytest.param("accuracy", 1, False, True, id="perceptron-accuracy"),
        pytest.param("mse", 1, False, True, id="perceptron-mse"),
        pytest.param("mean_absolute_error", 1, False, True, id="perceptron-mae"),
        pytest.param("sparse_top_k_categorical_accuracy", 5, True, False, id="sparse-topk"),
        pytest.param(
            m("SparseTopKCategoricalAccuracy", k=9), 2, True, False, id="sparse-topk-k-over-width"
        ),
        pytest.param("sparse_categorical_accuracy", 3, True, False, id="sca"),
        pytest.param("top_k_categorical_accuracy", 2, False, False, id="topk-width2"),
        pytest.param(m("Precision", class_id=2), 3, False, False, id="class_id-last"),
        pytest.param(m("Recall", top_k=3), 3, False, False, id="top_k-width"),
        pytest.param("precision", 1, False, False, id="precision-w1"),
        pytest.param(m("AUC", label_weights=[1.0, 2.0, 3.0]), 3, False, False, id="label_weights"),
        pytest.param(m("AUC", multi_label=True, num_labels=3), 3, False, False, id="num_labels"),
        pytest.param("f1_score", 1, False, False, id="f1-average-None-width1"),
        pytest.param(m("F1Score", average="macro"), 3, False, False, id="f1-macro"),
        pytest.param(m("FBetaScore", average="weighted"), 4, False, False, id="fbeta-weighted"),
        pytest.param("r2_score", 2, False, False, id="r2"),
        pytest.param("categorical_accuracy", 3, False, False, id="categorical"),
    ],
)
def test_metric_problem_accepts_what_keras_scores(spec, width, sparse, perceptron):
    assert metric_problem(resolve_metric(spec), width, sparse, perceptron) is None


# --------------------------------------------------------------------------------------------
# Accumulation is independent of the batching and of the samples' order
# --------------------------------------------------------------------------------------------

N_PROPERTY = 40


@pytest.mark.filterwarnings(*R2_WARNINGS)
@pytest.mark.parametrize(("spec", "kind", "width"), CASE_PARAMS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.sets(st.integers(1, N_PROPERTY - 1), max_size=6))
def test_results_do_not_depend_on_the_batching(spec, kind, width, seed, cuts):
    rng = np.random.default_rng(seed)
    y_true, y_pred = make_batch(kind, N_PROPERTY, width, rng)
    loss = LOSS_OF[kind]
    whole = MetricSet([spec], loss)
    whole.update(y_true, y_pred)
    # the same samples in another order, in batches cut at `cuts`
    order = rng.permutation(N_PROPERTY)
    batched = MetricSet([spec], loss)
    for idx in np.split(order, sorted(cuts)):
        batched.update(y_true[idx], y_pred[idx])
    (want,) = whole.results().values()
    (got,) = batched.results().values()
    assert got == pytest.approx(want, rel=REL, abs=ABS)
