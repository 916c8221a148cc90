"""Principal component analysis, as scikit-learn's `PCA(n_components, whiten, svd_solver)` defines it.

With rows x_i ∈ R^D, mean x̄ and centred data X_c = X − 1·x̄ᵀ (N×D), the sample covariance is

    C = X_cᵀX_c / (N − 1) = V·diag(λ)·Vᵀ,        X_c = U·diag(s)·Vᵀ  (thin SVD),  λ_j = s_j² / (N − 1).

The k principal axes are the rows of `components` = the first k columns of V (λ descending); the
explained variance of axis j is λ_j, its ratio λ_j / Σ_all λ = λ_j / tr(C). The probabilistic-PCA noise
variance (Tipping & Bishop 1999, eq. 12.46 in Bishop's PRML) is the mean of the discarded eigenvalues,
σ² = (tr(C) − Σ_{j≤k} λ_j) / (min(N, D) − k). Signs follow sklearn's `svd_flip(u_based_decision=False)`:
the largest-magnitude entry of each component is positive, so components equal sklearn's, not just up to sign.

    transform:          z = (x − x̄)·Vₖ / w          w_j = √λ_j when whitening (z has unit variance), else 1
    inverse_transform:  x̂ = (z ∘ w)·Vₖᵀ + x̄

Solvers (config.solver):
  * "full": LAPACK SVD of X_c (exact; O(N·D·min(N, D))).
  * "covariance_eigh": eigh of the D×D covariance (one X_cᵀX_c matmul, then O(D³)): the fast path for
    tall data (sklearn's "auto" picks it when N ≥ 10·D). The covariance comes from `moments`, which also
    serves data that never sits in one array: accumulate `moments` over batches with `merge_moments`, or
    over a device mesh with `all_reduce_moments` (inside shard_map) / `sharded_moments`, then call
    `fit_from_moments`. Merging is Chan et al.'s pairwise update (exact, no E[xxᵀ] − x̄x̄ᵀ cancellation):

        n = n_a + n_b,   x̄ = (n_a·x̄_a + n_b·x̄_b)/n,   M = M_a + M_b + n_a·n_b/n · (x̄_a − x̄_b)(x̄_a − x̄_b)ᵀ

    with M = Σ (x − x̄)(x − x̄)ᵀ the scatter matrix of a part.
  * "randomized": Halko, Martinsson & Tropp (2011), Alg. 4.4 — a Gaussian sketch of X_c's range with
    k + n_oversamples columns, q QR-normalised power iterations (sklearn's rule when unset: 7 if
    k < 0.1·min(N, D), else 4), then the exact SVD of the small (k + p)×D projection. For a few
    components of wide data.

`check_inputs` (plain Python, before `fit`) turns bad data and hyper-parameters into a one-line UserError.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import PartitionSpec as P

from dljax.classic import validate
from dljax.errors import UserError

SOLVERS = ("full", "covariance_eigh", "randomized")
# float32 products at full precision: TPUs/GPUs would otherwise round matmul inputs to bf16/tf32.
_HIGHEST = jax.lax.Precision.HIGHEST
# sklearn's transform divides by max(√λ, eps) when whitening, so zero-variance axes map to 0, not NaN.
_EPS = float(jnp.finfo(jnp.float32).eps)


class PCAParams(NamedTuple):
  mean: jax.Array                      # (D,) x̄
  components: jax.Array                # (k, D) principal axes, rows orthonormal — sklearn's components_
  explained_variance: jax.Array        # (k,) λ_j
  explained_variance_ratio: jax.Array  # (k,) λ_j / tr(C)
  singular_values: jax.Array           # (k,) s_j = √(λ_j·(N − 1))
  noise_variance: jax.Array            # () σ², mean discarded eigenvalue (0 when k = min(N, D))
  scale: jax.Array                     # (k,) w: max(√λ_j, eps) when whitening, else 1


class Moments(NamedTuple):
  """Sufficient statistics of a (weighted) set of rows for its mean and covariance."""
  count: jax.Array    # () float32, Σ w_i (the number of rows when all weights are 1)
  mean: jax.Array     # (D,) Σ w_i x_i / count
  scatter: jax.Array  # (D, D) M = Σ w_i (x_i − mean)(x_i − mean)ᵀ; the covariance is M / (count − 1)


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """sklearn's defaults (all components, no whitening, exact SVD), with `overrides` applied."""
  c = ml_collections.ConfigDict()
  c.n_components = ml_collections.FieldReference(None, field_type=int)  # None: min(N, D)
  c.whiten = False
  c.solver = "full"        # full | covariance_eigh | randomized
  c.n_oversamples = 10     # randomized: extra sketch columns (sklearn's default)
  c.power_iterations = ml_collections.FieldReference(None, field_type=int)  # randomized; None: sklearn's rule
  return validate.typed_config(c, overrides, "pca")


def check_config(config, *, num_rows: int, num_features: int) -> None:
  limit = min(num_rows, num_features)
  if config.solver not in SOLVERS:
    raise UserError(f"solver={config.solver!r}: use one of {', '.join(SOLVERS)}")
  if config.n_components is not None and not 1 <= config.n_components <= limit:
    raise UserError(f"n_components={config.n_components}: give 1..{limit} (min of {num_rows} rows and "
                    f"{num_features} features), or None for all")
  if num_rows < 2:
    raise UserError(f"x has {num_rows} row; PCA needs at least 2 rows to estimate a variance")
  if config.solver == "randomized":
    if config.n_oversamples < 0:
      raise UserError(f"n_oversamples={config.n_oversamples}: give 0 or more extra sketch columns (e.g. 10)")
    if config.power_iterations is not None and config.power_iterations < 0:
      raise UserError(f"power_iterations={config.power_iterations}: give 0 or more, or None for sklearn's rule")


def check_inputs(x, config) -> None:
  """Raises UserError (one line, naming the fix) when `fit(key, x, config)` would be meaningless."""
  validate.check_x(x)
  check_config(config, num_rows=len(x), num_features=x.shape[1])


def num_components(config, num_rows: int, num_features: int) -> int:
  return min(num_rows, num_features) if config.n_components is None else config.n_components


def fit(key: jax.Array, x: jax.Array, config) -> PCAParams:
  """The principal axes of x (module docstring). `key` draws the randomized solver's sketch."""
  x = jnp.asarray(x, jnp.float32)
  n, d = x.shape
  k = num_components(config, n, d)
  if config.solver == "covariance_eigh":
    return fit_from_moments(moments(x), config, num_rows=n)
  mean = jnp.mean(x, axis=0)
  xc = x - mean
  total_variance = jnp.sum(xc * xc) / (n - 1)
  if config.solver == "randomized":
    s, vt = _randomized_svd(key, xc, k, config)
  else:
    _, s, vt = jnp.linalg.svd(xc, full_matrices=False)
  return _params(mean, s[:k] ** 2 / (n - 1), _flip_signs(vt[:k]), total_variance, n, d, config.whiten)


def transform(params: PCAParams, x: jax.Array) -> jax.Array:
  """z = (x − x̄)·Vₖ / w: coordinates on the k principal axes, (N, k)."""
  z = jnp.dot(jnp.asarray(x, jnp.float32) - params.mean, params.components.T, precision=_HIGHEST)
  return z / params.scale


def inverse_transform(params: PCAParams, z: jax.Array) -> jax.Array:
  """x̂ = (z ∘ w)·Vₖᵀ + x̄: the points of the principal subspace with coordinates z, (N, D)."""
  return jnp.dot(z * params.scale, params.components, precision=_HIGHEST) + params.mean


def reconstruction_error(params: PCAParams, x: jax.Array) -> jax.Array:
  """‖x − x̂‖² per row, x̂ = inverse_transform(transform(x)): an anomaly score (distance to the subspace)."""
  x = jnp.asarray(x, jnp.float32)
  residual = x - inverse_transform(params, transform(params, x))
  return jnp.sum(residual * residual, axis=-1)


# Streamed / sharded covariance ---------------------------------------------------------------------------

def moments(x: jax.Array, weights: jax.Array | None = None) -> Moments:
  """Moments of one batch of rows. `weights` (N,) of 0/1 masks padding rows (e.g. a ragged last batch)."""
  x = jnp.asarray(x, jnp.float32)
  w = jnp.ones(x.shape[0], jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
  count = jnp.sum(w)
  mean = jnp.dot(w, x, precision=_HIGHEST) / jnp.maximum(count, 1.0)
  xc = (x - mean) * jnp.sqrt(w)[:, None]  # centre on the batch's own mean: no large-mean cancellation
  return Moments(count=count, mean=mean, scatter=jnp.dot(xc.T, xc, precision=_HIGHEST))


def merge_moments(a: Moments, b: Moments) -> Moments:
  """Moments of the union of two disjoint sets of rows (Chan et al.'s update, module docstring)."""
  count = a.count + b.count
  frac_b = b.count / jnp.maximum(count, 1.0)
  delta = b.mean - a.mean
  mean = a.mean + frac_b * delta
  scatter = a.scatter + b.scatter + (a.count * frac_b) * jnp.outer(delta, delta)
  return Moments(count=count, mean=mean, scatter=scatter)


def all_reduce_moments(m: Moments, axis_name) -> Moments:
  """Inside `jax.shard_map`: the moments of all devices' rows along `axis_name` (every device gets them).

  M = Σ_dev [M_dev + n_dev·(x̄_dev − x̄)(x̄_dev − x̄)ᵀ] — the many-part form of the pairwise merge."""
  count = jax.lax.psum(m.count, axis_name)
  mean = jax.lax.psum(m.count * m.mean, axis_name) / jnp.maximum(count, 1.0)
  delta = m.mean - mean
  scatter = jax.lax.psum(m.scatter + m.count * jnp.outer(delta, delta), axis_name)
  return Moments(count=count, mean=mean, scatter=scatter)


def sharded_moments(x: jax.Array, mesh, axis_name: str = "data", weights: jax.Array | None = None) -> Moments:
  """Moments of x whose rows are sharded over `mesh` along `axis_name`; each device reduces its own rows,
  then the D×D statistics (not the rows) cross the mesh. The result is replicated."""
  w = jnp.ones(x.shape[0], jnp.float32) if weights is None else weights

  def local(x_part, w_part):
    return all_reduce_moments(moments(x_part, w_part), axis_name)

  return jax.shard_map(local, mesh=mesh, in_specs=(P(axis_name), P(axis_name)), out_specs=P())(x, w)


def fit_from_moments(m: Moments, config, *, num_rows: int) -> PCAParams:
  """PCA from accumulated moments: eigh of C = M / (n − 1). `num_rows` (static) fixes min(N, D) for k."""
  d = m.mean.shape[0]
  k = num_components(config, num_rows, d)
  covariance = m.scatter / (m.count - 1.0)
  eigenvalues, eigenvectors = jnp.linalg.eigh(covariance)  # ascending
  # PSD by construction; rounding can leave tiny negative eigenvalues (sklearn clips them too).
  eigenvalues = jnp.maximum(eigenvalues[::-1], 0.0)
  vt = eigenvectors[:, ::-1].T
  total_variance = jnp.trace(covariance)
  return _params(m.mean, eigenvalues[:k], _flip_signs(vt[:k]), total_variance, num_rows, d, config.whiten)


# Helpers -------------------------------------------------------------------------------------------------

def _params(mean, explained_variance, components, total_variance, n, d, whiten) -> PCAParams:
  k = components.shape[0]
  rank = min(n, d)
  discarded = jnp.maximum(total_variance - jnp.sum(explained_variance), 0.0)
  noise_variance = discarded / (rank - k) if k < rank else jnp.float32(0.0)
  scale = jnp.maximum(jnp.sqrt(explained_variance), _EPS) if whiten else jnp.ones(k, jnp.float32)
  return PCAParams(mean=mean, components=components, explained_variance=explained_variance,
                   explained_variance_ratio=explained_variance / total_variance,
                   singular_values=jnp.sqrt(explained_variance * (n - 1)),
                   noise_variance=jnp.asarray(noise_variance, jnp.float32), scale=scale)


def _flip_signs(vt: jax.Array) -> jax.Array:
  """sklearn's svd_flip(u_based_decision=False): each row's largest-|·| entry made positive."""
  pivot = jnp.take_along_axis(vt, jnp.argmax(jnp.abs(vt), axis=1)[:, None], axis=1)
  return vt * jnp.where(pivot < 0, -1.0, 1.0)


def _randomized_svd(key, xc, k, config):
  """s (l,), Vᵀ (l, D) of X_c's top l = k + oversamples singular triplets (Halko et al. Alg. 4.4)."""
  n, d = xc.shape
  sketch = min(k + config.n_oversamples, n, d)
  q_steps = config.power_iterations
  if q_steps is None:  # sklearn's iterated_power="auto"
    q_steps = 7 if k < 0.1 * min(n, d) else 4
  omega = jax.random.normal(key, (d, sketch), jnp.float32)
  q, _ = jnp.linalg.qr(jnp.dot(xc, omega, precision=_HIGHEST))

  def power_step(q, _):
    # Re-orthonormalise after each product so the sketch does not collapse onto the top singular vector.
    q_row, _ = jnp.linalg.qr(jnp.dot(xc.T, q, precision=_HIGHEST))
    q, _ = jnp.linalg.qr(jnp.dot(xc, q_row, precision=_HIGHEST))
    return q, None

  q, _ = jax.lax.scan(power_step, q, None, length=q_steps)
  b = jnp.dot(q.T, xc, precision=_HIGHEST)  # (l, D): X_c ≈ Q·B
  _, s, vt = jnp.linalg.svd(b, full_matrices=False)
  return s, vt
