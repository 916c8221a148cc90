"""Support-vector classification (scikit-learn's SVC): hinge loss on a linear, RBF or polynomial kernel.

Binary problem, labels y_i ∈ {−1, +1}, feature map φ with k(x, x') = φ(x)·φ(x') (kernels.py):

  primal   min_{w,b}  ½‖w‖² + C Σ_i max(0, 1 − y_i (w·φ(x_i) + b))
  dual     min_α      ½ αᵀQα − eᵀα    s.t.  yᵀα = 0,  0 ≤ α_i ≤ C,   Q_ij = y_i y_j k(x_i, x_j)
  decision f(x) = Σ_i y_i α_i k(x_i, x) − ρ       (rows with α_i > 0 are the support vectors)

The dual is solved by SMO as libsvm solves it (Fan, Chen & Lin, JMLR 2005), in the general form
min ½ αᵀQα + pᵀα that svr.py reuses (here p = −e). With the gradient G = Qα + p and the index sets

  I_up  = {t : y_t = +1, α_t < C  or  y_t = −1, α_t > 0}
  I_low = {t : y_t = +1, α_t > 0  or  y_t = −1, α_t < C},

each step picks the maximal violating i = argmax_{I_up} −y_t G_t and, by second-order information,
j = argmin_{t ∈ I_low, b_t > 0} −b_t² / a_t with b_t = −y_i G_i + y_t G_t and a_t = K_ii + K_tt − 2K_it,
then moves α_i += y_i λ, α_j −= y_j λ (which keeps yᵀα = 0) by the exact minimiser λ = b_j / a_j clipped
to the box, and updates G += λ y ⊙ (K_:i − K_:j). It stops when the KKT gap
max_{I_up} −y_t G_t − min_{I_low} −y_t G_t < tol (libsvm's eps, 1e-3) or after max_iter steps. ρ is the
mean of y_t G_t over the free α_t (0 < α_t < C), else the middle of its feasible interval, as libsvm.
The kernel matrix is precomputed once (N is at most a few thousand here), so a step costs O(N). The
state carries F = −y ⊙ G, by which both index sets are ranked; its update is F −= λ (K_:i − K_:j).

Multiclass is one-vs-one, scikit-learn SVC's scheme: one binary problem per pair of classes a < b (a is
the +1 class), prediction by votes (ties to the lower class). One-vs-one rather than one-vs-rest because it
reproduces SVC's support vectors and decisions, and each pair problem holds only two classes' rows, so
it converges in few steps. Shapes are fixed: when N > 512 and every class fits in a block of about N/K rows
(the block size is static, the class counts are data, so `lax.cond` picks the path), rows are laid out class
by class and problem (a, b) works on its 2·block rows only; otherwise every problem sees all N rows, a row outside
the pair boxed to 0 ≤ α ≤ 0 (in neither index set, it never moves). Both reach the same optimum. The
problems run one after another (`lax.map`), each `while_loop` for its own steps: batched in one loop, all
would step until the slowest is done. Every learned quantity is a fixed-shape array: all N dual
coefficients of every problem and a support mask.

Cost: the step counts equal libsvm's (digits: 4,441 steps over the 45 problems at C=1 against libsvm's
4,513; 5,898 against 5,894 at C=10), and a step is ~25 small XLA ops (~1.6 µs on 288 rows). Row
reductions are folded in halves first (`fold`): XLA:CPU reduces a row as one serial chain. The Gram
matrix (the K² class blocks, 1,440² on digits) is ~1/3 of the fit; libsvm computes kernel rows on demand.
"""

import functools
from typing import Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax import lax

from dljax.classic import kernels, validate
from dljax.errors import UserError

TASK = "classification"
_TAU = 1e-12  # libsvm's floor for the curvature a_t: a non-positive-definite pair still takes a step

_DEFAULTS = dict(num_classes=2, C=1.0, kernel="rbf", gamma="scale", degree=3, coef0=0.0, tol=1e-3,
                 max_iter=100_000)


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """SVC's defaults (C=1, RBF, gamma='scale', degree=3, coef0=0, tol=1e-3), any of them overridden.

  gamma may be 'scale', 'auto' or a positive number (hence a dict built whole, not field-typed updates).
  """
  return validate.merge_config(_DEFAULTS, overrides, "SVM")




def check_config(config) -> None:
  """Raises UserError for hyper-parameters no solver can use (static: safe inside a traced fit)."""
  if not config.C > 0:
    raise UserError(f"C={config.C} must be > 0: it weighs the hinge loss against the margin")
  if not config.tol > 0:
    raise UserError(f"tol={config.tol} must be > 0 (libsvm uses 1e-3)")
  if not config.max_iter >= 1:
    raise UserError(f"max_iter={config.max_iter} must be >= 1")
  kernels.check_kernel_config(config)




def check_inputs(x, y, config) -> None:
  """Raises UserError (one line, naming the fix) for inputs `fit` cannot learn from."""
  check_config(config)
  validate.check_xy(x, y)
  validate.check_labels(y, config.num_classes)


_BLOCK = 32  # the solver's length is a multiple of this (see `fold`)


def padded_length(n: int) -> int:
  """n rounded up to a multiple of _BLOCK, the length `smo` works on."""
  return -(-n // _BLOCK) * _BLOCK


def fold(v: jnp.ndarray, op) -> jnp.ndarray:
  """v (B, L) folded in halves by the elementwise op while the width is even and above _BLOCK.

  XLA:CPU reduces a row to a scalar as one serial chain (~1 ns per entry for a max); the halves are
  elementwise, so vectorised, and leave a chain of at most _BLOCK entries (the fold fuses into the reduce).
  """
  while v.shape[1] > _BLOCK and v.shape[1] % 2 == 0:
    half = v.shape[1] // 2
    v = op(v[:, :half], v[:, half:])
  return v


def row_max(v: jnp.ndarray) -> jnp.ndarray:
  return jnp.max(fold(v, jnp.maximum), axis=1)


def row_min(v: jnp.ndarray) -> jnp.ndarray:
  return jnp.min(fold(v, jnp.minimum), axis=1)


def argmax_first(v: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Per row of v (B, L): (the max, the first index holding it), as jnp.argmax.

  XLA:CPU runs jnp.argmax as a serial (value, index) reduction, ~5x slower than a folded max. So: the max,
  then the smallest position holding it (positions as floats: a float min vectorises, an int one did not).
  """
  top = row_max(v)
  positions = jnp.arange(v.shape[1], dtype=jnp.float32)
  return top, row_min(jnp.where(v == top[:, None], positions, v.shape[1])).astype(jnp.int32)


class SMOSolution(NamedTuple):
  alpha: jnp.ndarray   # (B, L) dual variables
  rho: jnp.ndarray     # (B,) offset: decision = Σ y_t α_t k(x_t, x) − ρ
  n_iter: jnp.ndarray  # (B,) int32 steps taken
  gap: jnp.ndarray     # (B,) final KKT gap; converged iff gap < tol


def smo(kernel_rows: Callable[[jnp.ndarray], jnp.ndarray], diag: jnp.ndarray, y: jnp.ndarray, p: jnp.ndarray,
        upper: jnp.ndarray, tol: float, max_iter: int) -> SMOSolution:
  """Minimises ½ αᵀQα + pᵀα s.t. yᵀα = 0, 0 ≤ α ≤ upper, Q_st = y_s y_t K_st (see the module docstring).

  Solves B problems at once: y, p, upper are (B, L) with y ∈ {−1, +1} and L a multiple of _BLOCK (pad
  with rows whose upper is 0: they take no part). kernel_rows(idx) (idx (B,) int32) returns row idx_b of
  problem b's kernel matrix for every b, as (B, L); diag (B, L) or (L,) is the diagonal. One
  `while_loop` steps every unfinished problem until all are done (a per-problem loop under vmap would
  carry a select of its whole state each step); a finished problem takes steps of length 0.
  """
  num, length = y.shape
  diag = jnp.broadcast_to(diag, y.shape)
  if length % _BLOCK:
    raise ValueError(f"smo: pad the {length} rows to a multiple of {_BLOCK} (see padded_length)")
  positions = jnp.arange(length)
  rows = kernel_rows

  def take(v, idx):
    return jnp.take_along_axis(v, idx[:, None], axis=1)[:, 0]

  # The state holds F = −y ⊙ G: the scores both index sets are ranked by, and y drops out of its update,
  # F −= λ (K_:i − K_:j) (y_t² = 1).
  def select_i(alpha, f):
    """The maximal violator i ∈ I_up and the KKT gap m(α) − M(α) (−inf when a set is empty), per problem."""
    up = jnp.where(y > 0, alpha < upper, alpha > 0)
    low = jnp.where(y > 0, alpha > 0, alpha < upper)
    top, i = argmax_first(jnp.where(up, f, -jnp.inf))
    return i, top - row_min(jnp.where(low, f, jnp.inf))

  def step(state):
    alpha, f, i, gap, n_iter = state
    running = (gap >= tol) & (n_iter < max_iter)
    low = jnp.where(y > 0, alpha > 0, alpha < upper)
    k_i = rows(i)                                                # (B, L)
    f_i, diag_i = take(f, i), take(diag, i)
    b = f_i[:, None] - f
    a = diag_i[:, None] + diag - 2.0 * k_i
    a = jnp.where(a > 0, a, _TAU)
    _, j = argmax_first(jnp.where(low & (b > 0), b * b / a, -jnp.inf))  # argmin of −b²/a
    y_i, y_j, alpha_i, alpha_j = take(y, i), take(y, j), take(alpha, i), take(alpha, j)
    upper_i, upper_j = take(upper, i), take(upper, j)
    a_j = jnp.maximum(diag_i + take(diag, j) - 2.0 * take(k_i, j), _TAU)
    # Room along d (d_i = y_i, d_j = −y_j) before α_i or α_j leaves [0, upper].
    room_i = jnp.where(y_i > 0, upper_i - alpha_i, alpha_i)
    room_j = jnp.where(y_j > 0, alpha_j, upper_j - alpha_j)
    lam = jnp.where(running, jnp.minimum((f_i - take(f, j)) / a_j, jnp.minimum(room_i, room_j)), 0.0)
    # A variable that reaches its bound is set to it exactly, so "α < C" stays exact after rounding.
    new_i = jnp.where(lam >= room_i, jnp.where(y_i > 0, upper_i, 0.0), alpha_i + y_i * lam)
    new_j = jnp.where(lam >= room_j, jnp.where(y_j > 0, 0.0, upper_j), alpha_j - y_j * lam)
    new_i, new_j = jnp.where(running, new_i, alpha_i), jnp.where(running, new_j, alpha_j)
    alpha = jnp.where(positions == i[:, None], new_i[:, None],
                      jnp.where(positions == j[:, None], new_j[:, None], alpha))
    f = f - lam[:, None] * (k_i - rows(j))
    i, gap = select_i(alpha, f)
    return alpha, f, i, gap, n_iter + running

  alpha0 = jnp.zeros_like(p)
  i0, gap0 = select_i(alpha0, -y * p)
  alpha, f, _, gap, n_iter = lax.while_loop(
      lambda s: jnp.any((s[3] >= tol) & (s[4] < max_iter)), step,
      (alpha0, -y * p, i0, gap0, jnp.zeros(num, jnp.int32)))

  # ρ as libsvm's calculate_rho (with y_t G_t = −F_t): free variables pin it exactly; otherwise the
  # bounded ones bracket it.
  yg = -f
  active = upper > 0
  at_upper, at_lower = alpha >= upper, alpha <= 0
  free = active & ~at_upper & ~at_lower
  ub = jnp.min(jnp.where(active & ((at_upper & (y < 0)) | (at_lower & (y > 0))), yg, jnp.inf), axis=1)
  lb = jnp.max(jnp.where(active & ((at_upper & (y > 0)) | (at_lower & (y < 0))), yg, -jnp.inf), axis=1)
  ub, lb = jnp.where(jnp.isfinite(ub), ub, lb), jnp.where(jnp.isfinite(lb), lb, ub)  # one side open
  bracket = jnp.where(jnp.isfinite(ub), (ub + lb) / 2, 0.0)
  n_free = jnp.sum(free, axis=1)
  rho = jnp.where(n_free > 0, jnp.sum(jnp.where(free, yg, 0.0), axis=1) / jnp.maximum(n_free, 1), bracket)
  return SMOSolution(alpha=alpha, rho=rho, n_iter=n_iter, gap=gap)


@flax.struct.dataclass
class SVMParams:
  support_x: jnp.ndarray  # (N, D) the training rows (all of them: `support` marks the support vectors)
  dual_coef: jnp.ndarray  # (P, N) y_t α_t of each pair problem (0 outside the pair), P = K(K−1)/2
  intercept: jnp.ndarray  # (P,) −ρ of each pair problem
  support: jnp.ndarray    # (N,) bool: α_t > 0 in some pair problem (SVC's support_)
  gamma: jnp.ndarray      # () γ as resolved from the config ("scale" reads the training x)
  coef0: jnp.ndarray      # ()
  n_iter: jnp.ndarray     # (P,) int32 SMO steps per problem
  gap: jnp.ndarray        # (P,) final KKT gap per problem (< tol: converged)
  kernel: str = flax.struct.field(pytree_node=False)
  degree: int = flax.struct.field(pytree_node=False)
  num_classes: int = flax.struct.field(pytree_node=False)


def class_pairs(num_classes: int) -> tuple[np.ndarray, np.ndarray]:
  """(first, second) classes of the one-vs-one problems, in SVC's order (0,1), (0,2), …, (1,2), …"""
  first, second = np.triu_indices(num_classes, k=1)
  return first.astype(np.int32), second.astype(np.int32)


def solve_pairs(kernel_rows, diag, signs, upper, config) -> SMOSolution:
  """Solves the P problems of `smo` (rows of diag, signs, upper: (P, L)) with p = −e (SVC's dual), one after
  another (`lax.map`), each for its own number of steps.

  kernel_rows(p, i) (p, i (1,) int32) returns row i of problem p's kernel, as (1, L). Batched in one
  `while_loop`, every problem would take as many steps as the slowest (digits, C=10: 45 × 258 problem-steps
  where 5,898 are needed), and a batched step costs about as much per problem as a lone one (~1 µs for
  45 × 288 entries against ~1.6 µs for one problem: ~25 small XLA ops).
  """
  def solve(args):
    one = jax.tree.map(lambda v: v[None], args)
    sol = smo(functools.partial(kernel_rows, one[0]), *one[1:], config.tol, config.max_iter)
    return jax.tree.map(lambda v: v[0], sol)
  problems = jnp.arange(signs.shape[0], dtype=jnp.int32)
  if len(problems) == 1:  # two classes: no loop over problems around the solver's
    return smo(functools.partial(kernel_rows, problems), diag, signs, -jnp.ones_like(signs), upper, config.tol,
               config.max_iter)
  return lax.map(solve, (problems, diag, signs, -jnp.ones_like(signs), upper))


def _pairs_on_all_rows(x, y, gamma, coef0, config, first, second):
  """(alpha (P, N), rho, n_iter, gap): every pair problem over all N rows, rows outside the pair boxed to 0."""
  num = x.shape[0]
  # Zero rows pad N to the solver's block multiple; label −1 puts them in no class, so no problem uses them.
  pad = padded_length(num) - num
  x_pad, y_pad = jnp.pad(x, ((0, pad), (0, 0))), jnp.pad(y, (0, pad), constant_values=-1)
  gram = kernels.gram(config.kernel, x_pad, x_pad, gamma, coef0, config.degree)
  diag = kernels.gram_diag(config.kernel, x_pad, gamma, coef0, config.degree)
  is_first = y_pad[None, :] == first[:, None]                     # (P, N + pad)
  in_pair = is_first | (y_pad[None, :] == second[:, None])
  signs = jnp.where(is_first, 1.0, -1.0).astype(jnp.float32)
  upper = jnp.where(in_pair, jnp.float32(config.C), 0.0)
  sol = solve_pairs(lambda p, i: gram[i], jnp.broadcast_to(diag, signs.shape), signs, upper, config)
  return sol.alpha[:, :num], sol.rho, sol.n_iter, sol.gap


def _pairs_on_class_blocks(x, y, gamma, coef0, config, first, second, block):
  """As `_pairs_on_all_rows`, but problem (a, b) holds only its two classes' rows, each class padded to `block`
  rows (the caller checks that every class fits): a step costs 2·block per problem instead of N.

  Rows are laid out class by class, class c in slots c·block … c·block + block − 1 (in row order). Problem
  (a, b) sees slots [a's block; b's block], so its kernel row for local row t is two contiguous pieces of the
  block-laid-out Gram matrix G: G[slot(t), a's block] and G[slot(t), b's block].
  """
  num_classes = config.num_classes
  length = 2 * block
  onehot = y[:, None] == jnp.arange(num_classes)
  rank = jnp.sum(jnp.where(onehot, jnp.cumsum(onehot, axis=0) - 1, 0), axis=1)   # row's index within its class
  slot = y * block + rank
  x_blocks = jnp.zeros((num_classes * block, x.shape[1]), x.dtype).at[slot].set(x, mode="drop")
  filled = jnp.zeros(num_classes * block, bool).at[slot].set(True, mode="drop")
  gram = kernels.gram(config.kernel, x_blocks, x_blocks, gamma, coef0, config.degree)
  diag = kernels.gram_diag(config.kernel, x_blocks, gamma, coef0, config.degree)

  local = np.arange(length)
  slots = np.where(local < block, first[:, None], second[:, None]) * block + local % block    # (P, L) static
  signs = jnp.asarray(np.where(local < block, 1.0, -1.0)[None, :].repeat(len(first), 0), jnp.float32)
  upper = jnp.where(filled[slots], jnp.float32(config.C), 0.0)
  pieces = gram.reshape(num_classes * block * num_classes, block)   # row (s·K + c): G[s, c's block]

  def kernel_rows(p, i):
    row_slot = jnp.asarray(slots)[p, i] * num_classes
    return jnp.concatenate([jnp.take(pieces, row_slot + jnp.asarray(first)[p], axis=0),
                            jnp.take(pieces, row_slot + jnp.asarray(second)[p], axis=0)], axis=1)

  sol = solve_pairs(kernel_rows, diag[slots], signs, upper, config)
  # Back to row order: row n of class c sits at local rank(n) in a problem whose first class is c, else at
  # block + rank(n); rows outside the pair get 0.
  in_pair = (y[None, :] == first[:, None]) | (y[None, :] == second[:, None])
  where = jnp.where(y[None, :] == first[:, None], rank, block + rank)
  alpha = jnp.where(in_pair, jnp.take_along_axis(sol.alpha, where, axis=1), 0.0)
  return alpha, sol.rho, sol.n_iter, sol.gap


# Up to about this many rows a lone SMO step costs the same (~1.6 µs at 288 and at 448 rows: it is XLA op
# overhead), so shorter problems gain nothing from class blocks and skip compiling a second solver.
_FLAT_LENGTH = 512


def class_block_size(num_rows: int, num_classes: int) -> int | None:
  """Rows per class in `_pairs_on_class_blocks`: the balanced share N/K rounded up to a multiple of _BLOCK / 2
  (so a pair's 2·block rows are a multiple of _BLOCK). None (all rows) when N is at most _FLAT_LENGTH or a
  pair would be no shorter than N (two classes)."""
  half = _BLOCK // 2
  block = -(-(-(-num_rows // num_classes)) // half) * half
  length = padded_length(num_rows)
  return block if length > _FLAT_LENGTH and 2 * block < length else None


def fit(key: jax.Array, x: jnp.ndarray, y: jnp.ndarray, config) -> SVMParams:
  """Solves the one-vs-one dual problems on x (N, D) float32, y (N,) int32 in 0..num_classes−1.

  Deterministic (the key is unused). Call `check_inputs` first: a traced fit cannot inspect values.
  """
  del key  # SMO's working-set selection is deterministic
  check_config(config)
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.int32)
  gamma = kernels.resolve_gamma(x, config.gamma)
  coef0 = jnp.float32(config.coef0)
  first, second = class_pairs(config.num_classes)
  args = (x, y, gamma, coef0)
  static = dict(config=config, first=first, second=second)
  block = class_block_size(x.shape[0], config.num_classes)
  if block is None:
    alpha, rho, n_iter, gap = _pairs_on_all_rows(*args, **static)
  else:
    # Class counts are data, known only inside the trace: a class larger than the block (unbalanced classes)
    # takes the all-rows solver. (One block size only: a second class-block branch made XLA:CPU's
    # conditional cost ~7 ms more on digits even when not taken.)
    largest = jnp.max(jnp.sum(y[:, None] == jnp.arange(config.num_classes), axis=0))
    alpha, rho, n_iter, gap = lax.cond(largest <= block,
                                       functools.partial(_pairs_on_class_blocks, block=block, **static),
                                       functools.partial(_pairs_on_all_rows, **static), *args)
  signs = jnp.where(y[None, :] == first[:, None], 1.0, -1.0).astype(jnp.float32)
  return SVMParams(support_x=x, dual_coef=signs * alpha, intercept=-rho, support=jnp.any(alpha > 0, axis=0),
                   gamma=gamma, coef0=coef0, n_iter=n_iter, gap=gap, kernel=config.kernel, degree=config.degree,
                   num_classes=config.num_classes)


def pair_decisions(params: SVMParams, x: jnp.ndarray) -> jnp.ndarray:
  """(M, P) one-vs-one decision values f_ab(x); > 0 votes for a (SVC's decision_function_shape='ovo')."""
  k = kernels.gram(params.kernel, jnp.asarray(x, jnp.float32), params.support_x, params.gamma, params.coef0,
                   params.degree)
  return k @ params.dual_coef.T + params.intercept


def decision_function(params: SVMParams, x: jnp.ndarray) -> jnp.ndarray:
  """Binary: (M,) f(x), > 0 for class 1 (as SVC). Multiclass: the (M, P) one-vs-one values of `pair_decisions`."""
  dec = pair_decisions(params, x)
  return -dec[:, 0] if params.num_classes == 2 else dec  # pair (0, 1) has class 0 as its +1 class


def predict(params: SVMParams, x: jnp.ndarray) -> jnp.ndarray:
  """(M,) int32 class by one-vs-one votes; argmax takes the lowest class on a tie, as libsvm."""
  first, second = class_pairs(params.num_classes)
  wins_first = pair_decisions(params, x) > 0
  onehot = functools.partial(jax.nn.one_hot, num_classes=params.num_classes, dtype=jnp.float32)
  votes = wins_first.astype(jnp.float32) @ onehot(first) + (~wins_first).astype(jnp.float32) @ onehot(second)
  return jnp.argmax(votes, axis=1).astype(jnp.int32)
