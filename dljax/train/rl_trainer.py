"""The "rl" trainer: any agent of dljax.rl (`make_train(config) -> Agent`), `config.num_seeds` seeds
vmapped, updates run as one `lax.scan` per logged chunk, the seed axis sharded over the mesh.

Config fields it reads (see experiments/rl_tabular.py for a full example):
  trainer = "rl"
  agent = "q_learning"            module under dljax.rl with make_train(config) -> dljax.rl.agent.Agent
  env.id = "FrozenLake-v1"        dljax.rl.envs.make id; other `env.*` fields are env options
                                  (e.g. env.map_name="8x8", env.is_slippery=True, env.max_episode_steps)
  agent_config.*                  the agent's hyper-parameters (gamma, learning_rate, epsilon schedule,
                                  run length, ...): documented in the agent module's docstring
  seed = 0                        root key jax.random.key(seed); seed i's key is split(root, num_seeds)[i]
  num_seeds = 64                  independent runs, vmapped (and sharded over devices when divisible)
  log_every_steps                 updates per scanned chunk (metrics are logged once per chunk)
  checkpoint_every_steps, eval_every_steps, keep_checkpoints   as for every trainer
The agent receives the whole config. One step of the loop is one agent update of every seed;
`evaluate` averages the agent's per-seed metrics over seeds and adds the standard error over seeds
(`<metric>_stderr`, std with ddof=1 over sqrt(num_seeds)) of `mean_return` and `success_rate`.
Typed PRNG keys inside runner states are stored as raw key data (uint32) so orbax can save them.
"""

import importlib
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from dljax import parallel
from dljax.errors import UserError
from dljax.tasks.base import Evaluation, Figure, Table
from dljax.train.trainers import TrainResult, Trainer




class RLState(flax.struct.PyTreeNode):
  step: jnp.ndarray   # int32 updates done (the same for every seed)
  runner: Any         # the agent's runner states stacked over seeds (leading axis num_seeds)


def _is_typed_key(x) -> bool:
  return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def load_agent_module(name: str):
  try:
    return importlib.import_module(f"dljax.rl.{name}")
  except ModuleNotFoundError as e:
    if e.name != f"dljax.rl.{name}":
      raise
    raise UserError(f"--config.agent={name}: no module dljax.rl.{name}; choose one of "
                    "q_learning, dqn, reinforce, ppo") from None


class RLTrainer(Trainer):

  def __init__(self, config, mesh, key):
    self.config, self.mesh = config, mesh
    if config.num_seeds < 1:
      raise UserError(f"--config.num_seeds={config.num_seeds} must be >= 1")
    self.num_seeds = config.num_seeds
    self.agent = load_agent_module(config.agent).make_train(config)
    self.num_steps = int(self.agent.num_updates)
    self.examples_per_step = self.num_seeds * int(self.agent.env_steps_per_update)
    self.seed_keys = jax.random.split(key, self.num_seeds)
    self.eval_keys = jax.random.split(jax.random.fold_in(key, 1), self.num_seeds)
    divisible = self.num_seeds % mesh.devices.size == 0
    self.seed_sharding = NamedSharding(mesh, P(parallel.DATA_AXIS) if divisible else P())
    self.replicated = parallel.replicated(mesh)
    # Which leaves of a runner state are typed keys: they are stored as key data, wrapped back to run.
    abstract = jax.eval_shape(self.agent.init, self.seed_keys[0])
    self._key_leaves = jax.tree.map(_is_typed_key, abstract)
    self._key_impl = jax.random.key_impl(self.seed_keys)
    metric_names = jax.eval_shape(self.agent.update, abstract)[1].keys()
    self.loss_metric = next((m for m in ("loss", "td_error") if m in metric_names), None) or sorted(metric_names)[0]
    self._chunks = {}  # n -> jitted chunk of n updates (two sizes per run: log_every and the remainder)
    self._evaluate = jax.jit(jax.vmap(self._evaluate_one))

  def _storable(self, runner):
    return jax.tree.map(lambda is_key, x: jax.random.key_data(x) if is_key else x, self._key_leaves, runner)

  def _runnable(self, runner):
    return jax.tree.map(lambda is_key, x: jax.random.wrap_key_data(x, impl=self._key_impl) if is_key else x,
                        self._key_leaves, runner)

  def _state_sharding(self, state):
    return RLState(step=self.replicated, runner=jax.tree.map(lambda _: self.seed_sharding, state.runner))

  def init_state(self) -> RLState:
    init = lambda keys: RLState(step=jnp.int32(0), runner=self._storable(jax.vmap(self.agent.init)(keys)))
    sharding = self._state_sharding(jax.eval_shape(init, self.seed_keys))
    return jax.jit(init, out_shardings=sharding)(self.seed_keys)

  def _chunk(self, n: int):
    """jit(vmap over seeds of lax.scan of n updates); metrics averaged over seeds -> shape (n,)."""
    if n not in self._chunks:
      def one_seed(runner):
        return jax.lax.scan(lambda r, _: self.agent.update(r), runner, None, length=n)

      def chunk(state):
        runner, metrics = jax.vmap(one_seed)(self._runnable(state.runner))
        means = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)  # (seeds, n) -> (n,)
        return RLState(step=state.step + n, runner=self._storable(runner)), means

      self._chunks[n] = jax.jit(chunk, donate_argnums=0)
    return self._chunks[n]

  def train(self, state, num_steps):
    state, metrics = self._chunk(num_steps)(state)
    return state, TrainResult(metrics)

  def _evaluate_one(self, runner, key):
    return self.agent.evaluate(runner, key)

  def evaluate(self, state) -> Evaluation:
    return Evaluation(self.seed_metrics(state))

  def seed_metrics(self, state) -> dict[str, float]:
    """The agent's evaluation metrics averaged over seeds, with standard errors of return and success."""
    per_seed = jax.device_get(self._evaluate(self._runnable(state.runner), self.eval_keys))
    metrics = {}
    for name, values in per_seed.items():
      values = np.asarray(values, np.float64).reshape(self.num_seeds)
      metrics[name] = float(values.mean())
      if name in ("mean_return", "success_rate"):
        metrics[f"{name}_stderr"] = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return metrics


class AblationState(flax.struct.PyTreeNode):
  step: jnp.ndarray
  variants: dict  # variant name -> RLState.runner


def _merged(base: dict, changes: dict) -> dict:
  out = dict(base)
  for key, value in changes.items():
    out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
  return out


class AblationTrainer(Trainer):
  """Several variants of one RL experiment trained side by side, each an RLTrainer (all its seeds
  vmapped) whose `agent_config` is the base one updated by `config.variants[name]` (a dict of
  agent_config fields, nested like it). `evaluate` returns `<variant>/<metric>` for every variant; at the
  end of the run it adds the table `ablation` (per variant: final metrics, and learning speed: the first
  env step whose mean success reached `config.ablation_threshold` and the mean success over the
  evaluations every eval_every_steps) and the figure `ablation` (mean success over training, one line per
  variant). The evaluations' success rates are kept in the checkpointed host state, so a resumed run
  draws the whole curve.
  """

  def __init__(self, config, mesh, key):
    self.config, self.mesh = config, mesh
    if not config.variants:
      raise UserError("--config.variants is empty: name at least one variant")
    base = config.agent_config.to_dict()
    self.trainers = {}
    names = sorted(config.variants, key=lambda n: (n != "none", n))  # the baseline first
    for name, changes in ((n, config.variants[n]) for n in names):
      sub = config.copy_and_resolve_references()
      with sub.unlocked():
        try:
          sub.agent_config = ml_collections.ConfigDict(_merged(base, changes.to_dict()))
        except (KeyError, AttributeError) as e:
          raise UserError(f"--config.variants.{name}: {e}") from None
      self.trainers[name] = RLTrainer(sub, mesh, key)  # the same seeds for every variant
    first = next(iter(self.trainers.values()))
    if any(t.num_steps != first.num_steps for t in self.trainers.values()):
      raise UserError("every variant must run the same number of updates")
    self.num_steps, self.examples_per_step = first.num_steps, sum(t.examples_per_step for t in self.trainers.values())
    self.env_steps_per_update = int(first.agent.env_steps_per_update)
    self.loss_metric = f"{next(iter(self.trainers))}/{first.loss_metric}"
    self.success_history: dict[int, dict[str, float]] = {}  # step -> variant -> mean success

  def init_state(self):
    return AblationState(step=parallel.replicate(self.mesh, jnp.int32(0)),
                         variants={n: t.init_state().runner for n, t in self.trainers.items()})

  def host_state(self) -> dict:
    return {"success_history": {str(k): v for k, v in self.success_history.items()}}

  def restore_host_state(self, host_state: dict) -> None:
    self.success_history = {int(k): v for k, v in host_state.get("success_history", {}).items()}

  def train(self, state, num_steps):
    runners, metrics = {}, {}
    for name, trainer in self.trainers.items():
      # A fresh step per variant: each chunk donates (deletes) the state it is given.
      sub, result = trainer.train(RLState(step=jnp.int32(0), runner=state.variants[name]), num_steps)
      runners[name] = sub.runner
      metrics.update({f"{name}/{k}": v for k, v in result.metrics.items()})
    return AblationState(step=state.step + num_steps, variants=runners), TrainResult(metrics)

  def evaluate(self, state) -> Evaluation:
    metrics = {}
    for name, trainer in self.trainers.items():
      sub = trainer.seed_metrics(RLState(step=state.step, runner=state.variants[name]))
      metrics.update({f"{name}/{k}": v for k, v in sub.items()})
    step = int(jax.device_get(state.step))
    self.success_history[step] = {n: metrics[f"{n}/success_rate"] for n in self.trainers}
    if step != self.num_steps:
      return Evaluation(metrics)
    return Evaluation(metrics, ablation_artifacts(list(self.trainers), metrics, self.success_history,
                                                  self.config.ablation_threshold, self.env_steps_per_update))


def ablation_artifacts(variants: list[str], final: dict, history: dict[int, dict[str, float]], threshold: float,
                       env_steps_per_update: int) -> tuple[Table, Figure]:
  """Per variant: final metrics and learning speed from the success rates evaluated along the run."""
  from matplotlib.figure import Figure as MplFigure  # pylint: disable=import-outside-toplevel
  reach = f"env_steps_to_success_{threshold:g}"
  rows, curves = [], {}
  for name in variants:
    curve = [(step * env_steps_per_update, history[step][name]) for step in sorted(history)]
    curves[name] = curve
    reached = next((s for s, v in curve if v >= threshold), None)
    rows.append({
        "variant": name,
        "final_success": final[f"{name}/success_rate"],
        "success_stderr": final.get(f"{name}/success_rate_stderr", 0.0),
        "final_return": final[f"{name}/mean_return"],
        "greedy_episode_length": final.get(f"{name}/episode_length", float("nan")),
        "optimum_of_learned_reward": final.get(f"{name}/optimal_policy_success", float("nan")),
        reach: "not reached" if reached is None else str(reached),
        "mean_success_over_training": float(np.mean([v for _, v in curve]))})
  columns = tuple(rows[0])
  table = Table("ablation", columns, tuple(tuple(row[c] for c in columns) for row in rows))
  fig = MplFigure(figsize=(7, 4.5))
  ax = fig.subplots()
  for name, curve in curves.items():
    ax.plot(*zip(*curve), label=name)
  ax.axhline(threshold, color="grey", lw=0.8, ls="--")
  ax.set_xlabel("env steps per seed")
  ax.set_ylabel("exact greedy success probability (mean over seeds)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize="small")
  fig.tight_layout()
  return table, Figure("ablation", fig)
