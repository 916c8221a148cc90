"""Pure-JAX environments: `make(env_id, **overrides) -> (env_module, params)`.

Every env module has `default_params(...)`, `reset(key, params) -> (obs, state)`,
`step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)`,
`num_actions(params)` and `observation_shape(params)`; all jit- and vmap-able.
Layer rule: nothing of dljax is imported here except dljax.errors.
"""

import importlib

from dljax.errors import UserError
from dljax.rl.envs import tabular

# id -> module under dljax.rl.envs (imported on first use: CartPole does not need gymnasium's tables).
_MODULES = {**{env_id: "tabular" for env_id in tabular.IDS}, "CartPole-v1": "cartpole"}
KNOWN_IDS = tuple(_MODULES)


def make(env_id: str, **overrides):
  """(env module, params) for `env_id`; `overrides` go to the module's `default_params`.

  Tabular ids take gymnasium's own options (FrozenLake: map_name="4x4"|"8x8", is_slippery;
  CliffWalking: is_slippery; Taxi: is_rainy) and `max_episode_steps` (default: gymnasium's).
  """
  if env_id not in _MODULES:
    raise UserError(f"unknown env id {env_id!r}: choose one of {', '.join(KNOWN_IDS)}")
  module = importlib.import_module(f"dljax.rl.envs.{_MODULES[env_id]}")
  if module is tabular:
    return module, tabular.default_params(env_id, **overrides)
  try:
    return module, module.default_params(**overrides)
  except TypeError as e:
    raise UserError(f"{env_id}: bad option ({e})") from None
