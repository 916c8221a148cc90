"""Non-neural learners as pure, jit-compiled functions: `fit(key, x, y, config) -> params`,
`predict(params, x)` (plus `predict_proba` / `decision_function` where they make sense).

Each learner module reads top to bottom with the objective it minimises in its docstring. `config` is
a hashable `ml_collections.FrozenConfigDict` of the learner's hyper-parameters, so `fit` compiles
once per setting (`jax.jit(functools.partial(fit, config=config))`); params are fixed-shape pytrees.
"""

import importlib
import types

LEARNERS = ("linear", "polynomial", "logistic", "svm", "svr", "tree", "forest")


def get_learner(name: str) -> types.ModuleType:
  """The learner module `dljax.classic.<name>` (imported on demand: each pulls in only what it needs)."""
  if name not in LEARNERS:
    from dljax.errors import UserError
    raise UserError(f"--config.learner={name}: choose one of {', '.join(LEARNERS)}")
  return importlib.import_module(f"{__name__}.{name}")
