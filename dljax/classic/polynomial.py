"""Polynomial regression: least squares or ridge on all monomials of the inputs up to degree d.

The expansion φ: R^D → R^M is scikit-learn's `PolynomialFeatures(degree=d, include_bias=False)`, column for
column: for each degree k = 1..d, the products x_{i1}·x_{i2}···x_{ik} over the index tuples
i1 ≤ i2 ≤ … ≤ ik in lexicographic order (`itertools.combinations_with_replacement(range(D), k)`;
strictly increasing tuples, `combinations`, with config.interaction_only), so M = C(D+d, d) − 1 columns.
For D = 2, d = 2: [x0, x1, x0², x0·x1, x1²].

`fit` then minimises, exactly as `dljax.classic.linear` (same solvers, same config fields),

    L(w, b) = ‖y − φ(X)·w − b·1‖² + α‖w‖²      (intercept b unpenalised; α = 0: least squares)

The column index tuples are stored in the params (padded with the index D of an appended column of
ones, so every tuple has length d), which lets `predict(params, x)` expand new rows without the config.
"""

import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dljax.classic import linear, validate
from dljax.errors import UserError

TASK = "regression"
# Refuse expansions whose design matrix could not be held or solved on one host anyway.
MAX_FEATURES = 100_000


class PolynomialParams(NamedTuple):
  terms: jax.Array       # (M, d) int32: the input columns multiplied into each feature; D means "× 1"
  coef: jax.Array        # (M,) float32
  intercept: jax.Array   # () float32


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """Degree 2 least squares by default; every `linear` field (alpha, solver, ...) applies to φ(X)."""
  c = ml_collections.ConfigDict(linear.default_config().as_configdict().to_dict())
  c.degree = 2
  c.interaction_only = False  # only products of distinct inputs (no x_i², x_i²·x_j, ...)
  return validate.typed_config(c, overrides, "polynomial")


def num_features(num_inputs: int, degree: int, interaction_only: bool = False) -> int:
  """M, the number of columns of φ(X) (sklearn's `n_output_features_` without the bias)."""
  if interaction_only:
    return sum(math.comb(num_inputs, k) for k in range(1, degree + 1))
  return math.comb(num_inputs + degree, degree) - 1


def feature_terms(num_inputs: int, degree: int, interaction_only: bool = False) -> np.ndarray:
  """(M, degree) input indices of each feature in sklearn's order, padded with num_inputs (the ones column)."""
  combine = itertools.combinations if interaction_only else itertools.combinations_with_replacement
  rows = [combo + (num_inputs,) * (degree - k)
          for k in range(1, degree + 1) for combo in combine(range(num_inputs), k)]
  return np.asarray(rows, np.int32).reshape(-1, degree)


def expand(terms: jax.Array, x: jax.Array) -> jax.Array:
  """φ(X): (N, M) products of the columns named by `terms` (a (M, d) array from `feature_terms`)."""
  x = jnp.asarray(x, jnp.float32)
  with_ones = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
  return jnp.prod(with_ones[:, terms], axis=-1)  # (N, M, d) gathered factors -> (N, M)


def check_inputs(x, y, config) -> None:
  """Raises UserError (one line, naming the fix) on bad data, degree or ridge settings."""
  degree = config.degree
  if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
    raise UserError(f"degree={degree!r}: give an integer degree >= 1 (1 is plain linear regression)")
  linear.check_inputs(x, y, config)
  m = num_features(np.shape(x)[1], degree, config.interaction_only)
  if m > MAX_FEATURES:
    raise UserError(f"degree {degree} on {np.shape(x)[1]} inputs makes {m:,} features (limit "
                    f"{MAX_FEATURES:,}); lower the degree, set interaction_only=True or select inputs first")


def fit(key: jax.Array, x: jax.Array, y: jax.Array, config) -> PolynomialParams:
  """The minimiser of ‖y − φ(X)·w − b‖² + α‖w‖² (module docstring)."""
  terms = jnp.asarray(feature_terms(x.shape[1], config.degree, config.interaction_only))
  fitted = linear.fit(key, expand(terms, x), y, config)
  return PolynomialParams(terms=terms, coef=fitted.coef, intercept=fitted.intercept)


def predict(params: PolynomialParams, x: jax.Array) -> jax.Array:
  """ŷ = φ(X)·w + b, shape (N,)."""
  return linear.predict(linear.LinearParams(params.coef, params.intercept), expand(params.terms, x))
