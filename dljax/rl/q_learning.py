"""Tabular Q-learning (Watkins 1989) on the toy-text MDPs of dljax.rl.envs.tabular.

Each environment step of one seed:
  a ~ ε-greedy(Q(s, ·)):  a uniformly random action with probability ε_e, else argmax_a Q(s, a)
                          (one uniform u: explore if u < ε, then a = ⌊A·u/ε⌋, uniform given u < ε)
  s', r, d = env.step(s, a)      (r possibly shaped: dljax.rl.envs.wrappers.RewardShaping)
  Q(s, a) ← Q(s, a) + α_e [r + γ (1 − d) max_a' Q(s', a') − Q(s, a)]
where d is termination only (a time-limit truncation still bootstraps from s'), and ε_e, α_e
follow linear schedules over the episode index e:
  ε_e = ε_end + (ε_start − ε_end) · max(0, 1 − e / (epsilon_decay_fraction · num_episodes)),
  α_e = α_end + (α − α_end) · max(0, 1 − e / num_episodes)       (α_end = α: constant).
After `num_episodes` completed episodes Q is frozen (the run's remaining updates change nothing), so
"N episodes each" holds for every seed of a vmapped run even though their episode lengths differ.
One agent update is `steps_per_update` such steps: their uniforms (ε-greedy, transition, reset) are
drawn in one call from fold_in(key, update index), which is where most of the time of a step goes.

Evaluation is exact (dljax.rl.exact): the greedy policy's expected undiscounted return and success
probability from gymnasium's start distribution within the env's time limit (or `eval_horizon`
steps where the env has none), by finite-horizon dynamic programming; nothing is sampled.

config.agent_config fields:
  gamma, learning_rate (α), learning_rate_end (α_end; None = constant), epsilon_start, epsilon_end,
  epsilon_decay_fraction, num_episodes, num_env_steps (per seed, rounded up to whole updates; None =
  num_episodes × time limit, which lets every seed finish its episodes), steps_per_update,
  eval_horizon (None = the env's time limit),
  shaping.goal_bonus, shaping.failure_penalty, shaping.step_penalty, shaping.potential
  ("none" | "distance": −(shortest path to the goal)/(longest), "optimal_value": V* of value
  iteration), shaping.potential_scale, shaping.potential_offset (Φ = scale·base + offset).
Φ of a terminal state is 0, so a negative Φ pays −Φ(s) for ending an episode anywhere, holes included:
the optimal policy is unchanged (Ng et al.), but learning may first be drawn to the holes.
"""

import functools

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dljax.errors import UserError
from dljax.rl import agent as agent_lib
from dljax.rl import exact
from dljax.rl.envs import tabular, wrappers

DEFAULT_EVAL_HORIZON = 1000  # for envs without a time limit (CliffWalking)


def default_agent_config(**overrides) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.gamma = 0.99
  c.learning_rate = 0.1
  c.learning_rate_end = ml_collections.FieldReference(None, field_type=float)
  c.epsilon_start = 1.0
  c.epsilon_end = 0.01
  c.epsilon_decay_fraction = 0.5
  c.num_episodes = 5000
  c.num_env_steps = ml_collections.FieldReference(None, field_type=int)
  c.steps_per_update = 100
  c.eval_horizon = ml_collections.FieldReference(None, field_type=int)
  c.shaping = ml_collections.ConfigDict()
  c.shaping.goal_bonus = 0.0
  c.shaping.failure_penalty = 0.0
  c.shaping.step_penalty = 0.0
  c.shaping.potential = "none"
  c.shaping.potential_scale = 1.0
  c.shaping.potential_offset = 0.0
  for key, value in overrides.items():
    target, *path = key.split(".")
    node = c
    for part in [target, *path][:-1]:
      node = node[part]
    node[[target, *path][-1]] = value
  return c


class QLearningState(flax.struct.PyTreeNode):
  q: jnp.ndarray              # (S, A) float32
  obs: jnp.ndarray            # int32 current state
  env_state: tabular.TabularState
  key: jnp.ndarray            # this seed's key; step t uses fold_in(key, t)
  t: jnp.ndarray              # int32 updates done (each steps_per_update env steps)
  episodes: jnp.ndarray       # int32 episodes completed


def shortest_steps_to_goal(params: tabular.TabularParams) -> np.ndarray:
  """Fewest steps from each state to the goal over outcomes of positive probability (inf if none)."""
  probs, nxt = np.asarray(params.probs), np.asarray(params.next_state)
  goal = np.asarray(exact.goal_outcomes(params))
  live = (probs > 0) & ~np.asarray(params.terminated)
  dist = np.where(goal.any(axis=(1, 2)), 1.0, np.inf)
  for _ in range(len(dist)):  # Bellman-Ford relaxation over the (tiny) state graph
    via = np.where(live, dist[nxt] + 1.0, np.inf).min(axis=(1, 2))
    new = np.minimum(dist, via)
    if np.array_equal(new, dist):
      break
    dist = new
  return dist


def potential_table(kind: str, params: tabular.TabularParams, gamma: float, scale: float,
                    offset: float = 0.0) -> np.ndarray | None:
  """Φ(s) = scale·base(s) + offset; base: −(steps to goal)/(longest) ("distance") or V* ("optimal_value")."""
  if kind == "none":
    return None
  if kind == "distance":
    dist = shortest_steps_to_goal(params)
    finite = dist[np.isfinite(dist)]
    longest = finite.max() if len(finite) else 1.0
    return scale * -np.where(np.isfinite(dist), dist, longest) / longest + offset
  if kind == "optimal_value":
    return scale * np.asarray(exact.value_iteration(params, min(gamma, 0.999))[0]) + offset
  raise UserError(f"--config.agent_config.shaping.potential={kind!r}: choose none, distance or optimal_value")


def shaped_env(cfg, params, gamma):
  s = cfg.shaping
  table = potential_table(s.potential, params, gamma, s.potential_scale, s.potential_offset)
  if table is None and not (s.goal_bonus or s.failure_penalty or s.step_penalty):
    return tabular
  potential = None if table is None else (lambda obs, t=jnp.asarray(table, jnp.float32): t[obs])
  return wrappers.RewardShaping(tabular, goal_bonus=s.goal_bonus, failure_penalty=s.failure_penalty,
                                step_penalty=s.step_penalty, potential=potential, gamma=gamma)


def linear_decay(start, end, progress):
  """start → end linearly as progress goes 0 → 1, then end."""
  return end + (start - end) * jnp.maximum(0.0, 1.0 - progress)


def epsilon_greedy(q_row, epsilon, u):
  """A uniform action if u < ε (⌊A·u/ε⌋: u/ε is uniform on [0, 1) given u < ε), else argmax (first on ties)."""
  num_actions = q_row.shape[0]
  random_action = jnp.minimum((u / jnp.maximum(epsilon, 1e-12) * num_actions).astype(jnp.int32), num_actions - 1)
  return jnp.where(u < epsilon, random_action, jnp.argmax(q_row)).astype(jnp.int32)


def q_update(q, s, a, r, s_next, terminated, alpha, gamma):
  """Q(s,a) ← Q(s,a) + α [r + γ (1 − d) max_a' Q(s',a') − Q(s,a)]; returns (Q, TD error)."""
  target = r + gamma * (1.0 - terminated.astype(q.dtype)) * jnp.max(q[s_next])
  td = target - q[s, a]
  return q.at[s, a].add(alpha * td), td


@functools.partial(jax.jit, static_argnums=3)
def optimal_policy_success(params, rewards, gamma, horizon):
  """Success within `horizon` steps of the greedy policy of value iteration on `rewards` (jitted once per env)."""
  policy = exact.greedy_policy(exact.value_iteration(params, gamma, rewards=rewards)[1])
  return exact.from_start(params, exact.evaluate_policy_finite_horizon(params, policy, horizon,
                                                                       rewards=exact.goal_rewards(params)))


def validate(cfg, params):
  agent_lib.check_discount(cfg.gamma)
  agent_lib.check_positive(cfg.learning_rate, "agent_config.learning_rate")
  agent_lib.check_probability(cfg.learning_rate, "agent_config.learning_rate")
  for name in ("epsilon_start", "epsilon_end"):
    agent_lib.check_probability(cfg[name], f"agent_config.{name}")
  agent_lib.check_positive(cfg.epsilon_decay_fraction, "agent_config.epsilon_decay_fraction")
  agent_lib.check_positive(cfg.num_episodes, "agent_config.num_episodes")
  agent_lib.check_positive(cfg.steps_per_update, "agent_config.steps_per_update")
  if cfg.num_env_steps is None and params.max_steps == 0:
    raise UserError(f"{params.env_id} has no time limit: set --config.agent_config.num_env_steps")


def make_train(config) -> agent_lib.Agent:
  """Q-learning for `config.env` with `config.agent_config` (fields in the module docstring)."""
  env_module, params = agent_lib.make_env(config)
  if env_module is not tabular:
    raise UserError(f"q_learning is tabular: --config.env.id={config.env.id} is not one of {', '.join(tabular.IDS)}")
  cfg = config.agent_config
  validate(cfg, params)
  gamma = float(cfg.gamma)
  alpha_start = float(cfg.learning_rate)
  alpha_end = alpha_start if cfg.learning_rate_end is None else float(cfg.learning_rate_end)
  num_episodes = int(cfg.num_episodes)
  steps_per_update = int(cfg.steps_per_update)
  num_env_steps = int(cfg.num_env_steps if cfg.num_env_steps is not None else num_episodes * params.max_steps)
  num_updates = -(-num_env_steps // steps_per_update)
  horizon = int(cfg.eval_horizon or params.max_steps or DEFAULT_EVAL_HORIZON)
  env = shaped_env(cfg, params, gamma)
  num_states, num_actions = tabular.num_states(params), tabular.num_actions(params)
  has_goal = bool(jnp.any(exact.goal_outcomes(params)))
  # The success of the optimal policy of the (possibly shaped) discounted reward being learned.
  learned_reward = params.reward
  if isinstance(env, wrappers.RewardShaping):
    here = jnp.arange(num_states)[:, None, None]
    learned_reward = params.reward + env.shaping(here, params.next_state, params.reward, params.terminated)
  target_success = float(optimal_policy_success(params, learned_reward, min(gamma, 0.9999), horizon)) \
      if has_goal else float("nan")

  def init(key):
    reset_key, run_key = jax.random.split(key)
    obs, env_state = env.reset(reset_key, params)
    return QLearningState(q=jnp.zeros((num_states, num_actions), jnp.float32), obs=obs, env_state=env_state,
                          key=run_key, t=jnp.int32(0), episodes=jnp.int32(0))

  def schedules(episodes):
    progress = episodes.astype(jnp.float32) / num_episodes
    epsilon = linear_decay(cfg.epsilon_start, cfg.epsilon_end, progress / cfg.epsilon_decay_fraction)
    return epsilon, linear_decay(alpha_start, alpha_end, progress)

  def env_step(carry, u):
    """One ε-greedy step and Q-learning update with uniforms u = (ε-greedy, transition, reset)."""
    state, abs_td_sum = carry
    epsilon, alpha = schedules(state.episodes)
    action = epsilon_greedy(state.q[state.obs], epsilon, u[0])
    obs, env_state, reward, terminated, truncated, info = wrappers.auto_reset_step_from_uniforms(
        env, u[1], u[2], state.env_state, action, params)
    learning = state.episodes < num_episodes
    q, td = q_update(state.q, state.obs, action, reward, info["final_obs"], terminated,
                     jnp.where(learning, alpha, 0.0), gamma)
    ended = (terminated | truncated) & learning
    new = state.replace(q=q, obs=obs, env_state=env_state, episodes=state.episodes + ended)
    return (new, abs_td_sum + jnp.abs(td)), None

  def update(state: QLearningState):
    uniforms = jax.random.uniform(jax.random.fold_in(state.key, state.t), (steps_per_update, 3))
    (state, abs_td_sum), _ = jax.lax.scan(env_step, (state, jnp.float32(0)), uniforms)
    metrics = {"td_error": abs_td_sum / steps_per_update, "epsilon": schedules(state.episodes)[0],
               "episodes": state.episodes.astype(jnp.float32)}
    return state.replace(t=state.t + 1), metrics

  def evaluate(state: QLearningState, key):
    del key  # exact: nothing sampled
    policy = exact.greedy_policy(state.q)
    values = exact.evaluate_policy_finite_horizon(params, policy, horizon)
    steps = exact.evaluate_policy_finite_horizon(params, policy, horizon, rewards=jnp.ones_like(params.reward))
    metrics = {"mean_return": exact.from_start(params, values), "episodes": state.episodes.astype(jnp.float32),
               "episode_length": exact.from_start(params, steps),  # expected steps of a greedy episode
               "finished": (state.episodes >= num_episodes).astype(jnp.float32)}  # mean: fraction of seeds done
    if has_goal:
      success = exact.evaluate_policy_finite_horizon(params, policy, horizon, rewards=exact.goal_rewards(params))
      metrics["success_rate"] = exact.from_start(params, success)
      metrics["optimal_policy_success"] = jnp.float32(target_success)  # of the reward learned (shaped or not)
    return metrics

  return agent_lib.Agent(init=init, update=update, evaluate=evaluate, num_updates=num_updates,
                         env_steps_per_update=steps_per_update)
