"""Shared fixtures: one prepared data dir per test session (never the user's cache), and small stand-ins
for the Debian-packaged datasets (tests/debian_datasets.py)."""

import os
import subprocess
import sys
import tempfile

import pytest

# Before jax is imported: the programs the tests compile again and again (every tiny run of an experiment,
# in this process and in the CLI subprocesses, which inherit the variables) come from jax's persistent
# compilation cache after the first time; never the user's own cache directory.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"dljax-tests-jax-cache-{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

from dljax import config as config_lib
from dljax import registry
from tests.debian_datasets import DEBIAN_DATASETS


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("dljax_data")
  os.environ["DLJAX_DATA_DIR"] = str(path)
  yield path


@pytest.fixture(scope="session", autouse=True)
def debian_fixture_dirs(tmp_path_factory):
  """{name: directory of its small stand-in} for every Debian-packaged dataset (tests/debian_datasets.py).

  Every test reads the stand-in, not the package's files (fast, the same on every machine), unless the
  user set the dataset's variable: `DLJAX_FASHION_MNIST_DIR=/usr/share/datasets/fashion-mnist pytest`
  runs the code-path tests on the real data. Tests of the real files mark themselves requires_real.
  The session's DLJAX_DATA_DIR (above) is new, so its prepared copy is always of the files used here.
  """
  dirs, saved = {}, {}
  for name, dataset in DEBIAN_DATASETS.items():
    dirs[name] = tmp_path_factory.mktemp(f"{name}_fixture")
    dataset.write_fixture(str(dirs[name]))
    saved[dataset.env_var] = os.environ.get(dataset.env_var)
    if not saved[dataset.env_var]:
      os.environ[dataset.env_var] = str(dirs[name])
  yield dirs
  for var, value in saved.items():
    if value:
      os.environ[var] = value
    else:
      os.environ.pop(var, None)


def tiny_config(name: str, *overrides: str, steps: int = 2):
  """`name`'s config shrunk to a few steps on a few rows (the full code path, tiny data)."""
  base = [f"num_train_steps={steps}", "data.max_train=64", "data.max_test=40", "batch_size=16",
          "eval_batch_size=40", "log_every_steps=1", "checkpoint_every_steps=1"]
  return config_lib.apply_overrides(registry.get_config(name), base + list(overrides))


def run_cli(*args, env=None, timeout=300):
  """Runs `dljax ARGS` in a subprocess, as a user would."""
  full_env = {**os.environ, **(env or {})}
  return subprocess.run([sys.executable, "-m", "dljax.cli", *args], capture_output=True, text=True,
                        env=full_env, timeout=timeout)
