"""Wrappers over any env module of dljax.rl.envs: auto-reset, and reward shaping (positive and negative
reinforcement: a goal bonus, a failure penalty, a step penalty, and potential-based shaping).

A wrapper is an object with the env-module interface (`reset`, `step`, `num_actions`,
`observation_shape`), so agents and `auto_reset_step` take either.
"""

from typing import Callable, Optional

import jax
import jax.numpy as jnp


def auto_reset_step(env, key, state, action, params):
  """One step that starts a new episode when this one ends (terminated or truncated).

  Returns (obs, state, reward, terminated, truncated, info) where reward/terminated/truncated are the
  step's true ones; obs and state are the new episode's first ones after an end, and
  info["final_obs"] is the observation the step really reached (for bootstrapping on truncation).
  """
  step_key, reset_key = jax.random.split(key)
  stepped = env.step(step_key, state, action, params)
  return _reset_where_done(stepped, env.reset(reset_key, params))


def auto_reset_step_from_uniforms(env, u_step, u_reset, state, action, params):
  """`auto_reset_step` for envs driven by uniforms (`step_from_uniform`, `reset_from_uniform`: the tabular
  ones take one per step and one per reset; CartPole none per step, u_step=None, and RESET_UNIFORM_SHAPE per
  reset), so an agent can draw the random numbers of a whole rollout and batch in one call. Under jit on CPU
  each threefry call inside a scan step runs as a loop of its own: per-step keys cost far more than one bulk
  draw of the same numbers (benchmarks/rl_cartpole_env.py: about 6x on CartPole)."""
  stepped = env.step_from_uniform(u_step, state, action, params)
  return _reset_where_done(stepped, env.reset_from_uniform(u_reset, params))


def _reset_where_done(stepped, reset):
  obs, next_state, reward, terminated, truncated, info = stepped
  reset_obs, reset_state = reset
  done = jnp.logical_or(terminated, truncated)
  pick = lambda fresh, current: jnp.where(done, fresh, current)
  new_state = jax.tree.map(pick, reset_state, next_state)
  new_obs = jax.tree.map(pick, reset_obs, obs)
  return new_obs, new_state, reward, terminated, truncated, {**info, "final_obs": obs}


class RewardShaping:
  """`env` with the reward r replaced by the shaped reward

    r' = r + goal_bonus·[goal] − failure_penalty·[failure] − step_penalty + F(s, s'),
    F(s, s') = γ·Φ(s')·(1 − terminated) − Φ(s)   (potential-based shaping, Ng, Harada & Russell 1999),

  where a goal is a terminating step with r > 0 and a failure a terminating step with r <= 0 (a hole
  in FrozenLake). Φ of a terminal state is taken as 0, which is what keeps the optimal policies of the
  episodic task unchanged under F (the bonus and penalties carry no such guarantee). The true reward is
  kept in info["raw_reward"], so returns are always reported in the task's own reward.
  """

  def __init__(self, env, *, goal_bonus: float = 0.0, failure_penalty: float = 0.0, step_penalty: float = 0.0,
               potential: Optional[Callable] = None, gamma: float = 1.0,
               observation_of: Callable = lambda state: state.position):
    self.env, self.observation_of = env, observation_of  # observation_of: env state -> its observation (Φ's input)
    self.goal_bonus, self.failure_penalty, self.step_penalty = goal_bonus, failure_penalty, step_penalty
    self.potential, self.gamma = potential, gamma

  def reset(self, key, params):
    return self.env.reset(key, params)

  def shaping(self, obs, next_obs, reward, terminated):
    """The added term r' − r for one transition (pure: used by the exact solvers too)."""
    terminated = jnp.asarray(terminated, jnp.float32)
    extra = (self.goal_bonus * terminated * (reward > 0) - self.failure_penalty * terminated * (reward <= 0)
             - self.step_penalty)
    if self.potential is not None:
      extra = extra + self.gamma * self.potential(next_obs) * (1.0 - terminated) - self.potential(obs)
    return extra

  def step(self, key, state, action, params):
    return self._shaped(state, self.env.step(key, state, action, params))

  def reset_from_uniform(self, u, params):
    return self.env.reset_from_uniform(u, params)

  def step_from_uniform(self, u, state, action, params):
    return self._shaped(state, self.env.step_from_uniform(u, state, action, params))

  def _shaped(self, state, stepped):
    obs, next_state, reward, terminated, truncated, info = stepped
    prev_obs = self.observation_of(state)
    shaped = reward + self.shaping(prev_obs, obs, reward, terminated)
    return obs, next_state, shaped, terminated, truncated, {**info, "raw_reward": reward}

  def num_actions(self, params):
    return self.env.num_actions(params)

  def observation_shape(self, params):
    return self.env.observation_shape(params)
