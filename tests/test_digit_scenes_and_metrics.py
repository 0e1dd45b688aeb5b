import keras
import numpy as np
import pytest

from lessonlib import metrics
from lessonlib.datasets import BACKGROUND, NUM_CLASSES, make_digit_scenes


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 6:22, 10:18] = rng.integers(150, 256, size=(20, 16, 8))  # a thick stroke
    return images, np.arange(20, dtype=np.uint8) % 10


def test_scenes_shapes_ranges_and_labels(digits):
    scenes, masks = make_digit_scenes(
        *digits, num_scenes=12, canvas_size=48, digits_per_scene=(1, 3), digit_size=(14, 24), seed=0
    )
    assert scenes.shape == (12, 48, 48, 1) and scenes.dtype == np.float32
    assert masks.shape == (12, 48, 48) and masks.dtype == np.uint8
    assert 0 <= scenes.min() and scenes.max() <= 1
    assert set(np.unique(masks)) <= set(range(NUM_CLASSES))
    # Every labelled pixel has ink; most of the canvas is background.
    assert np.all(scenes[..., 0][masks != BACKGROUND] > 0.25)
    assert 0.5 < np.mean(masks == BACKGROUND) < 1
    for mask in masks:
        assert 1 <= len(set(np.unique(mask)) - {BACKGROUND}) <= 3


def test_scenes_are_deterministic_given_a_seed(digits):
    first = make_digit_scenes(*digits, num_scenes=4, seed=5)
    np.testing.assert_array_equal(first[0], make_digit_scenes(*digits, num_scenes=4, seed=5)[0])
    assert not np.array_equal(first[1], make_digit_scenes(*digits, num_scenes=4, seed=6)[1])


def test_scenes_of_some_classes_only(digits):
    scenes, masks = make_digit_scenes(*digits, num_scenes=30, classes=(0, 3, 7), seed=0)
    assert set(np.unique(masks)) == {0, 3, 7, BACKGROUND}  # labels keep their digit values
    everything = make_digit_scenes(*digits, num_scenes=30, seed=0)[1]
    assert len(set(np.unique(everything)) - {0, 3, 7, BACKGROUND}) > 0


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"num_scenes": 0}, r"num_scenes=0"),
        ({"classes": ()}, r"classes=\(\)"),
        ({"classes": (3, 3)}, r"classes=\(3, 3\)"),
        ({"classes": "37"}, r"classes='37'"),
        ({"classes": (3, 12)}, r"asks for \[12\]"),
        ({"digits_per_scene": (3, 1)}, r"digits_per_scene=\(3, 1\)"),
        ({"digit_size": (10, 80)}, r"digit_size=\(10, 80\)"),
    ],
)
def test_scene_arguments(digits, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_digit_scenes(*digits, **{"num_scenes": 2, **kwargs})


def test_mean_iou_by_hand():
    y_true = np.array([[0, 0, 1], [1, 2, 2]])
    y_pred = np.array([[0, 1, 1], [1, 2, 0]])
    # class 0: TP 1, FP 1, FN 1 -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2
    mean, per_class = metrics.mean_iou(y_true, y_pred, num_classes=4)
    np.testing.assert_allclose(per_class[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(per_class[3])  # absent everywhere: not counted
    assert mean == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_foreground_iou_ignores_which_class():
    truth = np.array([[10, 3, 3], [10, 7, 10]])
    named_wrong = np.array([[10, 5, 5], [10, 5, 10]])  # the right pixels, the wrong class
    assert metrics.foreground_iou(truth, named_wrong, NUM_CLASSES, BACKGROUND) == 1.0
    assert metrics.mean_iou(truth, named_wrong, NUM_CLASSES)[0] < 0.5
    shifted = np.array([[10, 10, 3], [10, 7, 7]])  # 2 of the 3 ink pixels, and one more
    assert metrics.foreground_iou(truth, shifted, NUM_CLASSES, BACKGROUND) == pytest.approx(2 / 4)
    empty = np.full((2, 3), BACKGROUND)
    assert np.isnan(metrics.foreground_iou(empty, empty, NUM_CLASSES, BACKGROUND))
    with pytest.raises(ValueError, match="background=11"):
        metrics.foreground_iou(truth, truth, NUM_CLASSES, 11)


def test_mean_iou_takes_probabilities():
    y_true = np.array([0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert metrics.mean_iou(y_true, probabilities, 2)[0] == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_the_keras_metric_agrees_with_the_function():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=(4, 8, 8))
    probabilities = rng.random((4, 8, 8, 5)).astype("float32")
    metric = metrics.MeanIoU(num_classes=5)
    metric.update_state(y_true[:2], probabilities[:2])
    metric.update_state(y_true[2:], probabilities[2:])
    mean, per_class = metrics.mean_iou(y_true, probabilities, 5)
    assert float(metric.result()) == pytest.approx(mean, rel=1e-6)
    np.testing.assert_allclose(metric.per_class_result(), per_class, rtol=1e-6)
    assert isinstance(keras.metrics.deserialize(keras.metrics.serialize(metric)), metrics.MeanIoU)


def test_iou_errors():
    with pytest.raises(ValueError, match=r"y_pred of shape \(3,\)"):
        metrics.mean_iou(np.zeros((2, 2)), np.zeros(3), 2)
    with pytest.raises(ValueError, match=r"labels outside 0..1"):
        metrics.mean_iou(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match=r"num_classes=0"):
        metrics.mean_iou(np.zeros(2), np.zeros(2), 0)


def test_nearest_distances_and_knn_against_brute_force():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(300, 4)), rng.normal(size=(50, 4))
    train_labels = rng.integers(0, 3, 300)
    brute = np.linalg.norm(test[:, None, :] - train[None, :, :], axis=-1)
    np.testing.assert_allclose(
        metrics.nearest_distances(test, train, chunk=7), brute.min(axis=1), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(metrics.nearest_distances(train[:5], train), 0, atol=1e-6)
    votes = train_labels[np.argsort(brute, axis=1)[:, :5]]
    predicted = np.array([np.bincount(row, minlength=3).argmax() for row in votes])
    test_labels = rng.integers(0, 3, 50)
    assert metrics.knn_accuracy(train, train_labels, test, test_labels, k=5, chunk=8) == (
        np.mean(predicted == test_labels)
    )
    # Separated clusters: every point's neighbours share its label.
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 40)
    points = centres[labels] + rng.normal(size=(120, 2))
    assert metrics.knn_accuracy(points[::2], labels[::2], points[1::2], labels[1::2]) == 1.0
    # Any integers are labels: negative ones are classes too, not indices from the end.
    assert metrics.knn_accuracy(points[::2], labels[::2] - 1, points[1::2], labels[1::2] - 1) == 1.0
    assert (
        metrics.knn_accuracy(
            np.zeros((4, 1)) + [[0], [0], [0], [9]], [-1, -1, -1, 5], [[9.0]], [5], k=1
        )
        == 1.0
    )
    # Neighbours at equal distance are taken in order, so reordering cannot change the vote
    # beyond that rule: two points at the same place, labels 0 then 1, k = 1 picks the first.
    assert metrics.knn_accuracy([[0.0], [0.0]], [0, 1], [[0.0]], [0], k=1) == 1.0
    assert metrics.knn_accuracy([[0.0], [0.0]], [1, 0], [[0.0]], [0], k=1) == 0.0


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: metrics.nearest_distances(np.zeros((2, 3)), np.zeros((4, 2))), "same number"),
        (lambda: metrics.nearest_distances(np.zeros(3), np.zeros((4, 3))), "points"),
        (
            lambda: metrics.knn_accuracy(np.zeros((4, 2)), [0, 1, 0], np.zeros((2, 2)), [0, 1]),
            "4 points and 3 train_labels",
        ),
        (
            lambda: metrics.knn_accuracy(np.zeros((4, 2)), [0] * 4, np.zeros((2, 2)), [0, 1], k=5),
            "k=5",
        ),
        (
            lambda: metrics.knn_accuracy(
                np.zeros((4, 2)), [0] * 4, np.full((2, 2), np.inf), [0, 1]
            ),
            "finite",
        ),
        (
            lambda: metrics.knn_accuracy(np.zeros((4, 2)), [0.5] * 4, np.zeros((2, 2)), [0, 1]),
            "integer class labels",
        ),
    ],
)
def test_neighbour_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def _inception_score(p):
    # Salimans et al.'s definition, exp of the mean KL(p(y|x) || p(y)): an independent formula.
    marginal = p.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / marginal), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))


def test_effective_classes_counts_the_classes_the_samples_cover():
    certain = np.eye(10)
    assert metrics.effective_classes(certain[[3] * 40]) == pytest.approx(1.0)
    assert metrics.effective_classes(certain[np.arange(30) % 3]) == pytest.approx(3.0)
    uneven = certain[[0] * 90 + [1] * 10]
    assert 1.0 < metrics.effective_classes(uneven) < 2.0
    unreadable = np.full((50, 10), 0.1)
    assert metrics.effective_classes(unreadable) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(10, 0.3), size=200)
    value = metrics.effective_classes(p)
    assert value == pytest.approx(_inception_score(p), rel=1e-10)
    assert metrics.effective_classes(p[rng.permutation(200)]) == pytest.approx(value, rel=1e-12)
    assert metrics.effective_classes(np.concatenate([p, p])) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    "probabilities, words",
    [
        (np.array([[0.5, 0.6]]), "summing to 1"),
        (np.array([[-0.1, 1.1]]), "non-negative"),
        (np.ones(3) / 3, "probabilities"),
        (np.array([[np.nan, 1.0]]), "probabilities"),
    ],
)
def test_effective_classes_refuses_what_is_not_probabilities(probabilities, words):
    with pytest.raises(ValueError, match=words):
        metrics.effective_classes(probabilities)
