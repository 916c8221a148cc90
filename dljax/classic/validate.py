"""Input and hyper-parameter checks shared by the learners: each raises a one-line UserError naming
the fix, before anything is traced (a traced `fit` cannot look at data values)."""

import ml_collections
import numpy as np

from dljax.errors import UserError


def check_x(x) -> None:
  """A finite, numeric, non-empty (N, D) array (what `fit` and `predict` expect)."""
  x = np.asarray(x)
  if x.ndim != 2:
    raise UserError(f"x has shape {x.shape}; give a 2-D (N, D) array (flatten images: x.reshape(len(x), -1))")
  if x.shape[0] == 0 or x.shape[1] == 0:
    raise UserError(f"x has shape {x.shape}; give at least one row and one feature")
  if x.dtype.kind not in "biuf":
    raise UserError(f"x has dtype {x.dtype}; give numbers (cast to float32)")
  if not np.isfinite(x).all():
    row = int(np.argwhere(~np.isfinite(x))[0, 0])
    raise UserError(f"x holds NaN or inf (first in row {row}); drop or impute those values before fitting")


def check_xy(x, y) -> None:
  """check_x, and one target per row."""
  check_x(x)
  y = np.asarray(y)
  if y.ndim != 1:
    raise UserError(f"y has shape {y.shape}; give one target per row, shape (N,)")
  if len(y) != len(x):
    raise UserError(f"x has {len(x)} rows but y has {len(y)}; give x and y the same number of rows")


def check_labels(y, num_classes) -> None:
  """Integer labels 0..K-1 of at least two distinct classes, K = num_classes >= 2."""
  y = np.asarray(y)
  if num_classes is None or num_classes < 2:
    raise UserError(f"num_classes={num_classes}: set num_classes=K (labels 0..K-1, K >= 2)")
  if y.dtype.kind not in "iu":
    raise UserError(f"y has dtype {y.dtype}; give integer class labels 0..K-1 "
                    "(renumber with numpy.unique(y, return_inverse=True))")
  if y.min() < 0 or y.max() >= num_classes:
    raise UserError(f"labels span {y.min()}..{y.max()}; give labels 0..{num_classes - 1} (or raise num_classes)")
  if len(np.unique(y)) < 2:
    raise UserError(f"y holds a single class ({y[0]}); a classifier needs at least two classes")


def check_real_targets(y) -> None:
  y = np.asarray(y)
  if y.dtype.kind not in "biuf" or not np.isfinite(y).all():
    raise UserError("y holds NaN, inf or non-numbers; drop or impute those rows before fitting")


def merge_config(defaults: dict, overrides: dict, name: str) -> ml_collections.FrozenConfigDict:
  """defaults ∪ overrides, frozen (hashable: `fit` compiles once per setting). Plain dicts, because some
  fields take several types (gamma: 'scale' or a number; max_features: 'sqrt', an int or a fraction)."""
  unknown = sorted(set(overrides) - set(defaults))
  if unknown:
    raise UserError(f"{name} config: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(defaults)}")
  return ml_collections.FrozenConfigDict({**defaults, **overrides})


def typed_config(c: ml_collections.ConfigDict, overrides: dict, name: str) -> ml_collections.FrozenConfigDict:
  """`c` (field-typed: a value of the wrong type is an error) with overrides, frozen."""
  c.lock()  # an unknown or mistyped name is the user's error, not a silent new field
  try:
    c.update(overrides)
  except (KeyError, AttributeError, TypeError) as e:
    raise UserError(f"{name} config: {' '.join(str(e).split())[:200]}; known fields: {', '.join(c.keys())}") from e
  return ml_collections.FrozenConfigDict(c)
