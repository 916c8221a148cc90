"""Command-line overrides of a locked ConfigDict (`a.b=VALUE` strings, typed by the existing field) and
the range of every numeric field, checked before anything is built or written."""

import ast
import dataclasses
import difflib
import fnmatch
import importlib
import math
from typing import Callable

import ml_collections

from dljax.errors import UserError


def _all_keys(config, prefix=""):
  for key, value in config.items():
    path = f"{prefix}{key}"
    yield path
    if isinstance(value, ml_collections.ConfigDict):
      yield from _all_keys(value, path + ".")


def _parse_value(text: str, current, path: str):
  field_type = None
  if isinstance(current, ml_collections.FieldReference):
    field_type = current.get_type()
    current = current.get()
  if current is not None:
    field_type = type(current)
  if field_type is str:
    return text
  if field_type is bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
      return True
    if lowered in ("false", "0", "no"):
      return False
    raise UserError(f"--config.{path}={text}: expected a bool (true/false)")
  if text.lower() in ("none", "null"):
    return None
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    value = text
  if field_type is float and isinstance(value, int) and not isinstance(value, bool):
    value = float(value)
  if field_type in (tuple, list) and isinstance(value, (int, float, str)):
    value = (value,)
  if field_type is tuple and isinstance(value, list):
    value = tuple(value)
  if field_type is not None and not isinstance(value, field_type):
    raise UserError(f"--config.{path}={text}: expected a value of type {field_type.__name__}, "
                    f"got {type(value).__name__}")
  return value


@dataclasses.dataclass(frozen=True)
class Number:
  """An int or float in [low, high] (an open end with low_open/high_open); None allowed if optional."""
  kind: type
  low: float | None = None
  high: float | None = None
  low_open: bool = False
  high_open: bool = False
  optional: bool = False

  def describe(self) -> str:
    what = "an integer" if self.kind is int else "a number"
    low, high = (f"{v:d}" if self.kind is int else f"{v:g}" for v in (self.low or 0, self.high or 0))
    if self.low is not None and self.high is not None:
      what += f" in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
    elif self.low is not None:
      what += f" {'>' if self.low_open else '>='} {low}"
    elif self.high is not None:
      what += f" {'<' if self.high_open else '<='} {high}"
    return what + (" (or None)" if self.optional else "")

  def ok(self, value) -> bool:
    if value is None:
      return self.optional
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      return False
    if self.kind is int and not isinstance(value, int):
      return False
    if not math.isfinite(value):
      return False
    if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
      return False
    return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))


@dataclasses.dataclass(frozen=True)
class Sizes:
  """A tuple of integers >= low (layer widths, class ids); `min_len` entries at least. A bare integer
  stands for a one-layer tuple where `scalar_ok` (e.g. a recurrent net's `hidden=16`)."""
  low: int = 1
  min_len: int = 1
  scalar_ok: bool = False

  def describe(self) -> str:
    entries = "integers >= " + str(self.low)
    return f"a tuple of {self.min_len}+ {entries}" + (" (or one integer)" if self.scalar_ok else "")

  def ok(self, value) -> bool:
    if self.scalar_ok and isinstance(value, int) and not isinstance(value, bool):
      return value >= self.low
    return (isinstance(value, (tuple, list)) and len(value) >= self.min_len
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= self.low for v in value))


@dataclasses.dataclass(frozen=True)
class Choice:
  """A name from a library table: `table` is "module:ATTRIBUTE" (imported when checked, so the list
  lives once, beside the code that uses it) or a tuple."""
  table: str | tuple

  def names(self) -> tuple:
    if isinstance(self.table, tuple):
      return self.table
    module, attribute = self.table.split(":")
    return tuple(getattr(importlib.import_module(module), attribute))

  def describe(self) -> str:
    return "one of " + ", ".join(self.names())

  def ok(self, value) -> bool:
    return value in self.names()


def _int(low=None, high=None, optional=False):
  return Number(int, low, high, optional=optional)


def _float(low=None, high=None, *, low_open=False, high_open=False, optional=False):
  return Number(float, low, high, low_open, high_open, optional)


_SIZE, _COUNT, _POSITIVE = _int(1), _int(0), _float(0, low_open=True)
_PROBABILITY, _DROP_RATE = _float(0, 1), _float(0, 1, high_open=True)

# Every numeric field of every registered config matches one pattern here (tests/cli/test_bad_config_values.py
# checks it), first match wins. Patterns are fnmatch globs on the dotted path.
RULES: tuple[tuple[str, object], ...] = (
    ("seed", _int(0, 2**31 - 1)),
    ("batch_size", _SIZE), ("eval_batch_size", _SIZE), ("num_epochs", _SIZE),
    ("num_train_steps", _int(1, optional=True)), ("log_every_steps", _SIZE), ("keep_checkpoints", _SIZE),
    ("eval_every_steps", _COUNT), ("checkpoint_every_steps", _COUNT),
    ("data.max_train", _int(1, optional=True)), ("data.max_test", _int(1, optional=True)),
    ("task", Choice("dljax.tasks:TASKS")), ("data.on_device", Choice(("auto", "scan", "steps", "no"))), ("data.train_subset", _int(1, optional=True)), ("max_train_steps", _int(1, optional=True)),
    ("data.augment_crop_padding", _COUNT),
    ("optimizer.name", Choice("dljax.train.optim:OPTIMIZERS")),
    ("optimizer.schedule", Choice("dljax.train.optim:SCHEDULES")),
    ("optimizer.learning_rate", _POSITIVE), ("optimizer.warmup_steps", _COUNT),
    ("optimizer.momentum", _DROP_RATE), ("optimizer.weight_decay", _float(0)),
    ("optimizer.grad_clip_norm", _float(0, low_open=True, optional=True)),
    # models
    ("model.hidden", Sizes(scalar_ok=True)), ("model.conv_features", Sizes()), ("model.dense", Sizes(min_len=0)),
    ("model.widths", Sizes()), ("model.*dropout", _DROP_RATE),
    ("model.pool", Choice("dljax.nn.cnn:POOLS")), ("model.activation", Choice("dljax.nn.activations:ACTIVATIONS")),
    ("model.cell", Choice("dljax.nn.rnn:GATES")), ("model.weight_init", Choice(("lecun", "uniform"))),
    ("model.latent", _SIZE), ("model.num_layers", _SIZE),
    # classical learners
    ("model.C", _POSITIVE), ("model.alpha", _float(0)), ("model.epsilon", _float(0)), ("model.tol", _POSITIVE),
    ("model.degree", _SIZE), ("model.max_depth", _SIZE), ("model.max_iter", _SIZE), ("model.n_clusters", _SIZE),
    ("model.n_components", _SIZE), ("model.n_estimators", _SIZE), ("model.n_init", _SIZE),
    ("model.kernel", Choice("dljax.classic.kernels:KERNELS")), ("model.splitter", Choice("dljax.classic.tree:SPLITTERS")),
    ("model.criterion", Choice(("gini", "entropy", "squared_error"))), ("model.task", Choice("dljax.classic.tree:TASKS")),
    ("model.algorithm", Choice("dljax.classic.kmeans:ALGORITHMS")),
    ("rules.min_support", _float(0, 1, low_open=True)), ("rules.min_confidence", _PROBABILITY),
    ("rules.min_lift", _float(0)), ("rules.max_len", _int(1, optional=True)), ("rules.print_top", _COUNT),
    # autoencoders, anomaly detection, the ml_vs_dl ablation
    ("normal_classes", Sizes(low=0)), ("baselines.iforest_estimators", _SIZE), ("baselines.pca_components", _SIZE),
    ("baselines.pca_solver", Choice("dljax.classic.pca:SOLVERS")),
    ("num_seeds", _SIZE), ("train_size", _SIZE), ("max_epochs", _SIZE), ("max_steps", _SIZE),
    ("logreg_max_iter", _SIZE), ("logreg_C", _POSITIVE), ("learning_rate", _POSITIVE),
    ("ablation_threshold", _PROBABILITY),
    # reinforcement learning
    ("agent_config.gamma", _PROBABILITY), ("agent_config.gae_lambda", _PROBABILITY),
    ("agent_config.epsilon_start", _PROBABILITY), ("agent_config.epsilon_end", _PROBABILITY),
    ("agent_config.epsilon_decay_fraction", _float(0, 1, low_open=True)),
    ("agent_config.exploration_fraction", _float(0, 1, low_open=True)),
    ("agent_config.target_tau", _float(0, 1, low_open=True)),
    ("agent_config.learning_rate", _POSITIVE), ("agent_config.final_learning_rate", _float(0)),
    ("agent_config.learning_rate_end", _float(0, optional=True)), ("agent_config.adam_eps", _POSITIVE),
    ("agent_config.clip_eps", _POSITIVE), ("agent_config.max_grad_norm", _POSITIVE),
    ("agent_config.ent_coef", _float(0)), ("agent_config.value_coef", _float(0)), ("agent_config.vf_coef", _float(0)),
    ("agent_config.hidden", Sizes()), ("agent_config.activation", Choice("dljax.nn.activations:ACTIVATIONS")),
    ("agent_config.learning_starts", _COUNT), ("agent_config.eval_horizon", _int(1, optional=True)),
    ("agent_config.batch_size", _SIZE), ("agent_config.buffer_size", _SIZE), ("agent_config.eval_episodes", _SIZE),
    ("agent_config.gradient_steps", _SIZE), ("agent_config.n_step", _SIZE), ("agent_config.num_env_steps", _SIZE),
    ("agent_config.num_envs", _SIZE), ("agent_config.num_episodes", _SIZE), ("agent_config.num_minibatches", _SIZE),
    ("agent_config.num_steps", _SIZE), ("agent_config.num_updates", _SIZE), ("agent_config.steps_per_update", _SIZE),
    ("agent_config.target_update_every", _SIZE), ("agent_config.total_env_steps", _SIZE),
    ("agent_config.update_epochs", _SIZE),
    # reward shaping (Ng et al. 1999): bonuses and penalties are magnitudes; a potential may be scaled or shifted
    ("*shaping.goal_bonus", _float(0)), ("*shaping.failure_penalty", _float(0)), ("*shaping.step_penalty", _float(0)),
    ("*shaping.potential_scale", _float()), ("*shaping.potential_offset", _float()),
    ("*shaping.potential", Choice(("none", "distance", "optimal_value"))),
)
_FIXED_KEYS = ("experiment", "kind", "trainer")  # what the experiment is, not a setting of it


def is_fixed(path: str) -> bool:
  """Keys the command line may not set: what the experiment is, and the arms of a choice experiment
  (methods.NAME.*), whose shared settings are top-level fields referenced by every arm."""
  return path in _FIXED_KEYS or path.startswith("methods.")


def rule_for(path: str):
  """The rule of a dotted config path, or None (a string checked by the code that reads it). The arms of a
  choice experiment (methods.NAME.*) follow the rules of a whole config."""
  if path.startswith("methods."):
    path = path.split(".", 2)[-1]
  return next((rule for pattern, rule in RULES if fnmatch.fnmatchcase(path, pattern)), None)


def _leaves(config, prefix=""):
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises UserError naming the first field outside its rule (see RULES) and the values it takes."""
  for path, value in _leaves(config):
    rule = rule_for(path)
    if rule is not None and not rule.ok(value):
      raise UserError(f"--config.{path}={value!r}: give {rule.describe()}")


def format_config(config: ml_collections.ConfigDict) -> str:
  """One `key: value` line per field, nested by indentation, values as they are typed on the command line."""
  lines = []

  def walk(node, indent):
    for key, value in node.items():
      if isinstance(value, ml_collections.ConfigDict):
        lines.append(f"{indent}{key}:")
        walk(value, indent + "  ")
      else:
        lines.append(f"{indent}{key}: {value!r}" if isinstance(value, str) else f"{indent}{key}: {value}")

  walk(config, "")
  return "\n".join(lines)


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """Applies `path=value` overrides to a copy of the locked `config`; unknown keys are errors."""
  config = ml_collections.ConfigDict(config)  # deep copy keeping FieldReferences and the lock
  config.lock()
  known = list(_all_keys(config))
  for item in overrides:
    if "=" not in item:
      raise UserError(f"--config.{item}: give a value, as in --config.{item}=VALUE")
    path, text = item.split("=", 1)
    if path.startswith("methods."):
      raise UserError(f"--config.{path} is part of the experiment's arms: set its top-level fields "
                      "(see `dljax show` of the experiment) or --config.method")
    if is_fixed(path):
      raise UserError(f"--config.{path} is fixed by the experiment: name another experiment instead")
    if path not in known:
      near = difflib.get_close_matches(path, known, n=3, cutoff=0.6)
      hint = f"did you mean {', '.join('--config.' + n for n in near)}?" if near else \
          "see the experiment's config with `dljax show NAME`"
      raise UserError(f"unknown config key --config.{path}: {hint}")
    *parents, leaf = path.split(".")
    node = config
    for p in parents:
      node = node[p]
    current = node.get_ref(leaf) if isinstance(node._fields.get(leaf), ml_collections.FieldReference) else node[leaf]
    if isinstance(current, ml_collections.ConfigDict):
      raise UserError(f"--config.{path} is a group; set one of its fields, e.g. --config.{path}.{next(iter(current.keys()))}=...")
    value = _parse_value(text, current, path)
    rule = rule_for(path)
    if rule is not None and not rule.ok(value):
      raise UserError(f"--config.{path}={text}: give {rule.describe()}")
    try:
      node[leaf] = value
    except (TypeError, ValueError) as e:
      raise UserError(f"--config.{path}={text}: {str(e).splitlines()[0]}") from None
  validate(config)
  return config
