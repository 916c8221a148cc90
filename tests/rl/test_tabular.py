"""The tabular envs against gymnasium itself: the tables, step-for-step trajectories driven by
gymnasium's own uniform draws, sampled next-state frequencies, the time limit, and bad input."""

import copy
import functools

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dljax.errors import UserError
from dljax.rl import envs, exact
from dljax.rl.envs import tabular, wrappers

CASES = [("FrozenLake-v1", {}), ("FrozenLake-v1", {"map_name": "8x8"}), ("FrozenLake8x8-v1", {}),
         ("CliffWalking-v1", {}), ("Taxi-v4", {})]


def _gym(env_id, options):
  return gym.make(env_id, **options)


@pytest.mark.parametrize("env_id,options", CASES)
def test_tables_equal_gymnasium_P(env_id, options):
  env, params = envs.make(env_id, **options)
  reference = _gym(env_id, options)
  core = reference.unwrapped
  assert env is tabular and params.max_steps == (reference.spec.max_episode_steps or 0)
  probs, nxt = np.asarray(params.probs), np.asarray(params.next_state)
  reward, term = np.asarray(params.reward), np.asarray(params.terminated)
  for s in range(core.observation_space.n):
    for a in range(core.action_space.n):
      entries = core.P[s][a]
      got = [(probs[s, a, k], nxt[s, a, k], reward[s, a, k], term[s, a, k]) for k in range(len(entries))]
      assert all(p == 0 for p in probs[s, a, len(entries):])
      for (p, s2, r, t), (gp, gs2, gr, gt) in zip(entries, got):
        assert (gs2, gr, gt) == (s2, r, t) and abs(gp - p) < 1e-7
  np.testing.assert_allclose(np.asarray(params.start_probs), core.initial_state_distrib, atol=1e-7)


def _next_uniform(reference):
  """The uniform gymnasium's next categorical_sample will draw (from a copy of its generator)."""
  return copy.deepcopy(reference.unwrapped.np_random).random()


@pytest.mark.parametrize("env_id,options", CASES)
def test_step_for_step_equal_to_gymnasium_with_its_own_draws(env_id, options):
  _, params = envs.make(env_id, **options)
  step = jax.jit(lambda u, s, a: tabular.step_from_uniform(u, s, a, params))
  reset = jax.jit(lambda u: tabular.reset_from_uniform(u, params))
  reference = _gym(env_id, options)
  actions = np.random.default_rng(0)
  episodes = terminations = truncations = 0
  for seed in range(6):
    reference.reset(seed=seed)
    reference.unwrapped.np_random = np.random.default_rng(seed)  # the same generator for both resets
    u = _next_uniform(reference)
    want_obs, _ = reference.reset()
    obs, state = reset(u)
    assert int(obs) == want_obs
    for _ in range(250):
      action = int(actions.integers(reference.action_space.n))
      u = _next_uniform(reference)
      want = reference.step(action)
      got = step(u, state, action)
      obs, state = got[0], got[1]
      assert (int(obs), float(got[2]), bool(got[3]), bool(got[4])) == (want[0], want[1], want[2], want[3])
      if want[2] or want[3]:
        episodes += 1
        terminations += want[2]
        truncations += want[3]
        u = _next_uniform(reference)
        want_obs, _ = reference.reset()
        obs, state = reset(u)
        assert int(obs) == want_obs
  assert episodes > 0 or env_id.startswith("Cliff")  # the comparison covered episode ends
  if env_id == "Taxi-v4":
    assert truncations > 0  # random actions rarely deliver: the 200-step limit was compared too


def test_sampled_transitions_match_gymnasium_probabilities():
  _, params = envs.make("FrozenLake-v1")
  core = _gym("FrozenLake-v1", {}).unwrapped
  n = 30_000
  for s, a in [(0, 1), (6, 2), (14, 2)]:
    state = tabular.TabularState(position=jnp.int32(s), time=jnp.int32(0))
    keys = jax.random.split(jax.random.key(s), n)
    nxt = np.asarray(jax.vmap(lambda k: tabular.step(k, state, a, params)[0])(keys))
    want = {}
    for p, s2, _, _ in core.P[s][a]:
      want[s2] = want.get(s2, 0.0) + p
    for s2, p in want.items():
      freq = np.mean(nxt == s2)
      assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n), (s, a, s2, freq, p)
    assert set(np.unique(nxt)) == set(want)


def test_truncation_at_the_time_limit_even_when_stuck():
  _, params = envs.make("FrozenLake-v1", is_slippery=False)
  state = tabular.reset(jax.random.key(0), params)[1]
  for t in range(100):
    _, state, _, terminated, truncated, _ = tabular.step(jax.random.key(t), state, 0, params)  # LEFT at 0: stays
    assert not terminated and bool(truncated) == (t == 99)


def test_auto_reset_reports_the_true_step_and_restarts():
  _, params = envs.make("FrozenLake-v1", is_slippery=False)
  state = tabular.TabularState(position=jnp.int32(14), time=jnp.int32(7))
  obs, state, reward, terminated, truncated, info = wrappers.auto_reset_step(
      tabular, jax.random.key(0), state, 2, params)  # RIGHT from 14 reaches the goal, 15
  assert (float(reward), bool(terminated), bool(truncated), int(info["final_obs"])) == (1.0, True, False, 15)
  assert int(obs) == 0 and int(state.position) == 0 and int(state.time) == 0
  obs, state, *_ = wrappers.auto_reset_step(tabular, jax.random.key(1), state, 2, params)
  assert int(obs) == 1 and int(state.time) == 1


def test_reward_shaping_formula_and_potential_shaping_keeps_the_optimal_policy():
  _, params = envs.make("FrozenLake-v1")
  phi = jnp.linspace(-1.0, 0.0, 16)
  gamma = 0.99
  shaped = wrappers.RewardShaping(tabular, goal_bonus=2.0, failure_penalty=0.5, step_penalty=0.01,
                                  potential=lambda s: phi[s], gamma=gamma)
  hole = tabular.TabularState(position=jnp.int32(4), time=jnp.int32(0))
  _, _, r, term, _, info = shaped.step_from_uniform(0.9, hole, 1, params)  # DOWN from 4, last outcome: 5, a hole
  assert bool(term) and float(info["raw_reward"]) == 0.0
  np.testing.assert_allclose(float(r), 0.0 - 0.5 - 0.01 + 0.0 - float(phi[4]), rtol=1e-6)
  # F = γΦ(s') − Φ(s) on every outcome: value iteration on r + F gives the same greedy policy.
  states = jnp.arange(16)[:, None, None]
  extra = gamma * phi[params.next_state] * (1 - params.terminated) - phi[states]
  _, q = exact.value_iteration(params, gamma, rewards=params.reward + extra)
  _, q_plain = exact.value_iteration(params, gamma)
  np.testing.assert_array_equal(exact.greedy_policy(q), exact.greedy_policy(q_plain))
  np.testing.assert_allclose(q, q_plain - phi[:, None], atol=1e-5)  # Ng et al.: Q' = Q − Φ


def test_bad_input_is_a_user_error():
  with pytest.raises(UserError, match="unknown env id 'FrozenPond-v0'.*FrozenLake-v1"):
    envs.make("FrozenPond-v0")
  _, params = envs.make("FrozenLake-v1")
  _, state = tabular.reset(jax.random.key(0), params)
  for action in (4, -1, 1.5):
    with pytest.raises(UserError, match="out of range"):
      tabular.step(jax.random.key(0), state, action, params)
  with pytest.raises(UserError, match="bad option"):
    envs.make("FrozenLake-v1", map_size="4x4")
  with pytest.raises(UserError, match="fickle_passenger"):
    envs.make("Taxi-v4", fickle_passenger=True)


# The optima the experiments and README quote (experiments/rl_tabular.py), checked with numpy on
# gymnasium's own P table. gamma: the discount of the Q-learner and of value iteration, whose greedy policy
# is "the optimal policy"; horizon: how the trainer evaluates (gymnasium's time limit; CliffWalking has
# none, so q_learning.DEFAULT_EVAL_HORIZON); figures: quoted values of that policy within the horizon,
# undiscounted, from gymnasium's start distribution; best: the quoted time-dependent optimum within it.
# Figures as printed: each is checked to half a unit of its last digit.
OPTIMA = [
    ("FrozenLake-v1", 0.99, 100, {"success": "0.7402"}, ("success", "0.7442")),  # reward 1 at the goal only
    ("CliffWalking-v1", 1.0, 1000, {"return": "-13.00", "success": "1.0"}, ("return", "-13.00")),
    ("Taxi-v4", 0.99, 200, {"return": "7.930"}, ("return", "7.930")),  # 7.919: the mean of 64 learned policies
]


@functools.lru_cache
def _numpy_mdp(env_id):
  """(P (S, A, S), r (S, A), goal (S, A), start (S,)) in float64, straight from gymnasium's P: P holds only
  non-terminating outcomes (an episode's value ends at termination), goal the probability of terminating
  at the goal (FrozenLake: not in a hole; CliffWalking and Taxi terminate only at theirs)."""
  core = gym.make(env_id).unwrapped
  num_states, num_actions = core.observation_space.n, core.action_space.n
  p = np.zeros((num_states, num_actions, num_states))
  r, goal = np.zeros((num_states, num_actions)), np.zeros((num_states, num_actions))
  for s in range(num_states):
    for a in range(num_actions):
      for prob, s2, reward, terminated in core.P[s][a]:
        r[s, a] += prob * reward
        if terminated:
          goal[s, a] += prob * (not (env_id.startswith("FrozenLake") and core.desc.flat[s2] == b"H"))
        else:
          p[s, a, s2] += prob
  return p, r, goal, np.asarray(core.initial_state_distrib, np.float64)


@functools.lru_cache
def _dljax_optimal_policy(env_id, gamma):
  _, params = envs.make(env_id)
  return np.asarray(exact.greedy_policy(exact.value_iteration(params, gamma)[1]))


def _assert_rounds_to(value, printed, what):
  """`value` rounds to the figure as printed: within half a unit of its last digit (0.7402: 5e-5)."""
  assert abs(value - float(printed)) <= 0.5 * 10.0 ** -len(printed.partition(".")[2]), (what, value, printed)


@pytest.mark.parametrize("env_id,gamma,horizon,figures,best", OPTIMA)
def test_quoted_optima_by_numpy_linear_solves_on_gymnasiums_P(env_id, gamma, horizon, figures, best):
  p, r, goal, start = _numpy_mdp(env_id)
  policy = _dljax_optimal_policy(env_id, gamma)
  states = np.arange(len(start))
  p_pi, eye = p[states, policy], np.eye(len(start))
  steps = np.linalg.solve(eye - p_pi, np.ones(len(start)))  # expected steps to termination
  assert np.all(np.isfinite(steps)) and np.all(steps >= 1) and steps.max() < 1e3  # every episode ends
  for name, quoted in figures.items():
    r_pi = (r if name == "return" else goal)[states, policy]
    after_horizon = functools.reduce(lambda v, _: p_pi @ v, range(horizon), r_pi)  # P_π^H r_π
    # Undiscounted within H steps: V_H = Σ_{t<H} P_π^t r_π = (I − P_π)⁻¹ (I − P_π^H) r_π.
    _assert_rounds_to(start @ np.linalg.solve(eye - p_pi, r_pi - after_horizon), quoted, name)
  # The quoted best within the horizon: backward induction V_h = max_a (r + P V_{h−1}), V_0 = 0, in numpy.
  name, quoted = best
  values = np.zeros(len(start))
  for _ in range(horizon):
    values = np.max((r if name == "return" else goal) + p @ values, axis=1)
  _assert_rounds_to(start @ values, quoted, f"best {name}")


@pytest.mark.parametrize("env_id,gamma", [case[:2] for case in OPTIMA])
def test_dljax_optimal_policy_passes_numpys_policy_improvement_check(env_id, gamma):
  """V_π = (I − γP_π)⁻¹ r_π by numpy, then no action improves on π anywhere: Q(s, a) = r + γ P V_π <= V_π(s).
  With γ = 1 (CliffWalking) π ends every episode and any policy that does not pays −1 forever, so the
  same check still proves optimality (stochastic shortest path)."""
  p, r, _, start = _numpy_mdp(env_id)
  policy = _dljax_optimal_policy(env_id, gamma)
  states = np.arange(len(start))
  system = np.eye(len(start)) - gamma * p[states, policy]
  values = np.linalg.solve(system, r[states, policy])
  q = r + gamma * p @ values
  # LU is backward stable: |δV| <= ~S·ε·κ∞·|V|∞, κ∞ <= (1 + γ)·max_s T(s) with T = (I − γP_π)⁻¹ 1 (the
  # inverse is >= 0), and Q − V adds (1 + γ)|δV| plus |r|∞ rounding: 4·S·ε·T·(|V|∞ + |r|∞) bounds it.
  discounted_steps = np.linalg.solve(system, np.ones(len(start)))
  tol = 4 * len(start) * np.finfo(np.float64).eps * discounted_steps.max() * (np.abs(values).max() + np.abs(r).max())
  np.testing.assert_allclose(q[states, policy], values, rtol=0, atol=tol)
  assert np.max(q - values[:, None]) <= tol, (np.max(q - values[:, None]), tol)
