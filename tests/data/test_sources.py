"""dljax.data.sources against independent numpy/sklearn computations of the same data."""

import dataclasses
import gzip
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn import datasets as sk_datasets
from sklearn import model_selection

from dljax.data import sources
from dljax.errors import UserError
from tests.debian_datasets import DEBIAN_DATASETS, requires_real

FASHION = DEBIAN_DATASETS["fashion_mnist"]


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
  """One data dir for the module: each dataset is prepared once."""
  return tmp_path_factory.mktemp("tensorflow_datasets")


@pytest.fixture(autouse=True)
def data_dir_env(shared_dir, debian_fixture_dirs, monkeypatch):
  """Every test reads and writes the shared tmp dir, never the user's cache, and Fashion-MNIST's stand-in."""
  monkeypatch.setenv("DLJAX_DATA_DIR", str(shared_dir))
  monkeypatch.setenv(FASHION.env_var, str(debian_fixture_dirs["fashion_mnist"]))
  return shared_dir


@dataclasses.dataclass(frozen=True)
class PreparedFashion:
  kind: str                 # 'fixture' (the stand-in tests/conftest.py writes) or 'debian' (the package's)
  raw_dir: str              # the IDX files it was prepared from
  data_dir: pathlib.Path    # its own data dir: a prepared copy of one never serves the other
  data: sources.Dataset


@pytest.fixture(scope="module", params=["fixture", pytest.param("debian", marks=requires_real("fashion_mnist"))])
def fashion(request, debian_fixture_dirs, tmp_path_factory):
  """Fashion-MNIST prepared from the stand-in IDX files (everywhere) and from Debian's (where installed)."""
  raw_dir = FASHION.real_dir if request.param == "debian" else str(debian_fixture_dirs["fashion_mnist"])
  data_dir = tmp_path_factory.mktemp(f"tensorflow_datasets_{request.param}")
  with pytest.MonkeyPatch.context() as env:
    env.setenv(FASHION.env_var, raw_dir)
    data = sources.load_dataset("fashion_mnist", data_dir=str(data_dir))
  return PreparedFashion(request.param, raw_dir, data_dir, data)


def read_idx_plain(directory, name):
  with gzip.open(os.path.join(directory, name)) as f:
    raw = f.read()
  return np.frombuffer(raw, np.uint8, offset=16 if "images" in name else 8)


def assert_one_line(error: UserError):
  assert str(error) and "\n" not in str(error)


def test_digits_is_sklearns_stratified_split():
  x, y = sk_datasets.load_digits(return_X_y=True)
  x_train, x_test, y_train, y_test = model_selection.train_test_split(
      x, y, test_size=0.25, stratify=y, random_state=0)
  data = sources.load_dataset("digits")
  assert (data.name, data.num_classes) == ("digits", 10)
  assert data.train_x.shape == (1347, 8, 8, 1) and data.test_x.shape == (450, 8, 8, 1)
  assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int32
  np.testing.assert_array_equal(data.train_x, (x_train / 16).astype(np.float32).reshape(-1, 8, 8, 1))
  np.testing.assert_array_equal(data.test_x, (x_test / 16).astype(np.float32).reshape(-1, 8, 8, 1))
  np.testing.assert_array_equal(data.train_y, y_train)
  np.testing.assert_array_equal(data.test_y, y_test)
  # Stratified: each class's test count is within one of a quarter of its total.
  assert np.all(np.abs(np.bincount(data.test_y) - 0.25 * np.bincount(y)) <= 1)


@pytest.mark.parametrize("name, num_classes, train_rows", [
    ("iris", 3, 112), ("wine", 3, 133), ("breast_cancer", 2, 426), ("diabetes", None, 331)])
def test_sklearn_tables_are_sklearns_split_unscaled(name, num_classes, train_rows):
  x, y = getattr(sk_datasets, f"load_{name}")(return_X_y=True)
  x_train, x_test, y_train, y_test = model_selection.train_test_split(
      x, y, test_size=0.25, stratify=None if num_classes is None else y, random_state=0)
  data = sources.load_dataset(name)
  assert (data.name, data.num_classes, len(data.train_x)) == (name, num_classes, train_rows)
  np.testing.assert_array_equal(data.train_x, x_train.astype(np.float32))
  np.testing.assert_array_equal(data.test_x, x_test.astype(np.float32))
  np.testing.assert_array_equal(data.train_y, y_train.astype(data.train_y.dtype))
  np.testing.assert_array_equal(data.test_y, y_test.astype(data.test_y.dtype))
  assert data.train_y.dtype == (np.float32 if num_classes is None else np.int32)


def test_sunspots_are_statsmodels_series_in_windows_split_by_year():
  """Checked against the CSV statsmodels ships, read here with plain numpy (not through dljax)."""
  import statsmodels.datasets.sunspots as sm_sunspots
  csv = os.path.join(os.path.dirname(sm_sunspots.__file__), "sunspots.csv")
  years, values = np.loadtxt(csv, delimiter=",", skiprows=1, unpack=True)
  assert years[0] == 1700 and years[-1] == 2008
  data = sources.load_dataset("sunspots")
  assert (data.num_classes, data.train_x.shape, data.test_x.shape) == (None, (230, 20), (59, 20))
  # Row i of train predicts year 1720 + i from the 20 years before it; test starts at 1950.
  for split_x, split_y, first_year in ((data.train_x, data.train_y, 1720), (data.test_x, data.test_y, 1950)):
    for i in (0, 7, len(split_x) - 1):
      t = int(np.flatnonzero(years == first_year + i)[0])
      np.testing.assert_allclose(split_x[i], values[t - 20:t] / 100, rtol=1e-6)
      np.testing.assert_allclose(split_y[i], values[t] / 100, rtol=1e-6)
  assert data.test_y.max() == np.float32(1.902)  # 1957, above every training target
  assert data.train_y.max() < 1.6


def test_max_rows_take_the_first_rows():
  full = sources.load_dataset("digits")
  small = sources.load_dataset("digits", max_train=7, max_test=3)
  np.testing.assert_array_equal(small.train_x, full.train_x[:7])
  np.testing.assert_array_equal(small.test_y, full.test_y[:3])
  with pytest.raises(UserError, match="max_train=0"):
    sources.load_dataset("digits", max_train=0)


def test_tfds_source_reads_a_prepared_builder_with_its_pixel_scale():
  digits = sources.load_dataset("digits")
  via_tfds = sources.load_dataset("tfds:dljax_digits")
  assert via_tfds.name == "tfds:dljax_digits" and via_tfds.num_classes == 10
  np.testing.assert_array_equal(via_tfds.train_x, digits.train_x)  # scaled by 16, not 255


def test_fashion_mnist_equals_the_idx_files(fashion):
  read = lambda name: read_idx_plain(fashion.raw_dir, name)
  train_images = read("train-images-idx3-ubyte.gz").reshape(-1, 28, 28, 1)
  test_images = read("t10k-images-idx3-ubyte.gz").reshape(-1, 28, 28, 1)
  train_labels, test_labels = read("train-labels-idx1-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz")
  data = fashion.data
  rows = {"debian": (60000, 10000), "fixture": (600, 200)}[fashion.kind]
  assert (data.train_x.shape, data.test_x.shape) == ((rows[0], 28, 28, 1), (rows[1], 28, 28, 1))
  assert (data.name, data.num_classes, data.train_x.dtype) == ("fashion_mnist", 10, np.float32)
  np.testing.assert_array_equal(data.train_x[:5], train_images[:5].astype(np.float32) / 255)
  np.testing.assert_array_equal(data.test_x[-5:], test_images[-5:].astype(np.float32) / 255)
  np.testing.assert_array_equal(data.train_y[:100], train_labels[:100])
  np.testing.assert_array_equal(np.bincount(data.train_y), np.bincount(train_labels))
  np.testing.assert_array_equal(np.bincount(data.test_y), np.bincount(test_labels))


def test_second_load_does_not_rebuild(fashion, monkeypatch):
  files = sorted(fashion.data_dir.glob("idx_*/dljax_fashion_mnist/*/*.array_record*"))
  assert len(files) == 2
  mtimes = [f.stat().st_mtime_ns for f in files]

  def no_rebuild(*args, **kwargs):
    raise AssertionError("prepared data was rebuilt")
  monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_rebuild)
  monkeypatch.setenv("DLJAX_DATA_DIR", str(fashion.data_dir))
  monkeypatch.setenv(FASHION.env_var, fashion.raw_dir)
  again = sources.load_dataset("fashion_mnist", max_train=10, max_test=10)
  assert again.train_x.shape == (10, 28, 28, 1)
  np.testing.assert_array_equal(again.train_x, fashion.data.train_x[:10])
  assert [f.stat().st_mtime_ns for f in files] == mtimes
  assert not list(fashion.data_dir.glob("idx_*/dljax_fashion_mnist/*incomplete*"))


def test_corrupt_idx_file_is_a_user_error(debian_fixture_dirs, tmp_path, monkeypatch):
  raw = shutil.copytree(debian_fixture_dirs["fashion_mnist"], tmp_path / "raw")
  (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not an idx file"))
  monkeypatch.setenv(FASHION.env_var, str(raw))
  with pytest.raises(UserError, match="apt-get install --reinstall dataset-fashion-mnist") as e:
    sources.load_dataset("fashion_mnist", data_dir=str(tmp_path / "tfds"))
  assert_one_line(e.value)


@pytest.mark.parametrize("failure", ["no_tensorflow", "download_fails"])
def test_fashion_mnist_absent_names_both_ways_to_get_it(failure, tmp_path, monkeypatch):
  empty = tmp_path / "empty"
  empty.mkdir()
  monkeypatch.setenv("DLJAX_FASHION_MNIST_DIR", str(empty))
  monkeypatch.setenv("DLJAX_DATA_DIR", str(tmp_path / "tfds"))  # nothing of TFDS's fashion_mnist prepared here
  if failure == "no_tensorflow":
    monkeypatch.setattr(sources, "_tensorflow_installed", lambda: False)
  else:  # TF present but offline
    monkeypatch.setattr(sources, "_tensorflow_installed", lambda: True)

    def offline(*args, **kwargs):
      raise ConnectionError("Failed to resolve host\nName or service not known")
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
  with pytest.raises(UserError) as e:
    sources.load_dataset("fashion_mnist")
  assert "apt-get install dataset-fashion-mnist" in str(e.value) and "dljax[tf]" in str(e.value)
  assert_one_line(e.value)


def test_unknown_sources_are_user_errors():
  with pytest.raises(UserError, match=r"digits, fashion_mnist, .*npz:PATH or tfds:NAME") as e:
    sources.load_dataset("mnist")
  assert_one_line(e.value)
  with pytest.raises(UserError, match="nearest names: mnist") as e:
    sources.load_dataset("tfds:mnistt")
  assert_one_line(e.value)
  with pytest.raises(UserError, match="CONFIG") as e:
    sources.load_dataset("tfds:mnist:9.9.9")
  assert_one_line(e.value)


def test_tfds_catalog_without_tensorflow_says_how_to_get_it(tmp_path, monkeypatch):
  monkeypatch.setattr(sources, "_tensorflow_installed", lambda: False)
  with pytest.raises(UserError, match=r"pip install 'dljax\[tf\]' and network access") as e:
    sources.load_dataset("tfds:mnist", data_dir=str(tmp_path))
  assert_one_line(e.value)


def save_npz(path, **overrides):
  rng = np.random.default_rng(0)
  arrays = {"x_train": rng.integers(0, 300, (20, 3, 2)), "y_train": np.arange(20) % 4,
            "x_test": rng.integers(0, 300, (6, 3, 2)), "y_test": np.arange(6) % 3}
  arrays.update(overrides)
  np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
  return arrays


def test_npz_classification_keeps_values_and_shape(tmp_path):
  arrays = save_npz(tmp_path / "c.npz")
  data = sources.load_dataset(f"npz:{tmp_path / 'c.npz'}", max_train=15)
  assert data.name == f"npz:{tmp_path / 'c.npz'}" and data.num_classes == 4
  assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int32
  np.testing.assert_array_equal(data.train_x, arrays["x_train"][:15].astype(np.float32))  # not rescaled
  np.testing.assert_array_equal(data.train_y, arrays["y_train"][:15])
  np.testing.assert_array_equal(data.test_x, arrays["x_test"].astype(np.float32))


def test_npz_float_targets_are_regression(tmp_path):
  arrays = save_npz(tmp_path / "r.npz", y_train=np.linspace(-1, 1, 20), y_test=np.linspace(0, 2, 6))
  data = sources.load_dataset(f"npz:{tmp_path / 'r.npz'}")
  assert data.num_classes is None and data.train_y.dtype == np.float32
  np.testing.assert_allclose(data.test_y, arrays["y_test"], rtol=1e-6)


@pytest.mark.parametrize("overrides, match", [
    ({"y_test": None}, "lacks y_test"),
    ({"x_train": None, "y_train": None}, "lacks x_train, y_train"),
    ({"y_train": np.arange(19) % 4}, "same number of rows"),
    ({"x_test": np.zeros((6, 2, 3))}, "same feature shape"),
    ({"x_train": np.full((20, 3, 2), np.nan)}, "NaN or inf"),
    ({"x_test": np.full((6, 3, 2), np.inf)}, "NaN or inf"),
    ({"y_train": np.zeros((20, 1), np.int64)}, "shape \\(N,\\)"),
    ({"y_test": np.array([0, 1, -1, 0, 1, 2])}, "0..K-1"),
    ({"y_test": np.zeros(6)}, "in both"),
    ({"x_train": np.array(["a"] * 20)}, "store numbers"),
    ({"x_test": np.zeros((0, 3, 2)), "y_test": np.zeros(0, np.int64)}, "no rows"),
])
def test_bad_npz_is_a_one_line_user_error(tmp_path, overrides, match):
  save_npz(tmp_path / "bad.npz", **overrides)
  with pytest.raises(UserError, match=match) as e:
    sources.load_dataset(f"npz:{tmp_path / 'bad.npz'}")
  assert_one_line(e.value)


@pytest.mark.parametrize("content, match", [
    (None, "cannot be read"),                   # missing file
    (b"not a zip\nat all", "cannot be read"),   # unreadable
    ("npy", "single array"),                    # np.save instead of np.savez
])
def test_unreadable_npz_is_a_one_line_user_error(tmp_path, content, match):
  path = tmp_path / "x.npz"
  if content == "npy":
    with open(path, "wb") as f:
      np.save(f, np.zeros(3))
  elif content is not None:
    path.write_bytes(content)
  with pytest.raises(UserError, match=match) as e:
    sources.load_dataset(f"npz:{path}")
  assert_one_line(e.value)


def test_concurrent_preparation_builds_once(tmp_path):
  """Two processes preparing the same dataset at once both succeed (the file lock serialises them)."""
  script = textwrap.dedent("""
      import sys
      import tensorflow_datasets as tfds
      from dljax.data import sources

      prepare = tfds.core.DatasetBuilder.download_and_prepare
      def counted(self, *args, **kwargs):
        print("BUILT", file=sys.stderr)  # stderr: dljax silences TFDS's stdout while it prepares
        return prepare(self, *args, **kwargs)
      tfds.core.DatasetBuilder.download_and_prepare = counted
      print("ROWS", sources.load_dataset("digits", data_dir=sys.argv[1]).train_x.shape[0])
  """)
  procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outputs = [p.communicate(timeout=120) for p in procs]
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err
    assert "ROWS 1347" in out
  assert sum(err.count("BUILT") for _, err in outputs) == 1
  # Exactly one finished version directory, no leftovers of a second build.
  assert sorted(p.name for p in (tmp_path / "dljax_digits").iterdir()) == ["1.0.0"]


def test_other_idx_files_are_prepared_again_not_served_stale(tmp_path, monkeypatch):
  """The prepared copy is keyed by the IDX files' sha256: pointing DLJAX_FASHION_MNIST_DIR at other files,
  with the same DLJAX_DATA_DIR, reads those files; each Dataset names its files' digests."""
  import hashlib
  from tests.debian_datasets import write_fashion_mnist
  monkeypatch.setenv("DLJAX_DATA_DIR", str(tmp_path / "data"))
  first, second = tmp_path / "a", tmp_path / "b"
  first.mkdir(), second.mkdir()
  write_fashion_mnist(str(first), train_rows=300, test_rows=100, seed=1)
  write_fashion_mnist(str(second), train_rows=200, test_rows=50, seed=2)
  monkeypatch.setenv(FASHION.env_var, str(first))
  a = sources.load_dataset("fashion_mnist")
  monkeypatch.setenv(FASHION.env_var, str(second))
  b = sources.load_dataset("fashion_mnist")
  assert (len(a.train_x), len(b.train_x), len(b.test_x)) == (300, 200, 50)
  path = str(second / "train-images-idx3-ubyte.gz")
  assert b.source_files[path] == hashlib.sha256(open(path, "rb").read()).hexdigest()
  assert len(b.source_files) == 4
