"""Autoencoder trainers: reconstruction training on a whole dataset ("autoencoder"), and the one-class
anomaly-detection protocol with one autoencoder per normal class, all vmapped in one program
("one_class_autoencoder").

Both reuse the foundation's pieces: the grain index pipeline of SupervisedTrainer (reshuffled per epoch
from the seed; its iterator state goes into every checkpoint, so a resumed run sees the same batches),
TrainState, optim.make_optimizer, one jitted step with the state replicated and the batch sharded on
the mesh's `data` axis (XLA inserts the gradient all-reduce), and masked, padded evaluation batches.
"""

import functools
import math
import os

import grain
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

from dljax import parallel
from dljax.data import sources
from dljax.errors import UserError
from dljax.nn.autoencoder import AUTOENCODERS
from dljax.tasks import reconstruction
from dljax.train import optim
from dljax.train.state import TrainState
from dljax.train.trainers import Trainer, _train_index_dataset, register_trainer

AUTOENCODER, ONE_CLASS = "autoencoder", "one_class_autoencoder"


def _images(x: np.ndarray) -> np.ndarray:
  """(N, H, W) or (N, H, W, C) float images; a channel axis is added for grey ones."""
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4:
    raise UserError(f"autoencoders take images (N, H, W[, C]); this data has rows of shape {x.shape[1:]}")
  return x.astype(np.float32)


def _make_model(model_config, image_shape):
  cfg = model_config.to_dict()
  name = cfg.pop("name")
  if name not in AUTOENCODERS:
    raise UserError(f"--config.model.name={name}: choose one of {', '.join(AUTOENCODERS)}")
  try:
    model = AUTOENCODERS[name](image_shape=tuple(image_shape), **cfg)
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *image_shape)))
  except (TypeError, ValueError) as e:
    raise UserError(f"--config.model: {str(e).splitlines()[0]}") from None
  return model


def _check_batch(batch: int, num_examples: int, mesh) -> None:
  n_dev = mesh.devices.size
  if batch < 1 or batch % n_dev or batch % jax.process_count():
    raise UserError(f"--config.batch_size={batch} must be a positive multiple of the device count ({n_dev})")
  if batch > num_examples:
    raise UserError(f"--config.batch_size={batch} exceeds the {num_examples} training examples; lower it")


def _num_steps(config, steps_per_epoch: int) -> int:
  steps = config.num_train_steps if config.num_train_steps is not None else config.num_epochs * steps_per_epoch
  if steps < 1:
    raise UserError("the run has no steps: set --config.num_epochs or --config.num_train_steps >= 1")
  return steps


def _padded_batches(mesh, num_rows: int, eval_batch_size: int):
  """(this host's row indices, mask) per global eval batch; padding repeats the last row with mask 0."""
  n_dev = mesh.devices.size
  global_batch = max(n_dev, eval_batch_size // n_dev * n_dev)
  local = parallel.host_batch_size(global_batch)
  lo = jax.process_index() * local
  for start in range(0, num_rows, global_batch):
    rows = np.arange(start, start + global_batch)
    mask = (rows < num_rows).astype(np.float32)
    yield np.minimum(rows, num_rows - 1)[lo:lo + local], mask[lo:lo + local]


def save_reconstruction_grid(path: str, originals: np.ndarray, reconstructions: np.ndarray, title: str) -> None:
  """A PNG with the originals on the top row and their reconstructions below (grey images)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  n = len(originals)
  fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.7), squeeze=False)
  for i in range(n):
    for row, images in enumerate((originals, reconstructions)):
      axes[row, i].imshow(np.squeeze(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
      axes[row, i].axis("off")
  axes[0, 0].set_title("input", fontsize=8, loc="left")
  axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _reconstruction_step(model, tx):
  """(params, opt_state, x) -> (params, opt_state, loss, grad_norm): one Adam/SGD step on mean ‖x − x̂‖²/P."""

  def step(params, opt_state, x):
    def loss_fn(p):
      return reconstruction.example_errors(model.apply({"params": p}, x), x).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, optax.tree.norm(grads)

  return step


def _all_finite(params):
  return jnp.all(jnp.array([jnp.isfinite(p).all() for p in jax.tree.leaves(params)]))


class _BatchIteratorTrainer(Trainer):
  """Steps `self._train_step` over `self._iterator`'s batches; the iterator state is checkpointed."""

  def host_state(self) -> dict:
    return {"train_iterator": self._iterator.get_state()}

  def restore_host_state(self, host_state: dict) -> None:
    self._iterator.set_state(host_state["train_iterator"])

  def train(self, state, num_steps):
    per_step = []
    for _ in range(num_steps):
      state, metrics = self._train_step(state, parallel.to_global_batch(self.mesh, next(self._iterator)))
      per_step.append(metrics)
    return state, jax.tree.map(lambda *m: jnp.stack(m), *per_step)


@register_trainer(AUTOENCODER)
class AutoencoderTrainer(_BatchIteratorTrainer):
  """Minibatch training of a dense or convolutional autoencoder on the training images (labels unused)."""

  workdir: str | None = None  # where evaluate writes reconstruction plots (set by the caller)

  def __init__(self, config, mesh, key):
    self.config, self.mesh, self._init_key = config, mesh, key
    data = sources.load_dataset(config.data.source, max_train=config.data.max_train,
                                max_test=config.data.max_test)
    self.train_x, self.test_x, self.test_y = _images(data.train_x), _images(data.test_x), data.test_y
    batch = config.batch_size
    _check_batch(batch, len(self.train_x), mesh)
    self.steps_per_epoch = len(self.train_x) // batch
    self.num_steps = _num_steps(config, self.steps_per_epoch)
    self.examples_per_step = batch
    self.model = _make_model(config.model, self.train_x.shape[1:])
    self.tx = optim.make_optimizer(config.optimizer, self.num_steps)
    index_ds = _train_index_dataset(len(self.train_x), batch, config.seed,
                                    math.ceil(self.num_steps / self.steps_per_epoch))
    x = self.train_x
    self._iterator = iter(index_ds.map(lambda idx: {"x": x[idx]}).to_iter_dataset(
        grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)))
    self._train_step = self._eval_step = None

  def init_state(self) -> TrainState:
    def init():
      params = self.model.init(self._init_key, jnp.asarray(self.train_x[:1]))["params"]
      return TrainState(step=jnp.int32(0), params=params, batch_stats={}, opt_state=self.tx.init(params))

    state_sharding = jax.tree.map(lambda _: parallel.replicated(self.mesh), jax.eval_shape(init))
    step = _reconstruction_step(self.model, self.tx)

    def train_step(state, batch):
      params, opt_state, loss, grad_norm = step(state.params, state.opt_state, batch["x"])
      new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
      return new_state, {"loss": loss, "grad_norm": grad_norm, "finite": _all_finite(params)}

    def eval_step(state, batch):
      return reconstruction.eval_sums(self.model.apply({"params": state.params}, batch["x"]), batch["x"],
                                      batch["mask"])

    batch_sharding, replicated = parallel.batch_sharded(self.mesh), parallel.replicated(self.mesh)
    self._train_step = jax.jit(train_step, in_shardings=(state_sharding, batch_sharding),
                               out_shardings=(state_sharding, replicated), donate_argnums=0)
    self._eval_step = jax.jit(eval_step, in_shardings=(state_sharding, batch_sharding), out_shardings=replicated)
    self._reconstruct = jax.jit(lambda params, x: self.model.apply({"params": params}, x))
    return jax.jit(init, out_shardings=state_sharding)()

  def evaluate(self, state) -> dict[str, float]:
    total = None
    for rows, mask in _padded_batches(self.mesh, len(self.test_x), self.config.eval_batch_size):
      sums = self._eval_step(state, parallel.to_global_batch(self.mesh, {"x": self.test_x[rows], "mask": mask}))
      total = sums if total is None else jax.tree.map(jnp.add, total, sums)
    metrics = reconstruction.metrics_from_sums(jax.device_get(total))
    if self.workdir is not None and jax.process_index() == 0:
      self.write_plot(state)
    return metrics

  def write_plot(self, state) -> str:
    """WORKDIR/reconstructions_step_S.png: the first test image of each class (up to 10) and its reconstruction."""
    picks = [int(np.flatnonzero(self.test_y == c)[0]) for c in np.unique(self.test_y)[:10]]
    originals = self.test_x[picks]
    params = jax.device_get(state.params)
    reconstructed = np.asarray(self._reconstruct(params, originals))
    step = int(jax.device_get(state.step))
    path = os.path.join(self.workdir, f"reconstructions_step_{step}.png")
    save_reconstruction_grid(path, originals, reconstructed, f"{self.config.experiment}, step {step}")
    return path


@register_trainer(ONE_CLASS)
class OneClassTrainer(_BatchIteratorTrainer):
  """The one-class protocol: for each class c of `config.normal_classes`, an autoencoder trained on the
  training images of class c only; every test image is scored by its reconstruction error, and the
  AUROC of "classes other than c are anomalies" is reported per class and averaged. The K models are
  one vmapped program (stacked parameters, one batch of K×B images per step).

  Baselines in the same run, on the same pixels: PCA reconstruction error (dljax.classic.pca, fitted on
  class c) and scikit-learn's IsolationForest (fitted on class c). WORKDIR gets anomaly_auroc.md and
  anomaly_auroc.csv (one row per class plus the mean).
  """

  workdir: str | None = None

  def __init__(self, config, mesh, key):
    self.config, self.mesh, self._init_key = config, mesh, key
    data = sources.load_dataset(config.data.source, max_train=config.data.max_train,
                                max_test=config.data.max_test)
    if data.num_classes is None:
      raise UserError(f"{config.data.source} has real-valued targets; the one-class protocol needs class labels")
    self.classes = tuple(int(c) for c in config.normal_classes)
    present = set(np.unique(data.train_y).tolist())
    if not self.classes or any(c not in present for c in self.classes) or len(set(self.classes)) != len(self.classes):
      raise UserError(f"--config.normal_classes={config.normal_classes}: give distinct labels among "
                      f"{sorted(present)}")
    train_x, self.test_x, self.test_y = _images(data.train_x), _images(data.test_x), data.test_y
    for c in self.classes:
      if (self.test_y == c).all() or not (self.test_y == c).any():
        raise UserError(f"class {c}: the test split needs both class-{c} and other images; raise data.max_test")
    rows = [np.flatnonzero(data.train_y == c) for c in self.classes]
    per_class = min(len(r) for r in rows)  # equal for Fashion-MNIST (6,000); a subset keeps the first rows
    self.class_rows = np.stack([r[:per_class] for r in rows])  # (K, n)
    self.train_x = train_x
    batch = config.batch_size
    _check_batch(batch, per_class, mesh)
    self.steps_per_epoch = per_class // batch
    self.num_steps = _num_steps(config, self.steps_per_epoch)
    self.examples_per_step = batch * len(self.classes)
    self.model = _make_model(config.model, train_x.shape[1:])
    self.tx = optim.make_optimizer(config.optimizer, self.num_steps)
    # One grain pipeline of positions 0..n-1 within each class; model k trains on class_rows[k, positions].
    index_ds = _train_index_dataset(per_class, batch, config.seed, math.ceil(self.num_steps / self.steps_per_epoch))
    class_rows = self.class_rows
    # (B, K, H, W, C): the batch axis first, so the standard batch sharding splits it over devices.
    self._iterator = iter(index_ds.map(lambda pos: {"x": np.swapaxes(train_x[class_rows[:, pos]], 0, 1)})
                          .to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)))
    self._baselines = None

  def init_state(self) -> TrainState:
    sample = jnp.asarray(self.train_x[:1])

    def init_one(key):
      params = self.model.init(key, sample)["params"]
      return params, self.tx.init(params)

    def init():
      # Model k's initial key depends on its class only: a single-class run starts where its row of the ablation does.
      keys = jnp.stack([jax.random.fold_in(self._init_key, c) for c in self.classes])
      params, opt_state = jax.vmap(init_one)(keys)
      return TrainState(step=jnp.int32(0), params=params, batch_stats={}, opt_state=opt_state)

    state_sharding = jax.tree.map(lambda _: parallel.replicated(self.mesh), jax.eval_shape(init))
    step = jax.vmap(_reconstruction_step(self.model, self.tx))

    def train_step(state, batch):
      x = jnp.swapaxes(batch["x"], 0, 1)  # (K, B, H, W, C)
      params, opt_state, loss, grad_norm = step(state.params, state.opt_state, x)
      new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
      return new_state, {"loss": loss.mean(), "loss_max": loss.max(), "grad_norm": grad_norm.mean(),
                         "finite": _all_finite(params)}

    def errors_step(params, x):
      """(K, B) reconstruction errors of one batch of test images under each of the K models."""
      return jax.vmap(lambda p: reconstruction.example_errors(self.model.apply({"params": p}, x), x))(params)

    batch_sharding, replicated = parallel.batch_sharded(self.mesh), parallel.replicated(self.mesh)
    self._train_step = jax.jit(train_step, in_shardings=(state_sharding, batch_sharding),
                               out_shardings=(state_sharding, replicated), donate_argnums=0)
    errors_sharding = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(None, parallel.DATA_AXIS))
    self._errors = jax.jit(errors_step, in_shardings=(state_sharding.params, batch_sharding),
                           out_shardings=errors_sharding)
    return jax.jit(init, out_shardings=state_sharding)()

  def test_errors(self, state) -> np.ndarray:
    """(K, N_test) reconstruction errors of every test image under each class's autoencoder."""
    chunks = []
    for rows, _ in _padded_batches(self.mesh, len(self.test_x), self.config.eval_batch_size):
      errors = self._errors(state.params, parallel.to_global_batch(self.mesh, self.test_x[rows]))
      chunks.append(np.asarray(multihost_utils.process_allgather(errors, tiled=True)))
    return np.concatenate(chunks, axis=1)[:, :len(self.test_x)]  # padding rows are the tail of the last batch

  def baseline_scores(self) -> dict[str, np.ndarray]:
    """{"pca": (K, N_test), "iforest": (K, N_test)} anomaly scores, fitted once per process on each class."""
    if self._baselines is None:
      from sklearn.ensemble import IsolationForest  # pylint: disable=import-outside-toplevel
      from dljax.classic import pca  # pylint: disable=import-outside-toplevel
      cfg = self.config.baselines
      flat_test = self.test_x.reshape(len(self.test_x), -1)
      pca_config = pca.default_config(n_components=cfg.pca_components, solver=cfg.pca_solver)
      fit = jax.jit(functools.partial(pca.fit, config=pca_config))
      error = jax.jit(pca.reconstruction_error)
      scores = {"pca": [], "iforest": []}
      for k, c in enumerate(self.classes):
        flat_train = self.train_x[self.class_rows[k]].reshape(self.class_rows.shape[1], -1)
        pca.check_inputs(flat_train, pca_config)
        params = fit(jax.random.fold_in(self._init_key, c), flat_train)
        scores["pca"].append(np.asarray(error(params, flat_test)))
        forest = IsolationForest(n_estimators=cfg.iforest_estimators, random_state=self.config.seed + c)
        scores["iforest"].append(-forest.fit(flat_train).score_samples(flat_test))  # higher = more anomalous
      self._baselines = {k: np.stack(v) for k, v in scores.items()}
    return self._baselines

  def evaluate(self, state) -> dict[str, float]:
    scores = {"autoencoder": self.test_errors(state)}
    if self.config.baselines.enabled:
      scores.update(self.baseline_scores())
    table = {method: [reconstruction.auroc(s[k], self.test_y != c) for k, c in enumerate(self.classes)]
             for method, s in scores.items()}
    metrics = {f"auroc_{method}": float(np.mean(values)) for method, values in table.items()}
    metrics.update({f"auroc_autoencoder_class_{c}": table["autoencoder"][k] for k, c in enumerate(self.classes)})
    if self.workdir is not None and jax.process_index() == 0:
      self.write_table(table, int(jax.device_get(state.step)))
    return metrics

  def write_table(self, table: dict[str, list[float]], step: int) -> None:
    """WORKDIR/anomaly_auroc.{md,csv}: AUROC per normal class and method, and the mean over classes."""
    methods = list(table)
    rows = [(str(c), [table[m][k] for m in methods]) for k, c in enumerate(self.classes)]
    rows.append(("mean", [float(np.mean(table[m])) for m in methods]))
    with open(os.path.join(self.workdir, "anomaly_auroc.csv"), "w") as f:
      f.write(",".join(["normal_class", *methods]) + "\n")
      f.writelines(",".join([name, *(f"{v:.6f}" for v in values)]) + "\n" for name, values in rows)
    with open(os.path.join(self.workdir, "anomaly_auroc.md"), "w") as f:
      f.write(f"One-class AUROC on {self.config.data.source} (step {step}; other classes are anomalies)\n\n")
      f.write("| normal class | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods) + "\n")
      f.writelines(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values) + " |\n" for name, values in rows)
