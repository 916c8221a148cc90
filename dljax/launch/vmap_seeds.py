"""Seeds vmapped in one compiled program: for a small supervised model, S seeds train as one jitted step
over states stacked on a leading seed axis (one XLA program, S times the arithmetic per call), instead
of S processes each compiling and dispatching its own.

Each seed's run is exactly the separate run with that seed: the same initial parameters
(`jax.random.key(seed)` split as SupervisedTrainer splits it), the same data order (each seed's own
grain iterator) and the same per-step keys (`fold_in(step_key, step)`), stepped by the same pure train
step (dljax.train.step.train_step_fn) under `jax.vmap`. tests/launch/test_vmap_seeds.py checks the
per-seed results against separate runs.

Layout of `dljax run NAME --workdir DIR --vmap_seeds 0,1,2`:
    DIR/vmap_seeds/     the one run: stacked checkpoints, metrics.jsonl (means and per-seed columns)
    DIR/seed=K/         per seed: config.json, metrics.jsonl, summary.json, as a separate run writes them
                        (no checkpoints: those of the stacked state live in DIR/vmap_seeds)
"""

import json
import os
from typing import Any

import flax.struct

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from dljax import parallel
from dljax.errors import UserError
from dljax.train import step as step_lib
from dljax.train import trainers
from dljax.train import workdir as workdir_lib

TRAINER = "supervised_vmap_seeds"
SHARED_DIR = "vmap_seeds"


def _seed_key(seed: int) -> str:
  return f"seed={seed}"


def parse_seeds(text: str) -> tuple[int, ...]:
  try:
    seeds = tuple(int(s) for s in text.split(","))
  except ValueError:
    raise UserError(f"--vmap_seeds={text}: expected comma-separated integer seeds, e.g. 0,1,2") from None
  if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
    raise UserError(f"--vmap_seeds={text}: give distinct non-negative seeds, e.g. 0,1,2")
  return seeds


def seed_config(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict(config)
  config.seed = seed
  config.lock()
  return config


def vmapped_config(config: ml_collections.ConfigDict, seeds: tuple[int, ...]) -> ml_collections.ConfigDict:
  """`config` run with trainer supervised_vmap_seeds over `seeds`."""
  if config.trainer != "supervised":
    raise UserError(f"--vmap_seeds: {config.experiment} uses the {config.trainer!r} trainer; seeds vmap only for "
                    "supervised gradient-trained experiments; run its seeds as separate runs")
  config = ml_collections.ConfigDict(config)
  with config.unlocked():
    config.trainer = TRAINER
    config.vmap_seeds = tuple(seeds)
    config.seed = seeds[0]
  config.lock()
  return config


class SeedsState(flax.struct.PyTreeNode):
  step: jnp.ndarray   # the loop's scalar step; every seed's own TrainState.step equals it
  seeds: Any          # TrainState with a leading seed axis on every leaf


@trainers.register_trainer(TRAINER)
class VmappedSeedsTrainer(trainers.Trainer):
  """S SupervisedTrainers' data and settings, one state stacked over seeds, one vmapped jitted step."""

  def __init__(self, config, mesh, key):
    del key  # each seed's key is jax.random.key(seed), as in its separate run
    self.mesh, self.seeds = mesh, tuple(config.vmap_seeds)
    base = ml_collections.ConfigDict(config)
    with base.unlocked():
      base.trainer = "supervised"
      del base["vmap_seeds"]
    self.per_seed = [trainers.SupervisedTrainer(seed_config(base, s), mesh, jax.random.key(s)) for s in self.seeds]
    first = self.per_seed[0]
    self.num_steps, self.examples_per_step = first.num_steps, first.examples_per_step * len(self.seeds)
    self._step_keys = jnp.stack([jax.random.split(jax.random.key(s))[1] for s in self.seeds])
    self._step = None

  def init_state(self):
    states = [t.init_state() for t in self.per_seed]  # also builds each seed's eval step
    replicated = parallel.replicated(self.mesh)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    state_sharding = jax.tree.map(lambda _: replicated, stacked)
    self._state_sharding = state_sharding
    cfg = self.per_seed[0].config.data
    first = self.per_seed[0]
    step = step_lib.train_step_fn(first.model, first.tx, loss_name=first.loss_name, flip=cfg.augment_flip,
                                  crop_padding=cfg.augment_crop_padding)
    seeds_batch = NamedSharding(self.mesh, P(None, parallel.DATA_AXIS))  # (seed, batch, ...): batch split
    self._step = jax.jit(jax.vmap(step), in_shardings=(state_sharding, seeds_batch, replicated),
                         out_shardings=(state_sharding, replicated), donate_argnums=0)
    self._seeds_batch = seeds_batch
    return jax.device_put(SeedsState(step=jnp.int32(0), seeds=stacked), replicated)

  def host_state(self) -> dict:
    return {_seed_key(s): t.host_state() for s, t in zip(self.seeds, self.per_seed)}

  def restore_host_state(self, host_state: dict) -> None:
    for s, t in zip(self.seeds, self.per_seed):
      t.restore_host_state(host_state[_seed_key(s)])

  def _global_batch(self):
    local = [t.next_host_batch() for t in self.per_seed]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *local)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(self._seeds_batch, x), stacked)

  def train(self, state, num_steps):
    per_step, seeds = [], state.seeds
    for _ in range(num_steps):
      seeds, metrics = self._step(seeds, self._global_batch(), self._step_keys)
      per_step.append(metrics)
    state = state.replace(step=state.step + num_steps, seeds=seeds)
    stacked = jax.tree.map(lambda *m: jnp.stack(m), *per_step)  # (steps, seeds)
    out = dict(stacked)
    for i, s in enumerate(self.seeds):
      out.update({f"{k}/{_seed_key(s)}": v[:, i] for k, v in stacked.items() if k != "finite"})
    return state, out

  def seed_states(self, state):
    return [jax.tree.map(lambda a, i=i: a[i], state.seeds) for i in range(len(self.seeds))]

  def evaluate(self, state) -> dict[str, float]:
    per_seed = [t.evaluate(s) for t, s in zip(self.per_seed, self.seed_states(state))]
    out = {k: float(sum(m[k] for m in per_seed) / len(per_seed)) for k in per_seed[0]}
    for s, metrics in zip(self.seeds, per_seed):
      out.update({f"{k}/{_seed_key(s)}": v for k, v in metrics.items()})
    return out


def _split_seed(records_or_metrics: dict, seed: int) -> dict:
  suffix = "/" + _seed_key(seed)
  return {k[:-len(suffix)]: v for k, v in records_or_metrics.items() if k.endswith(suffix)}


def run_vmapped(config: ml_collections.ConfigDict, workdir: str, seeds: tuple[int, ...]) -> list[dict]:
  """Trains `config` for every seed in one vmapped run in WORKDIR/vmap_seeds (resuming it if
  interrupted), then writes each seed's WORKDIR/seed=K/{config.json, metrics.jsonl, summary.json}.
  Returns the per-seed summaries (or the shared one, not done, if the run paused)."""
  from dljax.train import loop
  summary = loop.train_and_evaluate(vmapped_config(config, seeds), os.path.join(workdir, SHARED_DIR))
  if summary["status"] != "done" or jax.process_index() != 0:
    return [summary]
  records = workdir_lib.read_metrics(os.path.join(workdir, SHARED_DIR))
  out = []
  for seed in seeds:
    run_dir = os.path.join(workdir, _seed_key(seed))
    os.makedirs(run_dir, exist_ok=True)
    workdir_lib.write_json(os.path.join(run_dir, "config.json"), workdir_lib.run_info(seed_config(config, seed)))
    lines = [{"step": r["step"], "split": r["split"], "time": r["time"], **_split_seed(r, seed)} for r in records]
    tmp = os.path.join(run_dir, "metrics.jsonl.tmp")
    with open(tmp, "w") as f:
      f.writelines(json.dumps(line) + "\n" for line in lines)
    os.replace(tmp, os.path.join(run_dir, "metrics.jsonl"))
    seed_summary = {**summary, "metrics": _split_seed(summary["metrics"], seed), "vmapped_with": list(seeds),
                    "shared_workdir": os.path.join(workdir, SHARED_DIR)}
    workdir_lib.write_json(os.path.join(run_dir, "summary.json"), seed_summary)
    out.append(seed_summary)
  return out
