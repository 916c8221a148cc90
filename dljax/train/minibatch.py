"""The one minibatch trainer: any task (dljax.tasks) with a flax model, an optax optimizer and an in-memory
dataset. It owns the checks, the step count, the data order, one jitted step and the padded, masked
evaluation; the task owns what a batch means.

A run trains one member, or several (`--vmap_seeds`, or one model per class for the one-class task) as
one program: the TrainStates are stacked on a leading member axis and the step is vmapped over it. Each
member is exactly its separate run: initial parameters from `jax.random.key(seed)` (split into an init
and a step key), its own data order and per-step keys `fold_in(step_key, step)`.

Data order: epoch e visits the rows in the order `jax.random.permutation(fold_in(order_key, e), n)`, cut
into n // B batches (the last n mod B rows of each epoch are skipped, as PyTorch's drop_last does), so step
s takes batch s mod (n // B) of epoch s // (n // B). The order is a function of (seed, step): nothing but
the step is checkpointed, and a resumed run sees the same batches.

Small datasets train inside XLA (`data.on_device`): the training arrays are put on every device once;
  scan   all steps between two log or checkpoint points run as one `lax.scan` whose carry holds the epoch's
         permutations; each batch is gathered on the device and sharded over the mesh;
  steps  one jitted step per batch, the batch gathered on the device from the (M, B) positions the host
         sends: for convolutions on XLA:CPU, which run ~15x slower inside a loop body (jax-ml/jax#12868;
         digits_cnn: 55 ms against 3.8 ms a step);
  no     the host gathers each batch (datasets larger than the devices);
  auto   scan, or steps for a convolutional model on CPU, when the arrays take at most DEVICE_DATA_BYTES;
         else no.
Every mode runs the same step on the same batches.

Shardings come from the mesh: the state is replicated, every batch is split along the `data` axis, and
XLA inserts the gradient all-reduce (and BatchNorm's cross-device mean), so the same program runs on 1
or N devices and gives the same numbers up to float summation order.
"""

from typing import Any

import flax.struct
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


DEVICE_DATA_BYTES = 2 << 30  # "auto" keeps training arrays up to this size on every device


ORDER_STREAM = 0x0D47A  # folded into key(seed) for the data order: independent of the init and step keys


def epoch_permutations(order_keys: jax.Array, epoch, num_rows: int) -> jax.Array:
  """(M, num_rows) int32: each member's row order in `epoch`."""
  return jax.vmap(lambda key: jax.random.permutation(jax.random.fold_in(key, epoch), num_rows))(order_keys)


def batch_positions(permutations: jax.Array, step, steps_per_epoch: int, batch: int) -> jax.Array:
  """(M, B): the rows of each member's permutation that step `step` trains on."""
  start = (step % steps_per_epoch) * batch
  return jax.lax.dynamic_slice_in_dim(permutations, start, batch, axis=1)


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


def member_keys(member: Member) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(init, step, order) keys of a member: split(key(seed)) into init and step keys, the init key folded
  with `init_fold` if set; the order key is fold_in(key(seed), ORDER_STREAM)."""
  root = jax.random.key(member.seed)
  init_key, step_key = jax.random.split(root)
  if member.init_fold is not None:
    init_key = jax.random.fold_in(init_key, member.init_fold)
  return init_key, step_key, jax.random.fold_in(root, ORDER_STREAM)


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
    self.rows_per_member = rows_per_member
    self._member_rows = (None if all(m.rows is None for m in self.members)
                         else np.stack([m.rows for m in self.members]).astype(np.int32))  # (M, n)
    self._on_device_arrays = None
    keys = [member_keys(m) for m in self.members]
    self._init_keys, self._step_keys, self._order_keys = (jnp.stack(k) for k in zip(*keys))
    self._host_epoch = (None, None)  # (epoch, its permutations as numpy): the host path's cache
    self._build_programs()
    self.data_mode = self._data_mode(config.data.get("on_device", "auto"))  # after the model's own checks

  def _members(self, config, data) -> tuple[Member, ...]:
    seeds = config.get("vmap_seeds")
    if not seeds:
      return self.task.members(config, data)
    if len(self.task.members(config, data)) != 1:
      raise UserError(f"--vmap_seeds: the {config.task} task already trains one model per "
                      f"{self.task.members(config, data)[0].label.split('=')[0]}; run its seeds as separate runs")
    return tuple(Member(f"seed={s}", int(s)) for s in seeds)

  def _data_mode(self, mode: str) -> str:
    """scan | steps | no (see the module docstring) for `data.on_device`."""
    if mode != "auto":
      return mode
    if sum(a.nbytes for a in self.train_arrays.values()) > DEVICE_DATA_BYTES:
      return "no"
    if jax.default_backend() == "cpu" and self._has_convolution():
      return "steps"
    return "scan"

  def _has_convolution(self) -> bool:
    sample = jnp.asarray(self.task.inputs({k: v[:1] for k, v in self.train_arrays.items()}))
    jaxpr = jax.make_jaxpr(lambda: self.model.init(jax.random.key(0), sample))()
    return "conv_general_dilated" in str(jaxpr)

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

    spe, batch_size, num_rows = self.steps_per_epoch, self.config.batch_size, self.rows_per_member

    def gather(arrays, member_rows, positions):
      """One step's batch from the device copy: (M, B) positions -> rows -> fields sharded over the mesh."""
      rows = positions if member_rows is None else jnp.take_along_axis(member_rows, positions, axis=1)
      batch = {k: v[rows if self.stacked else rows[0]] for k, v in arrays.items()}
      return jax.lax.with_sharding_constraint(batch, self._train_batch_sharding)

    def train_chunk(state, arrays, member_rows, order_keys, step_keys, num_steps):
      """num_steps steps as one lax.scan; the epoch's permutations ride in the carry and are redrawn when
      the epoch changes."""
      def body(carry, _):
        state, epoch, permutations = carry
        step_epoch = state.step // spe
        permutations = jax.lax.cond(step_epoch != epoch, lambda: epoch_permutations(order_keys, step_epoch, num_rows),
                                    lambda: permutations)
        positions = batch_positions(permutations, state.step, spe, batch_size)
        state, metrics, finite = train_step(state, gather(arrays, member_rows, positions), step_keys)
        return (state, step_epoch, permutations), (metrics, finite)

      epoch = state.step // spe
      carry = (state, epoch, epoch_permutations(order_keys, epoch, num_rows))
      (state, _, _), out = jax.lax.scan(body, carry, None, length=num_steps)
      return state, out

    eval_batch = parallel.batch_sharded(self.mesh)
    eval_out = replicated if self.task.eval_reduction == "sum" else self._train_batch_sharding
    self._init_program = jax.jit(self._init, out_shardings=self.state_sharding)
    self._train_step = jax.jit(train_step, in_shardings=(self.state_sharding, self._train_batch_sharding, replicated),
                               out_shardings=(self.state_sharding, replicated, replicated), donate_argnums=0)
    self._train_step_on_device = jax.jit(
        lambda state, arrays, member_rows, positions, step_keys: train_step(
            state, gather(arrays, member_rows, positions), step_keys),
        in_shardings=(self.state_sharding, replicated, replicated, replicated, replicated),
        out_shardings=(self.state_sharding, replicated, replicated), donate_argnums=0)
    self._train_chunk = jax.jit(train_chunk, static_argnums=5, donate_argnums=0,
                                in_shardings=(self.state_sharding, replicated, replicated, replicated, replicated),
                                out_shardings=(self.state_sharding, replicated))
    self._epoch_permutations = jax.jit(epoch_permutations, static_argnums=2)
    self._eval_step = jax.jit(eval_step, in_shardings=(self.state_sharding, eval_batch), out_shardings=eval_out)
    self._apply = jax.jit(lambda variables, x: self.model.apply(variables, x, train=False))

  # --- the Trainer contract --------------------------------------------------------------------------

  def init_state(self):
    return self._init_program(self._init_keys)

  def _host_positions(self, step: int) -> np.ndarray:
    """(M, B) positions of step `step` (the host path), from the same permutations as the scanned path."""
    epoch = step // self.steps_per_epoch
    if self._host_epoch[0] != epoch:
      self._host_epoch = (epoch, np.asarray(self._epoch_permutations(self._order_keys, epoch, self.rows_per_member)))
    start = (step % self.steps_per_epoch) * self.config.batch_size
    return self._host_epoch[1][:, start:start + self.config.batch_size]

  def _host_batch(self, positions: np.ndarray):
    """The global batch of one step gathered on the host: this host's rows of (M, B) positions."""
    local = parallel.host_batch_size(self.config.batch_size)
    lo = jax.process_index() * local
    positions = positions[:, lo:lo + local]
    rows = positions if self._member_rows is None else np.take_along_axis(self._member_rows, positions, axis=1)
    batch = {k: v[rows if self.stacked else rows[0]] for k, v in self.train_arrays.items()}
    if not self.stacked:
      return parallel.to_global_batch(self.mesh, batch)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(self._train_batch_sharding, x), batch)

  def _device_data(self):
    """The training arrays (and member rows) on every device, put there on first use."""
    if self._on_device_arrays is None:
      replicated = parallel.replicated(self.mesh)
      put = lambda a: jax.make_array_from_process_local_data(replicated, a, a.shape)
      self._on_device_arrays = (jax.tree.map(put, self.train_arrays),
                                None if self._member_rows is None else put(self._member_rows))
    return self._on_device_arrays

  def train(self, state, num_steps: int):
    if self.data_mode == "scan":
      arrays, member_rows = self._device_data()
      state, (metrics, finite) = self._train_chunk(state, arrays, member_rows, self._order_keys, self._step_keys,
                                                   num_steps)
    else:
      first = int(jax.device_get(state.step))
      per_step, per_finite = [], []
      for step in range(first, first + num_steps):
        if self.data_mode == "steps":
          state, step_metrics, ok = self._train_step_on_device(state, *self._device_data(),
                                                               self._host_positions(step), self._step_keys)
        else:
          state, step_metrics, ok = self._train_step(state, self._host_batch(self._host_positions(step)),
                                                     self._step_keys)
        per_step.append(step_metrics)
        per_finite.append(ok)
      metrics, finite = jax.tree.map(lambda *m: jnp.stack(m), *per_step), jnp.stack(per_finite)
    if self.stacked:  # (steps, M): the mean over members, and each member's own column
      columns = {f"{k}/{m.label}": v[:, i] for k, v in metrics.items() for i, m in enumerate(self.members)}
      metrics = {**{k: v.mean(axis=1) for k, v in metrics.items()}, **columns}
    return state, TrainResult(metrics, finite)

  def step_cost(self) -> dict:
    """XLA's cost analysis of one compiled train step (e.g. "flops"), for throughput benchmarks."""
    lead = (len(self.members),) if self.stacked else ()
    batch = {k: jax.ShapeDtypeStruct((*lead, self.config.batch_size, *v.shape[1:]), v.dtype,
                                     sharding=self._train_batch_sharding) for k, v in self.train_arrays.items()}
    state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                         jax.eval_shape(self._init, self._init_keys), self.state_sharding)
    cost = self._train_step.lower(state, batch, self._step_keys).compile().cost_analysis()
    return dict((cost[0] if isinstance(cost, (list, tuple)) else cost) or {})

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
