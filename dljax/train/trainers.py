"""Trainers: how one kind of experiment advances its state. The loop (loop.py) drives any of them.

A trainer owns its data, model and compiled programs; the loop owns the workdir, checkpoints,
metrics, signals and the summary. Three shapes fit this interface:
  * gradient training from a data iterator (SupervisedTrainer here: one jitted step per batch);
  * a learner fitted in one compiled call (num_steps == 1, `train` runs the whole fit);
  * an RL agent whose training is one `lax.scan` program vmapped over seeds (`train(state, n)` runs
    n scanned updates as one call).
"""

import abc
import ast
import functools
import math
from typing import Any

import flax.struct
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dljax import nn as dnn
from dljax import parallel
from dljax.data import sources
from dljax.errors import UserError
from dljax.tasks import supervised
from dljax.train import optim, step as step_lib
from dljax.train.state import TrainState

_TRAINERS: dict[str, type["Trainer"]] = {}


def register_trainer(name: str):
  def wrap(cls):
    if name in _TRAINERS:
      raise ValueError(f"trainer {name!r} registered twice")
    _TRAINERS[name] = cls
    return cls
  return wrap


def make_trainer(config: ml_collections.ConfigDict, mesh, key) -> "Trainer":
  # Trainers of other kinds (unsupervised, rl) register in modules the experiments import.
  from dljax import registry  # pylint: disable=import-outside-toplevel
  registry.all_experiments()
  if config.trainer not in _TRAINERS:
    raise UserError(f"--config.trainer={config.trainer}: choose one of {sorted(_TRAINERS)}")
  return _TRAINERS[config.trainer](config, mesh, key)


class Trainer(abc.ABC):
  num_steps: int            # total steps of the run
  examples_per_step: int    # for throughput
  loss_metric = "loss"      # the train metric checked for NaN/inf
  workdir: str | None = None  # set by the loop (process 0) so evaluate can write tables/plots; None in `dljax eval`

  @abc.abstractmethod
  def init_state(self) -> Any:
    """A fresh state pytree placed on the mesh; must hold an int `step` field."""

  def host_state(self) -> dict:
    """JSON-able host-side state to checkpoint with the arrays (e.g. the input iterator)."""
    return {}

  def restore_host_state(self, host_state: dict) -> None:
    del host_state

  @abc.abstractmethod
  def train(self, state, num_steps: int) -> tuple[Any, dict]:
    """Advances `num_steps` steps; returns the state and per-step metrics (device arrays, shape (num_steps,))."""

  @abc.abstractmethod
  def evaluate(self, state) -> dict[str, float]:
    """Final-quality metrics on held-out data."""


def _train_index_dataset(num_examples: int, global_batch: int, seed: int, num_epochs: int):
  """grain pipeline of index batches: reshuffled every epoch from `seed`, this host's rows of each
  global batch (a contiguous slice, so N hosts assemble exactly the 1-host batch)."""
  local = parallel.host_batch_size(global_batch)
  lo = jax.process_index() * local
  return (grain.MapDataset.range(num_examples)
          .shuffle(seed=seed)
          .repeat(num_epochs)
          .batch(global_batch, drop_remainder=True)
          .map(lambda idx: idx[lo:lo + local]))


@register_trainer("supervised")
class SupervisedTrainer(Trainer):
  """Minibatch gradient training of a flax model on an in-memory dataset."""

  def __init__(self, config, mesh, key):
    self.config, self.mesh = config, mesh
    self._init_key, self._step_key = jax.random.split(key)
    data = sources.load_dataset(config.data.source, max_train=config.data.max_train,
                                max_test=config.data.max_test)
    self.data = data
    self.loss_name = "cross_entropy" if data.num_classes is not None else "mse"
    n_dev, n_proc = mesh.devices.size, jax.process_count()
    batch = config.batch_size
    if batch < 1:
      raise UserError(f"--config.batch_size={batch} must be >= 1")
    if batch % n_dev or batch % n_proc:
      raise UserError(f"--config.batch_size={batch} must be a multiple of the device count ({n_dev})")
    if batch > len(data.train_x):
      raise UserError(f"--config.batch_size={batch} exceeds the {len(data.train_x)} training examples; lower it")
    self.steps_per_epoch = len(data.train_x) // batch
    self.num_steps = (config.num_train_steps if config.num_train_steps is not None
                      else config.num_epochs * self.steps_per_epoch)
    if self.num_steps < 1:
      raise UserError("the run has no steps: set --config.num_epochs or --config.num_train_steps >= 1")
    self.examples_per_step = batch

    model_cfg = config.model.to_dict()
    name = model_cfg.pop("name")
    if name not in dnn.MODELS:
      raise UserError(f"--config.model.name={name}: choose one of {', '.join(dnn.MODELS)}")
    num_outputs = data.num_classes if data.num_classes is not None else 1
    self.model = dnn.MODELS[name](num_outputs=num_outputs, **model_cfg)
    self.tx = optim.make_optimizer(config.optimizer, self.num_steps)

    num_epochs = math.ceil(self.num_steps / self.steps_per_epoch)
    index_ds = _train_index_dataset(len(data.train_x), batch, config.seed, num_epochs)
    x, y = data.train_x, data.train_y
    # In-memory gather of a whole batch: no reader threads (grain's advice for in-memory data);
    # JAX's async dispatch already overlaps the next gather with the current step.
    self._dataset = index_ds.map(lambda idx: {"x": x[idx], "y": y[idx]}).to_iter_dataset(
        grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
    self._iterator = iter(self._dataset)

    self.state_sharding = None  # set by init_state
    self._train_step = self._eval_step = None

  def init_state(self) -> TrainState:
    sample = jnp.asarray(self.data.train_x[:1])

    def init():
      variables = self.model.init({"params": self._init_key, "dropout": self._init_key}, sample, train=False)
      params = variables["params"]
      return TrainState(step=jnp.int32(0), params=params,
                        batch_stats=variables.get("batch_stats", {}), opt_state=self.tx.init(params))

    try:
      abstract = jax.eval_shape(init)
    except ValueError as e:  # a module's own check of its fields (unknown cell, pool, activation, ...)
      raise UserError(f"--config.model: {e}") from None
    self.state_sharding = jax.tree.map(lambda _: parallel.replicated(self.mesh), abstract)
    state = jax.jit(init, out_shardings=self.state_sharding)()
    cfg = self.config.data
    self._train_step = step_lib.make_train_step(
        self.model, self.tx, loss_name=self.loss_name, root_key=self._step_key, mesh=self.mesh,
        state_sharding=self.state_sharding, flip=cfg.augment_flip, crop_padding=cfg.augment_crop_padding)
    self._eval_step = step_lib.make_eval_step(self.model, loss_name=self.loss_name, mesh=self.mesh,
                                              state_sharding=self.state_sharding)
    return state

  def host_state(self) -> dict:
    return {"train_iterator": self._iterator.get_state()}

  def restore_host_state(self, host_state: dict) -> None:
    self._iterator.set_state(host_state["train_iterator"])

  def next_host_batch(self) -> dict:
    """This host's rows of the next training batch (numpy), advancing the checkpointed iterator."""
    return next(self._iterator)

  def train(self, state, num_steps):
    per_step = []
    for _ in range(num_steps):
      batch = parallel.to_global_batch(self.mesh, self.next_host_batch())
      state, metrics = self._train_step(state, batch)
      per_step.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m), *per_step)

  def evaluate(self, state) -> dict[str, float]:
    x, y = self.data.test_x, self.data.test_y
    n_dev = self.mesh.devices.size
    global_batch = max(n_dev, self.config.eval_batch_size // n_dev * n_dev)
    local = parallel.host_batch_size(global_batch)
    lo = jax.process_index() * local
    total = None
    for start in range(0, len(x), global_batch):
      rows = np.arange(start, start + global_batch)
      mask = (rows < len(x)).astype(np.float32)
      rows = np.minimum(rows, len(x) - 1)[lo:lo + local]  # padding repeats the last row, masked out
      batch = {"x": x[rows], "y": y[rows], "mask": mask[lo:lo + local]}
      sums = self._eval_step(state, parallel.to_global_batch(self.mesh, batch))
      total = sums if total is None else jax.tree.map(jnp.add, total, sums)
    return supervised.metrics_from_sums(self.loss_name, jax.device_get(total))


def _number_or_text(value):
  """Hyper-parameters like gamma ('scale' or 0.01) or max_features ('sqrt' or 0.5) are typed as text in
  the config; a number given on the command line arrives as text and is turned back into one."""
  if isinstance(value, str):
    try:
      parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      return value
    return parsed if isinstance(parsed, (int, float)) or parsed is None else value
  return value


class FitState(flax.struct.PyTreeNode):
  step: jnp.ndarray
  params: Any


@register_trainer("classic")
class ClassicTrainer(Trainer):
  """A classical learner (`dljax.classic.<learner>`) fitted in one compiled call: one step."""

  loss_metric = "train_error"

  def __init__(self, config, mesh, key):
    from dljax import classic
    self.config, self.mesh, self._key = config, mesh, key
    self.learner = classic.get_learner(config.learner)
    data = sources.load_dataset(config.data.source, max_train=config.data.max_train,
                                max_test=config.data.max_test)
    x_train = data.train_x.reshape(len(data.train_x), -1)
    x_test = data.test_x.reshape(len(data.test_x), -1)
    if config.data.standardize:  # train statistics only; constant features left unscaled
      mean, std = x_train.mean(0), x_train.std(0)
      std = np.where(std > 0, std, 1.0)
      x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    self.x_train, self.x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    self.y_train, self.y_test = data.train_y, data.test_y
    hyper = {k: _number_or_text(v) for k, v in config.model.to_dict().items()}
    task = hyper.get("task") or self.learner.TASK  # trees and forests do both: config.model.task
    self.classification = task == "classification"
    if self.classification != (data.num_classes is not None):
      kind = "class labels" if data.num_classes is not None else "real-valued targets"
      raise UserError(f"learner {config.learner!r} is set for {task} but {config.data.source} has {kind}; "
                      "pick a matching --config.learner, --config.model.task or --config.data.source")
    if self.classification:
      hyper["num_classes"] = data.num_classes
    self.learner_config = self.learner.default_config(**hyper)
    self.learner.check_inputs(self.x_train, self.y_train, self.learner_config)
    self.num_steps, self.examples_per_step = 1, len(self.x_train)
    self._fit = jax.jit(functools.partial(self.learner.fit, config=self.learner_config))
    self._predict = jax.jit(self.learner.predict)

  def init_state(self) -> FitState:
    abstract = jax.eval_shape(self._fit, self._key, self.x_train, self.y_train)
    state = FitState(step=jnp.int32(0), params=jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), abstract))
    return parallel.replicate(self.mesh, state)

  def _error(self, params, x, y):
    prediction = self._predict(params, x)
    if self.classification:
      return jnp.mean(prediction != y)
    return jnp.mean((prediction - y) ** 2)

  def train(self, state, num_steps):
    del num_steps  # the whole fit is one step
    params = self._fit(self._key, self.x_train, self.y_train)
    error = self._error(params, self.x_train, self.y_train)
    return parallel.replicate(self.mesh, FitState(step=state.step + 1, params=params)), {"train_error": error[None]}

  def evaluate(self, state) -> dict[str, float]:
    prediction = np.asarray(self._predict(state.params, self.x_test))
    if self.classification:
      metrics = {"accuracy": float(np.mean(prediction == self.y_test))}
      if hasattr(self.learner, "predict_proba"):
        proba = np.asarray(jax.jit(self.learner.predict_proba)(state.params, self.x_test), np.float64)
        picked = np.clip(proba[np.arange(len(self.y_test)), self.y_test], 1e-12, 1.0)
        metrics["loss"] = float(-np.mean(np.log(picked)))
      return metrics
    residual = float(np.sum((prediction - self.y_test) ** 2))
    total = float(np.sum((self.y_test - self.y_test.mean()) ** 2))
    return {"mse": residual / len(self.y_test), "r2": 1.0 - residual / total}
