"""Q-learning's update against a hand-computed step, the exact solvers against known optima and
against gymnasium rollouts, and a short vmapped training run."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl import envs, exact, q_learning


def _config(env_id="FrozenLake-v1", **agent):
  c = ml_collections.ConfigDict()
  c.env = ml_collections.ConfigDict({"id": env_id})
  c.agent_config = q_learning.default_agent_config(**agent)
  return c


def test_q_update_matches_a_hand_computed_step():
  q = jnp.array([[0.0, 0.5], [0.2, 0.8], [0.0, 0.0]])
  # Q(0,1) ← 0.5 + 0.1·[1 + 0.9·max(0.2, 0.8) − 0.5] = 0.5 + 0.1·1.22 = 0.622
  new, td = q_learning.q_update(q, 0, 1, 1.0, 1, jnp.bool_(False), 0.1, 0.9)
  np.testing.assert_allclose(float(td), 1.22, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(new), [[0.0, 0.622], [0.2, 0.8], [0.0, 0.0]], rtol=1e-6)
  # Termination: no bootstrap. Q(1,0) ← 0.2 + 0.5·(−1 − 0.2) = −0.4
  new, td = q_learning.q_update(q, 1, 0, -1.0, 2, jnp.bool_(True), 0.5, 0.9)
  np.testing.assert_allclose(float(td), -1.2, rtol=1e-6)
  np.testing.assert_allclose(float(new[1, 0]), -0.4, rtol=1e-6)


def test_epsilon_greedy_explores_uniformly_with_probability_epsilon():
  q_row = jnp.array([0.0, 3.0, 1.0, 2.0])
  u = jax.random.uniform(jax.random.key(0), (200_000,))
  actions = np.asarray(jax.vmap(lambda x: q_learning.epsilon_greedy(q_row, 0.2, x))(u))
  freq = np.bincount(actions, minlength=4) / len(actions)
  np.testing.assert_allclose(freq, [0.05, 0.85, 0.05, 0.05], atol=0.004)
  np.testing.assert_allclose(float(q_learning.linear_decay(1.0, 0.01, 0.5)), 0.505, rtol=1e-6)
  assert float(q_learning.linear_decay(1.0, 0.01, 2.0)) == pytest.approx(0.01)


def test_value_iteration_reproduces_the_known_frozenlake_optimum():
  _, params = envs.make("FrozenLake-v1")
  success = exact.goal_rewards(params)
  # The best success probability within gymnasium's 100-step limit (issue 5: 0.744).
  best = float(exact.from_start(params, exact.finite_horizon_optimum(params, 100, rewards=success)))
  assert best == pytest.approx(0.7442, abs=1e-4)
  values, q = exact.value_iteration(params, 0.99)
  policy = exact.greedy_policy(q)
  # The linear solve of the greedy policy's Bellman equation gives back V* (policy evaluation = VI).
  np.testing.assert_allclose(exact.evaluate_policy(params, policy, 0.99), values, atol=1e-4)
  np.testing.assert_array_equal(policy, [0, 3, 3, 3, 0, 0, 0, 0, 3, 1, 0, 0, 0, 2, 1, 0])
  within_100 = float(exact.from_start(params, exact.evaluate_policy_finite_horizon(params, policy, 100,
                                                                                   rewards=success)))
  assert within_100 <= best
  # Against gymnasium itself: the same policy rolled out, success frequency within 4 standard errors.
  env, rng_policy = gym.make("FrozenLake-v1"), np.asarray(policy)
  wins, n = 0, 1500
  env.reset(seed=0)
  for _ in range(n):
    s, _ = env.reset()
    done = False
    while not done:
      s, r, terminated, truncated, _ = env.step(int(rng_policy[s]))
      done = terminated or truncated
    wins += r > 0
  assert abs(wins / n - within_100) < 4 * np.sqrt(within_100 * (1 - within_100) / n)


def test_cliffwalking_optimum_is_the_13_step_edge_path():
  _, params = envs.make("CliffWalking-v1")
  _, q = exact.value_iteration(params, 0.99)
  values = exact.evaluate_policy_finite_horizon(params, exact.greedy_policy(q), 1000)
  assert float(exact.from_start(params, values)) == pytest.approx(-13.0)


def test_short_training_learns_frozenlake_and_seeds_differ():
  agent = q_learning.make_train(_config(learning_rate=0.2, learning_rate_end=0.005, num_episodes=1500,
                                        num_env_steps=60_000))
  keys = jax.random.split(jax.random.key(0), 8)
  states, metrics = jax.jit(jax.vmap(agent_lib.train(agent)))(keys)
  assert metrics["td_error"].shape == (8, agent.num_updates)
  results = jax.vmap(agent.evaluate)(states, keys)
  assert np.all(np.asarray(results["episodes"]) == 1500)  # every seed finished its episodes
  assert float(np.mean(results["success_rate"])) > 0.70
  q = np.asarray(states.q).reshape(8, -1)
  assert len({row.tobytes() for row in q}) == 8  # each seed its own run


@pytest.mark.parametrize("field,value,needle", [("gamma", 1.5, "discount"), ("gamma", -0.1, "discount"),
                                                ("learning_rate", 0.0, "learning_rate"),
                                                ("epsilon_end", 2.0, "epsilon_end")])
def test_bad_hyper_parameters_are_user_errors(field, value, needle):
  with pytest.raises(UserError, match=needle):
    q_learning.make_train(_config(**{field: value}))


def test_unknown_env_and_non_tabular_env_are_user_errors():
  with pytest.raises(UserError, match="unknown env id"):
    q_learning.make_train(_config("Lake-v0"))
  with pytest.raises(UserError, match="no time limit"):
    q_learning.make_train(_config("CliffWalking-v1"))
