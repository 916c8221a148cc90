"""k-means clustering, as scikit-learn's `KMeans(algorithm="lloyd")` and `MiniBatchKMeans` define it.

With rows x_i ∈ R^D (weights w_i; 1 unless padding) and K centres c_k, k-means minimises the inertia

    J(c) = Σ_i w_i · min_k ‖x_i − c_k‖²,

the within-cluster sum of squares. Everything runs on data centred on its mean (as sklearn does), so the
distance expansion below does not cancel away the precision of data far from the origin.

Initialisation (config.init): "k-means++" (Arthur & Vassilvitskii 2007) picks the first centre uniformly,
then each next one with probability ∝ D(x)², the squared distance to the nearest centre so far, taking
the best of 2 + ⌊ln K⌋ such candidates by the inertia it leaves (sklearn's greedy variant); "random" picks
K distinct rows. config.n_init initialisations run side by side under `vmap`; the one of least final
inertia wins.

Lloyd's algorithm alternates, inside one `lax.while_loop`,
    assignment: l_i = argmin_k ‖x_i − c_k‖² = argmin_k (½‖c_k‖² − x_i·c_k)   (‖x_i‖² is the same for all k)
    update:     c_k = Σ_{l_i = k} w_i x_i / Σ_{l_i = k} w_i
until the labels stop changing, or the squared centre shift Σ_k ‖c_k^new − c_k^old‖² ≤ tol · mean_d Var(x_d)
(sklearn's scaled tolerance), or config.max_iter iterations. A cluster left empty takes the point farthest
from its centre, as in sklearn. The assignment is a `lax.scan` over row chunks of config.chunk_size: each
chunk is one (K×D)·(D×R) matmul whose K×R scores stay in cache and are reduced right away to labels and
minima (a min over the major axis, then the first index reaching it: both vectorise along the rows); the
N×K distance matrix never exists, so 1M×64 rows with K=100 need the data plus ~10 MB. The update is a
`segment_sum` of the rows by label.

Hamerly's bounds (config.algorithm="hamerly", Hamerly 2010): the same iterations, labels, centres, stopping
rule and relocation as Lloyd's (so sklearn's Lloyd result), with fewer distances. Each row keeps an upper
bound u_i ≥ ‖x_i − c_{l_i}‖ and a lower bound l_i ≤ min_{k≠l_i} ‖x_i − c_k‖; when centres move by p_k,
u_i += p_{l_i} and l_i −= max_{k≠l_i} p_k (triangle inequality), and a row whose u_i ≤ max(l_i, ½ min_{k≠l_i}
‖c_{l_i} − c_k‖) provably keeps its label. Only the other rows are recomputed: packed to the front of an
index list (a prefix sum gives each its slot), taken a chunk at a time in a `lax.while_loop` whose trip
count is the number of such rows; the sums move by the rows that change label. When more than 85% of the
rows fail the test (the first iterations) every row gets new bounds in plain chunks from bfloat16 scores
(float32 sums; ~25% cheaper), widened by their proven error, and the rows those leave in doubt are
recomputed in float32 as above. All bounds are widened by the rounding error of the scores, so a skipped
row is one Lloyd's float32 scores would not move. The
`n_init` starts run one after another (`lax.map`): under `vmap` both branches of the conds would run.
The rows are centred chunk by chunk here (no centred copy of the data) and, when a chunk size in
[chunk_size/2, chunk_size] divides the rows of each shard, not padded either.

Sharding: with a `mesh`, rows are split over its data axis; each device assigns its own rows and the
per-device sums, counts, inertia and label changes (K×D numbers, not rows) are `psum`med over the mesh
inside `jax.shard_map`, so every device holds the same centres and 8 devices give 1 device's result
(to float rounding of the sums).

Mini-batch k-means (config.algorithm="minibatch", Sculley 2010 as in sklearn's MiniBatchKMeans): each
step draws config.batch_size rows, assigns them, and moves each centre to the running mean of every row
ever assigned to it, c_k ← (n_k·c_k + Σ_batch x) / (n_k + b_k). It runs config.max_iter epochs of steps
(sklearn's early stopping on a smoothed inertia and its random reassignment of tiny clusters are not
implemented), then reports the inertia of all rows.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import PartitionSpec as P

from dljax.classic import validate
from dljax.errors import UserError

INITS = ("k-means++", "random")
ALGORITHMS = ("lloyd", "hamerly", "minibatch")
# float32 products at full precision: TPUs/GPUs would otherwise round matmul inputs to bf16/tf32.
_HIGHEST = jax.lax.Precision.HIGHEST


class KMeansParams(NamedTuple):
  centers: jax.Array   # (K, D) float32 — sklearn's cluster_centers_
  inertia: jax.Array   # () Σ_i min_k ‖x_i − c_k‖² on the training rows — sklearn's inertia_
  n_iter: jax.Array    # () int32: Lloyd iterations (mini-batch: steps) of the winning run — sklearn's n_iter_


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """sklearn's KMeans defaults (k-means++, one init, 300 iterations, tol 1e-4), with `overrides` applied."""
  c = ml_collections.ConfigDict()
  c.n_clusters = 8
  c.init = "k-means++"     # k-means++ | random
  c.n_init = 1             # initialisations run under vmap; the least inertia wins
  c.max_iter = 300         # lloyd: iterations; minibatch: epochs of batch steps
  c.tol = 1e-4             # relative to the mean feature variance, as sklearn's
  c.algorithm = "lloyd"    # lloyd | hamerly (Lloyd's iterations, fewer distances) | minibatch
  c.batch_size = 1024      # minibatch: rows per step
  c.chunk_size = 4096      # rows per assignment matmul: its K×R scores stay in L2 (benchmarks/kmeans.py)
  return validate.typed_config(c, overrides, "kmeans")


def check_config(config, *, num_rows: int) -> None:
  if not 1 <= config.n_clusters <= num_rows:
    raise UserError(f"n_clusters={config.n_clusters}: give 1..{num_rows} clusters (at most one per row of x)")
  if config.init not in INITS:
    raise UserError(f"init={config.init!r}: use one of {', '.join(INITS)}")
  if config.algorithm not in ALGORITHMS:
    raise UserError(f"algorithm={config.algorithm!r}: use one of {', '.join(ALGORITHMS)}")
  for name in ("n_init", "max_iter", "batch_size", "chunk_size"):
    if getattr(config, name) < 1:
      raise UserError(f"{name}={getattr(config, name)}: give a positive number")
  if not config.tol >= 0:  # `not >=` also catches NaN
    raise UserError(f"tol={config.tol}: give a tolerance >= 0 (0 runs max_iter iterations unless labels settle)")


def check_inputs(x, config, init_centers=None) -> None:
  """Raises UserError (one line, naming the fix) when `fit(key, x, config)` would be meaningless."""
  validate.check_x(x)
  check_config(config, num_rows=len(x))
  if init_centers is not None:
    shape = np.shape(init_centers)
    if shape != (config.n_clusters, x.shape[1]):
      raise UserError(f"init_centers has shape {shape}; give ({config.n_clusters}, {x.shape[1]}) "
                      "(n_clusters rows of x's width)")
    validate.check_x(init_centers)


# Assignment --------------------------------------------------------------------------------------------

def _scores(centers, x_chunk):
  """½‖c_k‖² − c_k·x_r for a chunk, (K, R): argmin over k is the nearest centre, and ‖x−c‖² = ‖x‖² + 2·min."""
  half_sq = 0.5 * jnp.sum(centers * centers, axis=1)
  products = jax.lax.dot_general(centers, x_chunk, (((1,), (1,)), ((), ())), precision=_HIGHEST)
  return half_sq[:, None] - products


def _first_at_min(scores):
  """(labels as float32, minima) per column: the first k reaching the column's minimum, as argmin does.
  Two float reductions over the major axis vectorise along the rows (a variadic argmin reduce does not,
  and an int32 min reduce is ~10% slower on CPU); k < 2²⁴ is exact in float32."""
  k = scores.shape[0]
  minima = jnp.min(scores, axis=0)
  rows = jnp.arange(k, dtype=jnp.float32 if k < 2 ** 24 else jnp.int32)[:, None]
  return jnp.min(jnp.where(scores == minima, rows, k), axis=0), minima


def _nearest(scores):
  """(labels, minima) per column: the first k reaching the column's minimum, as argmin does."""
  labels, minima = _first_at_min(scores)
  return labels.astype(jnp.int32), minima


def _chunked(x, chunk):
  return x.reshape(x.shape[0] // chunk, chunk, x.shape[1])


def assign(centers, x, chunk):
  """labels (N,) int32 and half_min (N,) = min_k ½‖c_k‖² − x·c_k, one chunk of rows at a time.
  N must be a multiple of `chunk`."""
  def one_chunk(_, x_chunk):
    return None, _nearest(_scores(centers, x_chunk))
  _, (labels, half_min) = jax.lax.scan(one_chunk, None, _chunked(x, chunk))
  return labels.reshape(-1), half_min.reshape(-1)


def _exact_inertia_terms(centers, x, labels, chunk, mean=0.0):
  """‖x_i − mean − c_{l_i}‖² per row by direct differences (no cancellation), chunk by chunk."""
  def one_chunk(_, part):
    x_chunk, l_chunk = part
    diff = (x_chunk - mean) - centers[jnp.minimum(l_chunk, centers.shape[0] - 1)]
    return None, jnp.sum(diff * diff, axis=1)
  _, terms = jax.lax.scan(one_chunk, None, (_chunked(x, chunk), labels.reshape(-1, chunk)))
  return terms.reshape(-1)


# Lloyd on one device's rows (psum over `axis_name` joins the devices) ----------------------------------

def _psum(value, axis_name):
  return value if axis_name is None else jax.lax.psum(value, axis_name)


def _cluster_sums(x, labels, k):
  """Σ x and row counts per label; label k (padding) falls in an extra bucket that is dropped."""
  sums = jax.ops.segment_sum(x, labels, num_segments=k + 1)[:k]
  counts = jax.ops.segment_sum(jnp.ones(labels.shape, jnp.float32), labels, num_segments=k + 1)[:k]
  return sums, counts


def _relocate_empty(sums, counts, x, labels, sq_dist, axis_name):
  """sklearn's _relocate_empty_clusters: each empty cluster takes the next-farthest point from its own
  centre (farthest first), which leaves its old cluster. Candidates: each device's K farthest rows."""
  k = counts.shape[0]
  top = min(k, x.shape[0])
  far_dist, far_idx = jax.lax.top_k(sq_dist, top)
  far_x, far_label = x[far_idx], labels[far_idx]
  if axis_name is not None:  # the mesh-wide K farthest among every device's K farthest
    far_dist, far_x, far_label = (jax.lax.all_gather(a, axis_name, tiled=True) for a in (far_dist, far_x, far_label))
    far_dist, pick = jax.lax.top_k(far_dist, top)
    far_x, far_label = far_x[pick], far_label[pick]
  empty = counts == 0
  rank = jnp.clip(jnp.cumsum(empty) - 1, 0, top - 1)  # i-th empty cluster takes the i-th farthest point
  moved = empty & (jnp.cumsum(empty) <= top)
  donor_x, donor = far_x[rank], jnp.where(moved, far_label[rank], k)
  sums = jnp.where(moved[:, None], donor_x, sums) - jax.ops.segment_sum(
      jnp.where(moved[:, None], donor_x, 0.0), donor, num_segments=k + 1)[:k]
  counts = jnp.where(moved, 1.0, counts) - jax.ops.segment_sum(moved.astype(jnp.float32), donor,
                                                               num_segments=k + 1)[:k]
  return sums, counts


class _LloydState(NamedTuple):
  centers: jax.Array
  labels: jax.Array
  n_iter: jax.Array
  shift: jax.Array
  settled: jax.Array   # labels unchanged by the last iteration: sklearn's strict convergence


def _assign_and_sum(x, valid, centers, old_labels, chunk):
  """One Lloyd assignment pass over this device's rows, fused per chunk while the chunk is in cache:
  labels (padding rows get label K), half_min, per-cluster sums and counts, and how many labels changed."""
  k, d = centers.shape

  def one_chunk(carry, part):
    sums, counts, changed = carry
    x_chunk, valid_chunk, old_chunk = part
    labels, half_min = _nearest(_scores(centers, x_chunk))
    labels = jnp.where(valid_chunk, labels, k)
    sums = sums + jax.ops.segment_sum(x_chunk, labels, num_segments=k + 1)
    counts = counts + jax.ops.segment_sum(jnp.ones(chunk, jnp.float32), labels, num_segments=k + 1)
    changed = changed + jnp.sum(labels != old_chunk)
    return (sums, counts, changed), (labels, half_min)

  zeros = (jnp.zeros((k + 1, d), jnp.float32), jnp.zeros(k + 1, jnp.float32), jnp.int32(0))
  parts = (_chunked(x, chunk), valid.reshape(-1, chunk), old_labels.reshape(-1, chunk))
  (sums, counts, changed), (labels, half_min) = jax.lax.scan(one_chunk, zeros, parts)
  return labels.reshape(-1), half_min.reshape(-1), sums[:k], counts[:k], changed


def _lloyd(x, valid, sq_norms, centers, tol, max_iter, chunk, axis_name):
  """Lloyd iterations from `centers` on this device's (centred, padded) rows; returns (centers, n_iter)."""

  def iterate(s: _LloydState) -> _LloydState:
    labels, half_min, sums, counts, changed = _assign_and_sum(x, valid, s.centers, s.labels, chunk)
    sums, counts, changed = (_psum(a, axis_name) for a in (sums, counts, changed))

    def relocate():
      sq_dist = jnp.where(valid, sq_norms + 2.0 * half_min, -jnp.inf)  # ‖x − c_l‖² = ‖x‖² + 2·half_min
      return _relocate_empty(sums, counts, x, labels, sq_dist, axis_name)

    sums, counts = jax.lax.cond(jnp.any(counts == 0), relocate, lambda: (sums, counts))
    centers = sums / jnp.maximum(counts, 1.0)[:, None]
    return _LloydState(centers=centers, labels=labels, n_iter=s.n_iter + 1,
                       shift=jnp.sum((centers - s.centers) ** 2), settled=changed == 0)

  def running(s: _LloydState):
    return (s.n_iter < max_iter) & ~s.settled & ~(s.shift <= tol)

  first = _LloydState(centers=centers, labels=jnp.full(x.shape[0], -1, jnp.int32), n_iter=jnp.int32(0),
                      shift=jnp.float32(jnp.inf), settled=jnp.bool_(False))
  final = jax.lax.while_loop(running, iterate, first)
  return final.centers, final.n_iter


def _inertia(x, valid, centers, chunk, axis_name):
  """Σ_i min_k ‖x_i − c_k‖² over the valid rows of the mesh, by direct differences."""
  labels, _ = assign(centers, x, chunk)
  terms = _exact_inertia_terms(centers, x, labels, chunk)
  return _psum(jnp.sum(jnp.where(valid, terms, 0.0)), axis_name)


# Hamerly's bounds: Lloyd's iterations with fewer distances -----------------------------------------------

# Rounding slack. A float32 score ½‖c‖² − x·c over D ≤ a few thousand features is off by far less than
# 2⁻¹⁴·(‖x‖² + ‖c‖²) (the dot product's worst-case error γ_D·‖x‖‖c‖); each bound update is one rounded
# addition, widened by 2⁻²⁰ relative.
_SCORE_ERROR = 2.0 ** -14
_WIDEN, _NARROW = 1.0 + 2.0 ** -20, 1.0 - 2.0 ** -20


def _bf16_score_error(num_features):
  """Relative error bound of a score from bfloat16 inputs (8 significant bits, rounded to nearest) summed in
  float32: each product x_d·c_d is off by at most (2·2⁻⁸ + 2⁻¹⁶)|x_d·c_d|, so the dot product by
  (2⁻⁷ + 2⁻¹⁶)‖x‖‖c‖ (Cauchy–Schwarz), plus the float32 sum's γ_D ≈ D·2⁻²⁴ of Σ|x_d·c_d| (doubled for safety)."""
  return 2.0 ** -7 + 2.0 ** -16 + num_features * 2.0 ** -23


# Above this fraction of rows failing the test, all rows are recomputed in plain chunks (no gathers, no scatters:
# the packed path costs about as much per row, plus ~8 ms per million rows; benchmarks/kmeans.py).
_DENSE_FRACTION = 0.85


class _HamerlyState(NamedTuple):
  centers: jax.Array
  labels: jax.Array    # (N,) nearest centre of each row (K for padding rows)
  upper: jax.Array     # (N,) u_i ≥ ‖x_i − c_{l_i}‖
  lower: jax.Array     # (N,) l_i ≤ min_{k ≠ l_i} ‖x_i − c_k‖
  sums: jax.Array      # (K, D) Σ x over this device's rows of each label
  counts: jax.Array    # (K,) rows of each label on this device
  n_iter: jax.Array
  shift: jax.Array
  settled: jax.Array


def _nearest_two(scores):
  """(labels, best, second): the nearest centre of each column, its score and the next-best score."""
  labels, best = _first_at_min(scores)
  rows = jnp.arange(scores.shape[0], dtype=labels.dtype)[:, None]
  second = jnp.min(jnp.where(rows == labels[None, :], jnp.inf, scores), axis=0)
  return labels.astype(jnp.int32), best, second


def _distance_bounds(sq_norms, best, second, max_center_sq):
  """(upper, lower) on the distances to the nearest and next-nearest centre, ‖x − c‖² = ‖x‖² + 2·score,
  widened by the scores' rounding error so that a row they clear is the one Lloyd's scores would pick."""
  slack = _SCORE_ERROR * (sq_norms + max_center_sq)
  return (jnp.sqrt(jnp.maximum(sq_norms + 2.0 * best, 0.0) + slack),
          jnp.sqrt(jnp.maximum(sq_norms + 2.0 * second - slack, 0.0)))


def _label_sums(x, labels, k):
  """Σ x and row counts per label (K+1 buckets: label K collects the rows that must not count)."""
  return (jax.ops.segment_sum(x, labels, num_segments=k + 1),
          jax.ops.segment_sum(jnp.ones(labels.shape, jnp.float32), labels, num_segments=k + 1))


def _hamerly_dense(x, mean, valid, sq_norms, centers, chunk):
  """Every row's nearest centre and bounds, chunk by chunk as in Lloyd: (labels, upper, lower, sums, counts),
  from bfloat16 scores (the pass is ~25% cheaper on CPU). The bounds carry the bfloat16 error, so a row whose
  nearest centre is in doubt fails Hamerly's test and `_hamerly_assign` recomputes it in float32."""
  k, d = centers.shape
  half_sq = 0.5 * jnp.sum(centers * centers, axis=1)
  narrow_centers = centers.astype(jnp.bfloat16)
  max_center_sq = 2.0 * jnp.max(half_sq)

  def one_chunk(carry, part):
    x_chunk, valid_chunk, sq_chunk = part
    x_chunk = x_chunk - mean
    products = jax.lax.dot_general(narrow_centers, x_chunk.astype(jnp.bfloat16), (((1,), (1,)), ((), ())),
                                   preferred_element_type=jnp.float32)
    new, best, second = _nearest_two(half_sq[:, None] - products)
    error = _bf16_score_error(d) * jnp.sqrt(sq_chunk * max_center_sq)  # |bf16 score − score| ≤ this
    new = jnp.where(valid_chunk, new, k)
    sums, counts = _label_sums(x_chunk, new, k)
    bounds = _distance_bounds(sq_chunk, best + error, second - error, max_center_sq)
    return (carry[0] + sums, carry[1] + counts), (new, *bounds)

  zeros = (jnp.zeros((k + 1, d), jnp.float32), jnp.zeros(k + 1, jnp.float32))
  parts = (_chunked(x, chunk), valid.reshape(-1, chunk), sq_norms.reshape(-1, chunk))
  (sums, counts), (new, upper, lower) = jax.lax.scan(one_chunk, zeros, parts)
  return new.reshape(-1), upper.reshape(-1), lower.reshape(-1), sums[:k], counts[:k]


def _hamerly_sparse(x, mean, need, sq_norms, centers, labels, upper, lower, sums, counts, chunk):
  """Recomputes only the rows in `need`: they are packed to the front of an index list (a prefix sum gives
  each its slot) and taken `chunk` at a time in a while loop, whose results are scattered back once at the
  end; the sums move by the rows that change label."""
  n, k = x.shape[0], centers.shape[0]
  max_center_sq = jnp.max(jnp.sum(centers * centers, axis=1))
  slot = jax.lax.associative_scan(jnp.add, need.astype(jnp.int32)) - 1
  # Needed rows first; the tail holds n, an index every gather clamps, every scatter drops and `live` masks.
  order = jnp.full(n + chunk, n, jnp.int32).at[jnp.where(need, slot, n + chunk)].set(
      jnp.arange(n, dtype=jnp.int32), mode="drop")
  count = jnp.sum(need)

  def one_chunk(carry):
    start, packed, sums, counts = carry
    rows = jax.lax.dynamic_slice_in_dim(order, start, chunk)
    live = rows < n
    safe = jnp.minimum(rows, n - 1)
    x_chunk, old = x[safe] - mean, labels[safe]
    new, best, second = _nearest_two(_scores(centers, x_chunk))
    moved = live & (new != old)
    gained = _label_sums(x_chunk, jnp.where(moved, new, k), k)
    lost = _label_sums(x_chunk, jnp.where(moved, old, k), k)
    sums = sums + gained[0][:k] - lost[0][:k]
    counts = counts + gained[1][:k] - lost[1][:k]
    results = (new, *_distance_bounds(sq_norms[safe], best, second, max_center_sq))
    packed = tuple(jax.lax.dynamic_update_slice_in_dim(p, r, start, 0) for p, r in zip(packed, results))
    return start + chunk, packed, sums, counts

  packed = (jnp.zeros(n + chunk, jnp.int32), jnp.zeros(n + chunk, jnp.float32), jnp.zeros(n + chunk, jnp.float32))
  _, packed, sums, counts = jax.lax.while_loop(lambda c: c[0] < count, one_chunk,
                                               (jnp.int32(0), packed, sums, counts))
  labels, upper, lower = (a.at[order].set(p, mode="drop")
                          for a, p in zip((labels, upper, lower), packed))
  return labels, upper, lower, sums, counts


def _hamerly_assign(s: _HamerlyState, x, mean, valid, sq_norms, chunk, dense_fraction):
  """Lloyd's assignment step with Hamerly's test (Hamerly 2010): row i keeps its label when
      u_i ≤ max(l_i, ½ min_{k ≠ l_i} ‖c_{l_i} − c_k‖),
  for then no other centre can be nearer; only the other rows are recomputed (all of them, chunk by chunk,
  when more than `dense_fraction` of the rows need it). Returns the state's new labels, bounds, sums, counts
  and how many labels changed."""
  between = jnp.sqrt(jnp.sum((s.centers[:, None, :] - s.centers[None, :, :]) ** 2, axis=-1))
  between = jnp.where(jnp.eye(s.centers.shape[0], dtype=bool), jnp.inf, between)
  half_gap = jnp.append(0.5 * _NARROW * jnp.min(between, axis=1), jnp.inf)  # padding rows (label K) stay
  unassigned = s.labels < 0  # before the first iteration
  need = valid & (unassigned | (s.upper > jnp.maximum(s.lower, half_gap[jnp.maximum(s.labels, 0)])))
  dense = jnp.sum(need) > dense_fraction * x.shape[0]

  def all_rows():  # bfloat16 bounds for every row, then float32 scores for the rows they leave in doubt
    labels, upper, lower, sums, counts = _hamerly_dense(x, mean, valid, sq_norms, s.centers, chunk)
    doubt = valid & (upper > jnp.maximum(lower, half_gap[labels]))
    return _hamerly_sparse(x, mean, doubt, sq_norms, s.centers, labels, upper, lower, sums, counts, chunk)

  labels, upper, lower, sums, counts = jax.lax.cond(
      dense, all_rows,
      lambda: _hamerly_sparse(x, mean, need, sq_norms, s.centers, s.labels, s.upper, s.lower, s.sums, s.counts, chunk))
  return labels, upper, lower, sums, counts, jnp.sum(labels != s.labels)


def _hamerly(x, mean, valid, sq_norms, centers, tol, max_iter, chunk, axis_name, dense_fraction):
  """Lloyd's iterations (same labels, centres, stopping rule and empty-cluster relocation as `_lloyd`) that
  carry Hamerly's bounds; returns (centers, labels and bounds for them, n_iter)."""
  k = centers.shape[0]

  def iterate(s: _HamerlyState) -> _HamerlyState:
    labels, upper, lower, sums, counts, changed = _hamerly_assign(s, x, mean, valid, sq_norms, chunk, dense_fraction)
    total_sums, total_counts, changed = (_psum(a, axis_name) for a in (sums, counts, changed))

    def relocate():  # rare: exact distances of every row to its centre, as `_lloyd` has them
      centred = x - mean
      _, half_min = assign(s.centers, centred, chunk)
      sq_dist = jnp.where(valid, sq_norms + 2.0 * half_min, -jnp.inf)
      return _relocate_empty(total_sums, total_counts, centred, labels, sq_dist, axis_name)

    total_sums, total_counts = jax.lax.cond(jnp.any(total_counts == 0), relocate,
                                            lambda: (total_sums, total_counts))
    new_centers = total_sums / jnp.maximum(total_counts, 1.0)[:, None]
    # Triangle inequality: a centre moving by p_k moves its distance to any row by at most p_k.
    moved_by = _WIDEN * jnp.sqrt(jnp.sum((new_centers - s.centers) ** 2, axis=1))
    top2, top2_at = jax.lax.top_k(moved_by, min(2, k))
    others_max = jnp.where(labels == top2_at[0], top2[-1] if k > 1 else 0.0, top2[0])
    upper = _WIDEN * (upper + jnp.append(moved_by, 0.0)[labels])
    lower = _NARROW * (lower - others_max)
    return _HamerlyState(centers=new_centers, labels=labels, upper=upper, lower=lower, sums=sums, counts=counts,
                         n_iter=s.n_iter + 1, shift=jnp.sum((new_centers - s.centers) ** 2), settled=changed == 0)

  def running(s: _HamerlyState):
    return (s.n_iter < max_iter) & ~s.settled & ~(s.shift <= tol)

  n, d = x.shape
  first = _HamerlyState(centers=centers, labels=jnp.full(n, -1, jnp.int32),
                        upper=jnp.full(n, jnp.inf), lower=jnp.zeros(n), sums=jnp.zeros((k, d)),
                        counts=jnp.zeros(k), n_iter=jnp.int32(0), shift=jnp.float32(jnp.inf),
                        settled=jnp.bool_(False))
  return jax.lax.while_loop(running, iterate, first)


def _hamerly_inertia(s: _HamerlyState, x, mean, valid, sq_norms, chunk, dense_fraction, axis_name):
  """The final centres' inertia: labels by one more bounded assignment, then direct differences."""
  labels = _hamerly_assign(s, x, mean, valid, sq_norms, chunk, dense_fraction)[0]
  terms = _exact_inertia_terms(s.centers, x, labels, chunk, mean)
  return _psum(jnp.sum(jnp.where(valid, terms, 0.0)), axis_name)


# Initialisation ------------------------------------------------------------------------------------------

def kmeans_plusplus(key, x, n_clusters, num_valid=None):
  """k-means++ centres (K, D): D² sampling with 2 + ⌊ln K⌋ greedy candidates per centre (sklearn's
  _kmeans_plusplus). Rows from `num_valid` on (padding) are never picked."""
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  num_valid = n if num_valid is None else num_valid
  w = (jnp.arange(n) < num_valid).astype(jnp.float32)
  trials = 2 + int(math.log(n_clusters))
  sq_norms = jnp.sum(x * x, axis=1)

  def sq_dists_to(rows):  # (T, N) squared distances of `rows` to every row of x
    products = jnp.dot(rows, x.T, precision=_HIGHEST)
    return jnp.maximum(jnp.sum(rows * rows, axis=1)[:, None] - 2.0 * products + sq_norms[None, :], 0.0)

  first_key, key = jax.random.split(key)
  first = jax.random.randint(first_key, (), 0, num_valid)
  closest = sq_dists_to(x[first][None])[0]
  centers = jnp.zeros((n_clusters, x.shape[1]), jnp.float32).at[0].set(x[first])

  def add_center(c, carry):
    centers, closest = carry
    cumulative = jnp.cumsum(w * closest)
    draws = jax.random.uniform(jax.random.fold_in(key, c), (trials,)) * cumulative[-1]
    candidates = jnp.minimum(jnp.searchsorted(cumulative, draws), num_valid - 1)
    # Each candidate's potential: the inertia left if it joined; keep the least (the greedy step).
    with_candidate = jnp.minimum(closest[None, :], sq_dists_to(x[candidates]))
    best = jnp.argmin(jnp.dot(with_candidate, w, precision=_HIGHEST))
    return centers.at[c].set(x[candidates[best]]), with_candidate[best]

  centers, _ = jax.lax.fori_loop(1, n_clusters, add_center, (centers, closest))
  return centers


def random_init(key, x, n_clusters, num_valid=None):
  """K distinct rows drawn uniformly among the first `num_valid` (all when None)."""
  num_valid = x.shape[0] if num_valid is None else num_valid
  return jnp.asarray(x, jnp.float32)[jax.random.choice(key, num_valid, (n_clusters,), replace=False)]


def _init_centers(key, x, num_valid, config):
  make = kmeans_plusplus if config.init == "k-means++" else random_init
  keys = jax.random.split(key, config.n_init)
  return jax.vmap(lambda k: make(k, x, config.n_clusters, num_valid))(keys)


# Fit -----------------------------------------------------------------------------------------------------

def _layout(num_rows, num_shards, chunk_size):
  """(chunk, rows per shard): shards padded to a whole number of chunks."""
  per_shard = -(-num_rows // num_shards)
  chunk = min(chunk_size, -(-per_shard // 8) * 8)
  return chunk, -(-per_shard // chunk) * chunk


def _unpadded_layout(num_rows, num_shards, chunk_size):
  """(chunk, rows per shard) with a chunk in [chunk_size/2, chunk_size] that divides each shard's rows, so
  the rows need no padded copy (1,000,000 rows: chunks of 4,000); `_layout` when there is none."""
  per_shard = num_rows // num_shards
  if num_rows % num_shards == 0:
    for chunk in range(min(chunk_size, per_shard), max(chunk_size // 2, 1) - 1, -1):
      if per_shard % chunk == 0:
        return chunk, per_shard
  return _layout(num_rows, num_shards, chunk_size)


def fit(key: jax.Array, x: jax.Array, config, *, mesh=None, axis_name: str = "data",
        init_centers: jax.Array | None = None) -> KMeansParams:
  """Cluster centres minimising the inertia (module docstring). With `mesh`, rows are sharded over its
  `axis_name` axis. `init_centers` (K, D) replaces config.init (one run, as sklearn's init=array)."""
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  num_shards = 1 if mesh is None else mesh.shape[axis_name]
  bounded = config.algorithm == "hamerly"
  chunk, per_shard = (_unpadded_layout if bounded else _layout)(n, num_shards, config.chunk_size)
  mean = jnp.mean(x, axis=0)
  # Centred (sklearn does the same: better distances in float32) and padded to whole chunks per shard.
  # Hamerly's path centres chunk by chunk instead (the same numbers, without a centred copy of the data).
  pad = ((0, num_shards * per_shard - n), (0, 0))
  xc = jnp.pad(x - mean, pad)
  valid = jnp.arange(num_shards * per_shard) < n
  if mesh is not None:
    row_sharding = jax.sharding.NamedSharding(mesh, P(axis_name))
    xc, valid = jax.lax.with_sharding_constraint((xc, valid), row_sharding)
  # sklearn's tolerance: tol × the mean over features of the data's variance.
  tol = config.tol * jnp.mean(jnp.sum(xc * xc, axis=0) / n)

  if config.algorithm == "minibatch":
    return _fit_minibatch(key, xc, valid, mean, n, config, chunk)

  if init_centers is None:
    starts = _init_centers(key, xc, n, config)
  else:
    starts = (jnp.asarray(init_centers, jnp.float32) - mean)[None]
  if bounded:  # the k-means++ starts and tol above read the centred copy; the iterations centre per chunk
    xc = x if pad[0][1] == 0 else jnp.pad(x, pad)
    if mesh is not None:
      xc = jax.lax.with_sharding_constraint(xc, row_sharding)

  def run_all(x_part, valid_part, starts):
    name = None if mesh is None else axis_name
    if bounded:  # x_part: uncentred rows
      sq_norms = jnp.sum((x_part - mean) ** 2, axis=1)
      # The same tolerance from these norms, Σ_i ‖x_i − x̄‖² / (n·D), with no second pass over the rows.
      bounded_tol = config.tol * _psum(jnp.sum(jnp.where(valid_part, sq_norms, 0.0)), name) / (n * x.shape[1])

      def run_one_bounded(start):
        final = _hamerly(x_part, mean, valid_part, sq_norms, start, bounded_tol, config.max_iter, chunk, name,
                         _DENSE_FRACTION)
        inertia = _hamerly_inertia(final, x_part, mean, valid_part, sq_norms, chunk, _DENSE_FRACTION, name)
        return final.centers, inertia, final.n_iter

      return jax.lax.map(run_one_bounded, starts)  # one start after another: vmap would run both cond branches

    sq_norms = jnp.sum(x_part * x_part, axis=1)

    def run_one(start):
      centers, n_iter = _lloyd(x_part, valid_part, sq_norms, start, tol, config.max_iter, chunk, name)
      return centers, _inertia(x_part, valid_part, centers, chunk, name), n_iter

    return jax.vmap(run_one)(starts)

  if mesh is not None:
    # check_vma=False: the empty-cluster branch mixes all_gather'ed (typed per-device) and psum'med values,
    # which are equal on every device by construction.
    run_all = jax.shard_map(run_all, mesh=mesh, in_specs=(P(axis_name), P(axis_name), P()), out_specs=P(),
                            check_vma=False)
  centers, inertias, n_iter = run_all(xc, valid, starts)
  best = jnp.argmin(inertias)
  return KMeansParams(centers=centers[best] + mean, inertia=inertias[best], n_iter=n_iter[best])


def _fit_minibatch(key, xc, valid, mean, n, config, chunk):
  """Mini-batch k-means (module docstring) on centred rows; the first n rows of xc are the data."""
  k, batch = config.n_clusters, config.batch_size
  init_key, init_rows_key, step_key = jax.random.split(key, 3)
  # sklearn's MiniBatchKMeans: candidates initialised and compared on a random subset of 3·batch rows.
  init_rows = xc[jax.random.randint(init_rows_key, (min(n, 3 * batch),), 0, n)]
  subset_chunk, subset_rows = _layout(init_rows.shape[0], 1, chunk)
  subset = jnp.pad(init_rows, ((0, subset_rows - init_rows.shape[0]), (0, 0)))
  subset_valid = jnp.arange(subset_rows) < init_rows.shape[0]
  starts = _init_centers(init_key, subset, init_rows.shape[0], config)
  subset_inertia = jax.vmap(lambda c: _inertia(subset, subset_valid, c, subset_chunk, None))(starts)
  centers = starts[jnp.argmin(subset_inertia)]
  batch_chunk, batch_rows = _layout(batch, 1, chunk)
  num_steps = max(1, config.max_iter * n // batch)

  def step(carry, i):
    centers, totals = carry
    rows = xc[jax.random.randint(jax.random.fold_in(step_key, i), (batch,), 0, n)]
    rows = jnp.pad(rows, ((0, batch_rows - batch), (0, 0)))
    labels, _ = assign(centers, rows, batch_chunk)
    labels = jnp.where(jnp.arange(batch_rows) < batch, labels, k)
    sums, counts = _cluster_sums(rows, labels, k)
    new_totals = totals + counts
    # Running mean of every row ever assigned: c ← (n_k·c + Σ_batch x) / (n_k + b_k).
    updated = (centers * totals[:, None] + sums) / jnp.maximum(new_totals, 1.0)[:, None]
    return (jnp.where((counts > 0)[:, None], updated, centers), new_totals), None

  (centers, _), _ = jax.lax.scan(step, (centers, jnp.zeros(k, jnp.float32)), jnp.arange(num_steps))
  inertia = _inertia(xc, valid, centers, chunk, None)
  return KMeansParams(centers=centers + mean, inertia=inertia, n_iter=jnp.int32(num_steps))


# Use -----------------------------------------------------------------------------------------------------

def predict(params: KMeansParams, x: jax.Array, chunk_size: int = 4096) -> jax.Array:
  """The index of each row's nearest centre, (N,) int32."""
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  chunk, rows = _layout(n, 1, chunk_size)
  labels, _ = assign(params.centers, jnp.pad(x, ((0, rows - n), (0, 0))), chunk)
  return labels[:n]


def inertia(centers: jax.Array, x: jax.Array, chunk_size: int = 4096) -> jax.Array:
  """Σ_i min_k ‖x_i − c_k‖² of rows x for the given centres."""
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  chunk, rows = _layout(n, 1, chunk_size)
  return _inertia(jnp.pad(x, ((0, rows - n), (0, 0))), jnp.arange(rows) < n, jnp.asarray(centers, jnp.float32),
                  chunk, None)
