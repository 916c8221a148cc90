"""dljax.classic.kmeans against scikit-learn's KMeans / MiniBatchKMeans on the same data (digits, float32)."""

import functools
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans, kmeans_plusplus
from sklearn.datasets import load_digits

from dljax.classic import kmeans
from dljax.errors import UserError

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def digits():
  """Digits standardised per pixel. Raw digits are small integers, so many rows sit at exactly equal
  distances from two centres, and float rounding (ours, sklearn's) breaks those ties differently."""
  x = load_digits().data
  std = x.std(0)
  return ((x - x.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


@functools.lru_cache
def _compiled_fit(config):
  return jax.jit(functools.partial(kmeans.fit, config=config))  # one compilation per config and shape


def _fit(x, init_centers=None, **overrides):
  config = kmeans.default_config(**overrides)
  kmeans.check_inputs(x, config, init_centers)
  return _compiled_fit(config)(KEY, x, init_centers=init_centers)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_lloyd_from_the_same_centres_matches_sklearn(digits, algorithm):
  init = digits[::180][:10]
  params = _fit(digits, init, n_clusters=10, algorithm=algorithm, chunk_size=256)
  ref = KMeans(10, init=init, n_init=1, algorithm="lloyd").fit(digits)
  assert int(params.n_iter) == ref.n_iter_
  assert abs(float(params.inertia) - ref.inertia_) < 1e-6 * ref.inertia_
  np.testing.assert_allclose(params.centers, ref.cluster_centers_, atol=1e-4)
  np.testing.assert_array_equal(kmeans.predict(params, digits), ref.labels_)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_empty_clusters_are_relocated_like_sklearn(digits, algorithm):
  init = digits[:10].copy()
  init[3], init[7] = 50.0, -30.0  # two centres no row is nearest to: empty after the first assignment
  params = _fit(digits, init, n_clusters=10, algorithm=algorithm, chunk_size=256)
  ref = KMeans(10, init=init, n_init=1, algorithm="lloyd").fit(digits)
  assert int(params.n_iter) == ref.n_iter_
  assert abs(float(params.inertia) - ref.inertia_) < 1e-6 * ref.inertia_
  np.testing.assert_allclose(params.centers, ref.cluster_centers_, atol=1e-4)


def test_hamerly_bounds_hold_and_skipped_rows_keep_lloyds_labels(digits):
  """After 8 iterations (most rows skipped by then), every bound brackets the float64 distances, every
  row's label is its nearest centre, and both assignment paths (only the failing rows / all rows) agree
  with numpy's argmin."""
  x = np.pad(digits, ((0, 1800 - len(digits)), (0, 0)))  # 1800 rows: 3 padding rows
  valid = np.arange(1800) < len(digits)
  sq_norms = jax.numpy.asarray((x * x).sum(1))
  x, x_rows = jax.numpy.asarray(x), x
  no_shift = np.zeros(64, np.float32)  # the rows as they are (fit passes their mean)
  run = jax.jit(lambda c: kmeans._hamerly(x, no_shift, valid, sq_norms, c, 0.0, 8, 200, None, 0.5))
  state = run(digits[::180][:10])
  assert int(state.n_iter) == 8
  dist = np.sqrt(((x_rows[:, None, :].astype(np.float64) - np.asarray(state.centers, np.float64)[None]) ** 2).sum(-1))
  labels, upper, lower = (np.asarray(a)[valid] for a in (state.labels, state.upper, state.lower))
  dist = dist[valid]
  own = dist[np.arange(len(labels)), labels]
  others = np.where(np.arange(10)[None, :] == labels[:, None], np.inf, dist).min(1)
  assert np.all(upper >= own) and np.all(lower <= others)
  assign = jax.jit(kmeans._hamerly_assign, static_argnums=5)  # one compilation for both dense fractions
  expected = dist.argmin(1)
  for dense_fraction in (0.0, 2.0):  # every row by bfloat16 bounds + float32 re-check; only the failing rows
    new_labels, _, _, sums, counts, _ = assign(state, x, no_shift, valid, sq_norms, 200, dense_fraction)
    np.testing.assert_array_equal(np.asarray(new_labels)[valid], expected)
    np.testing.assert_allclose(sums, [digits[expected == j].sum(0) for j in range(10)], atol=1e-3)
    np.testing.assert_array_equal(counts, np.bincount(expected, minlength=10))
  centers = np.asarray(state.centers, np.float64)
  between = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1)) + np.diag(np.full(10, np.inf))
  need = upper > np.maximum(lower, 0.5 * between.min(1)[labels])
  assert 0.1 < need.mean() < 0.9  # the sparse path had rows to skip and rows to recompute


def test_kmeans_plusplus_with_several_inits_is_as_good_as_sklearn(digits):
  params = _fit(digits, n_clusters=10, n_init=4)
  ref = KMeans(10, n_init=4, random_state=0).fit(digits)
  assert float(params.inertia) <= 1.01 * ref.inertia_
  # The reported inertia is the inertia of the returned centres (numpy formula).
  d2 = ((digits[:, None, :].astype(np.float64) - np.asarray(params.centers, np.float64)[None]) ** 2).sum(-1)
  assert abs(float(params.inertia) - d2.min(1).sum()) < 1e-5 * d2.min(1).sum()


def test_kmeans_plusplus_starts_are_as_good_as_sklearns(digits):
  """Greedy D² sampling: over 16 seeds, our k-means++ starts leave the inertia sklearn's leave (in the
  mean), and far less than K rows drawn uniformly."""
  keys = jax.random.split(KEY, 16)
  ours = jax.jit(jax.vmap(lambda k: kmeans.kmeans_plusplus(k, digits, 10)))(keys)
  uniform = jax.jit(jax.vmap(lambda k: kmeans.random_init(k, digits, 10)))(keys)
  theirs = np.stack([kmeans_plusplus(digits, 10, random_state=s)[0] for s in range(16)])
  inertias = jax.jit(jax.vmap(kmeans.inertia, in_axes=(0, None)))
  ours_inertia, uniform_inertia, sklearn_inertia = (float(np.mean(inertias(c, digits))) for c in (ours, uniform, theirs))
  assert ours_inertia <= 1.03 * sklearn_inertia
  assert ours_inertia < 0.95 * uniform_inertia
  rows = {tuple(r) for r in digits.tolist()}
  assert all(tuple(c) in rows for c in np.asarray(ours[0]).tolist())  # centres are data rows


def test_minibatch_is_as_good_as_sklearns(digits):
  params = _fit(digits, n_clusters=10, algorithm="minibatch", batch_size=256, max_iter=20, n_init=3)
  ref = MiniBatchKMeans(10, batch_size=256, n_init=3, random_state=0).fit(digits)
  full = KMeans(10, n_init=1, random_state=0).fit(digits)
  assert float(params.inertia) <= 1.02 * ref.inertia_
  assert float(params.inertia) <= 1.1 * full.inertia_


def _check_float64_fixed_point(x, centers, inertia):
  """float64 checks of one float32 Lloyd result on rows x (float64 copies of the float32 rows): every row's
  nearest centre is unambiguous in float32, each centre is the mean of its nearest rows and `inertia` is
  their inertia, within float32's rounding bounds. Returns the float64 labels."""
  n, d = x.shape
  eps = float(np.finfo(np.float32).eps)
  centers = centers.astype(np.float64)
  mean = x.mean(0)  # fit works on centred rows; an error in its mean m cancels in c = m + Σ(x − m)/n_k
  xc, cc = np.abs(x - mean), np.abs(centers - mean)
  sq_dist = ((x[:, None] - centers[None]) ** 2).sum(-1)
  labels = sq_dist.argmin(1)
  # A float32 score ½‖c‖² − x·c errs by <= (D + 2)·u·(‖x‖ + ‖c‖)²: rows whose two nearest squared distances
  # differ by more than 4x that (u = eps/2, with 2x room) have fit's float32 labels (observed: 11x more).
  nearest_two = np.sort(sq_dist, axis=1)[:, :2]
  radius = np.sqrt((xc ** 2).sum(1)) + np.sqrt((cc ** 2).sum(1)).max()
  assert np.all(nearest_two[:, 1] - nearest_two[:, 0] > 4 * (d + 2) * eps * radius ** 2)
  counts = np.bincount(labels, minlength=len(centers))
  assert np.all(counts > 0)
  means = np.stack([x[labels == k].mean(0) for k in range(len(centers))])
  mean_abs = np.stack([xc[labels == k].mean(0) for k in range(len(centers))])
  # c = m + Σ(x − m)/n_k: n_k centred terms summed, a division, an addition: <= n_k·u·mean|x − m| + 2u·|c|.
  center_tol = counts[:, None] * eps * mean_abs + eps * (cc + np.abs(centers))
  assert np.all(np.abs(centers - means) <= center_tol)
  # Σ_i Σ_d (x − c)²: N·D squares of differences off by <= 4u(|x−m| + |c−m|)², summed in D then N terms.
  inertia_tol = (n + d + 8) * eps * ((xc + cc[labels]) ** 2).sum()
  assert abs(inertia - sq_dist.min(1).sum()) <= inertia_tol
  return labels


def test_eight_devices_equal_one(tmp_path):
  """Rows sharded over 8 fake devices (sums and counts psum'd) and on 1 device: each result against its
  float64 recomputation (a Lloyd fixed point: centres = means of their nearest rows), then their partitions."""
  code = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import functools, jax, numpy as np
    from sklearn.datasets import load_digits
    from dljax import parallel
    from dljax.classic import kmeans
    x = load_digits().data  # 1797 rows: not a multiple of 8, the last shard is padded
    x = ((x - x.mean(0)) / np.maximum(x.std(0), 1e-12)).astype(np.float32)  # no exact distance ties
    mesh = parallel.make_mesh()
    assert mesh.devices.size == 8
    # tol=0: iterate until the labels settle, so the returned centres are the means of their nearest rows.
    config = kmeans.default_config(n_clusters=10, n_init=2, chunk_size=64, tol=0.0)
    bounded = kmeans.default_config(n_clusters=10, n_init=2, chunk_size=64, tol=0.0, algorithm="hamerly")
    fits = {"one": jax.jit(functools.partial(kmeans.fit, config=config))(jax.random.key(0), x),
            "eight": jax.jit(functools.partial(kmeans.fit, config=config, mesh=mesh))(jax.random.key(0), x),
            "eight_hamerly": jax.jit(functools.partial(kmeans.fit, config=bounded, mesh=mesh))(jax.random.key(0), x)}
    np.savez(sys.argv[1], x=x, **{f"{name}_{field}": np.asarray(getattr(p, field))
                                  for name, p in fits.items() for field in p._fields})
  """)
  out = tmp_path / "fits.npz"
  result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=180)
  assert result.returncode == 0, result.stderr[-2000:]
  got = np.load(out)
  x = got["x"].astype(np.float64)
  labels = {}
  for name in ("one", "eight", "eight_hamerly"):
    assert int(got[f"{name}_n_iter"]) < kmeans.default_config().max_iter, name  # settled, not stopped
    labels[name] = _check_float64_fixed_point(x, got[f"{name}_centers"], float(got[f"{name}_inertia"]))
  # Discrete, kept: both runs are float64-verified fixed points from the same k-means++ starts and differ
  # only in the order their sums are rounded (~1e-6, against final margins 11x above the float32 score
  # error), so another partition means the sharded run took another path (its psums, padding, relocation).
  # Iteration counts are not compared: a near-tie at an intermediate step, which no final-state check can
  # see, could move them by one and still end at this partition.
  np.testing.assert_array_equal(labels["eight"], labels["one"])
  np.testing.assert_array_equal(labels["eight_hamerly"], labels["one"])


@pytest.mark.parametrize("overrides, x_fix, message", [
    ({"n_clusters": 101}, None, "n_clusters=101: give 1..100"),
    ({"n_clusters": 0}, None, "n_clusters=0"),
    ({"init": "kmeans++"}, None, "init='kmeans\\+\\+'"),
    ({"algorithm": "elkan"}, None, "algorithm='elkan'"),
    ({"tol": -1.0}, None, "tol=-1.0"),
    ({}, "nan", "NaN"),
])
def test_bad_input_is_a_user_error(digits, overrides, x_fix, message):
  x = digits[:100].copy()
  if x_fix == "nan":
    x[7, 2] = np.nan
  with pytest.raises(UserError, match=message):
    kmeans.check_inputs(x, kmeans.default_config(**overrides))


def test_wrong_init_centres_shape_is_a_user_error(digits):
  with pytest.raises(UserError, match="init_centers has shape"):
    kmeans.check_inputs(digits, kmeans.default_config(n_clusters=10), digits[:9])
