"""dljax.classic.svm / svr against scikit-learn's SVC / SVR on the same data and hyper-parameters, the
kernel and dual equations of their docstrings against numpy, and every bad input as a UserError."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import svm as sk_svm
from sklearn.datasets import load_iris
from sklearn.metrics import r2_score

from dljax.classic import kernels, svm, svr
from dljax.data.sources import load_dataset
from dljax.errors import UserError


def _standardised(name):
  """x of `name` flattened and standardised with train statistics only, as the classic trainer does."""
  data = load_dataset(name)
  x_train = data.train_x.reshape(len(data.train_x), -1)
  x_test = data.test_x.reshape(len(data.test_x), -1)
  mean, std = x_train.mean(0), x_train.std(0)
  std = np.where(std > 0, std, 1.0)
  x_train, x_test = ((x_train - mean) / std).astype(np.float32), ((x_test - mean) / std).astype(np.float32)
  return x_train, data.train_y, x_test, data.test_y


@pytest.fixture(scope="module")
def breast_cancer():
  return _standardised("breast_cancer")


@pytest.fixture(scope="module")
def diabetes():
  return _standardised("diabetes")


@pytest.fixture(scope="module")
def digits():
  data = load_dataset("digits")  # pixels already scaled to [0, 1] (x/16)
  return (data.train_x.reshape(len(data.train_x), -1), data.train_y,
          data.test_x.reshape(len(data.test_x), -1), data.test_y)


def _fit(module, config, x, y):
  return jax.jit(functools.partial(module.fit, config=config))(jax.random.key(0), x, y)


def _compare_with_svc(config, data, **sk_kwargs):
  x, y, x_test, y_test = data
  module_config = svm.default_config(**config)
  svm.check_inputs(x, y, module_config)
  params = _fit(svm, module_config, x, y)
  ours_dec = np.asarray(jax.jit(svm.decision_function)(params, x_test))
  ours_pred = np.asarray(jax.jit(svm.predict)(params, x_test))
  ref = sk_svm.SVC(C=module_config.C, kernel=module_config.kernel, gamma=module_config.gamma,
                   degree=module_config.degree, coef0=module_config.coef0, tol=module_config.tol,
                   decision_function_shape="ovo", **sk_kwargs).fit(x, y)
  ref_dec = ref.decision_function(x_test)
  assert np.all(np.asarray(params.gap) < module_config.tol)  # every problem converged
  assert np.mean(np.sign(ours_dec) == np.sign(ref_dec)) >= 0.99
  n_support, ref_support = int(params.support.sum()), int(ref.n_support_.sum())
  assert abs(n_support - ref_support) <= 0.1 * ref_support, (n_support, ref_support)
  assert abs(np.mean(ours_pred == y_test) - ref.score(x_test, y_test)) <= 0.005
  return params, ref


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
def test_binary_matches_svc(breast_cancer, kernel):
  _compare_with_svc({"kernel": kernel}, breast_cancer)


def test_multiclass_one_vs_one_matches_svc(digits):
  params, ref = _compare_with_svc({"num_classes": 10}, digits)
  assert params.dual_coef.shape == (45, len(digits[0]))
  # Same support vectors row by row, not just as many.
  assert np.mean(np.asarray(params.support) == np.isin(np.arange(len(digits[0])), ref.support_)) >= 0.99


def _iris():
  """sklearn's iris (3 classes of 50 rows), standardised, float32."""
  x, y = load_iris(return_X_y=True)
  return ((x - x.mean(0)) / x.std(0)).astype(np.float32), y.astype(np.int32)


def test_class_blocks_solve_the_same_problems_as_all_rows():
  """A pair problem on its two classes' rows only (the balanced-classes path) is the all-rows problem with the
  other rows boxed to 0: both reach the same dual optimum ½αᵀQα − eᵀα and the same decision values (α itself
  is not unique: iris repeats rows)."""
  x, y = _iris()
  config = svm.default_config(num_classes=3, C=10.0)
  first, second = svm.class_pairs(3)
  block = 64  # every class (50 rows) fits; a pair has 128 of the 150 rows
  gamma = kernels.resolve_gamma(x, "scale")
  static = dict(config=config, first=first, second=second)
  solutions = [jax.jit(functools.partial(solver, **static))(x, y, gamma, jnp.float32(0.0)) for solver in
               (functools.partial(svm._pairs_on_class_blocks, block=block), svm._pairs_on_all_rows)]
  x64 = x.astype(np.float64)
  k = np.exp(-float(gamma) * ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1))
  for p, (a, b) in enumerate(zip(first, second)):
    signs = np.where(y == a, 1.0, np.where(y == b, -1.0, 0.0))
    objective, decision = [], []
    for alpha, rho, _, gap in solutions:
      assert float(gap[p]) < config.tol
      coef = signs * np.asarray(alpha[p], np.float64)
      objective.append(0.5 * coef @ k @ coef - np.sum(np.abs(coef)))
      decision.append(k @ coef - float(rho[p]))
    np.testing.assert_allclose(objective[0], objective[1], rtol=1e-5)
    np.testing.assert_allclose(decision[0][signs != 0], decision[1][signs != 0], atol=5e-3)  # tol = 1e-3


def test_unbalanced_classes_take_the_all_rows_path_and_match_svc(digits):
  x, y, x_test, y_test = digits
  keep = (y != 9) | (np.cumsum(y == 9) <= 30)   # 30 nines: the other classes outgrow the balanced block
  x, y = x[keep], y[keep]
  block = svm.class_block_size(len(x), 10)
  assert block is not None and np.bincount(y).max() > block
  _compare_with_svc({"num_classes": 10}, (x, y, x_test, y_test))


@pytest.mark.parametrize("kernel,C,epsilon", [("linear", 1.0, 0.1), ("rbf", 100.0, 10.0)])
def test_svr_matches_sklearn(diabetes, kernel, C, epsilon):
  x, y, x_test, y_test = diabetes
  config = svr.default_config(kernel=kernel, C=C, epsilon=epsilon)
  svr.check_inputs(x, y, config)
  params = _fit(svr, config, x, y)
  ours = np.asarray(jax.jit(svr.predict)(params, x_test))
  ref = sk_svm.SVR(kernel=kernel, C=C, epsilon=epsilon).fit(x, y)
  assert float(params.gap) < config.tol
  assert abs(r2_score(y_test, ours) - r2_score(y_test, ref.predict(x_test))) <= 0.01
  np.testing.assert_allclose(ours, ref.predict(x_test), atol=0.05 * np.std(y_test))
  assert abs(int(params.support.sum()) - len(ref.support_)) <= 0.1 * len(ref.support_)


def test_kernels_match_numpy_and_sklearn_gamma():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
  gamma, coef0 = 0.3, 1.5
  sq = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
  expected = {"linear": a @ b.T, "rbf": np.exp(-gamma * sq), "poly": (gamma * a @ b.T + coef0) ** 3}
  for name, want in expected.items():
    np.testing.assert_allclose(kernels.gram(name, a, b, gamma, coef0, 3), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(kernels.gram_diag(name, a, gamma, coef0, 3),
                               np.diag(kernels.gram(name, a, a, gamma, coef0, 3)), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(kernels.resolve_gamma(a, "scale"), 1.0 / (3 * a.var()), rtol=1e-5)
  np.testing.assert_allclose(kernels.resolve_gamma(a, "auto"), 1.0 / 3, rtol=1e-6)


def test_argmax_first_is_argmax_with_first_index_on_ties():
  rng = np.random.default_rng(0)
  v = rng.integers(0, 4, size=(6, 96)).astype(np.float32)  # many ties
  v[2] = -np.inf
  top, index = svm.argmax_first(v)
  np.testing.assert_array_equal(index, np.argmax(v, axis=1))
  np.testing.assert_array_equal(top, v.max(axis=1))


def test_binary_solution_satisfies_the_dual(breast_cancer):
  """yᵀα = 0, 0 ≤ α ≤ C, f(x) = Σ y_i α_i k(x_i, x) − ρ; KKT: y_i f ≥ 1 where α_i = 0, ≤ 1 at C."""
  x, y, _, _ = breast_cancer
  config = svm.default_config(C=1.0)
  params = _fit(svm, config, x, y)
  coef = np.asarray(params.dual_coef[0], np.float64)   # y_i α_i, class 0 as the +1 class
  signs = np.where(y == 0, 1.0, -1.0)
  alpha = coef * signs
  assert abs(coef.sum()) < 1e-3 and alpha.min() >= 0 and alpha.max() <= config.C
  gamma = float(params.gamma)
  k = np.exp(-gamma * ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
  f = k @ coef + float(params.intercept[0])
  np.testing.assert_allclose(-np.asarray(svm.decision_function(params, x)), f, atol=1e-3)
  margin = signs * f
  tol = 2 * config.tol
  assert np.all(margin[alpha == 0] >= 1 - tol)
  assert np.all(margin[alpha == config.C] <= 1 + tol)
  free = (alpha > 0) & (alpha < config.C)
  np.testing.assert_allclose(margin[free], 1.0, atol=tol)


def test_fit_traces_to_fixed_shapes_and_a_missing_class_gets_no_votes():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(40, 2)).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.int32)  # classes 0 and 1 only; class 2 has no rows
  config = svm.default_config(num_classes=3, kernel="linear")
  fit = jax.jit(functools.partial(svm.fit, config=config))
  shapes = jax.eval_shape(fit, jax.random.key(0), x, y)
  assert shapes.dual_coef.shape == (3, 40) and shapes.support.shape == (40,)
  params = fit(jax.random.key(0), x, y)
  prediction = np.asarray(jax.jit(svm.predict)(params, x))
  assert set(prediction) <= {0, 1} and np.mean(prediction == y) >= 0.95
  assert jax.eval_shape(functools.partial(svr.fit, config=svr.default_config()), jax.random.key(0), x,
                        x[:, 1]).dual_coef.shape == (40,)


@pytest.mark.parametrize("change,message", [
    (lambda x, y, c: (np.where(x > 0, np.nan, x), y, c), "NaN or inf"),
    (lambda x, y, c: (x, y[:-1], c), "the same number of rows"),
    (lambda x, y, c: (x, np.zeros_like(y), c), "single class"),
    (lambda x, y, c: (x, y, svm.default_config(C=0.0)), "C=0.0 must be > 0"),
    (lambda x, y, c: (x, y, svm.default_config(kernel="sigmoid")), "kernel='sigmoid' is unknown"),
    (lambda x, y, c: (x, y, svm.default_config(gamma=-1.0)), "gamma=-1.0 must be > 0"),
    (lambda x, y, c: (x, y, svm.default_config(gamma="wide")), "gamma='wide' is unknown"),
    (lambda x, y, c: (x, y + 5, c), r"give labels 0..1"),
    (lambda x, y, c: (x, y.astype(np.float32), c), "integer class labels"),
    (lambda x, y, c: (x[:, 0], y, c), "2-D"),
])
def test_svm_bad_input_is_a_user_error(change, message):
  x, y, config = change(np.ones((6, 2), np.float32), np.array([0, 1] * 3, np.int32), svm.default_config())
  with pytest.raises(UserError, match=message):
    svm.check_inputs(x, y, config)


def test_svr_bad_input_is_a_user_error():
  x, y = np.ones((6, 2), np.float32), np.arange(6, dtype=np.float32)
  with pytest.raises(UserError, match="epsilon=-0.1 must be >= 0"):
    svr.check_inputs(x, y, svr.default_config(epsilon=-0.1))
  with pytest.raises(UserError, match="NaN"):
    svr.check_inputs(x, np.where(y > 2, np.nan, y), svr.default_config())
  with pytest.raises(UserError, match="the same number of rows"):
    svr.check_inputs(x, y[:3], svr.default_config())
  with pytest.raises(UserError, match="SVR config: unknown field"):
    svr.default_config(epsilom=0.1)
  with pytest.raises(UserError, match="C=-1"):
    svr.fit(jax.random.key(0), x, y, svr.default_config(C=-1))  # static checks also guard fit itself

