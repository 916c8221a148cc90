"""Kernel functions k(x, x') of the kernel machines (svm.py, svr.py), as scikit-learn's SVC/SVR define them.

  linear  k(x, x') = x·x'
  rbf     k(x, x') = exp(-γ ‖x − x'‖²)
  poly    k(x, x') = (γ x·x' + coef0)^degree

γ is a number, or "scale" = 1 / (D · Var(x)) (the variance of every entry of the training x, as
scikit-learn computes it; 1 when that variance is 0), or "auto" = 1 / D.
"""

import jax.numpy as jnp
import numpy as np

from dljax.errors import UserError

KERNELS = ("linear", "rbf", "poly")
GAMMA_NAMES = ("scale", "auto")


def check_kernel_config(config) -> None:
  """Raises UserError for a kernel, γ or degree the kernels cannot use (static: needs no data)."""
  if config.kernel not in KERNELS:
    raise UserError(f"kernel={config.kernel!r} is unknown: use one of {', '.join(KERNELS)}")
  gamma = config.gamma
  if isinstance(gamma, str):
    if gamma not in GAMMA_NAMES:
      raise UserError(f"gamma={gamma!r} is unknown: use 'scale', 'auto' or a positive number")
  elif not gamma > 0:  # also catches NaN
    raise UserError(f"gamma={gamma} must be > 0: use a positive number, 'scale' or 'auto'")
  if config.kernel == "poly" and (not isinstance(config.degree, (int, np.integer)) or config.degree < 1):
    raise UserError(f"degree={config.degree} must be a positive integer for kernel='poly'")


def resolve_gamma(x: jnp.ndarray, gamma) -> jnp.ndarray:
  """γ as a float32 scalar; "scale" and "auto" read the training x (traceable: no branch on its values)."""
  dim = x.shape[1]
  if gamma == "scale":
    var = jnp.var(x)
    return jnp.where(var > 0, 1.0 / (dim * jnp.where(var > 0, var, 1.0)), 1.0).astype(jnp.float32)
  if gamma == "auto":
    return jnp.float32(1.0 / dim)
  return jnp.float32(gamma)


def gram(kernel: str, a: jnp.ndarray, b: jnp.ndarray, gamma, coef0, degree: int) -> jnp.ndarray:
  """The (len(a), len(b)) kernel matrix K_st = k(a_s, b_t)."""
  dots = a @ b.T
  if kernel == "linear":
    return dots
  if kernel == "poly":
    return (gamma * dots + coef0) ** degree
  # ‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b, clipped at 0 because rounding can make it slightly negative.
  sq = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * dots
  return jnp.exp(-gamma * jnp.maximum(sq, 0.0))


def gram_diag(kernel: str, a: jnp.ndarray, gamma, coef0, degree: int) -> jnp.ndarray:
  """k(a_s, a_s) for every row, exactly (rbf: 1), without forming the matrix."""
  if kernel == "rbf":
    return jnp.ones(a.shape[0], a.dtype)
  dots = jnp.sum(a * a, axis=1)
  return dots if kernel == "linear" else (gamma * dots + coef0) ** degree
