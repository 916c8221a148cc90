"""Support-vector regression (scikit-learn's SVR): the ε-insensitive loss on a linear, RBF or polynomial kernel.

With feature map φ, k(x, x') = φ(x)·φ(x') (kernels.py), targets z_i:

  primal   min_{w,b}  ½‖w‖² + C Σ_i max(0, |z_i − w·φ(x_i) − b| − ε)
  dual     min_{α,α*} ½ (α − α*)ᵀK(α − α*) + ε Σ_i (α_i + α*_i) − Σ_i z_i (α_i − α*_i)
           s.t.  Σ_i (α_i − α*_i) = 0,  0 ≤ α_i, α*_i ≤ C
  predict  f(x) = Σ_i (α_i − α*_i) k(x_i, x) − ρ   (rows with α_i ≠ α*_i are the support vectors)

As libsvm does, the dual is written as one 2N-variable problem of svm.py's form, so svm.smo solves it:
β = [α; α*], y = [+1…; −1…], p = [ε − z; ε + z] and Q_st = y_s y_t k(x_{s mod N}, x_{t mod N}), giving
min ½ βᵀQβ + pᵀβ s.t. yᵀβ = 0, 0 ≤ β ≤ C. Row s of that kernel is row s mod N of K written twice, so
the precomputed matrix is N × 2N, not 2N × 2N. Stopping rule (KKT gap < tol = 1e-3) and ρ are libsvm's.
"""

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from dljax.classic import kernels, svm, validate
from dljax.errors import UserError

TASK = "regression"

_DEFAULTS = dict(C=1.0, epsilon=0.1, kernel="rbf", gamma="scale", degree=3, coef0=0.0, tol=1e-3,
                 max_iter=100_000)


def default_config(**overrides) -> ml_collections.FrozenConfigDict:
  """SVR's defaults (C=1, epsilon=0.1, RBF, gamma='scale', degree=3, coef0=0, tol=1e-3), any overridden."""
  return validate.merge_config(_DEFAULTS, overrides, "SVR")


def check_config(config) -> None:
  """Raises UserError for hyper-parameters the solver cannot use (static: safe inside a traced fit)."""
  svm.check_config(config)
  if not config.epsilon >= 0:
    raise UserError(f"epsilon={config.epsilon} must be >= 0: it is the half-width of the loss-free tube")


def check_inputs(x, y, config) -> None:
  """Raises UserError (one line, naming the fix) for inputs `fit` cannot learn from."""
  check_config(config)
  validate.check_xy(x, y)
  validate.check_real_targets(y)
  if len(y) < 2:
    raise UserError(f"{len(y)} training row(s): SVR needs at least 2")


@flax.struct.dataclass
class SVRParams:
  support_x: jnp.ndarray  # (N, D) the training rows (all of them: `support` marks the support vectors)
  dual_coef: jnp.ndarray  # (N,) α_i − α*_i
  intercept: jnp.ndarray  # () −ρ
  support: jnp.ndarray    # (N,) bool: α_i ≠ α*_i (SVR's support_)
  gamma: jnp.ndarray      # () γ as resolved from the config
  coef0: jnp.ndarray      # ()
  n_iter: jnp.ndarray     # () int32 SMO steps
  gap: jnp.ndarray        # () final KKT gap (< tol: converged)
  kernel: str = flax.struct.field(pytree_node=False)
  degree: int = flax.struct.field(pytree_node=False)


def fit(key: jax.Array, x: jnp.ndarray, y: jnp.ndarray, config) -> SVRParams:
  """Solves the 2N-variable dual on x (N, D) float32, y (N,) float32. Deterministic (the key is unused).

  Call `check_inputs` first: a traced fit cannot inspect values.
  """
  del key  # SMO's working-set selection is deterministic
  check_config(config)
  x = jnp.asarray(x, jnp.float32)
  z = jnp.asarray(y, jnp.float32)
  num = x.shape[0]
  length = svm.padded_length(2 * num)
  pad = length - 2 * num  # padded variables get upper = 0: they take no part
  gamma = kernels.resolve_gamma(x, config.gamma)
  coef0 = jnp.float32(config.coef0)
  gram = kernels.gram(config.kernel, x, x, gamma, coef0, config.degree)
  twice = jnp.pad(jnp.concatenate([gram, gram], axis=1), ((0, 0), (0, pad)))      # (N, L): row s mod N
  diag = kernels.gram_diag(config.kernel, x, gamma, coef0, config.degree)
  diag = jnp.pad(jnp.concatenate([diag, diag]), (0, pad), constant_values=1.0)

  def widen(first, second, fill):
    return jnp.pad(jnp.concatenate([first, second]), (0, pad), constant_values=fill)[None, :]

  ones = jnp.ones(num, jnp.float32)
  signs = widen(ones, -ones, 1.0)
  p = widen(config.epsilon - z, config.epsilon + z, 0.0)
  upper = widen(config.C * ones, config.C * ones, 0.0)
  sol = svm.smo(lambda i: twice[i % num], diag, signs, p, upper, config.tol, config.max_iter)
  beta = sol.alpha[0]
  coef = beta[:num] - beta[num:2 * num]
  return SVRParams(support_x=x, dual_coef=coef, intercept=-sol.rho[0], support=coef != 0, gamma=gamma,
                   coef0=coef0, n_iter=sol.n_iter[0], gap=sol.gap[0], kernel=config.kernel, degree=config.degree)


def decision_function(params: SVRParams, x: jnp.ndarray) -> jnp.ndarray:
  """(M,) f(x) = Σ_i (α_i − α*_i) k(x_i, x) − ρ."""
  k = kernels.gram(params.kernel, jnp.asarray(x, jnp.float32), params.support_x, params.gamma, params.coef0,
                   params.degree)
  return k @ params.dual_coef + params.intercept


def predict(params: SVRParams, x: jnp.ndarray) -> jnp.ndarray:
  """(M,) float32 predictions: the decision function itself."""
  return decision_function(params, x)
