"""REINFORCE with a baseline and PPO: returns and GAE against numpy loops, few-step vmapped training (seeds
differ, budget respected), the registered experiments through the loop, and config errors."""

import jax
import ml_collections
import numpy as np
import pytest

from dljax import config as config_lib
from dljax import registry
from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl import ppo, reinforce
from dljax.train import loop


def _config(module, **agent_overrides):
  c = ml_collections.ConfigDict()
  c.env = ml_collections.ConfigDict({"id": "CartPole-v1"})
  c.agent_config = module.default_agent_config()
  c.agent_config.update(agent_overrides)
  return c


def test_discounted_returns_equal_numpy():
  rng = np.random.RandomState(0)
  rewards = rng.rand(30, 4).astype(np.float32)
  lengths = np.array([30, 12, 1, 25])
  alive = (np.arange(30)[:, None] < lengths).astype(np.float32)
  expected = np.zeros_like(rewards)
  for e in range(4):
    g = 0.0
    for t in reversed(range(lengths[e])):
      g = rewards[t, e] + 0.9 * g
      expected[t, e] = g
  got = reinforce.discounted_returns(rewards, alive, 0.9)
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


def test_gae_equals_numpy():
  rng = np.random.RandomState(1)
  T, n = 20, 3
  f = lambda *s: rng.randn(*s).astype(np.float32)
  terminated = (rng.rand(T, n) < 0.1).astype(np.float32)
  done = np.maximum(terminated, (rng.rand(T, n) < 0.1)).astype(np.float32)  # plus truncations
  traj = ppo.Transition(obs=f(T, n, 4), action=np.zeros((T, n), np.int32), log_prob=f(T, n), value=f(T, n),
                        reward=f(T, n), terminated=terminated, done=done, next_value=f(T, n))
  gamma, lam = 0.99, 0.95
  expected, next_adv = np.zeros((T, n), np.float32), np.zeros(n, np.float32)
  for t in reversed(range(T)):
    delta = traj.reward[t] + gamma * traj.next_value[t] * (1 - terminated[t]) - traj.value[t]
    next_adv = delta + gamma * lam * (1 - done[t]) * next_adv
    expected[t] = next_adv
  advantages, targets = ppo.gae(traj, gamma, lam)
  np.testing.assert_allclose(np.asarray(advantages), expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(targets), expected + traj.value, rtol=1e-5, atol=1e-5)


def _train_two_seeds(agent):
  runners, metrics = jax.jit(jax.vmap(agent_lib.train(agent)))(jax.random.split(jax.random.key(0), 2))
  return runners, jax.device_get(metrics)


def test_reinforce_few_updates_budget_and_distinct_seeds():
  agent = reinforce.make_train(_config(reinforce, total_env_steps=300, num_updates=6, num_episodes=4,
                                       hidden=(16,), eval_episodes=2))
  runners, metrics = _train_two_seeds(agent)
  assert np.isfinite(metrics["loss"]).all()
  used = np.asarray(runners.env_steps)
  assert np.all(used <= 300) and np.all(used >= 4 * 8)  # the budget caps the run; episodes last >= 8 steps
  assert np.all(metrics["env_steps"][:, -1] == used)
  first = jax.tree.leaves(runners.params)[0]
  assert not np.allclose(first[0], first[1])
  evaluation = jax.jit(jax.vmap(agent.evaluate))(runners, jax.random.split(jax.random.key(1), 2))
  assert np.all((evaluation["mean_return"] >= 8) & (evaluation["mean_return"] <= 500))


def test_ppo_few_updates_and_distinct_seeds():
  agent = ppo.make_train(_config(ppo, total_env_steps=2 * 4 * 32, num_steps=32, hidden=(16,), eval_episodes=2))
  assert agent.num_updates == 2 and agent.env_steps_per_update == 128
  runners, metrics = _train_two_seeds(agent)
  assert np.isfinite(metrics["loss"]).all() and np.all((metrics["entropy"] > 0) & (metrics["entropy"] <= np.log(2)))
  first = jax.tree.leaves(runners.params)[0]
  assert not np.allclose(first[0], first[1])


# The loop's multi-seed path with a tiny DQN (mechanics: two seeds, stderr over seeds); that each agent
# learns, through the same loop, is tests/rl/test_agents_learn.py.
@pytest.mark.parametrize("name, overrides", [
    ("cartpole_dqn", ["agent_config.total_env_steps=64", "agent_config.learning_starts=8",
                      "agent_config.buffer_size=32", "agent_config.hidden=(8,)", "log_every_steps=16"]),
])
def test_registered_experiment_runs_through_the_loop(tmp_path, name, overrides):
  config = config_lib.apply_overrides(registry.get_config(name),
                                      ["num_seeds=2", "checkpoint_every_steps=1000", "agent_config.eval_episodes=2",
                                       *overrides])
  summary = loop.train_and_evaluate(config, str(tmp_path))
  metrics = summary["metrics"]
  assert summary["status"] == "done" and 8 <= metrics["mean_return"] <= 500
  assert np.isfinite(metrics["mean_return_stderr"])


@pytest.mark.parametrize("module, override, message", [
    (ppo, dict(gamma=-0.1), "discount factor must be in"), (reinforce, dict(gamma=1.01), "discount factor must be in"),
    (ppo, dict(num_minibatches=3), "must divide"), (ppo, dict(gae_lambda=2.0), "gae_lambda"),
    (reinforce, dict(num_episodes=0), "num_episodes")])
def test_bad_config_is_a_user_error(module, override, message):
  with pytest.raises(UserError, match=message):
    module.make_train(_config(module, **override))
