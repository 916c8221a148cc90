"""Deep Q-network (Mnih et al. 2015): replay buffer held as JAX arrays, target network, ε-greedy schedule,
Huber loss, Adam; Double DQN's target (van Hasselt et al. 2016), n-step returns and a LayerNorm Q-network.

One update = one ε-greedy step in each of `num_envs` auto-resetting envs (transitions written into the
ring buffer), then, once `learning_starts` env steps are stored, `gradient_steps` Adam steps, each on a uniformly
sampled minibatch, of the loss

  L(θ) = E_(s_t,a_t)~D [ huber(G_t + γ^m·(1 − term)·max_a' Q_θ⁻(s_{t+m}, a') − Q_θ(s_t, a_t)) ],
  G_t = Σ_{k<m} γ^k·r_{t+k},  m = min(n_step, steps until the episode ends)
  (Double DQN: Q_θ⁻(s', argmax_a' Q_θ(s', a')) in place of the max),

and every `target_update_every` gradient steps the target θ⁻ ← τ·θ + (1 − τ)·θ⁻ (τ = 1: a copy; τ ≪ 1 every step:
Polyak averaging). ε decays linearly from `epsilon_start` to `epsilon_end` over the first `exploration_fraction`
of the run. Truncation (the 500-step limit) is not a terminal state: s' is the observation the step reached
(`info["final_obs"]`) and is bootstrapped. With `layer_norm`, every hidden layer is ReLU(LayerNorm(W h + b)).
The ratio of gradient steps to env steps is gradient_steps / num_envs. Evaluation: the greedy policy
argmax_a Q_θ(s, a), full episodes from fresh resets.
"""

import functools
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl.envs import wrappers


def default_agent_config() -> ml_collections.ConfigDict:
  """Tuned for CartPole within 100k env steps: LayerNorm Q-network, 5-step returns, one Adam step per env step,
  Polyak target (τ = 0.005), Adam's rate decayed linearly to 0 (it settles the greedy policy), a buffer holding the
  whole run. Other settings tried are listed in cartpole_dqn's docstring."""
  return ml_collections.ConfigDict(dict(
      total_env_steps=100_000, num_envs=1, buffer_size=100_000, batch_size=128, learning_starts=1_000,
      gamma=0.99, learning_rate=5e-4, final_learning_rate=0.0, max_grad_norm=10.0, target_update_every=1,
      target_tau=0.005, epsilon_start=1.0, epsilon_end=0.04, exploration_fraction=0.1, double_q=True,
      hidden=(64, 64), layer_norm=True, gradient_steps=1, n_step=5, adam_eps=1e-8, eval_episodes=10))


class QNetwork(nn.Module):
  """Q(s, ·): an MLP whose hidden layers are ReLU(LayerNorm(W h + b)) with `layer_norm`, ReLU(W h + b) without.
  LayerNorm keeps the features' scale fixed while TD targets move, which stabilises off-policy TD learning
  (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning", PQN; Lyle et al. 2024, "Normalization
  and effective learning rates in reinforcement learning")."""
  hidden: Sequence[int]
  num_actions: int
  layer_norm: bool = False

  @nn.compact
  def __call__(self, x):
    for i, width in enumerate(self.hidden):
      x = nn.Dense(width, name=f"dense_{i}")(x)
      if self.layer_norm:
        x = nn.LayerNorm(name=f"layer_norm_{i}")(x)
      x = nn.relu(x)
    return nn.Dense(self.num_actions, name="head")(x)


class Buffer(NamedTuple):
  obs: jnp.ndarray         # (capacity, *obs_shape)
  action: jnp.ndarray      # (capacity,)
  reward: jnp.ndarray
  next_obs: jnp.ndarray    # the observation the step reached (before any auto-reset)
  terminated: jnp.ndarray  # float: 1 where s' is terminal (no bootstrap)
  done: jnp.ndarray        # float: 1 where the episode ended at this step (terminated or truncated)
  size: jnp.ndarray        # filled rows
  position: jnp.ndarray    # next row written (ring)


class RunnerState(NamedTuple):
  params: Any
  target_params: Any
  opt_state: Any
  buffer: Buffer
  env_state: Any
  obs: jnp.ndarray
  episode_return: jnp.ndarray  # (num_envs,) running return of the current episodes
  last_return: jnp.ndarray     # (num_envs,) return of each env's last finished episode
  update_count: jnp.ndarray
  rng: jnp.ndarray             # raw key data


def check_config(cfg) -> None:
  agent_lib.check_discount(cfg.gamma)
  for name in ("epsilon_start", "epsilon_end", "exploration_fraction", "target_tau"):
    agent_lib.check_probability(cfg[name], f"agent_config.{name}")
  for name in ("total_env_steps", "num_envs", "buffer_size", "batch_size", "learning_rate",
               "target_update_every", "gradient_steps", "n_step", "adam_eps", "eval_episodes"):
    agent_lib.check_positive(cfg[name], f"agent_config.{name}")
  if cfg.buffer_size % cfg.num_envs:
    raise UserError(f"--config.agent_config.buffer_size={cfg.buffer_size} must be a multiple of num_envs "
                    f"({cfg.num_envs})")
  if cfg.learning_starts < cfg.n_step * cfg.num_envs or cfg.buffer_size <= cfg.n_step * cfg.num_envs:
    raise UserError(f"--config.agent_config.learning_starts={cfg.learning_starts} and buffer_size={cfg.buffer_size} "
                    f"must hold n_step x num_envs = {cfg.n_step * cfg.num_envs} env steps (an n-step return's rows)")
  if cfg.total_env_steps < cfg.num_envs:
    raise UserError(f"--config.agent_config.total_env_steps={cfg.total_env_steps} is less than num_envs")


def linear_schedule(start, end, duration, t):
  return start + (end - start) * jnp.clip(t / max(duration, 1), 0.0, 1.0)


def td_target(reward, terminated, next_q_target, next_q_online, gamma: float, double_q: bool):
  """r + γ·(1 − term)·max_a' Q⁻(s', a'), or with Double DQN r + γ·(1 − term)·Q⁻(s', argmax_a' Q(s', a'))."""
  if double_q:
    next_action = jnp.argmax(next_q_online, axis=-1)
    next_value = jnp.take_along_axis(next_q_target, next_action[:, None], axis=1)[:, 0]
  else:
    next_value = next_q_target.max(axis=-1)
  return reward + gamma * (1.0 - terminated) * next_value


def n_step_batch(buffer: Buffer, offset, n_step: int, gamma: float, num_envs: int):
  """Transitions starting `offset` rows after the oldest stored one, each with its n-step return

    G = Σ_{k<m} γ^k·r_{t+k},  bootstrapped by γ^m·(1 − term_{t+m−1})·V(s_{t+m}),  m = min(n, steps to episode end),

  (Sutton & Barto 2018, eq. 7.1; Rainbow, Hessel et al. 2018). Rows are written time-major (row = t·num_envs + env),
  so the same env's next step is num_envs rows later; offsets must leave n − 1 steps after them in the buffer.
  Returns (obs, action, G, s_{t+m}, term_{t+m−1}, γ^m): `td_target`'s reward, terminated and gamma."""
  capacity = buffer.obs.shape[0]
  rows = (buffer.position - buffer.size + offset) % capacity
  ret, alive = jnp.zeros(rows.shape), jnp.ones(rows.shape)
  next_obs, terminated, discount = buffer.next_obs[rows], buffer.terminated[rows], jnp.full(rows.shape, gamma)
  for k in range(n_step):
    row = (rows + k * num_envs) % capacity
    ret = ret + alive * gamma**k * buffer.reward[row]
    stops_here = alive * jnp.maximum(buffer.done[row], float(k == n_step - 1)) > 0  # the return's last step
    next_obs = jnp.where(stops_here[:, None], buffer.next_obs[row], next_obs)
    terminated = jnp.where(stops_here, buffer.terminated[row], terminated)
    discount = jnp.where(stops_here, gamma**(k + 1), discount)
    alive = alive * (1.0 - buffer.done[row])
  return buffer.obs[rows], buffer.action[rows], ret, next_obs, terminated, discount


def make_train(config: ml_collections.ConfigDict) -> agent_lib.Agent:
  cfg = config.agent_config
  check_config(cfg)
  env, env_params, n_actions, obs_shape, max_steps = agent_lib.make_env_with_shapes(config)
  network = QNetwork(tuple(cfg.hidden), n_actions, cfg.layer_norm)
  num_updates = cfg.total_env_steps // cfg.num_envs
  learning_starts = cfg.learning_starts // cfg.num_envs  # in updates
  exploration_updates = int(cfg.exploration_fraction * num_updates)
  learning_rate = optax.linear_schedule(cfg.learning_rate, cfg.final_learning_rate,
                                        max((num_updates - learning_starts) * cfg.gradient_steps, 1))
  tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(learning_rate, eps=cfg.adam_eps))
  vmap_step = jax.vmap(functools.partial(wrappers.auto_reset_step, env), in_axes=(0, 0, 0, None))
  q_values = lambda params, obs: network.apply(params, obs)

  def init(key):
    init_key, reset_key, rng = jax.random.split(key, 3)
    params = network.init(init_key, jnp.zeros((1, *obs_shape)))
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, cfg.num_envs), env_params)
    zeros = lambda *shape, dtype=jnp.float32: jnp.zeros((cfg.buffer_size, *shape), dtype)
    buffer = Buffer(zeros(*obs_shape), zeros(dtype=jnp.int32), zeros(), zeros(*obs_shape), zeros(), zeros(),
                    jnp.int32(0), jnp.int32(0))
    env_zeros = jnp.zeros(cfg.num_envs)
    return RunnerState(params, params, tx.init(params), buffer, env_state, obs, env_zeros, env_zeros, jnp.int32(0),
                       jax.random.key_data(rng))

  def add(buffer: Buffer, obs, action, reward, next_obs, terminated, done) -> Buffer:
    at = lambda rows, new: jax.lax.dynamic_update_slice_in_dim(rows, new.astype(rows.dtype), buffer.position, 0)
    return Buffer(at(buffer.obs, obs), at(buffer.action, action), at(buffer.reward, reward),
                  at(buffer.next_obs, next_obs), at(buffer.terminated, terminated), at(buffer.done, done),
                  jnp.minimum(buffer.size + cfg.num_envs, cfg.buffer_size),
                  (buffer.position + cfg.num_envs) % cfg.buffer_size)

  def loss_fn(params, target_params, batch):
    obs, action, reward, next_obs, terminated, discount = batch
    target = jax.lax.stop_gradient(td_target(reward, terminated, q_values(target_params, next_obs),
                                             q_values(params, next_obs), discount, cfg.double_q))
    q_taken = jnp.take_along_axis(q_values(params, obs), action[:, None], axis=1)[:, 0]
    return optax.huber_loss(q_taken, target, delta=1.0).mean(), jnp.abs(q_taken - target).mean()

  def update(runner: RunnerState):
    rng = jax.random.wrap_key_data(runner.rng)
    rng, explore_key, action_key, env_key, sample_key = jax.random.split(rng, 5)
    # ε-greedy step in every env.
    epsilon = linear_schedule(cfg.epsilon_start, cfg.epsilon_end, exploration_updates, runner.update_count)
    greedy = jnp.argmax(q_values(runner.params, runner.obs), axis=-1)
    random_action = jax.random.randint(action_key, (cfg.num_envs,), 0, n_actions)
    action = jnp.where(jax.random.uniform(explore_key, (cfg.num_envs,)) < epsilon, random_action, greedy)
    next_obs, env_state, reward, terminated, truncated, info = vmap_step(
        jax.random.split(env_key, cfg.num_envs), runner.env_state, action, env_params)
    done = terminated | truncated
    buffer = add(runner.buffer, runner.obs, action, reward, info["final_obs"], terminated, done)
    episode_return = runner.episode_return + reward
    last_return = jnp.where(done, episode_return, runner.last_return)

    # `gradient_steps` Adam steps, each on its own uniform minibatch of n-step transitions, applied once learning
    # has started; the target moves after every `target_update_every`-th gradient step (counted over the run).
    learning = runner.update_count >= learning_starts
    sampleable = jnp.maximum(buffer.size - (cfg.n_step - 1) * cfg.num_envs, 1)  # rows with n − 1 steps after them

    def gradient_step(carry, step):
      params, target_params, opt_state = carry
      offset = jax.random.randint(jax.random.fold_in(sample_key, step), (cfg.batch_size,), 0, sampleable)
      batch = n_step_batch(buffer, offset, cfg.n_step, cfg.gamma, cfg.num_envs)
      (loss, td_error), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, target_params, batch)
      updates, new_opt_state = tx.update(grads, opt_state, params)
      keep_if_not_learning = lambda new, old: jax.tree.map(lambda n, o: jnp.where(learning, n, o), new, old)
      params = keep_if_not_learning(optax.apply_updates(params, updates), params)
      opt_state = keep_if_not_learning(new_opt_state, opt_state)
      refresh = (runner.update_count * cfg.gradient_steps + step + 1) % cfg.target_update_every == 0
      target_params = jax.tree.map(lambda p, t: jnp.where(refresh, cfg.target_tau * p + (1 - cfg.target_tau) * t, t),
                                   params, target_params)
      return (params, target_params, opt_state), (loss, td_error)

    (params, target_params, opt_state), (loss, td_error) = jax.lax.scan(
        gradient_step, (runner.params, runner.target_params, runner.opt_state), jnp.arange(cfg.gradient_steps))
    loss, td_error = loss.mean(), td_error.mean()
    update_count = runner.update_count + 1

    runner = RunnerState(params, target_params, opt_state, buffer, env_state, next_obs,
                         jnp.where(done, 0.0, episode_return), last_return, update_count, jax.random.key_data(rng))
    metrics = {"loss": jnp.where(learning, loss, 0.0), "td_error": jnp.where(learning, td_error, 0.0),
               "epsilon": epsilon, "episode_return": last_return.mean()}
    return runner, metrics

  def evaluate(runner: RunnerState, key):
    greedy = lambda obs: jnp.argmax(q_values(runner.params, obs), axis=-1)
    returns = agent_lib.episode_returns(env, env_params, greedy, key, cfg.eval_episodes, max_steps)
    return {"mean_return": returns.mean()}

  return agent_lib.Agent(init=init, update=update, evaluate=evaluate, num_updates=num_updates,
                         env_steps_per_update=cfg.num_envs)
