"""PPO (Schulman et al. 2017) with GAE, clipped objective and vectorised environments, PureJaxRL style.

One update = a rollout of `num_steps` steps in each of `num_envs` auto-resetting envs, then `update_epochs`
passes of `num_minibatches` minibatch Adam steps on

  L(θ) = −E[min(ρ_t·Â_t, clip(ρ_t, 1−ε, 1+ε)·Â_t)] + c_v·E[max((V_θ(s_t) − R_t)², (V_clip(s_t) − R_t)²)] / 2
         − c_e·E[H(π_θ(·|s_t))],        ρ_t = π_θ(a_t|s_t) / π_old(a_t|s_t),

with the generalised advantage estimate (Schulman et al. 2016)
  δ_t = r_t + γ·V(s_{t+1})·(1 − terminated_t) − V(s_t),   Â_t = δ_t + γλ·(1 − done_t)·Â_{t+1},   R_t = Â_t + V(s_t),
normalised per minibatch. Truncation (the 500-step limit) is not failure: there V(s_{t+1}) is the value of the
observation the step reached (`info["final_obs"]`), not of the next episode's first one.
Evaluation: the greedy policy argmax_a π(a|s), full episodes.
"""

import functools
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from dljax import nn as dnn
from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl.envs import wrappers


def default_agent_config() -> ml_collections.ConfigDict:
  """PureJaxRL's CartPole hyper-parameters."""
  return ml_collections.ConfigDict(dict(
      total_env_steps=500_000, num_envs=4, num_steps=128, update_epochs=4, num_minibatches=4,
      gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
      learning_rate=2.5e-4, anneal_lr=True, hidden=(64, 64), activation="tanh", eval_episodes=10))


class ActorCritic(nn.Module):
  """Separate policy and value MLPs: logits π(·|s) and V(s)."""
  num_actions: int
  hidden: tuple
  activation: str

  @nn.compact
  def __call__(self, obs):
    logits = dnn.MLP(self.hidden, self.num_actions, self.activation, name="actor")(obs)
    value = dnn.MLP(self.hidden, 1, self.activation, name="critic")(obs)[..., 0]
    return logits, value


class RunnerState(NamedTuple):
  params: Any
  opt_state: Any
  env_state: Any          # (num_envs, ...)
  obs: jnp.ndarray        # (num_envs, *obs_shape)
  episode_return: jnp.ndarray  # (num_envs,) return so far of each env's current episode
  last_return: jnp.ndarray     # (num_envs,) return of each env's last finished episode
  rng: jnp.ndarray        # raw key data (checkpoint-friendly)


class Transition(NamedTuple):
  obs: jnp.ndarray
  action: jnp.ndarray
  log_prob: jnp.ndarray
  value: jnp.ndarray
  reward: jnp.ndarray
  terminated: jnp.ndarray
  done: jnp.ndarray
  next_value: jnp.ndarray  # V of the observation the step reached (before any reset)


def gae(traj: Transition, gamma: float, gae_lambda: float):
  """(Â_t, R_t = Â_t + V(s_t)) by the reverse recursion over a time-major rollout (T, num_envs)."""
  def body(next_advantage, t):
    delta = t.reward + gamma * t.next_value * (1.0 - t.terminated) - t.value
    advantage = delta + gamma * gae_lambda * (1.0 - t.done) * next_advantage
    return advantage, advantage
  _, advantages = jax.lax.scan(body, jnp.zeros(traj.reward.shape[1:]), traj, reverse=True)
  return advantages, advantages + traj.value


def check_config(cfg) -> None:
  agent_lib.check_discount(cfg.gamma)
  agent_lib.check_probability(cfg.gae_lambda, "agent_config.gae_lambda")
  for name in ("num_envs", "num_steps", "update_epochs", "num_minibatches", "total_env_steps",
               "learning_rate", "clip_eps", "eval_episodes"):
    agent_lib.check_positive(cfg[name], f"agent_config.{name}")
  if (cfg.num_envs * cfg.num_steps) % cfg.num_minibatches:
    raise UserError(f"--config.agent_config.num_minibatches={cfg.num_minibatches} must divide num_envs * num_steps "
                    f"= {cfg.num_envs * cfg.num_steps}")
  if cfg.total_env_steps < cfg.num_envs * cfg.num_steps:
    raise UserError(f"--config.agent_config.total_env_steps={cfg.total_env_steps} is less than one rollout "
                    f"(num_envs * num_steps = {cfg.num_envs * cfg.num_steps})")


def make_train(config: ml_collections.ConfigDict) -> agent_lib.Agent:
  cfg = config.agent_config
  check_config(cfg)
  env, env_params, n_actions, obs_shape, max_steps = agent_lib.make_env_with_shapes(config)
  network = ActorCritic(n_actions, tuple(cfg.hidden), cfg.activation)
  batch_size = cfg.num_envs * cfg.num_steps
  minibatch_size = batch_size // cfg.num_minibatches
  num_updates = cfg.total_env_steps // batch_size
  grad_steps = num_updates * cfg.update_epochs * cfg.num_minibatches
  learning_rate = (optax.linear_schedule(cfg.learning_rate, 0.0, grad_steps) if cfg.anneal_lr
                   else cfg.learning_rate)
  tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(learning_rate, eps=1e-5))
  vmap_step = jax.vmap(functools.partial(wrappers.auto_reset_step, env), in_axes=(0, 0, 0, None))

  def init(key):
    init_key, reset_key, rng = jax.random.split(key, 3)
    params = network.init(init_key, jnp.zeros((1, *obs_shape)))
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, cfg.num_envs), env_params)
    return RunnerState(params, tx.init(params), env_state, obs, jnp.zeros(cfg.num_envs), jnp.zeros(cfg.num_envs),
                       jax.random.key_data(rng))

  def env_step(carry, step_key):
    params, env_state, obs, episode_return, last_return = carry
    act_key, env_key = jax.random.split(step_key)
    logits, value = network.apply(params, obs)
    action = jax.random.categorical(act_key, logits)
    log_prob = jax.nn.log_softmax(logits)[jnp.arange(cfg.num_envs), action]
    next_obs, env_state, reward, terminated, truncated, info = vmap_step(
        jax.random.split(env_key, cfg.num_envs), env_state, action, env_params)
    _, next_value = network.apply(params, info["final_obs"])
    done = terminated | truncated
    episode_return = episode_return + reward
    transition = Transition(obs, action, log_prob, value, reward, terminated, done, next_value)
    last_return = jnp.where(done, episode_return, last_return)
    return (params, env_state, next_obs, jnp.where(done, 0.0, episode_return), last_return), transition

  def loss_fn(params, batch, advantages, targets):
    logits, value = network.apply(params, batch.obs)
    log_probs = jax.nn.log_softmax(logits)
    log_prob = jnp.take_along_axis(log_probs, batch.action[:, None], axis=1)[:, 0]
    value_clipped = batch.value + jnp.clip(value - batch.value, -cfg.clip_eps, cfg.clip_eps)
    value_loss = 0.5 * jnp.maximum(jnp.square(value - targets), jnp.square(value_clipped - targets)).mean()
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    ratio = jnp.exp(log_prob - batch.log_prob)
    policy_loss = -jnp.minimum(ratio * advantages,
                               jnp.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * advantages).mean()
    entropy = -(jnp.exp(log_probs) * log_probs).sum(-1).mean()
    total = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
    return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

  def minibatch_step(carry, minibatch):
    params, opt_state = carry
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, *minibatch)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), {"loss": loss, **aux}

  def epoch(carry, epoch_key, data):
    order = jax.random.permutation(epoch_key, batch_size)
    minibatches = jax.tree.map(
        lambda x: x.reshape(batch_size, *x.shape[2:])[order].reshape(cfg.num_minibatches, minibatch_size,
                                                                     *x.shape[2:]), data)
    return jax.lax.scan(minibatch_step, carry, minibatches)

  def update(runner: RunnerState):
    rng = jax.random.wrap_key_data(runner.rng)
    rng, rollout_key, epochs_key = jax.random.split(rng, 3)
    carry = (runner.params, runner.env_state, runner.obs, runner.episode_return, runner.last_return)
    (_, env_state, obs, episode_return, last_return), traj = jax.lax.scan(
        env_step, carry, jax.random.split(rollout_key, cfg.num_steps))
    advantages, targets = gae(traj, cfg.gamma, cfg.gae_lambda)
    (params, opt_state), losses = jax.lax.scan(
        functools.partial(epoch, data=(traj, advantages, targets)), (runner.params, runner.opt_state),
        jax.random.split(epochs_key, cfg.update_epochs))
    metrics = {k: v.mean() for k, v in losses.items()}
    metrics["episode_return"] = last_return.mean()  # of the (stochastic) training policy
    runner = RunnerState(params, opt_state, env_state, obs, episode_return, last_return, jax.random.key_data(rng))
    return runner, metrics

  def evaluate(runner: RunnerState, key):
    greedy = lambda obs: jnp.argmax(network.apply(runner.params, obs)[0], axis=-1)
    returns = agent_lib.episode_returns(env, env_params, greedy, key, cfg.eval_episodes, max_steps)
    return {"mean_return": returns.mean()}

  return agent_lib.Agent(init=init, update=update, evaluate=evaluate, num_updates=num_updates,
                         env_steps_per_update=batch_size)

