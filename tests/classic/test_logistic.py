"""dljax.classic.logistic against scikit-learn's LogisticRegression on the same (float32) data.

sklearn runs in float64 on those values with tol=1e-8, i.e. at its optimum; ours is the float32 optimum
of the same objective, C·Σ loss + ½‖W‖² with the intercept unpenalised.
"""

import functools
import itertools

import jax
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from dljax.classic import logistic
from dljax.errors import UserError

KEY = jax.random.key(0)


def _split(x, y):
  x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
  return x_train, y_train.astype(np.int32), x_test, y_test.astype(np.int32)


def _breast_cancer():
  """Binary; standardised with the train split's statistics."""
  x_train, y_train, x_test, y_test = _split(*load_breast_cancer(return_X_y=True))
  mean, std = x_train.mean(0), x_train.std(0)
  return ((x_train - mean) / std).astype(np.float32), y_train, ((x_test - mean) / std).astype(np.float32), y_test


def _digits():
  """10 classes, pixels x/16 in [0, 1]."""
  x, y = load_digits(return_X_y=True)
  x_train, y_train, x_test, y_test = _split(x / 16.0, y)
  return x_train.astype(np.float32), y_train, x_test.astype(np.float32), y_test


def _fitted(data, num_classes, **overrides):
  x_train, y_train, _, _ = data
  config = logistic.default_config(num_classes=num_classes, **overrides)
  logistic.check_inputs(x_train, y_train, config)
  ours = jax.jit(functools.partial(logistic.fit, config=config))(KEY, x_train, y_train)
  theirs = LogisticRegression(C=config.C, fit_intercept=config.fit_intercept, tol=1e-8, max_iter=10000).fit(
      x_train.astype(np.float64), y_train)
  return ours, theirs


@pytest.fixture(scope="module")
def binary():
  data = _breast_cancer()
  return data, *_fitted(data, 2)


@pytest.fixture(scope="module")
def multinomial():
  data = _digits()
  return data, *_fitted(data, 10)


@pytest.mark.parametrize("case", ["binary", "multinomial"])
def test_coefficients_and_accuracy_match_sklearn(case, request):
  (x_train, y_train, x_test, y_test), ours, theirs = request.getfixturevalue(case)
  assert ours.coef.shape == theirs.coef_.shape and ours.intercept.shape == theirs.intercept_.shape
  np.testing.assert_allclose(ours.coef, theirs.coef_, atol=1e-3)
  np.testing.assert_allclose(ours.intercept, theirs.intercept_, atol=1e-3)
  for x, y in ((x_train, y_train), (x_test, y_test)):
    assert np.mean(np.asarray(jax.jit(logistic.predict)(ours, x)) == y) == theirs.score(x.astype(np.float64), y)


@pytest.mark.parametrize("case", ["binary", "multinomial"])
def test_probabilities_and_scores_match_sklearn(case, request):
  (_, _, x_test, _), ours, theirs = request.getfixturevalue(case)
  x64 = x_test.astype(np.float64)
  proba = np.asarray(jax.jit(logistic.predict_proba)(ours, x_test))
  scores = np.asarray(jax.jit(logistic.decision_function)(ours, x_test))
  assert proba.shape == theirs.predict_proba(x64).shape and scores.shape == theirs.decision_function(x64).shape
  np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(proba, theirs.predict_proba(x64), atol=1e-4)
  np.testing.assert_allclose(scores, theirs.decision_function(x64), atol=1e-2, rtol=1e-3)


def test_newton_converges_in_few_steps(binary, multinomial):
  for _, ours, _ in (binary, multinomial):
    assert 1 <= int(ours.n_iter) < 20


@pytest.mark.parametrize("C", [0.05, 20.0])
def test_other_strengths_and_no_intercept_match_sklearn(C):
  ours, theirs = _fitted(_breast_cancer(), 2, C=C, fit_intercept=False)
  np.testing.assert_allclose(ours.coef, theirs.coef_, atol=1e-3 * max(1.0, np.abs(theirs.coef_).max()))
  assert float(np.abs(ours.intercept).max()) == 0.0


@pytest.mark.parametrize("case, solver", [("binary", "newton-cg"), ("multinomial", "newton-cholesky")])
def test_both_newton_solvers_reach_sklearns_optimum(case, solver):
  """"auto" picked the other solver in the fixtures; here digits 0-4 only (300 rows) keeps it quick."""
  if case == "binary":
    data, num_classes = _breast_cancer(), 2
  else:
    x_train, y_train, x_test, y_test = _digits()
    data, num_classes = (x_train[y_train < 5][:300], y_train[y_train < 5][:300], x_test, y_test), 5
  ours, theirs = _fitted(data, num_classes, solver=solver)
  np.testing.assert_allclose(ours.coef, theirs.coef_, atol=1e-3)
  np.testing.assert_allclose(ours.intercept, theirs.intercept_, atol=1e-3)


def test_fit_has_fixed_shapes_under_eval_shape():
  x = np.zeros((50, 7), np.float32)
  y = np.zeros(50, np.int32)
  for (k, rows), solver in itertools.product(((2, 1), (5, 5)), logistic.SOLVERS):
    config = logistic.default_config(num_classes=k, solver=solver)
    shapes = jax.eval_shape(functools.partial(logistic.fit, config=config), KEY, x, y)
    assert shapes.coef.shape == (rows, 7) and shapes.intercept.shape == (rows,)


def _bad_inputs():
  x = np.random.RandomState(0).randn(20, 3).astype(np.float32)
  y = np.arange(20, dtype=np.int32) % 3
  nan_x = x.copy()
  nan_x[2, 2] = np.nan
  cfg = functools.partial(logistic.default_config, num_classes=3)
  return [
      ("NaN in x", nan_x, y, cfg()),
      ("lengths differ", x, y[:-1], cfg()),
      ("3-D x", x[:, :, None], y, cfg()),
      ("a single class", x, np.zeros(20, np.int32), cfg()),
      ("labels beyond num_classes", x, y, logistic.default_config(num_classes=2)),
      ("negative labels", x, y - 1, cfg()),
      ("float labels", x, y.astype(np.float32), cfg()),
      ("C = 0", x, y, cfg(C=0.0)),
      ("C < 0", x, y, cfg(C=-1.0)),
      ("num_classes 1", x, np.zeros(20, np.int32), logistic.default_config(num_classes=1)),
      ("tol 0", x, y, cfg(tol=0.0)),
      ("unknown solver", x, y, cfg(solver="lbfgs")),
  ]


@pytest.mark.parametrize("case, x, y, config", _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
def test_bad_inputs_raise_one_line_user_errors(case, x, y, config):
  with pytest.raises(UserError) as info:
    logistic.check_inputs(x, y, config)
  assert "\n" not in str(info.value)


def test_unknown_config_field_is_a_user_error():
  with pytest.raises(UserError, match="num_class"):
    logistic.default_config(num_class=3)
