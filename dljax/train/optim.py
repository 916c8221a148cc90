"""optax optimizers and schedules from a config group."""

import ml_collections
import optax

from dljax.errors import UserError


OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine")


def make_schedule(cfg: ml_collections.ConfigDict, total_steps: int):
  lr = cfg.learning_rate
  if cfg.schedule == "constant":
    return optax.constant_schedule(lr)
  if cfg.schedule == "cosine":
    return optax.cosine_decay_schedule(lr, max(total_steps, 1))
  if cfg.schedule == "warmup_cosine":
    return optax.warmup_cosine_decay_schedule(0.0, lr, cfg.warmup_steps, max(total_steps, cfg.warmup_steps + 1))
  raise UserError(f"--config.optimizer.schedule={cfg.schedule}: choose constant, cosine or warmup_cosine")


def make_optimizer(cfg: ml_collections.ConfigDict, total_steps: int) -> optax.GradientTransformation:
  schedule = make_schedule(cfg, total_steps)
  if cfg.name == "sgd":
    tx = optax.sgd(schedule)
  elif cfg.name == "momentum":
    tx = optax.sgd(schedule, momentum=cfg.momentum, nesterov=cfg.nesterov)
  elif cfg.name == "adam":
    tx = optax.adam(schedule)
  elif cfg.name == "adamw":
    tx = optax.adamw(schedule, weight_decay=cfg.weight_decay)
  else:
    raise UserError(f"--config.optimizer.name={cfg.name}: choose sgd, momentum, adam or adamw")
  if cfg.name != "adamw" and cfg.weight_decay:
    # Coupled L2 (added to the gradient before the update), as torch.optim does for sgd/adam.
    tx = optax.chain(optax.add_decayed_weights(cfg.weight_decay), tx)
  if cfg.grad_clip_norm is not None:
    tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm), tx)
  return tx
