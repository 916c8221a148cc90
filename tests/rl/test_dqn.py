"""DQN: TD targets against numpy, the replay buffer against gymnasium's physics, the ε schedule, the target
network refresh, a few-step vmapped train, and config errors."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl import dqn


def _config(**agent_overrides):
  c = ml_collections.ConfigDict()
  c.env = ml_collections.ConfigDict({"id": "CartPole-v1"})
  c.agent_config = dqn.default_agent_config()
  c.agent_config.update(dict(total_env_steps=238, num_envs=2, buffer_size=200, batch_size=16, learning_starts=40,
                             target_update_every=7, target_tau=1.0, exploration_fraction=0.5, hidden=(16,),
                             n_step=2, eval_episodes=2))
  c.agent_config.update(agent_overrides)
  return c


@pytest.fixture(scope="module")
def trained():
  agent = dqn.make_train(_config())
  runners, metrics = jax.jit(jax.vmap(agent_lib.train(agent)))(jax.random.split(jax.random.key(0), 2))
  return agent, runners, jax.device_get(metrics)


@pytest.mark.parametrize("double_q", [False, True])
def test_td_target_equals_numpy(double_q):
  rng = np.random.RandomState(0)
  reward, terminated = rng.rand(32).astype(np.float32), (rng.rand(32) < 0.3).astype(np.float32)
  q_target, q_online = rng.randn(32, 3).astype(np.float32), rng.randn(32, 3).astype(np.float32)
  bootstrap = q_target[np.arange(32), q_online.argmax(1)] if double_q else q_target.max(1)
  expected = reward + 0.9 * (1 - terminated) * bootstrap
  got = dqn.td_target(reward, terminated, q_target, q_online, 0.9, double_q)
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


@pytest.mark.parametrize("n_step", [1, 3])
def test_n_step_batch_equals_numpy(n_step):
  """A wrapped ring of 2 envs: each sampled row's n-step return, bootstrap state and discount, against a loop that
  follows the same env forward in time until an episode end or n steps."""
  rng = np.random.RandomState(1)
  capacity, num_envs, gamma = 40, 2, 0.9
  done = (rng.rand(capacity) < 0.3).astype(np.float32)
  buffer = dqn.Buffer(obs=rng.randn(capacity, 4).astype(np.float32), action=rng.randint(0, 2, capacity),
                      reward=rng.rand(capacity).astype(np.float32), next_obs=rng.randn(capacity, 4).astype(np.float32),
                      terminated=done * (rng.rand(capacity) < 0.5), done=done, size=jnp.int32(capacity),
                      position=jnp.int32(14))  # full: the oldest row is 14, the newest 13
  offset = np.arange(capacity - (n_step - 1) * num_envs)
  batch = jax.jit(dqn.n_step_batch, static_argnums=(2, 3, 4))
  got = jax.device_get(batch(jax.tree.map(jnp.asarray, buffer), jnp.asarray(offset), n_step, gamma, num_envs))
  for i, off in enumerate(offset):
    row = (14 + off) % capacity
    ret = 0.0
    for k in range(n_step):
      r = (row + k * num_envs) % capacity
      ret += gamma**k * buffer.reward[r]
      if buffer.done[r] or k == n_step - 1:
        break
    np.testing.assert_allclose([got[2][i], got[5][i], got[4][i]], [ret, gamma**(k + 1), buffer.terminated[r]],
                               rtol=1e-6)
    np.testing.assert_array_equal(got[3][i], buffer.next_obs[r])
    np.testing.assert_array_equal(got[0][i], buffer.obs[row])
    assert got[1][i] == buffer.action[row]


def test_replay_buffer_holds_gymnasium_transitions(trained):
  """Every stored (s, a, s', terminated) is what gymnasium's CartPole gives from s under a, across resets."""
  agent, runners, _ = trained
  buffer = jax.tree.map(lambda x: np.asarray(x[0]), runners.buffer)
  assert int(buffer.size) == 200 and int(buffer.position) == 238 % 200  # the ring wrapped around
  env = gym.make("CartPole-v1").unwrapped
  env.reset(seed=0)
  for i in range(200):
    env.state = buffer.obs[i].astype(np.float64)  # our state is float32: the observation is the state
    env.steps_beyond_terminated = None                # as after a reset
    next_obs, reward, terminated, _, _ = env.step(int(buffer.action[i]))
    np.testing.assert_allclose(buffer.next_obs[i], next_obs, atol=1e-6)
    assert (bool(buffer.terminated[i]), float(buffer.reward[i])) == (terminated, reward)
  assert buffer.terminated.sum() >= 2  # episodes ended (and were reset) inside the run


def test_epsilon_schedule_target_refresh_and_seeds(trained):
  agent, runners, metrics = trained
  updates = np.arange(agent.num_updates)
  expected = 1.0 + (0.04 - 1.0) * np.clip(updates / int(0.5 * agent.num_updates), 0, 1)
  np.testing.assert_allclose(metrics["epsilon"][0], expected, rtol=1e-6)
  assert np.all(metrics["loss"][:, :20] == 0) and np.all(metrics["loss"][:, 20:] > 0)  # learning_starts=40 steps
  assert np.isfinite(metrics["td_error"]).all()
  # 119 updates: the target was refreshed by the last one (119 = 17 * 7), so it equals the online network.
  online, target = runners.params, runners.target_params
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), online, target))
  first = jax.tree.leaves(online)[0]
  assert not np.allclose(first[0], first[1])  # the two vmapped seeds differ
  evaluation = jax.jit(jax.vmap(agent.evaluate))(runners, jax.random.split(jax.random.key(1), 2))
  assert np.all((evaluation["mean_return"] >= 8) & (evaluation["mean_return"] <= 500))


@pytest.mark.parametrize("override, message", [
    (dict(gamma=1.5), "discount factor must be in"), (dict(epsilon_end=-0.1), "epsilon_end"),
    (dict(buffer_size=201), "multiple of num_envs"), (dict(batch_size=0), "batch_size"),
    (dict(n_step=30), "n_step x num_envs")])
def test_bad_config_is_a_user_error(override, message):
  with pytest.raises(UserError, match=message):
    dqn.make_train(_config(**override))
