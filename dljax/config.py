"""Command-line overrides of a locked ConfigDict: `a.b=VALUE` strings, typed by the existing field."""

import ast
import difflib

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


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """Applies `path=value` overrides to a copy of the locked `config`; unknown keys are errors."""
  config = ml_collections.ConfigDict(config)  # deep copy keeping FieldReferences and the lock
  config.lock()
  known = list(_all_keys(config))
  for item in overrides:
    if "=" not in item:
      raise UserError(f"--config.{item}: give a value, as in --config.{item}=VALUE")
    path, text = item.split("=", 1)
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
    try:
      node[leaf] = value
    except (TypeError, ValueError) as e:
      raise UserError(f"--config.{path}={text}: {str(e).splitlines()[0]}") from None
  return config
