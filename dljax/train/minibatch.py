"""The one minibatch trainer: any task (dljax.tasks) with a flax model, an optax optimizer and an in-memory
dataset. It owns the checks, the step count, the data order, one jitted step and the padded, masked
evaluation; the task owns what a batch means.

A run trains one member, or several (`--vmap_seeds`, or one model per class for the one-class task) as
one program: the TrainStates are stacked on a leading member axis and the step is vmapped over it. Each
member is exactly its separate run: initial parameters from `jax.random.key(seed)` (split into an init
and a step key), its own data order (a grain index pipeline reshuffled every epoch from its seed, whose
state goes into every checkpoint) and per-step keys `fold_in(step_key, step)`.

Shardings come from the mesh: the state is replicated, every batch is split along the `data` axis, and
XLA inserts the gradient all-reduce (and BatchNorm's cross-device mean), so the same program runs on 1
or N devices and gives the same numbers up to float summation order.
"""

import math
from typing import Any

import flax.struct
import grain
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from dljax import parallel
from dljax import tasks as tasks_lib
from dljax.data import sources
from dljax.errors import UserError
from dljax.tasks.base import EvalContext, Evaluation, Member, Task
from dljax.train import optim
from dljax.train.state import TrainState
from dljax.train.trainers import TrainResult, Trainer


class MembersState(flax.struct.PyTreeNode):
  step: jnp.ndarray   # the loop's scalar step; every member's own TrainState.step equals it
  members: Any        # TrainState with a leading member axis on every leaf


def check_batch_size(batch: int, num_examples: int, mesh) -> None:
  n_dev = mesh.devices.size
  if batch < 1 or batch % n_dev or batch % jax.process_count():
    raise UserError(f"--config.batch_size={batch} must be a positive multiple of the device count ({n_dev})")
  if batch > num_examples:
    raise UserError(f"--config.batch_size={batch} exceeds the {num_examples} training examples; lower it")


def run_length(config, steps_per_epoch: int) -> int:
  """config.num_train_steps, else num_epochs × steps_per_epoch capped at the optional max_train_steps (a
  compute budget); at least one step."""
  steps = config.num_train_steps if config.num_train_steps is not None else config.num_epochs * steps_per_epoch
  if config.num_train_steps is None and config.get("max_train_steps") is not None:
    steps = min(steps, config.max_train_steps)
  if steps < 1:
    raise UserError("the run has no steps: set --config.num_epochs or --config.num_train_steps >= 1")
  return steps


def index_batches(num_examples: int, global_batch: int, seed: int, num_epochs: int) -> grain.MapDataset:
  """Batches of positions 0..num_examples-1, reshuffled every epoch from `seed`: this host's rows of each
  global batch (a contiguous slice, so N hosts assemble exactly the 1-host batch)."""
  local = parallel.host_batch_size(global_batch)
  lo = jax.process_index() * local
  return (grain.MapDataset.range(num_examples)
          .shuffle(seed=seed)
          .repeat(num_epochs)
          .batch(global_batch, drop_remainder=True)
          .map(lambda idx: idx[lo:lo + local]))


def padded_eval_batches(mesh, num_rows: int, eval_batch_size: int):
  """(this host's row indices, mask) per global eval batch; padding repeats the last row with mask 0."""
  n_dev = mesh.devices.size
  global_batch = max(n_dev, eval_batch_size // n_dev * n_dev)
  local = parallel.host_batch_size(global_batch)
  lo = jax.process_index() * local
  for start in range(0, num_rows, global_batch):
    rows = np.arange(start, start + global_batch)
    mask = (rows < num_rows).astype(np.float32)
    yield np.minimum(rows, num_rows - 1)[lo:lo + local], mask[lo:lo + local]


def member_keys(member: Member) -> tuple[jax.Array, jax.Array]:
  """(init key, step key) of a member: split(key(seed)), the init key folded with `init_fold` if set."""
  init_key, step_key = jax.random.split(jax.random.key(member.seed))
  if member.init_fold is not None:
    init_key = jax.random.fold_in(init_key, member.init_fold)
  return init_key, step_key


def _variables(params, batch_stats) -> dict:
  return {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params}


def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.array([jnp.isfinite(p).all() for p in jax.tree.leaves(tree)]))


def train_step_fn(model, tx, task: Task, config):
  """The pure step `(state, batch, step_key) -> (state, metrics, finite)`, not jitted: MinibatchTrainer jits
  it for one member and vmaps it for several. Keys: fold_in(step_key, step), so a resumed run draws the
  same ones."""

  def train_step(state: TrainState, batch, step_key):
    augment_key, dropout_key = jax.random.split(jax.random.fold_in(step_key, state.step))
    batch = task.augment(augment_key, batch, config)

    def loss_fn(params):
      outputs, updates = model.apply(_variables(params, state.batch_stats), task.inputs(batch), train=True,
                                     rngs={"dropout": dropout_key}, mutable=["batch_stats"])
      return task.example_losses(outputs, batch).mean(), (outputs, updates)

    (loss, (outputs, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, param_updates),
                              batch_stats=updates.get("batch_stats", state.batch_stats), opt_state=opt_state)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **task.train_metrics(outputs, batch)}
    # The loss of step k is measured before its update, so an update that overflows the parameters
    # shows only in the next loss; `finite` flags it at the step itself (one cheap reduction).
    return new_state, metrics, _all_finite(new_state.params)

  return train_step


class MinibatchTrainer(Trainer):
  """(model, task, optimizer, data) -> checkpointed minibatch training of one or several members."""

  def __init__(self, config, mesh, key):
    del key  # each member's keys derive from its seed (member_keys)
    self.config, self.mesh = config, mesh
    self.task = tasks_lib.make_task(config.task)
    data = sources.from_config(config)
    self.source_files = data.source_files
    self.train_arrays, self.test_arrays = self.task.arrays(data)
    self.members = self._members(config, data)
    self.stacked = len(self.members) > 1
    self.loss_metric = self.task.loss_metric

    num_rows = {len(m.rows) if m.rows is not None else len(next(iter(self.train_arrays.values())))
                for m in self.members}
    if len(num_rows) != 1:
      raise UserError("every member of a vmapped run must train on the same number of rows")
    rows_per_member = num_rows.pop()
    batch = config.batch_size
    check_batch_size(batch, rows_per_member, mesh)
    self.steps_per_epoch = rows_per_member // batch
    self.num_steps = run_length(config, self.steps_per_epoch)
    self.examples_per_step = batch * len(self.members)

    self.model = tasks_lib.base.build_model(self.task.models, config.model, **self.task.model_kwargs(data))
    self.tx = optim.make_optimizer(config.optimizer, self.num_steps)
    num_epochs = math.ceil(self.num_steps / self.steps_per_epoch)
    self._iterators = [self._batch_iterator(m, rows_per_member, num_epochs) for m in self.members]
    keys = [member_keys(m) for m in self.members]
    self._init_keys = jnp.stack([k for k, _ in keys])
    self._step_keys = jnp.stack([k for _, k in keys])
    self._build_programs()

  def _members(self, config, data) -> tuple[Member, ...]:
    seeds = config.get("vmap_seeds")
    if not seeds:
      return self.task.members(config, data)
    if len(self.task.members(config, data)) != 1:
      raise UserError(f"--vmap_seeds: the {config.task} task already trains one model per "
                      f"{self.task.members(config, data)[0].label.split('=')[0]}; run its seeds as separate runs")
    return tuple(Member(f"seed={s}", int(s)) for s in seeds)

  def _batch_iterator(self, member: Member, num_rows: int, num_epochs: int):
    arrays, rows = self.train_arrays, member.rows
    pick = (lambda pos: pos) if rows is None else (lambda pos: rows[pos])
    # In-memory gather of a whole batch: no reader threads (grain's advice for in-memory data);
    # JAX's async dispatch already overlaps the next gather with the current step.
    return iter(index_batches(num_rows, self.config.batch_size, member.seed, num_epochs)
                .map(lambda pos: {k: v[pick(pos)] for k, v in arrays.items()})
                .to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)))

  # --- programs ---------------------------------------------------------------------------------------

  def _init_one(self, init_key) -> TrainState:
    sample = jnp.asarray(self.task.inputs({k: v[:1] for k, v in self.train_arrays.items()}))
    variables = self.model.init({"params": init_key, "dropout": init_key}, sample, train=False)
    params = variables["params"]
    return TrainState(step=jnp.int32(0), params=params, batch_stats=variables.get("batch_stats", {}),
                      opt_state=self.tx.init(params))

  def _init(self, init_keys):
    if not self.stacked:
      return self._init_one(init_keys[0])
    return MembersState(step=jnp.int32(0), members=jax.vmap(self._init_one)(init_keys))

  def _build_programs(self) -> None:
    """Shardings from the abstract state; the jitted init, train, eval and predict programs (compiled on
    first call)."""
    try:
      abstract = jax.eval_shape(self._init, self._init_keys)
    except ValueError as e:  # a module's own check of its fields (unknown cell, pool, activation, ...)
      raise UserError(f"--config.model: {str(e).splitlines()[0]}") from None
    replicated = parallel.replicated(self.mesh)
    self.state_sharding = jax.tree.map(lambda _: replicated, abstract)
    batch_axis = P(None, parallel.DATA_AXIS) if self.stacked else P(parallel.DATA_AXIS)
    self._train_batch_sharding = NamedSharding(self.mesh, batch_axis)
    step = train_step_fn(self.model, self.tx, self.task, self.config)

    def train_step(state, batch, step_keys):
      if not self.stacked:
        return step(state, batch, step_keys[0])
      members, metrics, finite = jax.vmap(step)(state.members, batch, step_keys)
      return state.replace(step=state.step + 1, members=members), metrics, jnp.all(finite)

    def eval_step(state, batch):
      def one(member_state):
        outputs = self.model.apply(_variables(member_state.params, member_state.batch_stats),
                                   self.task.inputs(batch), train=False)
        return self.task.eval_outputs(outputs, batch)
      return jax.vmap(one)(state.members) if self.stacked else one(state)

    eval_batch = parallel.batch_sharded(self.mesh)
    eval_out = replicated if self.task.eval_reduction == "sum" else self._train_batch_sharding
    self._init_program = jax.jit(self._init, out_shardings=self.state_sharding)
    self._train_step = jax.jit(train_step, in_shardings=(self.state_sharding, self._train_batch_sharding, replicated),
                               out_shardings=(self.state_sharding, replicated, replicated), donate_argnums=0)
    self._eval_step = jax.jit(eval_step, in_shardings=(self.state_sharding, eval_batch), out_shardings=eval_out)
    self._apply = jax.jit(lambda variables, x: self.model.apply(variables, x, train=False))

  # --- the Trainer contract --------------------------------------------------------------------------

  def init_state(self):
    return self._init_program(self._init_keys)

  def host_state(self) -> dict:
    if not self.stacked:
      return {"train_iterator": self._iterators[0].get_state()}
    return {f"train_iterator/{m.label}": it.get_state() for m, it in zip(self.members, self._iterators)}

  def restore_host_state(self, host_state: dict) -> None:
    if not self.stacked:
      self._iterators[0].set_state(host_state["train_iterator"])
      return
    for m, it in zip(self.members, self._iterators):
      it.set_state(host_state[f"train_iterator/{m.label}"])

  def next_batch(self):
    """The next global training batch, advancing every member's checkpointed iterator."""
    local = [next(it) for it in self._iterators]
    if not self.stacked:
      return parallel.to_global_batch(self.mesh, local[0])
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *local)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(self._train_batch_sharding, x), stacked)

  def train(self, state, num_steps: int):
    per_step, finite = [], []
    for _ in range(num_steps):
      state, metrics, ok = self._train_step(state, self.next_batch(), self._step_keys)
      per_step.append(metrics)
      finite.append(ok)
    stacked = jax.tree.map(lambda *m: jnp.stack(m), *per_step)  # (steps,) or (steps, members)
    if self.stacked:
      columns = {f"{k}/{m.label}": v[:, i] for k, v in stacked.items() for i, m in enumerate(self.members)}
      stacked = {**{k: v.mean(axis=1) for k, v in stacked.items()}, **columns}
    return state, TrainResult(stacked, jnp.stack(finite))

  def _member_state(self, state, i: int) -> TrainState:
    return jax.tree.map(lambda a: a[i], state.members) if self.stacked else state

  def eval_results(self, state) -> list[dict]:
    """Per member, the task's eval outputs over the whole test split (numpy): sums, or per-example rows."""
    test = self.test_arrays
    num_rows = len(next(iter(test.values())))
    total, chunks = None, []
    for rows, mask in padded_eval_batches(self.mesh, num_rows, self.config.eval_batch_size):
      batch = parallel.to_global_batch(self.mesh, {**{k: v[rows] for k, v in test.items()}, "mask": mask})
      out = self._eval_step(state, batch)
      if self.task.eval_reduction == "sum":
        total = out if total is None else jax.tree.map(jnp.add, total, out)
      else:
        chunks.append(jax.tree.map(lambda a: np.asarray(multihost_utils.process_allgather(a, tiled=True)), out))
    if self.task.eval_reduction == "sum":
      total = jax.device_get(total)
    else:  # padding rows are the tail of the last batch
      axis = 1 if self.stacked else 0
      total = jax.tree.map(lambda *c: np.concatenate(c, axis=axis).take(np.arange(num_rows), axis=axis), *chunks)
    if not self.stacked:
      return [total]
    return [jax.tree.map(lambda a, i=i: np.asarray(a)[i], total) for i in range(len(self.members))]

  def evaluate(self, state) -> Evaluation:
    step = int(jax.device_get(state.step))

    def predict(i, x):
      member = jax.device_get(self._member_state(state, i))
      return np.asarray(self._apply(_variables(member.params, member.batch_stats), jnp.asarray(x)))

    context = EvalContext(self.config, self.members, self.train_arrays, self.test_arrays, step, predict)
    return self.task.evaluate(self.eval_results(state), context)
