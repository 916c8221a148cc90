"""What every RL agent of dljax.rl exposes, and the checks they share.

An agent module has `make_train(config) -> Agent`; `Agent.init(key)` builds one seed's runner state
(a pytree of arrays holding its own RNG key), `Agent.update` advances it by one update (one env step
for Q-learning and DQN, one rollout plus epochs for PPO), `Agent.evaluate(runner_state, key)` returns
scalar metrics (`mean_return`, `success_rate` for goal tasks). The trainer (dljax/train/rl_trainer.py)
vmaps these over seeds and scans `update` in chunks; `train(agent)` is the one-call version
(PureJaxRL style) for notebooks and benchmarks.
"""

from typing import Any, Callable, NamedTuple

import jax

from dljax.errors import UserError


class Agent(NamedTuple):
  init: Callable[[Any], Any]                  # key -> runner_state (one seed)
  update: Callable[[Any], tuple[Any, dict]]   # runner_state -> (runner_state, dict of scalar metrics)
  evaluate: Callable[[Any, Any], dict]        # (runner_state, key) -> dict of scalars
  num_updates: int                            # updates in the whole run
  env_steps_per_update: int                   # env steps one update takes (per seed)


def train(agent: Agent) -> Callable:
  """key -> (final runner_state, metrics stacked over the num_updates updates): init, then one lax.scan."""

  def run(key):
    state = agent.init(key)
    return jax.lax.scan(lambda s, _: agent.update(s), state, None, length=agent.num_updates)

  return run


def make_env(config):
  """(env module, params) from `config.env`: its `id` and any env options beside it."""
  from dljax.rl import envs  # pylint: disable=import-outside-toplevel
  options = {k: v for k, v in config.env.items() if k != "id"}
  return envs.make(config.env.id, **options)


def check_discount(gamma: float, name: str = "agent_config.gamma") -> float:
  if not 0.0 <= gamma <= 1.0:
    raise UserError(f"--config.{name}={gamma}: a discount factor must be in [0, 1]")
  return float(gamma)


def check_positive(value, name: str):
  if not value > 0:
    raise UserError(f"--config.{name}={value} must be > 0")
  return value


def check_probability(value: float, name: str) -> float:
  if not 0.0 <= value <= 1.0:
    raise UserError(f"--config.{name}={value} must be in [0, 1]")
  return float(value)
