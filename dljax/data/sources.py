"""Whole datasets in memory as numpy arrays: the one function the trainers call, `load_dataset`.

Sources:
  digits          scikit-learn's digits, 1,347 train / 450 test (builders/digits.py)
  fashion_mnist   Fashion-MNIST 60,000 / 10,000 from Debian's dataset-fashion-mnist, else TFDS's catalog
  fashion_mnist_hog  its images as HOG descriptors (324 per image; features.py, cached once)
  iris, wine, breast_cancer, diabetes   scikit-learn's tables, unscaled (builders/sklearn_tables.py);
                  diabetes is regression
  sunspots        yearly sunspot numbers (statsmodels): 20 past years -> the next, split by time at 1950;
                  regression (builders/sunspots.py)
  npz:PATH        a .npz holding x_train, y_train, x_test, y_test (used as given: cast, never rescaled)
  tfds:NAME       a TFDS catalog dataset (NAME may carry a config/version, e.g. tfds:mnist:3.0.1)

TFDS datasets are prepared once, as array_record, into the data dir: the `data_dir` argument, else
$DLJAX_DATA_DIR, else $XDG_CACHE_HOME/dljax/tensorflow_datasets (~/.cache/... when unset). Reading
them needs no TensorFlow; preparing a catalog dataset does (and network access).
"""

import dataclasses
import difflib
import contextlib
import fcntl
import hashlib
import io
import importlib.util
import os
import sys
from collections.abc import Callable

import numpy as np
import tensorflow_datasets as tfds

from dljax.data import builders, features
from dljax.data.builders import fashion_mnist
from dljax.errors import UserError

_BUILDERS = {"digits": builders.DljaxDigits, "fashion_mnist": builders.DljaxFashionMnist,
             "iris": builders.DljaxIris, "wine": builders.DljaxWine,
             "breast_cancer": builders.DljaxBreastCancer, "diabetes": builders.DljaxDiabetes,
             "sunspots": builders.DljaxSunspots}
SOURCE_FORMS = ", ".join(_BUILDERS) + ", fashion_mnist_hog, npz:PATH or tfds:NAME"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_TF_HINT = "pip install 'dljax[tf]' and network access"


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: `==` on arrays has no single truth value
class Dataset:
  train_x: np.ndarray   # (N, ...) float32, already scaled; images keep a channel axis (N, H, W, C)
  train_y: np.ndarray   # (N,) int32 for classification, float32 for regression
  test_x: np.ndarray
  test_y: np.ndarray
  num_classes: int | None   # None for regression
  name: str                 # e.g. 'digits', 'fashion_mnist', 'npz:/path/x.npz', 'tfds:mnist'
  source_files: dict = dataclasses.field(default_factory=dict)  # {path: sha256} of files read from outside pip


def default_data_dir() -> str:
  """$DLJAX_DATA_DIR, else the per-user cache (XDG), where TFDS datasets are prepared."""
  if data_dir := os.environ.get("DLJAX_DATA_DIR"):
    return data_dir
  cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(cache, "dljax", "tensorflow_datasets")


def fashion_mnist_key(digests: dict | None = None) -> str:
  """A name for the Fashion-MNIST files in use, for caches derived from them: idx_<sha256 prefix> of the
  IDX files, or tfds_catalog when they are absent (TFDS's copy is used)."""
  if digests is None and not fashion_mnist.raw_files_present():
    return "tfds_catalog"
  digests = digests or fashion_mnist.file_digests()
  return "idx_" + hashlib.sha256("".join(sorted(digests.values())).encode()).hexdigest()[:16]


def load_dataset(source: str, *, data_dir: str | None = None, max_train: int | None = None,
                 max_test: int | None = None) -> Dataset:
  """The whole train and test splits of `source` (see the module docstring), first rows only if max_* is set."""
  for flag, n in (("max_train", max_train), ("max_test", max_test)):
    if n is not None and n < 1:
      raise UserError(f"{flag}={n}: give a positive number of rows, or None for all of them")
  data_dir = data_dir or default_data_dir()
  limits = {"train": max_train, "test": max_test}
  if source == "fashion_mnist_hog":
    data = load_dataset("fashion_mnist", data_dir=data_dir, max_train=max_train, max_test=max_test)
    cache = os.path.join(os.path.dirname(data_dir.rstrip("/")), "features",
                         fashion_mnist_key(data.source_files or None), f"train{max_train}_test{max_test}")
    return features.with_hog(data, cache)
  if source == "fashion_mnist" and not fashion_mnist.raw_files_present():
    return _fashion_mnist_from_catalog(data_dir, limits)
  if source == "fashion_mnist":
    # The prepared copy is keyed by the files' digests: other IDX files (another $DLJAX_FASHION_MNIST_DIR,
    # a package update) get their own copy instead of the one prepared from the previous files.
    digests = fashion_mnist.file_digests()
    builder = _prepared(lambda: _BUILDERS[source](data_dir=os.path.join(data_dir, fashion_mnist_key(digests)),
                                                  file_format="array_record"), data_dir)
    return dataclasses.replace(_from_builder(builder, source, limits), source_files=digests)
  if source in _BUILDERS:
    builder = _prepared(lambda: _BUILDERS[source](data_dir=data_dir, file_format="array_record"), data_dir)
    return _from_builder(builder, source, limits)
  if source.startswith("npz:"):
    return _load_npz(source.removeprefix("npz:"), limits)
  if source.startswith("tfds:"):
    return _load_catalog(source.removeprefix("tfds:"), data_dir, limits)
  raise UserError(f"unknown data source {source!r}: use one of {SOURCE_FORMS}")


def train_subset(data: Dataset, num_rows: int | None, seed: int) -> Dataset:
  """`num_rows` training rows drawn at random by `seed` (numpy's default_rng permutation); all of them, in
  order, when num_rows is None or covers the split. The test split is kept whole."""
  if num_rows is None or num_rows >= len(data.train_x):
    return data
  pick = np.random.default_rng(seed).permutation(len(data.train_x))[:num_rows]
  return dataclasses.replace(data, train_x=data.train_x[pick], train_y=data.train_y[pick])


def from_config(config) -> Dataset:
  """The dataset of a config's `data` fields: source, max_train, max_test, and the optional train_subset
  (rows drawn by config.seed)."""
  cfg = config.data
  data = load_dataset(cfg.source, max_train=cfg.max_train, max_test=cfg.max_test)
  return train_subset(data, cfg.get("train_subset"), int(config.seed))


def _one_line(error: BaseException) -> str:
  return " ".join(f"{type(error).__name__}: {error}".split())[:200]


def _prepare_local(builder: tfds.core.DatasetBuilder) -> None:
  """Prepares a dljax builder, which reads files already on this machine: TFDS's own "Downloading and
  preparing dataset Unknown size (download: Unknown size ...)" line (printed to stdout) and its progress
  bars would tell of a download that does not happen, so one line on stderr says what does."""
  print(f"dljax: preparing {builder.name} once into {builder.data_dir}", file=sys.stderr, flush=True)
  tfds.display_progress_bar(False)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      builder.download_and_prepare()
  finally:
    tfds.display_progress_bar(True)


def _prepared(make_builder: Callable[[], tfds.core.DatasetBuilder], data_dir: str,
              prepare: Callable[[tfds.core.DatasetBuilder], None] = _prepare_local,
              ) -> tfds.core.DatasetBuilder:
  """A builder whose data exists in data_dir, preparing it first if needed (once, even across processes).

  TFDS renames a finished dataset into place, so a builder that sees it prepared can read it without the
  lock; the lock only stops two processes from both building it (the second waits, then reuses it).
  """
  builder = make_builder()
  if builder.is_prepared():
    return builder
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, ".dljax_prepare.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    builder = make_builder()  # again: dataset_info is read at construction, and another process may have won
    if not builder.is_prepared():
      prepare(builder)
  return builder


def _from_builder(builder: tfds.core.DatasetBuilder, name: str, limits: dict) -> Dataset:
  """Reads the train and test splits of a prepared array_record dataset into float32/int32 arrays."""
  info = builder.info
  x_key, y_key = (info.supervised_keys or ("image", "label"))[:2]
  if not all(isinstance(k, str) and k in info.features for k in (x_key, y_key)):  # e.g. nested keys
    raise UserError(f"{name}: cannot tell inputs from labels among features {', '.join(info.features)}; "
                    "export the arrays to npz:PATH")
  try:
    splits = builder.as_data_source()
  except (NotImplementedError, FileNotFoundError) as e:  # e.g. prepared as tfrecord by an older tfds.load
    raise UserError(f"{name}: {builder.data_dir} holds no array_record files; delete that directory "
                    "or point DLJAX_DATA_DIR elsewhere so it is prepared again") from e
  if missing := {"train", "test"} - set(splits):
    raise UserError(f"{name} has no {'/'.join(sorted(missing))} split (it has {', '.join(sorted(splits))}); "
                    "export the split you want to npz:PATH")
  # Our builders record their pixel range (digits: 0..16); catalog images are 0..255.
  pixel_max = np.float32((info.metadata or {}).get("pixel_max", 255))

  def read(split):
    source = splits[split]
    n = len(source) if limits[split] is None else min(limits[split], len(source))
    # One batched read of the raw records, then tfds decodes each (no per-record file access).
    records = source.__getitems__(list(range(n)))
    x = np.stack([r[x_key] for r in records])
    x = x.astype(np.float32) / pixel_max if x.dtype == np.uint8 else x.astype(np.float32)
    return x, np.asarray([r[y_key] for r in records])

  (train_x, train_y), (test_x, test_y) = read("train"), read("test")
  if isinstance(info.features[y_key], tfds.features.ClassLabel):
    num_classes = info.features[y_key].num_classes
  elif np.issubdtype(train_y.dtype, np.integer):
    num_classes = int(max(train_y.max(), test_y.max())) + 1
  else:
    num_classes = None
  y_dtype = np.float32 if num_classes is None else np.int32
  return Dataset(train_x=train_x, train_y=train_y.astype(y_dtype), test_x=test_x, test_y=test_y.astype(y_dtype),
                 num_classes=num_classes, name=name)


def _tensorflow_installed() -> bool:
  return importlib.util.find_spec("tensorflow") is not None


def _load_catalog(name: str, data_dir: str, limits: dict) -> Dataset:
  """A TFDS catalog dataset, prepared as array_record if it is not already (needs TF and network)."""
  def make_builder():
    try:
      return tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except tfds.core.registered.DatasetNotFoundError as e:
      base = name.split("/")[0].split(":")[0]
      # Without community datasets: listing those reads a GCS index, which needs TensorFlow.
      near = difflib.get_close_matches(base, tfds.list_builders(with_community_datasets=False), n=3)
      raise UserError(f"tfds:{name} is not in the TFDS catalog; nearest names: "
                      f"{', '.join(near) or 'none'}") from e
    except Exception as e:  # a config or version TFDS does not have (AssertionError, ValueError, ...)
      raise UserError(f"tfds:{name}: {_one_line(e)}; write it as tfds:NAME[/CONFIG][:VERSION] with a "
                      "config and version TFDS has") from e

  def prepare(builder):
    # Catalog builders encode images with TensorFlow: fail now rather than after a download.
    if not _tensorflow_installed():
      raise UserError(f"tfds:{name} is not prepared in {data_dir} and preparing it needs {_TF_HINT}")
    try:
      builder.download_and_prepare()
    except Exception as e:  # network, TF and builder failures come in many types
      raise UserError(f"tfds:{name} could not be prepared ({_one_line(e)}); it needs {_TF_HINT}") from e

  return _from_builder(_prepared(make_builder, data_dir, prepare), f"tfds:{name}", limits)


def _fashion_mnist_from_catalog(data_dir: str, limits: dict) -> Dataset:
  """Fashion-MNIST without the Debian files: TFDS's own fashion_mnist (same split; its own row order)."""
  try:
    dataset = _load_catalog("fashion_mnist", data_dir, limits)
  except UserError as e:
    raise UserError(f"fashion_mnist: no IDX files in {fashion_mnist.raw_dir()}; "
                    "apt-get install dataset-fashion-mnist, "
                    "or pip install 'dljax[tf]' with network access for TFDS's fashion_mnist") from e
  return dataclasses.replace(dataset, name="fashion_mnist")


def _load_npz(path: str, limits: dict) -> Dataset:
  fix = "save it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
  try:
    npz = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError) as e:
    raise UserError(f"npz:{path} cannot be read ({_one_line(e)}); give the path of a .npz file, {fix}") from e
  if not isinstance(npz, np.lib.npyio.NpzFile):
    raise UserError(f"npz:{path} holds a single array, not an archive; {fix}")
  with npz:
    if missing := [k for k in _NPZ_KEYS if k not in npz.files]:
      raise UserError(f"npz:{path} lacks {', '.join(missing)}; {fix}")
    try:
      a = {k: npz[k] for k in _NPZ_KEYS}
    except ValueError as e:  # object arrays need pickle, which we refuse (arbitrary code on load)
      raise UserError(f"npz:{path} holds object arrays ({_one_line(e)}); store numeric arrays, {fix}") from e

  for split in ("train", "test"):
    x, y = a[f"x_{split}"], a[f"y_{split}"]
    if y.ndim != 1:
      raise UserError(f"npz:{path}: y_{split} has shape {y.shape}; "
                      "give one label or target per row, shape (N,)")
    if x.ndim == 0 or len(x) != len(y):
      raise UserError(f"npz:{path}: x_{split} has shape {x.shape} but y_{split} has {len(y)} rows; "
                      "give x and y the same number of rows")
    if len(x) == 0:
      raise UserError(f"npz:{path}: x_{split} has no rows; give at least one example per split")
    if x.dtype.kind not in "biuf":
      raise UserError(f"npz:{path}: x_{split} has dtype {x.dtype}; store numbers (int or float)")
    if not np.isfinite(x).all():
      raise UserError(f"npz:{path}: x_{split} holds NaN or inf; drop or impute those values before saving")
    if y.dtype.kind not in "biuf":
      raise UserError(f"npz:{path}: y_{split} has dtype {y.dtype}; store integer labels or float targets")
  if a["x_train"].shape[1:] != a["x_test"].shape[1:]:
    raise UserError(f"npz:{path}: x_train rows have shape {a['x_train'].shape[1:]} but x_test rows "
                    f"{a['x_test'].shape[1:]}; give both splits the same feature shape")

  classification = [a[k].dtype.kind in "biu" for k in ("y_train", "y_test")]
  if classification[0] != classification[1]:
    raise UserError(f"npz:{path}: y_train is {a['y_train'].dtype} but y_test is {a['y_test'].dtype}; "
                    "use integer labels (classification) or float targets (regression) in both")
  y_all = np.concatenate([a["y_train"], a["y_test"]])
  if classification[0]:
    if y_all.min() < 0:
      raise UserError(f"npz:{path}: labels must be 0..K-1 but the smallest is {y_all.min()}; "
                      "renumber them, e.g. with numpy.unique(y, return_inverse=True)")
    num_classes, y_dtype = int(y_all.max()) + 1, np.int32
  else:
    if not np.isfinite(y_all).all():
      raise UserError(f"npz:{path}: y holds NaN or inf; drop those rows before saving")
    num_classes, y_dtype = None, np.float32

  def rows(key, split):
    return a[key][:limits[split]]  # [:None] keeps every row
  return Dataset(train_x=rows("x_train", "train").astype(np.float32),
                 train_y=rows("y_train", "train").astype(y_dtype),
                 test_x=rows("x_test", "test").astype(np.float32),
                 test_y=rows("y_test", "test").astype(y_dtype),
                 num_classes=num_classes, name=f"npz:{path}")
