"""gymnasium's toy-text MDPs (FrozenLake, CliffWalking, Taxi) as pure JAX functions over dense tables.

The tables are read once from gymnasium's `env.unwrapped.P[s][a] = [(p, s', r, terminated), ...]`
and kept entry by entry ("outcomes", padded to the longest list with p = 0), so a step samples
exactly what gymnasium samples: outcome index = argmax(cumsum(p) > u) for one uniform u
(gymnasium's `categorical_sample`), then the outcome's next state, reward and termination.
The time limit is gymnasium's `max_episode_steps` for the id (its `TimeLimit` wrapper:
truncated = steps taken >= limit, reported even when the step also terminates); 0 means none
(CliffWalking has none). gymnasium is used here to build the tables, never inside a step.
"""

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from dljax.errors import UserError

IDS = ("FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "CliffWalkingSlippery-v1", "Taxi-v4")
# Dynamics gymnasium adds outside its P table: the tables could not reproduce them.
_UNSUPPORTED = {"fickle_passenger": "Taxi's fickle passenger changes destination outside the P table"}


class TabularParams(flax.struct.PyTreeNode):
  probs: jnp.ndarray           # (S, A, K) float32: probability of outcome k
  cum_probs: jnp.ndarray       # (S, A, K) float32: cumsum over k, what gymnasium compares u against
  next_state: jnp.ndarray      # (S, A, K) int32
  reward: jnp.ndarray          # (S, A, K) float32
  terminated: jnp.ndarray      # (S, A, K) bool
  start_cum_probs: jnp.ndarray  # (S,) float32: cumsum of the start distribution
  start_probs: jnp.ndarray     # (S,) float32
  max_steps: int = flax.struct.field(pytree_node=False, default=0)  # 0: no time limit
  env_id: str = flax.struct.field(pytree_node=False, default="")


class TabularState(flax.struct.PyTreeNode):
  position: jnp.ndarray  # int32 state index: also the observation
  time: jnp.ndarray      # int32 steps taken in this episode


def _gym_env(env_id: str, kwargs: dict):
  import gymnasium as gym  # pylint: disable=import-outside-toplevel
  for key, why in _UNSUPPORTED.items():
    if kwargs.get(key):
      raise UserError(f"{env_id}: {key}=True is not supported ({why}); leave it False")
  try:
    return gym.make(env_id, **kwargs)
  except (TypeError, ValueError, KeyError) as e:  # an unknown option, or an unknown value (map_name="9x9")
    option = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    raise UserError(f"{env_id}: bad option among {option} ({type(e).__name__}: {e}); see gymnasium's "
                    "documentation of the environment (FrozenLake: map_name 4x4 or 8x8)") from None


def tables_from_gymnasium(env_id: str, **kwargs) -> dict[str, Any]:
  """numpy tables of gymnasium's `env_id` (kwargs go to `gymnasium.make`; `max_episode_steps` too)."""
  if env_id not in IDS:
    raise UserError(f"unknown tabular env {env_id!r}: choose one of {', '.join(IDS)}")
  env = _gym_env(env_id, kwargs)
  core = env.unwrapped
  num_states, num_actions = core.observation_space.n, core.action_space.n
  width = max(len(core.P[s][a]) for s in range(num_states) for a in range(num_actions))
  shape = (num_states, num_actions, width)
  probs, nxt = np.zeros(shape, np.float64), np.zeros(shape, np.int32)
  reward, term = np.zeros(shape, np.float32), np.zeros(shape, bool)
  for s in range(num_states):
    for a in range(num_actions):
      for k, (p, s2, r, t) in enumerate(core.P[s][a]):
        probs[s, a, k], nxt[s, a, k], reward[s, a, k], term[s, a, k] = p, s2, r, t
      # Padding repeats the last outcome with p = 0: never sampled, harmless if read.
      for k in range(len(core.P[s][a]), width):
        nxt[s, a, k], reward[s, a, k], term[s, a, k] = nxt[s, a, k - 1], reward[s, a, k - 1], term[s, a, k - 1]
  start = np.asarray(core.initial_state_distrib, np.float64)
  limit = env.spec.max_episode_steps if env.spec is not None else None
  env.close()
  return {"probs": probs, "next_state": nxt, "reward": reward, "terminated": term, "start_probs": start,
          "max_steps": int(limit or 0)}


def default_params(env_id: str = "FrozenLake-v1", **kwargs) -> TabularParams:
  t = tables_from_gymnasium(env_id, **kwargs)
  return TabularParams(
      probs=jnp.asarray(t["probs"], jnp.float32), cum_probs=jnp.asarray(np.cumsum(t["probs"], -1), jnp.float32),
      next_state=jnp.asarray(t["next_state"]), reward=jnp.asarray(t["reward"]),
      terminated=jnp.asarray(t["terminated"]), start_probs=jnp.asarray(t["start_probs"], jnp.float32),
      start_cum_probs=jnp.asarray(np.cumsum(t["start_probs"]), jnp.float32), max_steps=t["max_steps"],
      env_id=env_id)


def num_actions(params: TabularParams) -> int:
  return params.probs.shape[1]


def num_states(params: TabularParams) -> int:
  return params.probs.shape[0]


def observation_shape(params: TabularParams) -> tuple[int, ...]:
  del params
  return ()  # a scalar int32 state index


def _categorical(cum_probs, u):
  """gymnasium's categorical_sample: the first index whose cumulative probability exceeds u."""
  return jnp.argmax(cum_probs > u)


def reset_from_uniform(u, params: TabularParams):
  # The same first index with cumsum > u, by binary search: Taxi has 500 start states.
  last = params.start_cum_probs.shape[0] - 1
  position = jnp.minimum(jnp.searchsorted(params.start_cum_probs, u, side="right"), last).astype(jnp.int32)
  return position, TabularState(position=position, time=jnp.int32(0))


def reset(key, params: TabularParams):
  return reset_from_uniform(jax.random.uniform(key), params)


def check_action(action, params: TabularParams) -> None:
  """A concrete action outside [0, num_actions) is a UserError (traced actions come from the agent)."""
  if isinstance(action, jax.core.Tracer):
    return
  value = np.asarray(action)
  if value.shape != () or not np.issubdtype(value.dtype, np.integer) or not 0 <= int(value) < num_actions(params):
    raise UserError(f"action {action!r} is out of range for {params.env_id or 'this env'}: "
                    f"give an integer in [0, {num_actions(params)})")


def step_from_uniform(u, state: TabularState, action, params: TabularParams):
  """One step with gymnasium's own uniform draw `u`: step-for-step equal to gymnasium given the same u."""
  check_action(action, params)
  k = _categorical(params.cum_probs[state.position, action], u)
  position = params.next_state[state.position, action, k]
  reward = params.reward[state.position, action, k]
  terminated = params.terminated[state.position, action, k]
  time = state.time + 1
  truncated = jnp.asarray(params.max_steps > 0) & (time >= params.max_steps)
  info = {"prob": params.probs[state.position, action, k]}
  return position, TabularState(position=position, time=time), reward, terminated, truncated, info


def step(key, state: TabularState, action, params: TabularParams):
  return step_from_uniform(jax.random.uniform(key), state, action, params)
