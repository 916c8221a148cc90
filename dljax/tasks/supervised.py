"""Supervised learning: classification and regression tasks, their losses, metrics and train-time
augmentation as pure functions of arrays."""

import jax
import jax.numpy as jnp
import optax

from dljax import nn as dnn
from dljax.errors import UserError
from dljax.tasks import base


def cross_entropy(logits, labels):
  """Softmax cross-entropy per example: -log softmax(z)_y = logsumexp(z) - z_y."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def squared_error(predictions, targets):
  return jnp.square(predictions[..., 0] - targets)


def example_losses(loss_name: str, outputs, targets):
  if loss_name == "cross_entropy":
    return cross_entropy(outputs, targets)
  if loss_name == "mse":
    return squared_error(outputs, targets)
  raise ValueError(f"unknown loss {loss_name!r}; choose cross_entropy or mse")


def eval_sums(loss_name: str, outputs, targets, mask):
  """Per-batch sums that add up over the test set; `mask` is 0 on padding rows."""
  sums = {"count": mask.sum(), "loss": (example_losses(loss_name, outputs, targets) * mask).sum()}
  if loss_name == "cross_entropy":
    sums["correct"] = ((outputs.argmax(-1) == targets) * mask).sum()
  else:
    # R² = 1 - SS_res / SS_tot, with SS_tot = Σy² - (Σy)²/n assembled from sums.
    sums["sum_y"] = (targets * mask).sum()
    sums["sum_y2"] = (targets * targets * mask).sum()
  return sums


def metrics_from_sums(loss_name: str, sums) -> dict[str, float]:
  n = float(sums["count"])
  if loss_name == "cross_entropy":
    return {"accuracy": float(sums["correct"]) / n, "loss": float(sums["loss"]) / n}
  ss_res = float(sums["loss"])
  ss_tot = float(sums["sum_y2"]) - float(sums["sum_y"]) ** 2 / n
  return {"mse": ss_res / n, "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")}


def augment_images(key, images, *, flip: bool, crop_padding: int):
  """Random horizontal flip and random crop after zero padding, per example, on NHWC images."""
  flip_key, crop_key = jax.random.split(key)
  if flip:
    do_flip = jax.random.bernoulli(flip_key, 0.5, (images.shape[0], 1, 1, 1))
    images = jnp.where(do_flip, images[:, :, ::-1, :], images)
  if crop_padding > 0:
    n, h, w, c = images.shape
    p = crop_padding
    padded = jnp.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
    offsets = jax.random.randint(crop_key, (n, 2), 0, 2 * p + 1)
    crop = lambda img, off: jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, c))
    images = jax.vmap(crop)(padded, offsets)
  return images


class _Supervised(base.Task):
  """x -> y from a dataset's (x, y) pairs; images may be flipped and cropped at train time."""

  loss_name: str
  models = dnn.MODELS

  def arrays(self, data):
    self.check(data)
    return {"x": data.train_x, "y": data.train_y}, {"x": data.test_x, "y": data.test_y}

  def augment(self, key, batch, config):
    cfg = config.data
    flip, crop = cfg.get("augment_flip", False), cfg.get("augment_crop_padding", 0)
    if not (flip or crop):
      return batch
    return {**batch, "x": augment_images(key, batch["x"], flip=flip, crop_padding=crop)}

  def example_losses(self, outputs, batch):
    return example_losses(self.loss_name, outputs, batch["y"])

  def eval_outputs(self, outputs, batch):
    return eval_sums(self.loss_name, outputs, batch["y"], batch["mask"])

  def metrics(self, sums):
    return metrics_from_sums(self.loss_name, sums)


class Classification(_Supervised):
  loss_name = "cross_entropy"

  def check(self, data):
    if data.num_classes is None:
      raise UserError(f"{data.name} has real-valued targets; this experiment classifies: pick a "
                      "--config.data.source with class labels, or --config.task=regression")

  def model_kwargs(self, data):
    return {"num_outputs": data.num_classes}

  def train_metrics(self, outputs, batch):
    return {"accuracy": jnp.mean(outputs.argmax(-1) == batch["y"])}


class Regression(_Supervised):
  loss_name = "mse"

  def check(self, data):
    if data.num_classes is not None:
      raise UserError(f"{data.name} has class labels; this experiment regresses: pick a "
                      "--config.data.source with real-valued targets, or --config.task=classification")

  def model_kwargs(self, data):
    del data
    return {"num_outputs": 1}
