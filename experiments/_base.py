"""The config fields every supervised gradient-trained experiment shares."""

import ml_collections


def optimizer_config(name: str, learning_rate: float, schedule: str) -> ml_collections.ConfigDict:
  """The fields dljax.train.optim.make_optimizer reads."""
  c = ml_collections.ConfigDict()
  c.name = name                     # sgd | momentum | adam | adamw
  c.learning_rate = learning_rate
  c.schedule = schedule             # constant | cosine | warmup_cosine
  c.warmup_steps = 0
  c.momentum = 0.9
  c.nesterov = False
  c.weight_decay = 0.0
  c.grad_clip_norm = ml_collections.FieldReference(None, field_type=float)
  return c


def minibatch_config(*, task: str, source: str, model: dict, batch_size: int, num_epochs: int, learning_rate: float,
                     optimizer: str = "adam", schedule: str = "constant") -> ml_collections.ConfigDict:
  """A model trained by the minibatch trainer on `task` (dljax.tasks.TASKS)."""
  c = ml_collections.ConfigDict()
  c.trainer = "minibatch"
  c.task = task
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.source = source            # digits | fashion_mnist | npz:PATH | tfds:NAME
  c.data.max_train = ml_collections.FieldReference(None, field_type=int)  # first n rows (tiny runs)
  c.data.max_test = ml_collections.FieldReference(None, field_type=int)
  c.data.on_device = "auto"         # auto | scan | steps | no: batches gathered on the devices (dljax/train/minibatch.py)
  c.data.augment_flip = False       # images: random horizontal flip, in the jitted step
  c.data.augment_crop_padding = 0   # images: random crop after zero padding by this many pixels

  c.model = ml_collections.ConfigDict(model)

  c.optimizer = optimizer_config(optimizer, learning_rate, schedule)

  c.batch_size = batch_size
  c.eval_batch_size = 1000
  c.num_epochs = num_epochs
  c.num_train_steps = ml_collections.FieldReference(None, field_type=int)  # overrides num_epochs
  c.log_every_steps = 50
  c.eval_every_steps = 0            # 0: evaluate only at the end
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 3
  return c


def classic_config(*, source: str, learner: str, model: dict, standardize: bool,
                   trainer: str = "classic") -> ml_collections.ConfigDict:
  """A learner (`dljax.classic.<learner>`) fitted once: `model` holds its hyper-parameters. `trainer`:
  "classic" (supervised) or "unsupervised" (k-means, PCA)."""
  c = ml_collections.ConfigDict()
  c.trainer = trainer
  c.seed = 0
  c.learner = learner
  c.data = ml_collections.ConfigDict()
  c.data.source = source
  c.data.max_train = ml_collections.FieldReference(None, field_type=int)
  c.data.max_test = ml_collections.FieldReference(None, field_type=int)
  c.data.standardize = standardize  # x -> (x - mean) / std with training-set statistics
  c.model = ml_collections.ConfigDict(model)
  c.log_every_steps = 1
  c.eval_every_steps = 0
  c.checkpoint_every_steps = 1
  c.keep_checkpoints = 1
  return c
