"""REINFORCE with a learned value baseline (Williams 1992; Sutton & Barto 2018, §13.4).

One update = `num_episodes` complete episodes from fresh resets (each run for at most the env's step limit,
steps after an episode's end masked out), then one Adam step on

  L(θ, w) = −(1/N)·Σ_t log π_θ(a_t|s_t)·(G_t − b_w(s_t)) + c_v·(1/N)·Σ_t (G_t − b_w(s_t))²,
  G_t = Σ_{k≥t} γ^{k−t}·r_k  (Monte-Carlo return to the episode's end),   N = number of real steps,

where the baseline b_w(s) is a value network fitted to G_t (it lowers the variance of the gradient, not its
mean) and the advantage G_t − b_w(s_t) is held constant in the policy term (optionally normalised over the
batch). The run is capped by `total_env_steps` real env steps: once they are used up, updates leave the
parameters unchanged: an update is applied only if its episodes still fit in the budget (the scan has a fixed
length; `num_updates` should exceed what the budget allows).
Evaluation: the greedy policy argmax_a π(a|s), full episodes.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from dljax import nn as dnn
from dljax.rl import agent as agent_lib


def default_agent_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      total_env_steps=500_000, num_updates=500, num_episodes=8, gamma=0.99, learning_rate=1e-3,
      value_coef=0.5, normalize_advantages=True, max_grad_norm=1.0, hidden=(64, 64), activation="tanh",
      eval_episodes=10))


class RunnerState(NamedTuple):
  params: Any              # {"policy": ..., "baseline": ...}
  opt_state: Any
  env_steps: jnp.ndarray   # real env steps of the updates applied so far
  exhausted: jnp.ndarray   # the budget is used up: no further update is applied
  rng: jnp.ndarray         # raw key data


def check_config(cfg) -> None:
  agent_lib.check_discount(cfg.gamma)
  for name in ("total_env_steps", "num_updates", "num_episodes", "learning_rate", "eval_episodes"):
    agent_lib.check_positive(cfg[name], f"agent_config.{name}")


def discounted_returns(rewards, alive, gamma):
  """G_t = r_t + γ·G_{t+1} within each episode (time-major (T, episodes); steps after the end are masked)."""
  def body(next_return, step):
    reward, mask = step
    g = (reward + gamma * next_return) * mask
    return g, g
  _, returns = jax.lax.scan(body, jnp.zeros(rewards.shape[1]), (rewards, alive), reverse=True)
  return returns


def make_train(config: ml_collections.ConfigDict) -> agent_lib.Agent:
  cfg = config.agent_config
  check_config(cfg)
  env, env_params, n_actions, obs_shape, max_steps = agent_lib.make_env_with_shapes(config)
  policy = dnn.MLP(tuple(cfg.hidden), n_actions, cfg.activation)
  baseline = dnn.MLP(tuple(cfg.hidden), 1, cfg.activation)
  tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.learning_rate))
  batch_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

  def init(key):
    policy_key, baseline_key, rng = jax.random.split(key, 3)
    sample = jnp.zeros((1, *obs_shape))
    params = {"policy": policy.init(policy_key, sample), "baseline": baseline.init(baseline_key, sample)}
    return RunnerState(params, tx.init(params), jnp.int32(0), jnp.bool_(False), jax.random.key_data(rng))

  def episodes(params, key):
    """num_episodes episodes sampled from π_θ, time-major, with the mask of steps that really happened."""
    reset_key, steps_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(reset_key, cfg.num_episodes), env_params)

    def body(carry, step_key):
      obs, state, alive = carry
      act_key, env_key = jax.random.split(step_key)
      action = jax.random.categorical(act_key, policy.apply(params["policy"], obs))
      next_obs, state, reward, terminated, truncated, _ = batch_step(
          jax.random.split(env_key, cfg.num_episodes), state, action, env_params)
      return (next_obs, state, alive & ~(terminated | truncated)), (obs, action, reward, alive)

    init_carry = (obs, state, jnp.ones(cfg.num_episodes, bool))
    _, (obs, actions, rewards, alive) = jax.lax.scan(body, init_carry, jax.random.split(steps_key, max_steps))
    return obs, actions, rewards, alive.astype(jnp.float32)

  def loss_fn(params, obs, actions, returns, mask):
    n = mask.sum()
    log_probs = jax.nn.log_softmax(policy.apply(params["policy"], obs.reshape(-1, *obs_shape)))
    log_prob = jnp.take_along_axis(log_probs, actions.reshape(-1, 1), axis=1)[:, 0]
    value = baseline.apply(params["baseline"], obs.reshape(-1, *obs_shape))[:, 0]
    returns, mask = returns.reshape(-1), mask.reshape(-1)
    advantage = jax.lax.stop_gradient(returns - value)
    if cfg.normalize_advantages:
      mean = (advantage * mask).sum() / n
      std = jnp.sqrt((jnp.square(advantage - mean) * mask).sum() / n)
      advantage = (advantage - mean) / (std + 1e-8)
    policy_loss = -(log_prob * advantage * mask).sum() / n
    baseline_loss = (jnp.square(returns - value) * mask).sum() / n
    return policy_loss + cfg.value_coef * baseline_loss, {"policy_loss": policy_loss, "baseline_loss": baseline_loss}

  def update(runner: RunnerState):
    rng = jax.random.wrap_key_data(runner.rng)
    rng, episodes_key = jax.random.split(rng)
    obs, actions, rewards, mask = episodes(runner.params, episodes_key)
    returns = discounted_returns(rewards, mask, cfg.gamma)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(runner.params, obs, actions, returns, mask)
    updates, opt_state = tx.update(grads, runner.opt_state, runner.params)
    # Applied only while the episodes fit in the env-step budget; from the first that does not, never again.
    steps = mask.sum().astype(jnp.int32)
    exhausted = runner.exhausted | (runner.env_steps + steps > cfg.total_env_steps)
    within_budget = ~exhausted
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(within_budget, n, o), new, old)
    params = keep(optax.apply_updates(runner.params, updates), runner.params)
    opt_state = keep(opt_state, runner.opt_state)
    env_steps = runner.env_steps + jnp.where(within_budget, steps, 0)
    metrics = {"loss": loss, **aux, "episode_return": (rewards * mask).sum() / cfg.num_episodes,
               "env_steps": env_steps.astype(jnp.float32)}
    return RunnerState(params, opt_state, env_steps, exhausted, jax.random.key_data(rng)), metrics

  def evaluate(runner: RunnerState, key):
    greedy = lambda obs: jnp.argmax(policy.apply(runner.params["policy"], obs), axis=-1)
    returns = agent_lib.episode_returns(env, env_params, greedy, key, cfg.eval_episodes, max_steps)
    return {"mean_return": returns.mean(), "env_steps": runner.env_steps.astype(jnp.float32)}

  return agent_lib.Agent(init=init, update=update, evaluate=evaluate, num_updates=cfg.num_updates,
                         env_steps_per_update=cfg.num_episodes * max_steps)
