"""CartPole-v1 in JAX against gymnasium 1.4's CartPole-v1 (the reference), step for step."""

import functools

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dljax.errors import UserError
from dljax.rl.envs import cartpole, wrappers

PARAMS = cartpole.default_params()
_step = jax.jit(cartpole.step)
_reset = jax.jit(cartpole.reset)


def _as_gym_state(state):
  return np.array([state.x, state.x_dot, state.theta, state.theta_dot], np.float64)


def _gym_env_at(state):
  env = gym.make("CartPole-v1")
  env.reset(seed=0)
  env.unwrapped.state = _as_gym_state(state)
  return env


def test_random_episodes_equal_gymnasium():
  """Same start state and random actions: same rewards, terminations, truncations, lengths, and observations.

  Our state is float32, gymnasium's float64; the pole's instability amplifies the rounding difference, so over
  whole episodes the observations agree to ~3e-6 (measured over 300 seeds); a single step agrees to 1 ulp.
  """
  lengths, worst = [], 0.0
  for seed in range(100):
    key = jax.random.key(seed)
    obs, state = _reset(key, PARAMS)
    assert obs.dtype == jnp.float32 and obs.shape == (4,) and np.all(np.abs(obs) <= 0.05)
    env = _gym_env_at(state)
    actions = np.random.RandomState(seed).randint(0, 2, size=500)
    for t, action in enumerate(actions):
      g_obs, g_reward, g_term, g_trunc, _ = env.step(int(action))
      obs, state, reward, term, trunc, _ = _step(key, state, jnp.int32(action), PARAMS)
      assert (bool(term), bool(trunc), float(reward)) == (g_term, g_trunc, g_reward), (seed, t)
      np.testing.assert_allclose(np.asarray(obs), g_obs, rtol=0, atol=1e-5)
      worst = max(worst, float(np.abs(np.asarray(obs) - g_obs).max()))
      if g_term or g_trunc:
        lengths.append(t + 1)
        break
  assert len(lengths) == 100 and min(lengths) >= 8 and max(lengths) > 40  # real, varied episodes
  assert worst < 1e-5


def test_one_step_from_the_same_state_equals_gymnasium_to_1e6():
  """From any reachable state, one step gives gymnasium's observation to 1e-6 (both actions)."""
  rng = np.random.RandomState(1)
  states = cartpole.EnvState(*[jnp.asarray(rng.uniform(-b, b, 400), jnp.float32) for b in (2.4, 3.0, 0.2, 3.5)],
                             time=jnp.zeros(400, jnp.int32))
  actions = jnp.asarray(rng.randint(0, 2, 400), jnp.int32)
  obs, _, _, term, _, _ = jax.jit(jax.vmap(cartpole.step, in_axes=(None, 0, 0, None)))(
      jax.random.key(0), states, actions, PARAMS)
  for i in range(400):
    env = _gym_env_at(jax.tree.map(lambda a: a[i], states))
    g_obs, _, g_term, _, _ = env.step(int(actions[i]))
    np.testing.assert_allclose(np.asarray(obs[i]), g_obs, rtol=0, atol=1e-6)
    assert bool(term[i]) == g_term


def test_truncation_at_500_like_gymnasium_time_limit():
  """A balancing controller lasts 500 steps: truncated exactly at step 500 in both (gymnasium's state synced to
  ours every step, so its TimeLimit and termination checks see the same physics)."""
  key = jax.random.key(3)
  obs, state = _reset(key, PARAMS)
  env = _gym_env_at(state)
  for t in range(500):
    action = int(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1] > 0)  # PD control of angle and position
    env.unwrapped.state = _as_gym_state(state)
    g_obs, _, g_term, g_trunc, _ = env.step(action)
    obs, state, reward, term, trunc, _ = _step(key, state, jnp.int32(action), PARAMS)
    np.testing.assert_allclose(np.asarray(obs), g_obs, rtol=0, atol=1e-6)
    assert (bool(term), bool(trunc)) == (g_term, g_trunc) == (False, t == 499), t
    assert float(reward) == 1.0
  assert int(state.time) == 500


def test_sutton_barto_reward():
  params = cartpole.default_params(sutton_barto_reward=True)
  _, state = cartpole.reset(jax.random.key(0), params)
  state = state._replace(theta=jnp.float32(0.2), theta_dot=jnp.float32(1.0))  # falls this step
  _, _, reward, term, _, _ = jax.jit(cartpole.step)(jax.random.key(0), state, jnp.int32(0), params)
  assert bool(term) and float(reward) == -1.0


def test_bad_input_is_a_user_error():
  _, state = cartpole.reset(jax.random.key(0), PARAMS)
  for bad in (2, -1, 0.5, np.array([0, 3])):
    with pytest.raises(UserError, match="actions must be integers in"):
      cartpole.step(jax.random.key(0), state, bad, PARAMS)
  with pytest.raises(UserError, match="no parameter"):
    cartpole.default_params(gravty=9.8)
  assert cartpole.num_actions(PARAMS) == 2 and cartpole.observation_shape(PARAMS) == (4,)


def test_vmapped_resets_differ_and_are_jax_uniform_on_the_reset_bounds():
  """reset(key) (reset_from_uniform of one U[0, 1)^4 draw) equals jax.random.uniform on [-0.05, 0.05) bit for
  bit, jitted and eager alike; 256 vmapped resets are 256 different start states."""
  keys = jax.random.split(jax.random.key(7), 256)
  expected = np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (4,), jnp.float32, -0.05, 0.05))(keys))
  obs = np.asarray(jax.jit(jax.vmap(cartpole.reset, in_axes=(0, None)))(keys, PARAMS)[0])
  np.testing.assert_array_equal(obs, expected)
  assert len(np.unique(obs[:, 0])) == 256
  for i in range(3):
    np.testing.assert_array_equal(np.asarray(cartpole.reset(keys[i], PARAMS)[0]), expected[i])


def test_bulk_drawn_auto_reset_rollout_equals_gymnasium():
  """The benchmark's batched path (actions and reset uniforms drawn in bulk, laid out [step, 4, env], then
  auto_reset_step_from_uniforms in a scan) replayed env by env in gymnasium, its state synced to ours before
  every step: same rewards and ends, observations to 1e-6; after each end the next episode starts from that
  step's uniforms mapped onto [-0.05, 0.05)."""
  num_envs, num_steps = 8, 300
  rng = np.random.RandomState(0)
  start_uniforms = rng.uniform(size=(num_envs, *cartpole.RESET_UNIFORM_SHAPE)).astype(np.float32)
  reset_uniforms = rng.uniform(size=(num_steps, *cartpole.RESET_UNIFORM_SHAPE, num_envs)).astype(np.float32)
  actions = rng.randint(0, 2, (num_steps, num_envs)).astype(np.int32)
  step = jax.vmap(functools.partial(wrappers.auto_reset_step_from_uniforms, cartpole, None), in_axes=(1, 0, 0, None))

  @jax.jit
  def rollout(start_uniforms, reset_uniforms, actions):
    start_obs, state = jax.vmap(cartpole.reset_from_uniform, in_axes=(0, None))(start_uniforms, PARAMS)

    def body(state, xs):
      obs, state, reward, term, trunc, info = step(xs[0], state, xs[1], PARAMS)
      return state, (obs, reward, term, trunc, info["final_obs"])
    return start_obs, jax.lax.scan(body, state, (reset_uniforms, actions))[1]

  start_obs, (obs, reward, term, trunc, final_obs) = jax.tree.map(
      np.asarray, rollout(start_uniforms, reset_uniforms, actions))
  to_bounds = lambda u: u * np.float32(0.1) - np.float32(0.05)
  np.testing.assert_allclose(start_obs, to_bounds(start_uniforms), rtol=0, atol=1e-8)
  episodes = 0
  for i in range(num_envs):
    env, current = gym.make("CartPole-v1"), start_obs[i]
    env.reset(seed=0)
    for t in range(num_steps):
      env.unwrapped.state = current.astype(np.float64)  # our float32 state is exactly our observation
      g_obs, g_reward, g_term, g_trunc, _ = env.step(int(actions[t, i]))
      assert (bool(term[t, i]), bool(trunc[t, i]), float(reward[t, i])) == (g_term, g_trunc, g_reward), (i, t)
      np.testing.assert_allclose(final_obs[t, i], g_obs, rtol=0, atol=1e-6)
      current = obs[t, i]
      if g_term or g_trunc:
        np.testing.assert_allclose(current, to_bounds(reset_uniforms[t, :, i]), rtol=0, atol=1e-8)
        episodes += 1
        env.reset()  # restarts gymnasium's TimeLimit count
      else:
        np.testing.assert_array_equal(current, final_obs[t, i])
  assert episodes > num_envs * 5
