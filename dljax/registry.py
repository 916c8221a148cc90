"""name -> experiment. Experiments register themselves with `@register(...)` on their `get_config`
function in a module of the top-level `experiments/` (installed as dljax.experiments); every module
there is imported on first use, so adding an experiment is adding a file (no hand-kept import table).
Experiments are configs only: `config.trainer` names a trainer in dljax.train.trainers.TRAINERS."""

import dataclasses
import difflib
import importlib
import pkgutil
from typing import Callable

import ml_collections

from dljax.errors import UserError

KINDS = ("supervised", "unsupervised", "rl")
_REGISTRY: dict[str, "Experiment"] = {}
_loaded = False


@dataclasses.dataclass(frozen=True)
class Experiment:
  name: str
  kind: str            # supervised | unsupervised | rl
  dataset: str
  description: str     # one line
  get_config: Callable[[], ml_collections.ConfigDict]

  @property
  def doc(self) -> str:
    return self.get_config.__doc__ or ""


def register(name: str, *, kind: str, dataset: str, description: str):
  """Decorator for a `get_config()` function; refuses duplicate names and unknown kinds."""
  if kind not in KINDS:
    raise ValueError(f"experiment {name!r}: kind must be one of {KINDS}, got {kind!r}")

  def wrap(fn):
    if name in _REGISTRY:
      raise ValueError(f"experiment {name!r} is registered twice "
                       f"({_REGISTRY[name].get_config.__module__} and {fn.__module__})")
    _REGISTRY[name] = Experiment(name, kind, dataset, description, fn)
    return fn

  return wrap


def _load_all():
  global _loaded
  if not _loaded:
    import dljax.experiments as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
      importlib.import_module(f"{pkg.__name__}.{info.name}")
    _loaded = True


def all_experiments() -> list[Experiment]:
  _load_all()
  return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get(name: str) -> Experiment:
  _load_all()
  if name not in _REGISTRY:
    near = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(near)}?" if near else "run `dljax list` to see them"
    raise UserError(f"unknown experiment {name!r}: {hint}")
  return _REGISTRY[name]


def get_config(name: str) -> ml_collections.ConfigDict:
  """The experiment's config, with `experiment` and `kind` filled in, locked."""
  exp = get(name)
  config = exp.get_config()
  with config.unlocked():
    config.experiment = exp.name
    config.kind = exp.kind
  config.lock()
  return config
