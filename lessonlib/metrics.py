"""Scores: mean intersection over union, the segmentation score of Noh et al. (and PASCAL
VOC); the Fréchet distance between two sets of features, and the number of classes a classifier
finds in them, for generated images; and nearest neighbours, to ask how well a code separates
classes and how far a point lies from the data."""

import keras
import numpy as np

from lessonlib import _validation, kl


def confusion_matrix(y_true, y_pred, num_classes):
    """Count pixels by (true class, predicted class).

    Args:
        y_true: integer labels, any shape.
        y_pred: integer labels of the same shape, or class probabilities with one more axis
            of length `num_classes` (the argmax is taken).
        num_classes: number of classes.

    Returns:
        int64 array `(num_classes, num_classes)`, rows true, columns predicted.
    """
    num_classes = _validation.positive_int("num_classes", num_classes)
    y_true = np.asarray(keras.ops.convert_to_numpy(y_true))
    y_pred = np.asarray(keras.ops.convert_to_numpy(y_pred))
    if y_pred.shape == (*y_true.shape, num_classes):
        y_pred = y_pred.argmax(axis=-1)
    if y_pred.shape != y_true.shape:
        raise ValueError(
            "`y_pred` must be labels shaped like `y_true`, or probabilities with a last axis "
            f"of {num_classes}. Received: y_true of shape {y_true.shape}, y_pred of shape "
            f"{y_pred.shape}"
        )
    y_true = y_true.astype(np.int64).ravel()
    y_pred = y_pred.astype(np.int64).ravel()
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` holds labels outside 0..{num_classes - 1}. "
                f"Received: labels from {values.min()} to {values.max()}"
            )
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(matrix):
    """IoU = TP / (TP + FP + FN) of every class of a confusion matrix; NaN where a class
    appears neither in the truth nor in the prediction."""
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positives = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positives / union, np.nan)


def mean_iou(y_true, y_pred, num_classes):
    """Return the mean IoU over the classes present, and the IoU of every class.

    For class c, IoU = TP / (TP + FP + FN). Classes that appear neither in `y_true` nor in
    `y_pred` have no IoU (NaN) and do not count in the mean, as in Keras's `MeanIoU`.

    With no pixels at all (empty inputs) no class is present and the mean is NaN: there is
    nothing to score. Keras's `MeanIoU` returns 0 there, which would read as a model that got
    every pixel wrong.

    Returns:
        `(mean, per_class)`: a float and a float64 array of `num_classes` values.
    """
    per_class = iou_per_class(confusion_matrix(y_true, y_pred, num_classes))
    present = ~np.isnan(per_class)
    return (float(np.mean(per_class[present])) if present.any() else float("nan")), per_class


def foreground_iou(y_true, y_pred, num_classes, background):
    """Return the IoU of "any class but `background`", whatever the class: where, not which.

    A pixel counts as foreground in `y_true` or `y_pred` when its label is not `background`,
    so a prediction that finds an object's outline but names the wrong class still scores here
    (lesson 02 calls it the ink IoU of digit scenes).

    Args:
        y_true, y_pred: as for `confusion_matrix`.
        num_classes: number of classes.
        background: the background's label.

    Returns:
        float; NaN when neither holds any foreground.
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    background = _validation.non_negative_int("background", background)
    if background >= num_classes:
        raise ValueError(
            f"`background` must be a label, 0 to {num_classes - 1}. "
            f"Received: background={background}"
        )
    both = np.delete(np.delete(matrix, background, axis=0), background, axis=1).sum()
    union = matrix.sum() - matrix[background, background]
    return float(both / union) if union else float("nan")


@keras.saving.register_keras_serializable(package="lessonlib")
class MeanIoU(keras.metrics.MeanIoU):
    """Keras's `MeanIoU` for a pixel-wise softmax, with the IoU of each class on request.

    Takes integer labels and class probabilities (`sparse_y_pred=False`), the outputs of the
    segmentation models, and adds `per_class_result()`.

    Example:

    >>> model.compile(..., metrics=[MeanIoU(num_classes=11)])  # doctest: +SKIP
    """

    def __init__(self, num_classes, name="mean_iou", **kwargs):
        kwargs.setdefault("sparse_y_pred", False)
        super().__init__(num_classes=num_classes, name=name, **kwargs)

    def per_class_result(self):
        """Return the IoU of each class so far, NaN for classes never seen."""
        return iou_per_class(keras.ops.convert_to_numpy(self.total_cm))


def _points(name, value, min_rows=1):
    """`value` as a float64 array of finite points `(n, d)` with n >= `min_rows`, or an error."""
    value = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    if value.ndim != 2 or len(value) < min_rows:
        raise ValueError(
            f"`{name}` must be points, shape (n, d) with n >= {min_rows}. "
            f"Received: {name} of shape {value.shape}"
        )
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"`{name}` must be finite; {np.sum(~np.isfinite(value))} of its "
            f"values are NaN or infinite. Received: {name} of shape {value.shape}"
        )
    return value


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two sets of feature vectors.

    d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Dowson & Landau 1982), the
    formula of the Fréchet Inception Distance. 0 for identical sets; it grows as the means and
    covariances part. With few samples it is biased upwards, so compare sets of equal size,
    and two real sets of that size for the floor.

    Args:
        features_a, features_b: arrays `(n_a, d)` and `(n_b, d)`, at least 2 rows each.

    Returns:
        float.

    Raises:
        ValueError: if a set is not `(n, d)` with n >= 2, holds NaN or infinity, or the two
            sets' feature sizes differ.
    """
    a = _points("features_a", features_a, min_rows=2)
    b = _points("features_b", features_b, min_rows=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            "Both sets need features of the same size. Received: "
            f"features_a of shape {a.shape}, features_b of shape {b.shape}"
        )
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    # np.cov of a single feature is a 0-d array: keep it a 1x1 matrix.
    cov_a, cov_b = (np.atleast_2d(np.cov(x, rowvar=False)) for x in (a, b))
    # Tr (S_a S_b)^(1/2) = Tr (S_a^(1/2) S_b S_a^(1/2))^(1/2), a symmetric matrix's square root:
    # eigenvalues, stable where features that never fire make the covariances singular.
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sum(np.sqrt(np.clip(middle, 0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


def effective_classes(probabilities):
    """How many classes a set of samples covers, from a classifier's probabilities for each.

    The Inception Score of Salimans et al. (2016), computed with any classifier. k when the
    samples are recognised with certainty and split evenly between k classes; fewer when they
    are split unevenly; 1 when they are all one class, or when the classifier gives every
    sample the same probabilities, however spread: a sample it cannot read adds no class. It
    does not change when the samples are shuffled or repeated. (Lesson 07 asks for it as an
    exercise, from these properties: its formula is left to the student.)

    Args:
        probabilities: `(n, num_classes)`, each row a distribution over the classes (a
            softmax's output).

    Returns:
        float in [1, num_classes].

    Raises:
        ValueError: if `probabilities` is not `(n, c)` with n >= 1, or holds a negative, NaN
            or infinite value, or a row that does not sum to 1 (to 1e-3).
    """
    p = _points("probabilities", probabilities)
    row_sums = p.sum(axis=1)
    if np.any(p < 0) or np.any(np.abs(row_sums - 1) > 1e-3):
        raise ValueError(
            "Each row of `probabilities` must be a distribution: non-negative, summing to 1. "
            f"Received: rows summing to {row_sums.min():.4g} to {row_sums.max():.4g}, least "
            f"entry {p.min():.4g}"
        )
    p = p / row_sums[:, None]
    # The mean KL from each sample's probabilities to their mean: the mutual information between
    # a sample and its class, in nats.
    information = kl.discrete_kl(p, np.broadcast_to(p.mean(axis=0), p.shape)).mean()
    return float(np.exp(max(information, 0.0)))


def _squared_distances(queries, reference):
    # |q - r|^2 = |q|^2 - 2 q.r + |r|^2, clipped at 0 against rounding.
    return np.maximum(
        (queries**2).sum(1)[:, None] - 2 * queries @ reference.T + (reference**2).sum(1)[None, :],
        0.0,
    )


def nearest_distances(points, reference, chunk=1024):
    """The Euclidean distance from each point to its nearest row of `reference`.

    Args:
        points: `(n, d)`.
        reference: `(m, d)`, e.g. the training data.
        chunk: how many points to compare at once (memory: chunk x m floats).

    Returns:
        float64 array of shape `(n,)`.
    """
    points, reference = _points("points", points), _points("reference", reference)
    if points.shape[1] != reference.shape[1]:
        raise ValueError(
            "`points` and `reference` need the same number of features. Received: "
            f"points of shape {points.shape}, reference of shape {reference.shape}"
        )
    chunk = _validation.positive_int("chunk", chunk)
    return np.concatenate(
        [
            np.sqrt(_squared_distances(points[start : start + chunk], reference).min(axis=1))
            for start in range(0, len(points), chunk)
        ]
    )


def _labels(name, value, count):
    value = np.asarray(keras.ops.convert_to_numpy(value)).ravel()
    if value.dtype.kind not in "iub" and not (
        value.dtype.kind == "f" and np.all(np.isfinite(value)) and np.all(value == np.round(value))
    ):
        raise ValueError(
            f"`{name}` must be integer class labels. Received: {name} of dtype "
            f"{value.dtype}, first values {value[:5].tolist()}"
        )
    if len(value) != count:
        raise ValueError(
            f"Each point needs one label. Received: {count} points and {len(value)} {name}"
        )
    return value.astype(np.int64)


def knn_accuracy(train_points, train_labels, test_points, test_labels, k=5, chunk=1024):
    """The share of test points whose k nearest training points vote for their label.

    A code in which classes form separate regions scores high with no classifier to train.
    Neighbours at equal distance are taken in the order of `train_points`, and a tied vote goes
    to the smallest label, so the score does not depend on chance.

    Args:
        train_points, test_points: `(n, d)` and `(m, d)`.
        train_labels, test_labels: integer class labels, `(n,)` and `(m,)` (any integers).
        k: the number of neighbours that vote.
        chunk: how many test points to compare at once.

    Returns:
        float in [0, 1].
    """
    train_points = _points("train_points", train_points)
    test_points = _points("test_points", test_points)
    train_labels = _labels("train_labels", train_labels, len(train_points))
    test_labels = _labels("test_labels", test_labels, len(test_points))
    if train_points.shape[1] != test_points.shape[1]:
        raise ValueError(
            "Train and test points need the same number of features. Received: "
            f"train_points of shape {train_points.shape}, test_points of shape "
            f"{test_points.shape}"
        )
    k = _validation.positive_int("k", k)
    if k > len(train_points):
        raise ValueError(
            f"`k` cannot exceed the {len(train_points)} training points. Received: k={k}"
        )
    chunk = _validation.positive_int("chunk", chunk)
    classes, train_classes = np.unique(train_labels, return_inverse=True)
    correct = 0
    for start in range(0, len(test_points), chunk):
        distances = _squared_distances(test_points[start : start + chunk], train_points)
        neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k]
        votes = np.zeros((len(distances), len(classes)), dtype=np.int64)
        np.add.at(votes, (np.arange(len(distances))[:, None], train_classes[neighbours]), 1)
        predicted = classes[votes.argmax(axis=1)]
        correct += int(np.sum(predicted == test_labels[start : start + chunk]))
    return correct / len(test_points)
