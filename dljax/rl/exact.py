"""Exact solvers for the tabular MDPs of dljax.rl.envs.tabular (nothing sampled).

With outcome tables p_k, s'_k, r_k, d_k (terminated) per (s, a):
  Bellman backup    Q(s, a) = Σ_k p_k [r_k + γ (1 − d_k) V(s'_k)]
  value iteration   V ← max_a Q(s, a) until the largest change is below tol (γ < 1, or γ = 1 when
                    every policy ends episodes, e.g. FrozenLake from its holes and goal);
  finite horizon    V_0 = 0, V_h = max_a Q_h(s, a) with V_{h−1}: the best time-dependent policy within
                    h steps, i.e. under gymnasium's time limit (FrozenLake 4x4: 100 steps);
  policy evaluation (I − γ P_π) V = r_π by a linear solve (infinite horizon, γ < 1), and
                    V_h = r_π + P_π V_{h−1} for h steps (what a time-limited episode returns).
P_π excludes terminating outcomes (their continuation value is 0). The success probability of a goal
task is the expected return with reward [reaches the goal] and γ = 1.
"""

import functools

import jax
import jax.numpy as jnp

from dljax.rl.envs.tabular import TabularParams


def goal_outcomes(params: TabularParams) -> jnp.ndarray:
  """(S, A, K) bool: outcomes that reach the goal: terminating with the highest terminating reward
  (FrozenLake: the goal, r = 1, not a hole, r = 0; Taxi: a drop-off; CliffWalking: its one goal)."""
  best = jnp.max(jnp.where(params.terminated & (params.probs > 0), params.reward, -jnp.inf))
  return params.terminated & (params.probs > 0) & (params.reward == best)


def goal_rewards(params: TabularParams) -> jnp.ndarray:
  """Outcome rewards 1 for reaching the goal, else 0: expected return = success probability."""
  return goal_outcomes(params).astype(jnp.float32)


def bellman_q(params: TabularParams, values, gamma, rewards=None):
  """Q(s, a) = Σ_k p_k [r_k + γ (1 − d_k) V(s'_k)]."""
  rewards = params.reward if rewards is None else rewards
  continuation = gamma * (1.0 - params.terminated.astype(values.dtype)) * values[params.next_state]
  return jnp.sum(params.probs * (rewards + continuation), axis=-1)


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def value_iteration(params: TabularParams, gamma: float, *, tol: float = 1e-10, max_iterations: int = 100_000,
                    rewards=None):
  """(V*, Q*) of the infinite-horizon discounted MDP, iterated in float64 when x64 is on, else float32."""
  num_states = params.probs.shape[0]

  def body(carry):
    values, _, i = carry
    new = jnp.max(bellman_q(params, values, gamma, rewards), axis=1)
    return new, jnp.max(jnp.abs(new - values)), i + 1

  values, _, _ = jax.lax.while_loop(lambda c: (c[1] > tol) & (c[2] < max_iterations), body,
                                    (jnp.zeros(num_states), jnp.inf, 0))
  return values, bellman_q(params, values, gamma, rewards)


@functools.partial(jax.jit, static_argnums=1)
def finite_horizon_optimum(params: TabularParams, horizon: int, gamma: float = 1.0, rewards=None):
  """V_h for h = horizon: the best expected return within `horizon` steps from each state."""
  def backup(values, _):
    return jnp.max(bellman_q(params, values, gamma, rewards), axis=1), None

  values, _ = jax.lax.scan(backup, jnp.zeros(params.probs.shape[0]), None, length=horizon)
  return values


def _policy_tables(params: TabularParams, policy, rewards=None):
  """(P_π without terminating outcomes (S, S), r_π (S,)) of a deterministic policy (S,) int."""
  rewards = params.reward if rewards is None else rewards
  states = jnp.arange(params.probs.shape[0])
  probs, nxt = params.probs[states, policy], params.next_state[states, policy]
  live = probs * (1.0 - params.terminated[states, policy].astype(probs.dtype))
  transition = jnp.zeros((len(states), len(states)), probs.dtype).at[states[:, None], nxt].add(live)
  return transition, jnp.sum(probs * rewards[states, policy], axis=-1)


def evaluate_policy(params: TabularParams, policy, gamma: float, rewards=None):
  """V_π solving (I − γ P_π) V = r_π (γ < 1, or γ = 1 for a policy that ends every episode)."""
  transition, reward = _policy_tables(params, policy, rewards)
  return jnp.linalg.solve(jnp.eye(len(reward)) - gamma * transition, reward)


@functools.partial(jax.jit, static_argnums=2)
def evaluate_policy_finite_horizon(params: TabularParams, policy, horizon: int, gamma: float = 1.0,
                                   rewards=None):
  """V_h of a stationary policy within `horizon` steps: V_h = r_π + γ P_π V_{h−1}, V_0 = 0."""
  transition, reward = _policy_tables(params, policy, rewards)
  values, _ = jax.lax.scan(lambda v, _: (reward + gamma * transition @ v, None), jnp.zeros_like(reward), None,
                           length=horizon)
  return values


def from_start(params: TabularParams, values):
  """Expected value over gymnasium's start distribution."""
  return jnp.dot(params.start_probs, values)


def greedy_policy(q_values):
  """argmax_a Q(s, a), the first maximum on ties (numpy's and gymnasium examples' convention)."""
  return jnp.argmax(q_values, axis=1)
