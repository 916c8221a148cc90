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
import jax.numpy as jnp

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


def episode_returns(env, env_params, policy, key, num_episodes: int, max_steps: int):
  """Undiscounted returns of `num_episodes` full episodes of `policy(obs) -> action` (batched over episodes),
  each run until it terminates or truncates (at most `max_steps` steps)."""
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_episodes), env_params)

  def body(carry, step_key):
    obs, state, total, alive = carry
    action = policy(obs)
    keys = jax.random.split(step_key, num_episodes)
    obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
        keys, state, action, env_params)
    total = total + jnp.where(alive, reward, 0.0)
    alive = alive & ~(terminated | truncated)
    return (obs, state, total, alive), None

  init = (obs, state, jnp.zeros(num_episodes), jnp.ones(num_episodes, bool))
  (_, _, total, _), _ = jax.lax.scan(body, init, jax.random.split(jax.random.fold_in(key, 1), max_steps))
  return total


def make_env(config):
  """(env module, params) from `config.env`: its `id` and any env options beside it."""
  from dljax.rl import envs  # pylint: disable=import-outside-toplevel
  options = {k: v for k, v in config.env.items() if k != "id"}
  return envs.make(config.env.id, **options)


def make_env_with_shapes(config):
  """(env module, params, number of actions, observation shape, episode step limit) from `config.env`."""
  env, env_params = make_env(config)
  max_steps = int(getattr(env_params, "max_steps_in_episode", 500))
  return env, env_params, env.num_actions(env_params), tuple(env.observation_shape(env_params)), max_steps


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
