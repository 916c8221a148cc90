"""L2-regularised logistic regression, binary and multinomial, as scikit-learn's `LogisticRegression(C=...)`.

Labels y_i ∈ {0..K−1}, inputs x_i ∈ R^D, scores z_i = W·x_i + b. `fit` minimises

    binary (K = 2; one row w, as sklearn's coef_ of shape (1, D)), z_i = w·x_i + b ∈ R:
        f(w, b) = C·Σ_i [log(1 + e^{z_i}) − y_i·z_i] + ½‖w‖²
    multinomial (K > 2; W ∈ R^{K×D}, b ∈ R^K, sklearn's default for K > 2 since 1.5):
        f(W, b) = C·Σ_i [log Σ_k e^{z_ik} − z_{i,y_i}] + ½‖W‖²_F

with the intercept b unpenalised (C = config.C; C → ∞ is unregularised). Both are strictly convex in W, so
the optimum is sklearn's. In the multinomial case f is unchanged by b → b + c·1, so b is only unique up
to that shift; we add ½(Σ_k b_k)², zero at sklearn's answer (its gradient keeps Σ_k b_k = 0), to pick it
and keep the Hessian positive definite.

Solver: Newton's method with a backtracking (Armijo) line search inside `lax.while_loop`. Each step solves
H·Δθ = −∇f for the Hessian

    H = C·Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ + diag(1 on W, 0 on b) [+ 1 1ᵀ on b],   x̃_i = [x_i, 1]

(p_i = softmax(z_i); for K = 2 the scalar p_i(1 − p_i)), as sklearn's solvers of the same names do:
  * "newton-cholesky": forms H ((K·(D+1))² entries) and solves exactly with its Cholesky factor;
  * "newton-cg": never forms H; Jacobi-preconditioned conjugate gradients on products H·v, each
    O(N·D·K), solved only as exactly as the current gradient warrants (truncated Newton);
  * "auto" (default): newton-cholesky up to 256 parameters (binary problems on tens of features), else
    newton-cg (e.g. 10 digits × 65 pixels: ~5× faster than forming and factorising the 650² Hessian).
Newton converges superlinearly, so ~10 steps reach the float32 optimum where sklearn's L-BFGS needs
hundreds. It stops when the mean-loss gradient max|∇f|/(C·N) ≤ config.tol (sklearn's meaning of tol),
or when a step no longer moves θ beyond float32 rounding, or after config.max_iter steps.

`check_inputs` (plain Python, before `fit`) turns bad data and hyper-parameters into a one-line UserError.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from dljax.classic import validate
from dljax.errors import UserError

TASK = "classification"
# float32 products at full precision: TPUs/GPUs would otherwise round matmul inputs to bf16/tf32.
_HIGHEST = jax.lax.Precision.HIGHEST
_EPS = float(jnp.finfo(jnp.float32).eps)
_ARMIJO = 1e-4          # sufficient decrease: f(θ + tΔ) ≤ f(θ) + 1e-4·t·∇fᵀΔ
_MAX_HALVINGS = 30
_MAX_CG_ITER = 250      # conjugate-gradient steps per Newton step (newton-cg)
_AUTO_CHOLESKY_MAX = 256  # "auto": the exact Hessian up to this many parameters, newton-cg above
SOLVERS = ("auto", "newton-cholesky", "newton-cg")


class LogisticParams(NamedTuple):
  coef: jax.Array        # (1, D) for K = 2, else (K, D) float32 — sklearn's coef_
  intercept: jax.Array   # (1,) or (K,) float32 — sklearn's intercept_
  n_iter: jax.Array      # () int32: Newton steps taken — sklearn's n_iter_


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """sklearn's defaults (C=1, intercept) solved to float32 optimum, with `overrides` applied."""
  c = ml_collections.ConfigDict()
  c.num_classes = 2        # K: labels are 0..K-1 (static, so params have a fixed shape)
  c.C = 1.0                # inverse L2 strength: C·Σ loss + ½‖W‖²
  c.fit_intercept = True
  c.solver = "auto"        # newton-cholesky | newton-cg | auto: Cholesky up to 256 parameters, else CG
  c.max_iter = 50          # Newton steps; ~10 usually suffice
  c.tol = 1e-8             # stop when max|∇f|/(C·N) ≤ tol (or when steps stall at float32 rounding)
  return validate.typed_config(c, overrides, "logistic")


def check_inputs(x, y, config) -> None:
  """Raises UserError (one line, naming the fix) when `fit(key, x, y, config)` would be meaningless."""
  validate.check_xy(x, y)
  validate.check_labels(y, config.num_classes)
  if not config.C > 0:  # `not >` also catches NaN
    raise UserError(f"C={config.C}: the inverse regularisation strength must be > 0 (e.g. 1.0)")
  if config.solver not in SOLVERS:
    raise UserError(f"solver={config.solver!r}: use one of {', '.join(SOLVERS)}")
  if config.max_iter < 1:
    raise UserError(f"max_iter={config.max_iter}: give at least 1 Newton step")
  if not config.tol > 0:
    raise UserError(f"tol={config.tol}: give a positive gradient tolerance (e.g. 1e-8)")


def _with_ones(x: jax.Array, fit_intercept: bool) -> jax.Array:
  """x̃ = [x, 1]: the intercept becomes the last column of θ = [W, b]."""
  x = jnp.asarray(x, jnp.float32)
  if not fit_intercept:
    return x
  return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def fit(key: jax.Array, x: jax.Array, y: jax.Array, config) -> LogisticParams:
  """The minimiser (W, b) of C·Σ loss + ½‖W‖² (module docstring). `key` is unused: the optimum is unique."""
  del key
  problem = _problem(x, y, config)
  newton_direction = _cg_direction if _uses_cg(problem, config.solver) else _cholesky_direction
  n_iter, theta = _newton(problem, newton_direction, config.max_iter, config.tol)
  return _params(theta, n_iter, config.fit_intercept)


class _Problem(NamedTuple):
  """The objective f(θ) of the module docstring over θ = [W, b], (R, D̃) float32 with R = 1 (K = 2) or K
  rows and D̃ = D + 1 columns (D without an intercept)."""
  xt: jax.Array         # (N, D̃) float32: x̃ = [x, 1]
  targets: jax.Array    # (N, R) float32: y (K = 2) or one-hot y
  c: jax.Array          # () float32: C
  penalised: jax.Array  # (D̃,) float32: 1 on W's columns, 0 on the intercept column
  binary: bool          # K = 2: one row of scores, sigmoid instead of softmax
  gauge: bool           # the ½(Σ_k b_k)² term (multinomial with intercept)


def _problem(x: jax.Array, y: jax.Array, config) -> _Problem:
  """x: (N, D) float, y: (N,) int labels 0..K−1."""
  binary = config.num_classes == 2
  xt = _with_ones(x, config.fit_intercept)
  y = jnp.asarray(y, jnp.int32)
  targets = y[:, None].astype(jnp.float32) if binary else jax.nn.one_hot(y, config.num_classes, dtype=jnp.float32)
  penalised = jnp.ones(xt.shape[1], jnp.float32)
  if config.fit_intercept:
    penalised = penalised.at[-1].set(0.0)
  return _Problem(xt=xt, targets=targets, c=jnp.float32(config.C), penalised=penalised, binary=binary,
                  gauge=config.fit_intercept and not binary)


def _uses_cg(problem: _Problem, solver: str) -> bool:
  """Whether the Newton direction comes from conjugate gradients (else from the Cholesky factor of H)."""
  num_params = problem.targets.shape[1] * problem.xt.shape[1]
  return solver == "newton-cg" or (solver == "auto" and num_params > _AUTO_CHOLESKY_MAX)


def _scores(problem: _Problem, theta: jax.Array) -> jax.Array:
  """(N, R) float32 z = X̃·θᵀ. theta: (R, D̃) float32."""
  return jnp.dot(problem.xt, theta.T, precision=_HIGHEST)


def _objective(problem: _Problem, theta: jax.Array) -> jax.Array:
  """() float32 f(θ). theta: (R, D̃) float32."""
  z = _scores(problem, theta)
  if problem.binary:
    loss = jnp.sum(jax.nn.softplus(z) - problem.targets * z)
  else:
    loss = jnp.sum(jax.nn.logsumexp(z, axis=1)) - jnp.sum(problem.targets * z)
  f = problem.c * loss + 0.5 * jnp.sum(problem.penalised * theta**2)
  if problem.gauge:
    f += 0.5 * jnp.sum(theta[:, -1])**2
  return f


def _probabilities(problem: _Problem, theta: jax.Array) -> jax.Array:
  """(N, R) float32 p = σ(z) (K = 2) or softmax(z). theta: (R, D̃) float32."""
  z = _scores(problem, theta)
  return jax.nn.sigmoid(z) if problem.binary else jax.nn.softmax(z, axis=1)


def _gradient(problem: _Problem, theta: jax.Array, probs: jax.Array) -> jax.Array:
  """(R, D̃) float32 ∇f = C·(P − Y)ᵀX̃ + penalty terms. theta: (R, D̃); probs: (N, R) = _probabilities(θ)."""
  g = problem.c * jnp.dot((probs - problem.targets).T, problem.xt, precision=_HIGHEST) + problem.penalised * theta
  if problem.gauge:
    g = g.at[:, -1].add(jnp.sum(theta[:, -1]))
  return g


def _hessian(problem: _Problem, probs: jax.Array) -> jax.Array:
  """(R·D̃, R·D̃) float32 H over θ flattened row-major ((class, feature) pairs). probs: (N, R) float32."""
  xt, c = problem.xt, problem.c
  (n, dt), rows = xt.shape, probs.shape[1]
  if problem.binary:
    weighted = xt * (probs * (1.0 - probs))                      # diag(p(1−p))·X̃
    h = c * jnp.dot(xt.T, weighted, precision=_HIGHEST)
  else:
    # Σ_i diag(p_i) ⊗ x̃_i x̃_iᵀ (block diagonal) minus Σ_i (p_i ⊗ x̃_i)(p_i ⊗ x̃_i)ᵀ (one big matmul).
    px = (probs[:, :, None] * xt[:, None, :]).reshape(n, rows * dt)   # rows p_i ⊗ x̃_i
    blocks = jnp.einsum("nk,na,nb->kab", probs, xt, xt, precision=_HIGHEST)
    block_diagonal = (jnp.eye(rows)[:, None, :, None] * blocks[:, :, None, :]).reshape(rows * dt, rows * dt)
    h = c * (block_diagonal - jnp.dot(px.T, px, precision=_HIGHEST))
  h = h + jnp.diag(jnp.tile(problem.penalised, rows))
  if problem.gauge:
    intercepts = jnp.zeros((rows, dt), jnp.float32).at[:, -1].set(1.0).reshape(-1)
    h = h + jnp.outer(intercepts, intercepts)
  return h


def _hessian_times(problem: _Problem, probs: jax.Array, v: jax.Array) -> jax.Array:
  """(R, D̃) float32 H·v without forming H: C·X̃ᵀ[(diag(p_i) − p_i p_iᵀ)·(X̃vᵀ)_i] + penalty terms, O(N·D̃·R).
  probs: (N, R) float32; v: (R, D̃) float32."""
  u = _scores(problem, v)                                          # (N, R) = X̃·vᵀ
  if problem.binary:
    r = probs * (1.0 - probs) * u
  else:
    pu = probs * u
    r = pu - probs * jnp.sum(pu, axis=1, keepdims=True)
  hv = problem.c * jnp.dot(r.T, problem.xt, precision=_HIGHEST) + problem.penalised * v
  if problem.gauge:
    hv = hv.at[:, -1].add(jnp.sum(v[:, -1]))
  return hv


def _hessian_diagonal(problem: _Problem, probs: jax.Array) -> jax.Array:
  """(R, D̃) float32 diag(H), the Jacobi preconditioner of conjugate gradients. probs: (N, R) float32."""
  d = problem.c * jnp.dot((probs * (1.0 - probs)).T, problem.xt**2, precision=_HIGHEST) + problem.penalised
  return d.at[:, -1].add(1.0) if problem.gauge else d


def _cholesky_direction(problem: _Problem, probs: jax.Array, g: jax.Array, g0_norm: jax.Array) -> jax.Array:
  """(R, D̃) float32 Δ = −H⁻¹∇f, solved exactly with the Cholesky factor of H. probs: (N, R); g: (R, D̃) ∇f."""
  del g0_norm  # only the truncated CG solve reads it
  h = _hessian(problem, probs)
  # A relative jitter keeps the float32 Cholesky positive definite; any PD matrix keeps the fixed point.
  h = h + (1e-7 * jnp.max(jnp.diag(h))) * jnp.eye(h.shape[0], dtype=h.dtype)
  return -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(h, lower=True), g.reshape(-1)).reshape(g.shape)


def _cg_direction(problem: _Problem, probs: jax.Array, g: jax.Array, g0_norm: jax.Array) -> jax.Array:
  """(R, D̃) float32 Δ ≈ −H⁻¹∇f by Jacobi-preconditioned conjugate gradients on products H·v. probs: (N, R);
  g: (R, D̃) ∇f; g0_norm: () ‖∇f‖ at θ = 0."""
  # Truncated Newton (Nocedal & Wright, Numerical Optimization, §7.1): solve H·Δ = −∇f only to a relative
  # residual η = min(0.1, √(‖∇f‖/‖∇f₀‖)), which shrinks as ∇f does: superlinear convergence at a fraction of
  # an exact solve's cost.
  g_norm = jnp.linalg.norm(g)
  eta = jnp.minimum(0.1, jnp.sqrt(g_norm / g0_norm))
  inv_diag = 1.0 / _hessian_diagonal(problem, probs)
  direction, _ = jax.scipy.sparse.linalg.cg(lambda v: _hessian_times(problem, probs, v), -g, tol=eta,
                                            maxiter=_MAX_CG_ITER, M=lambda r: inv_diag * r)
  return direction


def _converged(problem: _Problem, g: jax.Array, tol: float) -> jax.Array:
  """() bool: the mean-loss gradient max|∇f|/(C·N) is within tol (sklearn's meaning). g: (R, D̃) float32."""
  return jnp.max(jnp.abs(g)) <= tol * problem.c * problem.xt.shape[0]


def _newton(problem: _Problem, newton_direction, max_iter: int, tol: float):
  """Newton's method from θ = 0 with a backtracking line search, until converged, stalled or max_iter steps.
  newton_direction: _cholesky_direction or _cg_direction. Returns n_iter () int32 and θ (R, D̃) float32."""
  theta0 = jnp.zeros(problem.targets.shape[1:] + problem.xt.shape[1:], jnp.float32)
  probs0 = _probabilities(problem, theta0)
  g0 = _gradient(problem, theta0, probs0)
  g0_norm = jnp.maximum(jnp.linalg.norm(g0), jnp.finfo(jnp.float32).tiny)
  step = functools.partial(_newton_step, problem=problem, newton_direction=newton_direction, g0_norm=g0_norm,
                           tol=tol)
  # state: steps taken, θ (R, D̃), f(θ), probabilities (N, R), ∇f (R, D̃), done.
  state = (0, theta0, _objective(problem, theta0), probs0, g0, _converged(problem, g0, tol))
  n_iter, theta, *_ = jax.lax.while_loop(lambda s: (s[0] < max_iter) & ~s[-1], step, state)
  return jnp.asarray(n_iter, jnp.int32), theta


def _newton_step(state, *, problem: _Problem, newton_direction, g0_norm: jax.Array, tol: float):
  """One damped Newton step θ ← θ + tΔ; `state` as in _newton."""
  it, theta, f, probs, g, _ = state
  direction = newton_direction(problem, probs, g, g0_norm)
  t, f_new = _backtrack(problem, theta, f, direction, jnp.sum(g * direction))
  new_theta = theta + t * direction
  new_probs = _probabilities(problem, new_theta)
  new_g = _gradient(problem, new_theta, new_probs)
  # The step is below float32 resolution of θ: further steps only shuffle rounding errors.
  stalled = jnp.max(jnp.abs(t * direction)) <= 4 * _EPS * jnp.maximum(1.0, jnp.max(jnp.abs(new_theta)))
  return it + 1, new_theta, f_new, new_probs, new_g, _converged(problem, new_g, tol) | stalled


def _backtrack(problem: _Problem, theta: jax.Array, f: jax.Array, direction: jax.Array, slope: jax.Array):
  """The step length t () float32 and f(θ + tΔ): t = 1 halved until the Armijo condition
  f(θ + tΔ) ≤ f(θ) + 1e-4·t·∇fᵀΔ holds (Nocedal & Wright, Numerical Optimization, Alg. 3.1), at most
  _MAX_HALVINGS times. theta, direction: (R, D̃) float32; f: () f(θ); slope: () ∇fᵀΔ < 0."""
  # Near the optimum f changes by less than its float32 rounding; that slack stops needless halvings.
  slack = 16 * _EPS * jnp.abs(f)

  def too_high(search):
    t, f_new, halvings = search
    return (f_new > f + _ARMIJO * t * slope + slack) & (halvings < _MAX_HALVINGS)

  def halve(search):
    t, _, halvings = search
    return t / 2, _objective(problem, theta + (t / 2) * direction), halvings + 1

  t, f_new, _ = jax.lax.while_loop(too_high, halve, (jnp.float32(1.0), _objective(problem, theta + direction), 0))
  return t, f_new


def _params(theta: jax.Array, n_iter: jax.Array, fit_intercept: bool) -> LogisticParams:
  """sklearn's coef_ (R, D) and intercept_ (R,) from θ (R, D̃) float32."""
  if fit_intercept:
    return LogisticParams(coef=theta[:, :-1], intercept=theta[:, -1], n_iter=n_iter)
  return LogisticParams(coef=theta, intercept=jnp.zeros(theta.shape[0], jnp.float32), n_iter=n_iter)


def decision_function(params: LogisticParams, x: jax.Array) -> jax.Array:
  """Scores z = x·Wᵀ + b: (N,) for K = 2 (the log-odds of class 1, as sklearn), else (N, K)."""
  z = jnp.dot(jnp.asarray(x, jnp.float32), params.coef.T, precision=_HIGHEST) + params.intercept
  return z[:, 0] if params.coef.shape[0] == 1 else z


def predict_proba(params: LogisticParams, x: jax.Array) -> jax.Array:
  """Class probabilities (N, K): [1 − σ(z), σ(z)] for K = 2, softmax(z) otherwise."""
  z = decision_function(params, x)
  if z.ndim == 1:
    p1 = jax.nn.sigmoid(z)
    return jnp.stack([1.0 - p1, p1], axis=1)
  return jax.nn.softmax(z, axis=1)


def predict(params: LogisticParams, x: jax.Array) -> jax.Array:
  """The most probable class, (N,) int32."""
  z = decision_function(params, x)
  if z.ndim == 1:
    return (z > 0).astype(jnp.int32)
  return jnp.argmax(z, axis=1).astype(jnp.int32)
