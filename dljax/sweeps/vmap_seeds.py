"""Seeds vmapped in one compiled program: for a small model, S seeds train as one jitted step over states
stacked on a leading seed axis (one XLA program, S times the arithmetic per call), instead of S processes
each compiling and dispatching its own. Any gradient-trained (minibatch) experiment: the minibatch trainer
trains one member per seed, each exactly its separate run (dljax/train/minibatch.py);
tests/sweeps/test_vmap_seeds.py checks the per-seed results against separate runs.

Layout of `dljax run NAME --workdir DIR --vmap_seeds 0,1,2`:
    DIR/vmap_seeds/     the one run: stacked checkpoints, metrics.jsonl (means and per-seed columns)
    DIR/seed=K/         per seed: config.json, metrics.jsonl, summary.json, as a separate run writes them
                        (no checkpoints: those of the stacked state live in DIR/vmap_seeds)
"""

import json
import os

import jax
import ml_collections

from dljax.errors import UserError
from dljax.train import workdir as workdir_lib

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
  """`config` with `vmap_seeds`: the minibatch trainer stacks one member per seed."""
  if config.trainer != "minibatch":
    raise UserError(f"--vmap_seeds: {config.experiment} uses the {config.trainer!r} trainer; seeds vmap only for "
                    "gradient-trained (minibatch) experiments; run its seeds as separate runs")
  config = ml_collections.ConfigDict(config)
  with config.unlocked():
    config.vmap_seeds = tuple(seeds)
    config.seed = seeds[0]
  config.lock()
  return config


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
