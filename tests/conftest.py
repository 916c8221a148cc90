"""Shared fixtures: one prepared data dir per test session (never the user's cache)."""

import os
import subprocess
import sys

import pytest

from dljax import config as config_lib
from dljax import registry


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("dljax_data")
  os.environ["DLJAX_DATA_DIR"] = str(path)
  yield path


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
