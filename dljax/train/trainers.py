"""The trainer contract, and the table of trainers. The loop (loop.py) drives any of them.

A trainer owns its data, model and compiled programs; the loop owns the workdir, checkpoints, metrics,
artifacts, signals and the summary, and is the only writer of files. Three shapes fit this interface:
  * minibatch gradient training of any task (minibatch.py: one jitted step per batch);
  * a learner fitted in one compiled call (fit_once.py: num_steps == 1, `train` runs the whole fit);
  * an RL agent whose training is one `lax.scan` program vmapped over seeds (rl_trainer.py: `train(state,
    n)` runs n scanned updates as one call).
"""

import abc
import dataclasses
import importlib
from typing import Any

import ml_collections

from dljax.errors import UserError
from dljax.tasks.base import Evaluation

# config.trainer -> "module:class". An explicit table: nothing registers itself by being imported.
TRAINERS = {
    "minibatch": "dljax.train.minibatch:MinibatchTrainer",
    "classic": "dljax.train.fit_once:ClassicTrainer",
    "unsupervised": "dljax.train.fit_once:UnsupervisedTrainer",
    "association_rules": "dljax.train.fit_once:RulesTrainer",
    "rl": "dljax.train.rl_trainer:RLTrainer",
    "rl_ablation": "dljax.train.rl_trainer:AblationTrainer",
    "choice": "dljax.train.choice:ChoiceTrainer",
}


@dataclasses.dataclass(frozen=True)
class TrainResult:
  metrics: dict[str, Any]   # name -> (n,) per-step values (device arrays) of the n steps just run
  finite: Any = None        # (n,) bool: the parameters stayed finite after each step; None: not tracked


class Trainer(abc.ABC):
  num_steps: int             # total steps of the run
  examples_per_step: int     # for throughput
  loss_metric = "loss"       # the train metric checked for NaN/inf
  source_files: dict = {}    # {path: sha256} of the data files read from outside pip (recorded in config.json)

  @abc.abstractmethod
  def init_state(self) -> Any:
    """A fresh state pytree placed on the mesh; must hold an int `step` field."""

  def host_state(self) -> dict:
    """JSON-able host-side state to checkpoint with the arrays (e.g. the input iterator)."""
    return {}

  def restore_host_state(self, host_state: dict) -> None:
    del host_state

  @abc.abstractmethod
  def train(self, state, num_steps: int) -> tuple[Any, TrainResult]:
    """Advances `num_steps` steps; returns the state and their per-step metrics."""

  @abc.abstractmethod
  def evaluate(self, state) -> Evaluation:
    """Final-quality metrics on held-out data, and the tables and figures the loop writes beside them."""


def trainer_class(name: str) -> type[Trainer]:
  if name not in TRAINERS:
    raise UserError(f"--config.trainer={name}: choose one of {', '.join(TRAINERS)}")
  module, cls = TRAINERS[name].split(":")
  return getattr(importlib.import_module(module), cls)


def make_trainer(config: ml_collections.ConfigDict, mesh, key) -> Trainer:
  return trainer_class(config.trainer)(config, mesh, key)
