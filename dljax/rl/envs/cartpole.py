"""CartPole-v1 as pure JAX functions, step for step equal to gymnasium 1.4's `CartPoleEnv` + `TimeLimit(500)`.

Physics (Barto, Sutton & Anderson 1983; Florian 2005, the equations gymnasium cites), explicit Euler with
tau = 0.02 s:
  temp   = (F + m_p·l·θ̇²·sin θ) / (m_c + m_p)
  θ̈      = (g·sin θ − cos θ·temp) / (l·(4/3 − m_p·cos²θ / (m_c + m_p)))
  ẍ      = temp − m_p·l·θ̈·cos θ / (m_c + m_p)
  x ← x + τ·ẋ,  ẋ ← ẋ + τ·ẍ,  θ ← θ + τ·θ̇,  θ̇ ← θ̇ + τ·θ̈        (F = ±10 N, l = half the pole length)
Terminated when |x| > 2.4 or |θ| > 12°; truncated when the episode reaches 500 steps (both can hold at
once, as with gymnasium's TimeLimit). Reward +1 every step including the terminating one (or, with
`sutton_barto_reward`, 0 per step and −1 on termination). Start state uniform in [−0.05, 0.05)^4.

Arithmetic is float32 (gymnasium keeps its state in float64 and returns float32 observations); over the
short episodes of a random policy the observations agree to ~1e-7 (tests/rl/test_cartpole.py).
Stepping after `terminated` is undefined here as in gymnasium: use `wrappers.auto_reset_step`, or, to draw
the reset randomness of a whole batch and rollout in one call (much faster under jit on CPU, where every
threefry call inside a scan step is a loop of its own), `wrappers.auto_reset_step_from_uniforms(cartpole, None,
u_reset, state, action, params)` with u_reset of shape RESET_UNIFORM_SHAPE per env and step.
"""

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dljax.errors import UserError

NUM_ACTIONS = 2
OBSERVATION_SHAPE = (4,)
RESET_UNIFORM_SHAPE = (4,)                               # uniforms one reset consumes (`reset_from_uniform`)


class EnvParams(NamedTuple):
  gravity: float = 9.8
  masscart: float = 1.0
  masspole: float = 0.1
  length: float = 0.5                                    # half the pole's length
  force_mag: float = 10.0
  tau: float = 0.02                                      # seconds between state updates
  theta_threshold_radians: float = 12 * 2 * math.pi / 360
  x_threshold: float = 2.4
  reset_bound: float = 0.05                              # start state ~ U[-bound, bound)
  max_steps_in_episode: int = 500                        # CartPole-v1's TimeLimit
  sutton_barto_reward: bool = False


class EnvState(NamedTuple):
  x: jnp.ndarray
  x_dot: jnp.ndarray
  theta: jnp.ndarray
  theta_dot: jnp.ndarray
  time: jnp.ndarray                                      # steps taken in this episode


def default_params(**overrides) -> EnvParams:
  unknown = set(overrides) - set(EnvParams._fields)
  if unknown:
    raise UserError(f"CartPole-v1 has no parameter(s) {sorted(unknown)}; known: {list(EnvParams._fields)}")
  params = EnvParams(**overrides)
  if params.max_steps_in_episode < 1:
    raise UserError(f"CartPole-v1 max_steps_in_episode={params.max_steps_in_episode} must be >= 1")
  return params


def num_actions(params: EnvParams = EnvParams()) -> int:
  del params
  return NUM_ACTIONS


def observation_shape(params: EnvParams = EnvParams()) -> tuple[int, ...]:
  del params
  return OBSERVATION_SHAPE


def observation(state: EnvState) -> jnp.ndarray:
  return jnp.stack([state.x, state.x_dot, state.theta, state.theta_dot]).astype(jnp.float32)


@jax.jit  # compiled even when called eagerly: jitted, XLA may contract u·(h−l)+l into one fused multiply-add
def _scale_to_bounds(u, low, high):
  low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
  return jnp.maximum(low, jnp.asarray(u, jnp.float32) * (high - low) + low)


def reset_from_uniform(u, params: EnvParams = EnvParams()) -> tuple[jnp.ndarray, EnvState]:
  """The start state for `u` ~ U[0, 1)^RESET_UNIFORM_SHAPE, mapped onto [−bound, bound) exactly as
  `jax.random.uniform(key, (4,), float32, −bound, bound)` maps its own draw (so `reset` is this of one draw),
  letting a caller draw the reset randomness of many envs and steps in one bulk call."""
  x, x_dot, theta, theta_dot = _scale_to_bounds(u, -params.reset_bound, params.reset_bound)
  state = EnvState(x, x_dot, theta, theta_dot, jnp.int32(0))
  return observation(state), state


def reset(key: jax.Array, params: EnvParams = EnvParams()) -> tuple[jnp.ndarray, EnvState]:
  return reset_from_uniform(jax.random.uniform(key, RESET_UNIFORM_SHAPE, jnp.float32), params)


def check_action(action) -> None:
  """Raises UserError for a concrete action outside {0, 1}; traced actions cannot be checked (jit)."""
  if isinstance(action, jax.core.Tracer):
    return
  values = np.asarray(action)
  if not np.issubdtype(values.dtype, np.integer) or values.size and (values.min() < 0 or values.max() >= NUM_ACTIONS):
    raise UserError(f"CartPole-v1 actions must be integers in {{0, 1}}, got {values.tolist()}")


def step(key: jax.Array, state: EnvState, action, params: EnvParams = EnvParams()
         ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, jnp.ndarray, dict[str, Any]]:
  del key  # the dynamics are deterministic
  return step_from_uniform(None, state, action, params)


def step_from_uniform(u, state: EnvState, action, params: EnvParams = EnvParams()
                      ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, jnp.ndarray, dict[str, Any]]:
  """`step` in the tabular envs' uniform-driven interface, for `wrappers.auto_reset_step_from_uniforms`:
  the dynamics draw nothing, so `u` is ignored (pass None)."""
  del u
  check_action(action)
  f32 = lambda v: jnp.asarray(v, jnp.float32)
  gravity, masscart, masspole, length = f32(params.gravity), f32(params.masscart), f32(params.masspole), \
      f32(params.length)
  total_mass = masspole + masscart
  polemass_length = masspole * length
  tau = f32(params.tau)
  force = jnp.where(action == 1, f32(params.force_mag), -f32(params.force_mag))
  costheta, sintheta = jnp.cos(state.theta), jnp.sin(state.theta)
  temp = (force + polemass_length * jnp.square(state.theta_dot) * sintheta) / total_mass
  thetaacc = (gravity * sintheta - costheta * temp) / (
      length * (f32(4.0 / 3.0) - masspole * jnp.square(costheta) / total_mass))
  xacc = temp - polemass_length * thetaacc * costheta / total_mass
  new = EnvState(x=state.x + tau * state.x_dot,
                 x_dot=state.x_dot + tau * xacc,
                 theta=state.theta + tau * state.theta_dot,
                 theta_dot=state.theta_dot + tau * thetaacc,
                 time=state.time + 1)
  x_threshold, theta_threshold = f32(params.x_threshold), f32(params.theta_threshold_radians)
  terminated = ((new.x < -x_threshold) | (new.x > x_threshold)
                | (new.theta < -theta_threshold) | (new.theta > theta_threshold))
  truncated = new.time >= params.max_steps_in_episode
  # A traced `sutton_barto_reward` (params passed through jit) rules out a Python `if`.
  reward = jnp.where(params.sutton_barto_reward, jnp.where(terminated, -1.0, 0.0), 1.0).astype(jnp.float32)
  return observation(new), new, reward, terminated, truncated, {}
