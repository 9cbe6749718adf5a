"""Issue 12's metrics: each accumulated over two batches inside a compiled function (both
backends) and compared with a NumPy computation on all the data; names, configs, bad
arguments, and a model that trains with them and reloads them."""

import numpy as np
import pytest

import graphc as gc
from frontend import metrics
from frontend.layers import Dense
from frontend.models import Sequential, load_model
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(7)
N = 24
LABELS = RNG.integers(0, 2, size=(N, 3)).astype("float32")
SCORES = np.clip(LABELS * 0.3 + RNG.uniform(0, 0.7, size=(N, 3)), 0, 1).astype("float32")
WEIGHTS = RNG.uniform(0.2, 2.0, size=N).astype("float32")
Y_REAL = RNG.normal(size=(N, 3)).astype("float32")
P_REAL = (Y_REAL + 0.5 * RNG.normal(size=(N, 3))).astype("float32")
CLASSES = RNG.integers(0, 4, size=N)
PROBS = RNG.dirichlet(np.ones(4), size=N).astype("float32")


def accumulate(metric, y_true, y_pred, backend, weights=None):
    """Run the metric's update rules in a compiled function, one call per half of the data."""
    true, pred = (
        gc.placeholder((None,) + a.shape[1:], dtype=a.dtype.name, name=name)
        for a, name in ((y_true, "y_true"), (y_pred, "y_pred"))
    )
    inputs = [true, pred]
    weight = None
    if weights is not None:
        weight = gc.vector("w")
        inputs.append(weight)
    update = gc.function(inputs, [], updates=metric.update_rules(true, pred, weight),
                         backend=backend)
    for part in (slice(0, N // 2), slice(N // 2, N)):
        update(*[a[part] for a in (y_true, y_pred, weights) if a is not None])
    return metric.result()


def counts(labels, scores, threshold, weights):
    predicted, positive = scores > threshold, labels != 0
    w = weights[:, None] * np.ones_like(labels)
    return {
        "tp": np.sum(w * (predicted & positive)),
        "fp": np.sum(w * (predicted & ~positive)),
        "tn": np.sum(w * (~predicted & ~positive)),
        "fn": np.sum(w * (~predicted & positive)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "cls,key",
    [
        (metrics.TruePositives, "tp"),
        (metrics.FalsePositives, "fp"),
        (metrics.TrueNegatives, "tn"),
        (metrics.FalseNegatives, "fn"),
    ],
)
def test_confusion_counts_at_thresholds(cls, key, backend):
    got = accumulate(cls(thresholds=[0.3, 0.7]), LABELS, SCORES, backend, WEIGHTS)
    want = [counts(LABELS, SCORES, t, WEIGHTS)[key] for t in (0.3, 0.7)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert accumulate(cls(), LABELS, SCORES, backend) == counts(
        LABELS, SCORES, 0.5, np.ones(N))[key]


def exact_roc_auc(labels, scores):
    """The probability that a positive scores above a negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return above / (len(pos) * len(neg))


@pytest.mark.parametrize("backend", BACKENDS)
def test_auc_roc_flat_and_multi_label(backend):
    flat = accumulate(metrics.AUC(num_thresholds=1001), LABELS, SCORES, backend)
    assert flat == pytest.approx(exact_roc_auc(LABELS.ravel(), SCORES.ravel()), abs=2e-3)
    per_label = [exact_roc_auc(LABELS[:, j], SCORES[:, j]) for j in range(3)]
    multi = accumulate(metrics.AUC(1001, multi_label=True), LABELS, SCORES, backend)
    assert multi == pytest.approx(np.mean(per_label), abs=2e-3)
    weighted = metrics.AUC(1001, multi_label=True, label_weights=[1.0, 0.0, 3.0])
    got = accumulate(weighted, LABELS, SCORES, backend)
    assert got == pytest.approx((per_label[0] + 3 * per_label[2]) / 4, abs=2e-3)


def step_pr_auc(labels, scores):
    """Average precision: sum over positives of the precision at their score."""
    order = np.argsort(-scores)
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return np.sum(precision * hits) / hits.sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_auc_pr_is_close_to_average_precision(backend):
    got = accumulate(metrics.AUC(1001, curve="PR"), LABELS, SCORES, backend)
    assert got == pytest.approx(step_pr_auc(LABELS.ravel(), SCORES.ravel()), abs=0.03)
    minoring = accumulate(metrics.AUC(1001, "PR", "minoring"), LABELS, SCORES, backend)
    assert minoring <= got + 1e-6


def np_fbeta(labels, scores, beta, threshold, average):
    predicted = (scores > threshold) if threshold else (scores == scores.max(-1, keepdims=True))
    axis = None if average == "micro" else 0
    tp = np.sum(predicted * labels, axis=axis)
    fp, fn = np.sum(predicted * (1 - labels), axis=axis), np.sum((1 - predicted) * labels, axis)
    eps = 1e-7
    p, r = tp / (tp + fp + eps), tp / (tp + fn + eps)
    f = (1 + beta**2) * p * r / (beta**2 * p + r + eps)
    if average == "weighted":
        return np.sum(f * labels.sum(0) / (labels.sum() + eps))
    return np.mean(f) if average else f


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "average,beta,threshold",
    [(None, 1.0, None), ("micro", 2.0, 0.5), ("macro", 0.5, 0.4), ("weighted", 1.0, 0.6)],
)
def test_fbeta_and_f1(average, beta, threshold, backend):
    metric = (
        metrics.F1Score(average, threshold)
        if beta == 1.0
        else metrics.FBetaScore(average, beta, threshold)
    )
    got = accumulate(metric, LABELS, SCORES, backend)
    want = np_fbeta(LABELS, SCORES, beta, threshold, average)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def np_unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-7)


REGRESSION = [
    (metrics.MeanAbsolutePercentageError,
     lambda y, p: 100 * np.abs((y - p) / np.maximum(np.abs(y), 1e-7)).mean(-1)),
    (metrics.MeanSquaredLogarithmicError,
     lambda y, p: np.mean((np.log1p(np.maximum(p, 1e-7)) - np.log1p(np.maximum(y, 1e-7))) ** 2,
                          -1)),
    (metrics.CosineSimilarity, lambda y, p: np.sum(np_unit(y) * np_unit(p), -1)),
    (metrics.LogCoshError, lambda y, p: np.mean(np.log(np.cosh(p - y)), -1)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls,per_sample", REGRESSION, ids=lambda v: getattr(v, "__name__", ""))
def test_weighted_regression_means(cls, per_sample, backend):
    got = accumulate(cls(), Y_REAL, P_REAL, backend, WEIGHTS)
    values = per_sample(Y_REAL.astype(np.float64), P_REAL.astype(np.float64))
    assert got == pytest.approx(np.sum(values * WEIGHTS) / WEIGHTS.sum(), rel=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_root_mean_squared_error(backend):
    got = accumulate(metrics.RootMeanSquaredError(), Y_REAL, P_REAL, backend, WEIGHTS)
    squares = (Y_REAL - P_REAL).astype(np.float64) ** 2
    assert got == pytest.approx(np.sqrt(np.sum(squares * WEIGHTS[:, None]) / (3 * WEIGHTS.sum())))


def np_r2(y, p, aggregation, regressors=0):
    residual = np.sum((y - p) ** 2, 0)
    spread = np.sum((y - y.mean(0)) ** 2, 0)
    raw = 1 - residual / spread
    if aggregation is None:
        return raw
    weights = np.ones_like(spread) if aggregation == "uniform_average" else spread
    score = np.sum(weights * raw) / weights.sum()
    n = len(y)
    return 1 - (1 - score) * (n - 1) / (n - regressors - 1) if regressors else score


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "aggregation,regressors",
    [("uniform_average", 0), ("variance_weighted_average", 0), (None, 0), ("uniform_average", 3)],
)
def test_r2_score(aggregation, regressors, backend):
    got = accumulate(metrics.R2Score(aggregation, regressors), Y_REAL, P_REAL, backend)
    np.testing.assert_allclose(got, np_r2(Y_REAL, P_REAL, aggregation, regressors), rtol=1e-4)


def np_mean_iou(labels, predicted, classes, ignore=None):
    keep = labels != ignore if ignore is not None else np.ones(len(labels), bool)
    cm = np.zeros((classes, classes))
    np.add.at(cm, (labels[keep], predicted[keep]), 1)
    tp = np.diag(cm)
    denominator = cm.sum(0) + cm.sum(1) - tp
    return np.sum(tp / (denominator + 1e-7)) / (np.sum(denominator != 0) + 1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mean_iou(backend):
    predicted = PROBS.argmax(-1)
    dense = metrics.MeanIoU(4, sparse_y_pred=False)
    got = accumulate(dense, CLASSES.astype("int64"), PROBS, backend)
    assert got == pytest.approx(np_mean_iou(CLASSES, predicted, 4), rel=1e-5)
    sparse = metrics.MeanIoU(4, ignore_class=2)
    got = accumulate(sparse, CLASSES.astype("int64"), predicted.astype("int64"), backend)
    assert got == pytest.approx(np_mean_iou(CLASSES, predicted, 4, ignore=2), rel=1e-5)


def np_rates(labels, scores, thresholds):
    out = {"precision": [], "recall": [], "specificity": []}
    for t in thresholds:
        c = counts(labels, scores, t, np.ones(len(labels)))
        out["precision"].append(c["tp"] / max(c["tp"] + c["fp"], 1e-300))
        out["recall"].append(c["tp"] / (c["tp"] + c["fn"]))
        out["specificity"].append(c["tn"] / (c["tn"] + c["fp"]))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "cls,value,constrained,dependent",
    [
        (metrics.PrecisionAtRecall, 0.8, "recall", "precision"),
        (metrics.RecallAtPrecision, 0.7, "precision", "recall"),
        (metrics.SensitivityAtSpecificity, 0.6, "specificity", "recall"),
        (metrics.SpecificityAtSensitivity, 0.9, "recall", "specificity"),
    ],
)
def test_operating_point_metrics(cls, value, constrained, dependent, backend):
    thresholds = np.concatenate([[0.0], np.arange(1, 20) / 20, [1.0]])
    got = accumulate(cls(value, num_thresholds=21), LABELS, SCORES, backend)
    rates = np_rates(LABELS, SCORES, thresholds)
    feasible = rates[constrained] >= value
    assert got == pytest.approx(np.max(np.where(feasible, rates[dependent], 0)), rel=1e-5)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: metrics.TruePositives(thresholds=[0.5, 1.5]), r"TruePositives: thresholds"),
        (lambda: metrics.FBetaScore(beta=0), r"FBetaScore: beta must be"),
        (lambda: metrics.F1Score(average="mean"), r"F1Score: average must be one of"),
        (lambda: metrics.R2Score("median"), r"R2Score: class_aggregation"),
        (lambda: metrics.MeanIoU(1), r"MeanIoU: num_classes must be an int >= 2"),
        (lambda: metrics.PrecisionAtRecall(1.5), r"PrecisionAtRecall: recall must be"),
        (lambda: metrics.AUC(curve="XY"), r"AUC: curve must be"),
        (lambda: metrics.AUC(num_thresholds=1), r"AUC: num_thresholds must be > 1"),
    ],
)
def test_bad_arguments_name_the_metric_and_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rank_errors_name_the_metric_and_shapes():
    with pytest.raises(ValueError, match=r"R2Score: expects 2D inputs.*y_pred.shape=\(None,\)"):
        metrics.R2Score().update_rules(gc.vector("t"), gc.vector("p"))


@pytest.mark.parametrize(
    "name,cls",
    [
        ("true_positives", metrics.TruePositives),
        ("f1_score", metrics.F1Score),
        ("r2_score", metrics.R2Score),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ],
)
def test_string_names(name, cls):
    assert isinstance(metrics.get(name), cls)


def test_cosine_similarity_metric_is_positive_where_the_loss_is_negative():
    metric = metrics.get("cosine_similarity")
    y = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
    assert metric(y, y) == pytest.approx(1.0, rel=1e-6)


NEW_METRICS = [
    metrics.TruePositives(thresholds=[0.2, 0.6]),
    metrics.AUC(num_thresholds=50, multi_label=True, label_weights=[1.0, 2.0, 1.0]),
    metrics.F1Score(average="macro", threshold=0.5),
    metrics.FBetaScore(beta=2.0),
    metrics.R2Score(num_regressors=1),
    metrics.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False),
    metrics.RecallAtPrecision(0.6, num_thresholds=50),
    metrics.RootMeanSquaredError(),
    metrics.MeanSquaredLogarithmicError(),
]


@pytest.mark.parametrize("metric", NEW_METRICS, ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    again = metrics.get(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_accumulates_new_metrics_in_its_step_and_reloads_them(backend, tmp_path):
    x = RNG.normal(size=(N, 4)).astype("float32")
    model = Sequential([Dense(3, activation="sigmoid", input_shape=(4,))])
    chosen = [metrics.F1Score(average="micro", threshold=0.5), metrics.AUC(multi_label=True),
              metrics.R2Score(), "true_positives"]
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=chosen, backend=backend)
    model.fit(x, LABELS, epochs=1, batch_size=8, verbose=0)
    logs = model.evaluate(x, LABELS, batch_size=8, verbose=0, return_dict=True)
    scores = model.predict(x, verbose=0)
    assert logs["f1_score"] == pytest.approx(np_fbeta(LABELS, scores, 1.0, 0.5, "micro"), rel=1e-4)
    assert logs["true_positives"] == counts(LABELS, scores, 0.5, np.ones(N))["tp"]
    assert logs["r2_score"] == pytest.approx(np_r2(LABELS, scores, "uniform_average"), rel=1e-4)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    reloaded = again.evaluate(x, LABELS, batch_size=8, verbose=0, return_dict=True)
    for key, value in logs.items():
        assert reloaded[key] == pytest.approx(value, rel=1e-5), key


def np_bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


ONE_HOT = np.eye(4, dtype="float32")[CLASSES]
LOSS_METRICS = [
    (metrics.BinaryCrossentropy(), LABELS, SCORES, np_bce(LABELS, SCORES)),
    (metrics.CategoricalCrossentropy(), ONE_HOT, PROBS,
     -np.sum(ONE_HOT * np.log(np.clip(PROBS, 1e-7, 1)), -1)),
    (metrics.SparseCategoricalCrossentropy(), CLASSES.astype("int64"), PROBS,
     -np.log(np.clip(PROBS[np.arange(N), CLASSES], 1e-7, 1))),
    (metrics.KLDivergence(), PROBS[::-1].copy(), PROBS,
     np.sum(PROBS[::-1] * np.log(PROBS[::-1] / PROBS), -1)),
    (metrics.Poisson(), LABELS, SCORES, np.mean(SCORES - LABELS * np.log(SCORES + 1e-7), -1)),
    (metrics.Hinge(), LABELS, P_REAL, np.mean(np.maximum(1 - (2 * LABELS - 1) * P_REAL, 0), -1)),
    (metrics.SquaredHinge(), LABELS, P_REAL,
     np.mean(np.maximum(1 - (2 * LABELS - 1) * P_REAL, 0) ** 2, -1)),
    (metrics.CategoricalHinge(), ONE_HOT, PROBS,
     np.maximum(np.max((1 - ONE_HOT) * PROBS, -1) - np.sum(ONE_HOT * PROBS, -1) + 1, 0)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(LOSS_METRICS)),
                         ids=[type(c[0]).__name__ for c in LOSS_METRICS])
def test_loss_metrics_average_their_loss(case, backend):
    metric, y, p, per_sample = LOSS_METRICS[case]
    metric.reset_state()
    got = accumulate(metric, y, p, backend, WEIGHTS)
    assert got == pytest.approx(np.sum(per_sample * WEIGHTS) / WEIGHTS.sum(), rel=1e-4)
    again = metrics.get(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
