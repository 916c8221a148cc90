"""The real CLI in a subprocess: listing, running, plotting, and every bad input (exit 2, one line)."""

import fcntl
import os
import subprocess
import sys

import numpy as np
import pytest

from dljax import registry
from dljax.data import sources
from tests.conftest import run_cli

TINY = ["--config.num_train_steps=2", "--config.data.max_train=64", "--config.data.max_test=40",
        "--config.batch_size=16", "--config.log_every_steps=1", "--config.checkpoint_every_steps=1"]


def _tree(path):
  """{relative path: bytes} of everything under `path`: to show nothing was written."""
  out = {}
  for root, _, files in os.walk(path):
    for f in files:
      full = os.path.join(root, f)
      out[os.path.relpath(full, path)] = open(full, "rb").read()
  return out


def assert_one_line_error(result, *needles, after_progress=False):
  """Exit 2, no traceback, the error on one line; and nothing else on stderr unless training had
  started (`after_progress`: its progress lines come first)."""
  assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
  err = result.stderr.strip()
  assert "Traceback" not in err, err
  if after_progress:
    err = err.splitlines()[-1]
  assert "\n" not in err, err
  assert err.startswith("dljax: error: ")
  for needle in needles:
    assert needle in err, err


def test_list_shows_every_experiment():
  result = run_cli("list")
  assert result.returncode == 0
  for exp in registry.all_experiments():
    line = next(l for l in result.stdout.splitlines() if l.split()[0] == exp.name)
    assert exp.kind in line and exp.dataset in line and exp.description in line


def test_run_then_plot(tmp_path):
  for name in ("digits_logreg", "digits_mlp"):
    result = run_cli("run", name, "--workdir", str(tmp_path / name), *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{name}: accuracy=" in result.stdout
  out = tmp_path / "curves.png"
  result = run_cli("plot", str(tmp_path / "digits_logreg"), str(tmp_path / "digits_mlp"), "--out", str(out))
  assert result.returncode == 0, result.stderr
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,needles", [
    (["run", "digits_cnm", "--workdir", "W"], ["unknown experiment 'digits_cnm'", "did you mean digits_cnn"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.optimizer.learnin_rate=0.1"],
     ["unknown config key", "--config.optimizer.learning_rate"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.batch_size=big"], ["--config.batch_size=big", "int"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.data.source=mnist_from_nowhere"],
     ["mnist_from_nowhere", "npz:PATH"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.batch_size=0"], ["--config.batch_size=0"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.batch_size=100000"], ["exceeds", "training examples"]),
    (["run", "digits_cnn"], ["--workdir"]),
    (["run", "sunspots_lstm", "--workdir", "W", "--config.model.cell=transformer"],
     ["--config.model.cell=transformer", "one of rnn, lstm, gru"]),
    (["run", "digits_cnn", "--workdir", "W", "--config.model.pool=median"], ["--config.model.pool=median", "one of max, avg"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_arguments(tmp_path, args, needles):
  for source in ("digits", "sunspots"):  # prepared first: a first preparation prints progress on stderr
    sources.load_dataset(source)
  args = [str(tmp_path / "W") if a == "W" else a for a in args]
  assert_one_line_error(run_cli(*args), *needles)
  assert not (tmp_path / "W").exists()  # nothing written for bad input


def test_missing_fashion_mnist_names_both_fixes(tmp_path):
  env = {"DLJAX_FASHION_MNIST_DIR": str(tmp_path / "empty"), "DLJAX_DATA_DIR": str(tmp_path / "data")}
  (tmp_path / "empty").mkdir()
  result = run_cli("run", "fashion_mnist_mlp", "--workdir", str(tmp_path / "W"), *TINY, env=env)
  assert_one_line_error(result, "apt-get install dataset-fashion-mnist", "dljax[tf]")
  assert not (tmp_path / "W").exists()


def test_bad_npz_files(tmp_path):
  (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
  np.savez(tmp_path / "shapes.npz", x_train=np.zeros((10, 4)), y_train=np.zeros(9, np.int64),
           x_test=np.zeros((5, 4)), y_test=np.zeros(5, np.int64))
  np.savez(tmp_path / "keys.npz", x_train=np.zeros((10, 4)), y_train=np.zeros(10, np.int64))
  for name, needle in (("garbage", "garbage.npz"), ("shapes", "y_train"), ("keys", "x_test"),
                       ("absent", "absent.npz")):
    result = run_cli("run", "digits_mlp", "--workdir", str(tmp_path / "W"),
                     f"--config.data.source=npz:{tmp_path}/{name}.npz", *TINY)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "W").exists()


def test_workdir_in_use_is_refused_and_untouched(tmp_path):
  workdir = tmp_path / "W"
  assert run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY).returncode == 0
  before = _tree(workdir)
  fd = os.open(workdir / ".lock", os.O_RDWR)
  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live run holds it
  try:
    result = run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY[1:], "--config.num_train_steps=4")
  finally:
    os.close(fd)
  assert_one_line_error(result, "in use", "--workdir")
  assert _tree(workdir) == before


def test_lock_of_a_killed_run_does_not_block(tmp_path):
  workdir = tmp_path / "W"
  workdir.mkdir()
  killer = ("import os, signal; from dljax.train.workdir import WorkdirLock; "
            f"WorkdirLock({str(workdir)!r}).__enter__(); os.kill(os.getpid(), signal.SIGKILL)")
  assert subprocess.run([sys.executable, "-c", killer]).returncode == -9
  assert (workdir / ".lock").exists()
  result = run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY)
  assert result.returncode == 0, result.stderr[-2000:]


def test_corrupt_newest_checkpoint_warns_and_resumes(tmp_path):
  workdir = tmp_path / "W"
  assert run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY).returncode == 0
  for root, _, files in os.walk(workdir / "checkpoints" / "2"):
    for f in files:
      open(os.path.join(root, f), "wb").close()
  result = run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "checkpoint 2" in result.stderr and "falling back" in result.stderr


def test_non_finite_loss_exit_2(tmp_path):
  result = run_cli("run", "digits_logreg", "--workdir", str(tmp_path / "W"), *TINY[1:], "--config.num_train_steps=8",
                   "--config.optimizer.name=sgd", "--config.optimizer.learning_rate=1e30",
                   "--config.optimizer.schedule=constant")
  assert_one_line_error(result, "at step", "last good checkpoint", "learning_rate", after_progress=True)


def test_plot_without_metrics(tmp_path):
  assert_one_line_error(run_cli("plot", str(tmp_path), "--out", str(tmp_path / "x.png")), "metrics.jsonl")


def test_unknown_tfds_dataset(tmp_path):
  result = run_cli("run", "digits_mlp", "--workdir", str(tmp_path / "W"), "--config.data.source=tfds:mnistt", *TINY)
  assert_one_line_error(result, "mnistt")


def test_eval_writes_nothing_even_with_a_corrupt_checkpoint(tmp_path):
  workdir = tmp_path / "W"
  assert run_cli("run", "digits_logreg", "--workdir", str(workdir), *TINY).returncode == 0
  good = run_cli("eval", "digits_logreg", "--workdir", str(workdir), *TINY)
  assert good.returncode == 0, good.stderr[-2000:]
  for root, _, files in os.walk(workdir / "checkpoints" / "2"):
    for f in files:
      open(os.path.join(root, f), "wb").close()
  before = _tree(workdir)
  result = run_cli("eval", "digits_logreg", "--workdir", str(workdir), *TINY)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "checkpoint 2" in result.stderr and "read-only" in result.stderr
  assert _tree(workdir) == before  # nothing moved aside, nothing written
  assert '"accuracy"' in result.stdout


def test_a_second_run_reuses_the_compiled_programs(tmp_path):
  """The CLI keeps jax's persistent compilation cache in the user's cache directory (XDG_CACHE_HOME here)."""
  env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
  env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  cache = tmp_path / "cache" / "dljax" / "jax_compilation_cache"
  command = [sys.executable, "-m", "dljax.cli", "run", "digits_logreg", "--config.num_train_steps=3",
             "--config.log_every_steps=3", "--workdir"]
  first = subprocess.run([*command, str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=300)
  assert first.returncode == 0, first.stderr[-2000:]
  entries = set(os.listdir(cache))
  assert entries, "the first run compiled nothing into the cache"
  second = subprocess.run([*command, str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=300)
  assert second.returncode == 0, second.stderr[-2000:]
  assert set(os.listdir(cache)) == entries  # the second run compiled nothing new
