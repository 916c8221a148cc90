"""dljax.classic.pca against scikit-learn's PCA on the same data (digits, float32 values given to sklearn as
float64: our float32 solvers are compared with the double-precision answer)."""

import functools
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from dljax.classic import pca
from dljax.errors import UserError

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def digits():
  return load_digits().data.astype(np.float32)


def _fit(x, **overrides):
  config = pca.default_config(**overrides)
  pca.check_inputs(x, config)
  return jax.jit(functools.partial(pca.fit, config=config))(KEY, x)


def _rel(ours, theirs):
  return float(np.max(np.abs(np.asarray(ours, np.float64) - theirs) / np.abs(theirs)))


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("whiten", [False, True])
def test_exact_solvers_match_sklearn(digits, solver, whiten):
  params = _fit(digits, n_components=10, solver=solver, whiten=whiten)
  ref = PCA(10, whiten=whiten, svd_solver=solver).fit(digits.astype(np.float64))
  assert _rel(params.explained_variance, ref.explained_variance_) < 1e-5
  assert _rel(params.explained_variance_ratio, ref.explained_variance_ratio_) < 1e-5
  assert _rel(params.singular_values, ref.singular_values_) < 1e-5
  assert _rel(params.noise_variance, ref.noise_variance_) < 1e-5
  # Same sign convention as sklearn's svd_flip, so no sign alignment is needed.
  np.testing.assert_allclose(params.components, ref.components_, atol=1e-5)
  np.testing.assert_allclose(params.mean, ref.mean_, rtol=1e-6, atol=1e-6)
  z, z_ref = np.asarray(pca.transform(params, digits)), ref.transform(digits.astype(np.float64))
  assert np.max(np.abs(z - z_ref)) < 1e-5 * np.max(np.abs(z_ref))
  x_hat, x_hat_ref = np.asarray(pca.inverse_transform(params, z_ref)), ref.inverse_transform(z_ref)
  assert np.max(np.abs(x_hat - x_hat_ref)) < 1e-5 * np.max(np.abs(x_hat_ref))


def test_all_components_reconstruct_exactly(digits):
  params = _fit(digits[:200, :40])  # n_components=None: min(N, D) = 40, nothing discarded
  assert params.components.shape == (40, 40) and float(params.noise_variance) == 0.0
  np.testing.assert_allclose(float(np.sum(params.explained_variance_ratio)), 1.0, rtol=1e-5)
  error = pca.reconstruction_error(params, digits[:200, :40])
  assert float(np.max(error)) < 1e-6 * float(np.sum(digits[:200, :40] ** 2, axis=1).max())


def test_randomized_is_as_close_to_exact_as_sklearns(digits):
  params = _fit(digits, n_components=5, solver="randomized")
  exact = PCA(5, svd_solver="full").fit(digits.astype(np.float64))
  theirs = PCA(5, svd_solver="randomized", random_state=0).fit(digits.astype(np.float64))
  ours_err = _rel(params.explained_variance, exact.explained_variance_)
  theirs_err = _rel(theirs.explained_variance_, exact.explained_variance_)
  assert ours_err < max(2 * theirs_err, 1e-5)
  # Subspace agreement: |cos| of the top axes with the exact ones.
  cosines = np.abs(np.sum(np.asarray(params.components) * exact.components_, axis=1))
  assert cosines.min() > 0.999


def test_batched_moments_equal_one_pass(digits):
  """Covariance accumulated batch by batch (ragged last batch masked) gives the one-pass fit."""
  x = digits + 100.0  # a large mean: the pairwise merge must not cancel it away
  config = pca.default_config(n_components=8, solver="covariance_eigh")
  total = None
  for start in range(0, len(x), 500):
    batch = np.zeros((500, x.shape[1]), np.float32)
    part = x[start:start + 500]
    batch[:len(part)] = part
    m = pca.moments(batch, (np.arange(500) < len(part)).astype(np.float32))
    total = m if total is None else pca.merge_moments(total, m)
  streamed = pca.fit_from_moments(total, config, num_rows=len(x))
  ref = PCA(8, svd_solver="full").fit(x.astype(np.float64))
  assert _rel(streamed.explained_variance, ref.explained_variance_) < 1e-5
  np.testing.assert_allclose(streamed.components, ref.components_, atol=1e-5)


def test_eight_devices_equal_one(tmp_path):
  """Moments reduced over 8 fake devices (rows sharded) and on 1 device: each against the float64 moments
  of the same float32 rows, within float32's rounding bound (neither float32 side is the truth)."""
  code = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, numpy as np
    from sklearn.datasets import load_digits
    from dljax import parallel
    from dljax.classic import pca
    x = load_digits().data.astype(np.float32)[:1792]
    mesh = parallel.make_mesh()
    assert mesh.devices.size == 8
    sharded = jax.device_put(x, parallel.batch_sharded(mesh))
    m8 = jax.jit(lambda a: pca.sharded_moments(a, mesh))(sharded)
    m1 = pca.moments(x)
    np.savez(sys.argv[1], **{f"{side}_{field}": np.asarray(getattr(m, field))
                             for side, m in (("one", m1), ("eight", m8)) for field in m._fields})
  """)
  out = tmp_path / "moments.npz"
  result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  got = np.load(out)
  x = load_digits().data[:1792].astype(np.float32).astype(np.float64)
  n, eps = len(x), float(np.finfo(np.float32).eps)
  mean = x.mean(0)
  xc = x - mean
  scatter = xc.T @ xc
  # A float32 sum of n terms errs by <= (n-1)·u·Σ|term| (u = eps/2), centring and product add 2u per term,
  # the 8-way merge 8 terms more, the mean's error only enters squared: n·eps·Σ|term| bounds all with room.
  scatter_tol = n * eps * (np.abs(xc).T @ np.abs(xc))
  mean_tol = n * eps * np.abs(x).mean(0)  # the mean: one sum of n terms, one division
  # Wrong results break the bound: one row left out (35x), the merge's between-shard term left out (4500x).
  assert np.any(np.outer(xc[-1], xc[-1]) > scatter_tol)
  shard_shift = x.reshape(8, -1, x.shape[1]).mean(1) - mean
  assert np.any(np.abs(n / 8 * shard_shift.T @ shard_shift) > scatter_tol)
  for side in ("one", "eight"):
    assert float(got[f"{side}_count"]) == n
    assert np.all(np.abs(got[f"{side}_mean"] - mean) <= mean_tol), side
    error = np.abs(got[f"{side}_scatter"] - scatter)
    assert np.all(error <= scatter_tol), (side, float(np.max(error / np.maximum(scatter_tol, 1e-300))))


@pytest.mark.parametrize("overrides, x_fix, message", [
    ({"n_components": 65}, None, "n_components=65: give 1..64"),
    ({"n_components": 0}, None, "n_components=0"),
    ({"solver": "arpack"}, None, "solver='arpack'"),
    ({}, "nan", "NaN"),
])
def test_bad_input_is_a_user_error(digits, overrides, x_fix, message):
  x = digits[:100].copy()
  if x_fix == "nan":
    x[3, 5] = np.nan
  with pytest.raises(UserError, match=message):
    pca.check_inputs(x, pca.default_config(**overrides))


def test_unknown_config_field_is_a_user_error():
  with pytest.raises(UserError, match="n_component"):
    pca.default_config(n_component=3)
