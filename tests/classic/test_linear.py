"""dljax.classic.linear and .polynomial against scikit-learn on the same (float32) data.

sklearn gets those float32 values as float64, so it solves the same problem in double precision: what we
compare is our float32 solver against the exact answer.
"""

import functools

import jax
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import PolynomialFeatures

from dljax.classic import linear, polynomial
from dljax.errors import UserError

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def diabetes():
  """Diabetes standardised with train statistics: (x_train, y_train, x_test, y_test), float32."""
  x, y = load_diabetes(return_X_y=True)
  x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
  mean, std = x_train.mean(0), x_train.std(0)
  return tuple(a.astype(np.float32) for a in ((x_train - mean) / std, y_train, (x_test - mean) / std, y_test))


def _fit(module, x, y, **overrides):
  config = module.default_config(**overrides)
  module.check_inputs(x, y, config)
  return jax.jit(functools.partial(module.fit, config=config))(KEY, x, y)


def _rel(ours, theirs):
  return np.max(np.abs(np.asarray(ours, np.float64) - theirs)) / np.max(np.abs(theirs))


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0, 10.0])
def test_least_squares_and_ridge_match_sklearn(diabetes, alpha):
  x_train, y_train, x_test, y_test = diabetes
  params = _fit(linear, x_train, y_train, alpha=alpha)
  ref = (Ridge(alpha=alpha) if alpha else LinearRegression()).fit(x_train.astype(np.float64), y_train)
  assert _rel(params.coef, ref.coef_) < 1e-5
  assert _rel(params.intercept, ref.intercept_) < 1e-5
  r2 = float(linear.r2_score(y_test, jax.jit(linear.predict)(params, x_test)))
  assert abs(r2 - ref.score(x_test.astype(np.float64), y_test)) < 0.005


def test_without_intercept_matches_sklearn(diabetes):
  x_train, y_train, *_ = diabetes
  params = _fit(linear, x_train, y_train, alpha=1.0, fit_intercept=False)
  ref = Ridge(alpha=1.0, fit_intercept=False).fit(x_train.astype(np.float64), y_train)
  assert _rel(params.coef, ref.coef_) < 1e-5
  assert float(params.intercept) == 0.0


def test_rank_deficient_least_squares_is_the_minimum_norm_solution(diabetes):
  """A duplicated column: infinitely many minimisers; lstsq (ours and sklearn's) returns the shortest."""
  x_train, y_train, *_ = diabetes
  x_dup = np.concatenate([x_train, x_train[:, :1]], axis=1)
  params = _fit(linear, x_dup, y_train)
  ref = LinearRegression().fit(x_dup.astype(np.float64), y_train)
  assert _rel(params.coef, ref.coef_) < 1e-4
  np.testing.assert_allclose(params.coef[0], params.coef[-1], rtol=1e-4)


def test_r2_score_equals_sklearns(diabetes):
  _, y_train, *_ = diabetes
  y_pred = y_train + np.random.RandomState(0).randn(len(y_train)).astype(np.float32) * 30
  np.testing.assert_allclose(linear.r2_score(y_train, y_pred), r2_score(y_train, y_pred), rtol=1e-5)


@pytest.mark.parametrize("batch_size", [0, 100])
def test_gradient_descent_reaches_the_closed_form(batch_size):
  """Full-batch and minibatch Adam (under lax.scan) land within ~1e-3 of the Cholesky solution."""
  rng = np.random.RandomState(0)
  x = (rng.randn(1000, 8) + 3).astype(np.float32)  # uncentred on purpose: the intercept must be learnt
  y = (x @ rng.randn(8) + 2 + 0.1 * rng.randn(1000)).astype(np.float32)
  closed = _fit(linear, x, y, alpha=1.0)
  gd = _fit(linear, x, y, alpha=1.0, solver="gd", batch_size=batch_size)
  assert np.max(np.abs(gd.coef - closed.coef)) < 1e-3
  assert abs(float(gd.intercept - closed.intercept)) < 1e-3


def test_fit_has_fixed_shapes_under_eval_shape(diabetes):
  x_train, y_train, *_ = diabetes
  for module, config in ((linear, linear.default_config(solver="gd", batch_size=32)),
                         (polynomial, polynomial.default_config(degree=3))):
    shapes = jax.eval_shape(functools.partial(module.fit, config=config), KEY, x_train, y_train)
    m = x_train.shape[1] if module is linear else polynomial.num_features(x_train.shape[1], 3)
    assert shapes.coef.shape == (m,) and shapes.intercept.shape == ()


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
@pytest.mark.parametrize("interaction_only", [False, True])
def test_polynomial_expansion_equals_sklearns_column_for_column(degree, interaction_only):
  x = np.random.RandomState(degree).randn(9, 4).astype(np.float32)
  terms = polynomial.feature_terms(4, degree, interaction_only)
  ours = np.asarray(polynomial.expand(terms, x))
  theirs = PolynomialFeatures(degree, include_bias=False, interaction_only=interaction_only).fit_transform(
      x.astype(np.float64))
  assert ours.shape == theirs.shape == (9, polynomial.num_features(4, degree, interaction_only))
  np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_polynomial_ridge_matches_sklearn(diabetes, alpha):
  x_train, y_train, x_test, y_test = diabetes
  params = _fit(polynomial, x_train, y_train, degree=2, alpha=alpha)
  expansion = PolynomialFeatures(2, include_bias=False)
  ref = Ridge(alpha=alpha).fit(expansion.fit_transform(x_train.astype(np.float64)), y_train)
  assert _rel(params.coef, ref.coef_) < 1e-4
  assert _rel(params.intercept, ref.intercept_) < 1e-5
  r2 = float(linear.r2_score(y_test, jax.jit(polynomial.predict)(params, x_test)))
  assert abs(r2 - ref.score(expansion.transform(x_test.astype(np.float64)), y_test)) < 0.005


def _bad_inputs():
  x = np.random.RandomState(0).randn(20, 3).astype(np.float32)
  y = x.sum(1)
  nan_x, inf_x, nan_y = x.copy(), x.copy(), y.copy()
  nan_x[3, 1], inf_x[0, 0], nan_y[5] = np.nan, np.inf, np.nan
  lin, poly = linear.default_config, polynomial.default_config
  return [
      ("NaN in x", linear, nan_x, y, lin()),
      ("inf in x", linear, inf_x, y, lin()),
      ("NaN in y", linear, x, nan_y, lin()),
      ("lengths differ", linear, x, y[:-1], lin()),
      ("1-D x", linear, x[:, 0], y, lin()),
      ("2-D y", linear, x, y[:, None], lin()),
      ("alpha < 0", linear, x, y, lin(alpha=-1.0)),
      ("unknown solver", linear, x, y, lin(solver="sgd")),
      ("gd batch larger than the data", linear, x, y, lin(solver="gd", batch_size=21)),
      ("gd learning rate 0", linear, x, y, lin(solver="gd", learning_rate=0.0)),
      ("degree 0", polynomial, x, y, poly(degree=0)),
      ("NaN in x, polynomial", polynomial, nan_x, y, poly()),
      ("expansion too large", polynomial, np.zeros((2, 200), np.float32), np.zeros(2, np.float32),
       poly(degree=4)),
  ]


@pytest.mark.parametrize("case, module, x, y, config", _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
def test_bad_inputs_raise_one_line_user_errors(case, module, x, y, config):
  with pytest.raises(UserError) as info:
    module.check_inputs(x, y, config)
  assert "\n" not in str(info.value)


def test_unknown_or_mistyped_config_fields_are_user_errors():
  with pytest.raises(UserError, match="alpah"):
    linear.default_config(alpah=1.0)
  with pytest.raises(UserError, match="degree"):
    polynomial.default_config(degree=1.5)
