"""The task contract: what a batch holds, the per-example loss, the train metrics and the evaluation of one
family of gradient-trained experiments. dljax.train.minibatch trains any task; a new family is one
subclass of `Task` here, one model in dljax/nn and one config in experiments/.

Evaluation results travel as data (`Evaluation`: metrics, plus tables and figures); the loop alone
writes files (dljax/train/artifacts.py).
"""

import abc
import dataclasses
from typing import Any, Callable

import ml_collections
import numpy as np

from dljax.data.sources import Dataset
from dljax.errors import UserError

Arrays = dict[str, np.ndarray]   # one split, every field with the examples on axis 0


@dataclasses.dataclass(frozen=True)
class Table:
  """Rows of a result table; written as NAME.md and NAME.csv."""
  name: str
  columns: tuple[str, ...]
  rows: tuple[tuple, ...]
  title: str = ""
  print_rows: int = 0   # how many rows the loop prints to stderr at the end of a run


@dataclasses.dataclass(frozen=True)
class Figure:
  """A matplotlib figure built in memory; written as NAME.png."""
  name: str
  figure: Any


@dataclasses.dataclass(frozen=True)
class Evaluation:
  metrics: dict[str, float]
  artifacts: tuple[Table | Figure, ...] = ()


@dataclasses.dataclass(frozen=True)
class Member:
  """One model of a run. A run trains one member, or several as one vmapped program: seeds
  (`--vmap_seeds`), or one model per class (the one-class protocol)."""
  label: str                     # metric-name suffix: "seed=3", "class=2" ("" for a lone member)
  seed: int                      # its data order and its keys
  rows: np.ndarray | None = None  # (n,) training rows it learns from; None: every row
  init_fold: int | None = None   # folded into its init key (one model per class starts from its class)


@dataclasses.dataclass(frozen=True)
class EvalContext:
  """What a task's evaluation may read besides its eval outputs."""
  config: ml_collections.ConfigDict
  members: tuple[Member, ...]
  train: Arrays
  test: Arrays
  step: int
  predict: Callable[[int, np.ndarray], np.ndarray]  # (member index, inputs) -> model outputs, eval mode


class Task(abc.ABC):
  """One family's meaning of a batch. Pure array functions (`example_losses`, `train_metrics`,
  `eval_outputs`) run inside the jitted steps; `evaluate` runs on the host after the eval pass."""

  loss_metric = "loss"
  eval_reduction = "sum"  # "sum": eval_outputs are sums added over batches; "concat": per-example rows

  @abc.abstractmethod
  def arrays(self, data: Dataset) -> tuple[Arrays, Arrays]:
    """(train, test) fields of a batch, e.g. {"x": (N, H, W, C), "y": (N,)}; refuses data it cannot use."""

  @abc.abstractmethod
  def model_kwargs(self, data: Dataset) -> dict:
    """The fields the data fixes in the model (e.g. num_outputs, image_shape)."""

  models: dict = {}  # name -> flax module class this task trains

  def members(self, config, data: Dataset) -> tuple[Member, ...]:
    del data
    return (Member("", int(config.seed)),)

  def inputs(self, batch):
    return batch["x"]

  def augment(self, key, batch, config):
    """Train-time augmentation inside the jitted step (identity unless a task has one)."""
    del key, config
    return batch

  @abc.abstractmethod
  def example_losses(self, outputs, batch):
    """(B,) loss of each example; the train loss is their mean."""

  def train_metrics(self, outputs, batch) -> dict:
    del outputs, batch
    return {}

  @abc.abstractmethod
  def eval_outputs(self, outputs, batch) -> dict:
    """"sum": per-batch sums (batch["mask"] is 0 on padding rows); "concat": (B, ...) rows per example."""

  def evaluate(self, results: list[dict], context: EvalContext) -> Evaluation:
    """`results`: per member, the eval outputs over the whole test split (numpy)."""
    per_member = [self.metrics(r) for r in results]
    return Evaluation(mean_over_members(per_member, context.members))

  def metrics(self, sums: dict) -> dict[str, float]:
    raise NotImplementedError(f"{type(self).__name__} overrides evaluate")


def mean_over_members(per_member: list[dict], members: tuple[Member, ...]) -> dict[str, float]:
  """One member: its metrics. Several: the mean of each metric, and each member's under NAME/LABEL."""
  if len(per_member) == 1:
    return dict(per_member[0])
  out = {k: float(np.mean([m[k] for m in per_member])) for k in per_member[0]}
  for member, metrics in zip(members, per_member):
    out.update({f"{k}/{member.label}": v for k, v in metrics.items()})
  return out


def build_model(models: dict, model_config: ml_collections.ConfigDict, **fixed):
  """models[config.name](**fixed, **other config fields), refusing an unknown name with the choices."""
  cfg = model_config.to_dict()
  name = cfg.pop("name")
  if name not in models:
    raise UserError(f"--config.model.name={name}: choose one of {', '.join(models)}")
  try:
    return models[name](**fixed, **cfg)
  except TypeError as e:
    raise UserError(f"--config.model: {str(e).splitlines()[0]}") from None

