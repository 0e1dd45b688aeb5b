"""The sparse autoencoder of the lecture, by hand: forward pass, cost and backpropagation in NumPy.

Notation as in the lecture, with samples as rows (X has shape (M, D)):

    a^(1) = f(X W^(1) + b^(1))            hidden activations, shape (M, N1)
    a^(2) = f(a^(1) W^(2) + b^(2))        reconstruction, shape (M, D)
    rho_hat_j = (1/M) sum_m a^(1)_{j,m}   average activation of hidden unit j

    L_sparse = (1/M) sum_m 1/2 ||a^(2)_m - X_m||^2
               + lambda/2 (||W^(1)||^2 + ||W^(2)||^2)          (weight decay, as in UFLDL)
               + beta sum_j KL(rho || rho_hat_j)

with f the sigmoid and w^(1)_ij the weight from input i to hidden unit j. Backpropagation:

    delta^(2) = (a^(2) - X) * f'(z^(2))
    delta^(1) = f'(z^(1)) * (delta^(2) W^(2)T + beta (-rho / rho_hat + (1 - rho) / (1 - rho_hat)))

The lecture writes delta^(2) = a^(2) - X, the error before the output's f'(z^(2)): that is
the delta of a linear output unit. With sigmoid outputs the factor f'(z^(2)) = a^(2)(1 - a^(2))
belongs there, and the gradient check in lesson 05 shows what happens without it.

Everything is float64, for gradient checks at UFLDL's 1e-9.
"""

from dataclasses import dataclass

import numpy as np

from lessonlib import _validation
from lessonlib.kl import bernoulli_kl, bernoulli_kl_derivative


@dataclass
class Parameters:
    """W^(1) (D, N1), b^(1) (N1,), W^(2) (N1, D), b^(2) (D,), as float64 arrays."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def flatten(self):
        """Return all parameters as one vector (W1, W2, b1, b2, as UFLDL's theta)."""
        return np.concatenate([self.W1.ravel(), self.W2.ravel(), self.b1, self.b2])

    @classmethod
    def unflatten(cls, theta, input_dim, num_hidden):
        """Inverse of `flatten`."""
        theta = np.asarray(theta, dtype=np.float64)
        expected = 2 * input_dim * num_hidden + num_hidden + input_dim
        if theta.shape != (expected,):
            raise ValueError(
                f"`theta` must be a vector of {expected} parameters for a {input_dim}-"
                f"{num_hidden}-{input_dim} autoencoder. Received: theta of shape {theta.shape}"
            )
        sizes = np.cumsum([input_dim * num_hidden, num_hidden * input_dim, num_hidden])
        W1, W2, b1, b2 = np.split(theta, sizes)
        return cls(W1.reshape(input_dim, num_hidden), b1, W2.reshape(num_hidden, input_dim), b2)


@dataclass
class Cost:
    """The three parts of L_sparse and their sum."""

    reconstruction: float
    weight_decay: float
    sparsity: float

    @property
    def total(self):
        return self.reconstruction + self.weight_decay + self.sparsity


def initialize(input_dim, num_hidden, seed=0):
    """Random weights uniform in [-r, r], r = sqrt(6 / (D + N1 + 1)), zero biases (UFLDL).

    Args:
        input_dim: D, the number of inputs.
        num_hidden: N1, the number of hidden units.
        seed: fixes the weights.

    Returns:
        `Parameters`.
    """
    input_dim = _validation.positive_int("input_dim", input_dim)
    num_hidden = _validation.positive_int("num_hidden", num_hidden)
    rng = np.random.default_rng(seed)
    r = np.sqrt(6 / (input_dim + num_hidden + 1))
    return Parameters(
        W1=rng.uniform(-r, r, (input_dim, num_hidden)),
        b1=np.zeros(num_hidden),
        W2=rng.uniform(-r, r, (num_hidden, input_dim)),
        b2=np.zeros(input_dim),
    )


def sigmoid(z):
    """f(z) = 1 / (1 + exp(-z)), computed without overflow for large |z|."""
    return np.exp(-np.logaddexp(0, -z))


def _check_data(params, X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != params.W1.shape[0]:
        raise ValueError(
            f"`X` must have shape (M, {params.W1.shape[0]}), one sample per row. "
            f"Received: X of shape {X.shape}"
        )
    return X


def forward(params, X):
    """Return a^(1) (M, N1) and a^(2) (M, D) for the samples in the rows of `X`."""
    X = _check_data(params, X)
    a1 = sigmoid(X @ params.W1 + params.b1)
    a2 = sigmoid(a1 @ params.W2 + params.b2)
    return a1, a2


def _settings(sparsity_target, beta, weight_decay):
    return (
        _validation.open_unit_interval("sparsity_target", sparsity_target),
        _validation.non_negative_number("beta", beta),
        _validation.non_negative_number("weight_decay", weight_decay),
    )


def _cost_parts(params, X, a1, a2, rho, beta, lam):
    # beta = 0 removes the penalty, also for a unit saturated at 0 or 1 (not 0 * inf = NaN).
    sparsity = beta * np.sum(bernoulli_kl(rho, a1.mean(axis=0))) if beta else 0.0
    return Cost(
        reconstruction=float(0.5 * np.sum((a2 - X) ** 2) / len(X)),
        weight_decay=float(0.5 * lam * (np.sum(params.W1**2) + np.sum(params.W2**2))),
        sparsity=float(sparsity),
    )


def _backward(params, X, a1, a2, rho, beta, lam, output_derivative=True):
    delta2 = (a2 - X) * a2 * (1 - a2) if output_derivative else a2 - X
    sparsity_term = beta * bernoulli_kl_derivative(rho, a1.mean(axis=0)) if beta else 0.0
    delta1 = (delta2 @ params.W2.T + sparsity_term) * a1 * (1 - a1)
    M = len(X)
    gradient = Parameters(
        W1=X.T @ delta1 / M + lam * params.W1,
        b1=delta1.mean(axis=0),
        W2=a1.T @ delta2 / M + lam * params.W2,
        b2=delta2.mean(axis=0),
    )
    return delta2, delta1, gradient


def cost(params, X, sparsity_target, beta, weight_decay):
    """L_sparse and its parts, with rho_hat averaged over all the samples in `X`.

    Args:
        params: `Parameters`.
        X: the M training samples, shape (M, D).
        sparsity_target: rho.
        beta: the sparsity penalty's weight.
        weight_decay: lambda.

    Returns:
        `Cost`.
    """
    settings = _settings(sparsity_target, beta, weight_decay)
    X = _check_data(params, X)
    return _cost_parts(params, X, *forward(params, X), *settings)


def deltas(params, X, sparsity_target, beta):
    """Return delta^(2) (M, D) and delta^(1) (M, N1), with the sparsity term in delta^(1)."""
    settings = _settings(sparsity_target, beta, 0)
    X = _check_data(params, X)
    delta2, delta1, _ = _backward(params, X, *forward(params, X), *settings)
    return delta2, delta1


def gradients(params, X, sparsity_target, beta, weight_decay):
    """Return the gradient of `cost(...).total` as `Parameters`."""
    settings = _settings(sparsity_target, beta, weight_decay)
    X = _check_data(params, X)
    return _backward(params, X, *forward(params, X), *settings)[2]


def cost_and_gradient(
    theta, X, num_hidden, sparsity_target, beta, weight_decay, output_derivative=True
):
    """`(cost, gradient)` of the flat parameter vector `theta`, for `scipy.optimize.minimize`.

    One forward pass serves both, as in UFLDL's `sparseAutoencoderCost.m`.

    Args:
        output_derivative: False leaves the factor f'(z^(2)) out of delta^(2), as the lecture
            notes' delta^(2) = a^(2) - x does; the gradient is then wrong for sigmoid outputs,
            which lesson 05's gradient check shows.
    """
    X = np.asarray(X, dtype=np.float64)
    params = Parameters.unflatten(theta, X.shape[1], num_hidden)
    settings = _settings(sparsity_target, beta, weight_decay)
    a1, a2 = forward(params, X)
    value = _cost_parts(params, X, a1, a2, *settings).total
    gradient = _backward(params, X, a1, a2, *settings, output_derivative=bool(output_derivative))
    return value, gradient[2].flatten()


def train_lbfgs(X, num_hidden, sparsity_target, beta, weight_decay, max_iterations=400, seed=0):
    """Train with L-BFGS on the full batch, UFLDL's procedure (`minFunc`, 400 iterations).

    Returns:
        `(params, result)`: the trained `Parameters` and SciPy's `OptimizeResult`.
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    max_iterations = _validation.positive_int("max_iterations", max_iterations)
    start = initialize(X.shape[1], num_hidden, seed).flatten()
    result = minimize(
        cost_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        args=(X, num_hidden, sparsity_target, beta, weight_decay),
        options={"maxiter": max_iterations, "maxfun": 2 * max_iterations},
    )
    return Parameters.unflatten(result.x, X.shape[1], num_hidden), result
