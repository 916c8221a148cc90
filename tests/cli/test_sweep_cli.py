"""`dljax sweep` and `dljax report` through the real CLI: dry-run, a tiny sweep then its report, bad input."""

import os
import shlex
import sys

import pytest

from dljax import cli
from tests.cli.test_cli import assert_one_line_error
from tests.conftest import run_cli

TINY = ["--config.num_train_steps=2", "--config.data.max_train=64", "--config.data.max_test=40",
        "--config.batch_size=16", "--config.log_every_steps=1", "--config.checkpoint_every_steps=0"]


def test_dry_run_prints_the_run_commands(tmp_path, capsys):
  assert cli.main(["sweep", "digits_logreg", "--workdir", str(tmp_path / "s"), "--grid",
                   "optimizer.learning_rate=0.1,0.01", "--seeds", "2", "--dry_run", *TINY]) == 0
  lines = capsys.readouterr().out.splitlines()
  command = shlex.quote(sys.executable) + " -m dljax.cli run digits_logreg"
  assert len(lines) == 4 and all(l.startswith(command) for l in lines)
  assert f"--workdir {tmp_path}/s/learning_rate=0.01/seed=1" in lines[3]
  assert not (tmp_path / "s").exists()


def test_sweep_then_report(tmp_path, capsys):
  root = str(tmp_path / "s")
  assert cli.main(["sweep", "digits_logreg", "--workdir", root, "--grid", "optimizer.learning_rate=0.1,0.01",
                   "--parallel", "2", *TINY]) == 0
  assert "2 runs done, 0 already finished, 0 failed" in capsys.readouterr().out
  assert cli.main(["report", root, "--x", "optimizer.learning_rate"]) == 0
  assert "2 settings" in capsys.readouterr().out
  for name in ("results.csv", "results.md", "bars_accuracy.png", "curves_loss.png", "accuracy_vs_learning_rate.png"):
    assert os.path.exists(os.path.join(root, name)), name
  again = ["sweep", "digits_logreg", "--workdir", root, "--grid", "optimizer.learning_rate=0.1,0.01", *TINY]
  assert cli.main(again) == 0
  assert "0 runs done, 2 already finished" in capsys.readouterr().out


@pytest.mark.parametrize("args,needles", [
    (["--grid", "optimizer.learnin_rate=0.1,0.2"],
     ["unknown config key", "did you mean --config.optimizer.learning_rate"]),
    (["--grid", "batch_size=16,big"], ["--config.batch_size=big", "int"]),
    (["--grid", "batch_size="], ["empty grid value"]),
    (["--grid", "batch_size=16", "--seeds", "0"], ["--seeds=0", ">= 1"]),
    (["--grid", "batch_size=16", "--parallel", "0"], ["--parallel=0"]),
    (["--grid", "batch_size=16", "--seeds", "two"], ["--seeds", "integer"]),
])
def test_bad_sweeps_exit_2_with_one_line(tmp_path, capsys, args, needles):
  code = cli.main(["sweep", "digits_logreg", "--workdir", str(tmp_path / "W"), *args])
  err = capsys.readouterr().err
  assert code == 2 and err.startswith("dljax: error: ") and err.count("\n") == 1, err
  for needle in needles:
    assert needle in err, err
  assert not (tmp_path / "W").exists()


def test_bad_sweep_in_a_subprocess(tmp_path):
  assert_one_line_error(run_cli("sweep", "digits_logreg", "--workdir", str(tmp_path / "W"), "--grid", "nope=1"),
                        "--grid nope: unknown config key")


@pytest.mark.parametrize("args,needle", [
    (["report", "{tmp}"], "no finished runs"),
    (["sweep", "ml_vs_dl", "--workdir", "{tmp}/W", "--vmap_seeds", "--dry_run"], "not a gradient-trained (minibatch)"),
    (["run", "digits_mlp", "--workdir", "{tmp}/W", "--vmap_seeds", "0,0"], "distinct non-negative seeds"),
])
def test_report_and_vmap_bad_input(tmp_path, capsys, args, needle):
  assert cli.main([a.format(tmp=tmp_path) for a in args]) == 2
  err = capsys.readouterr().err
  assert err.startswith("dljax: error: ") and err.count("\n") == 1 and needle in err, err


def test_relative_workdirs_everywhere(tmp_path, monkeypatch):
  """sweep (its runs are subprocesses), report, run, eval and plot, each given paths relative to the cwd."""
  monkeypatch.chdir(tmp_path)
  def dljax(*args):
    result = run_cli(*args)
    assert result.returncode == 0, (args, result.stderr[-2000:])
    return result
  dljax("sweep", "digits_logreg", "--workdir", "sw", "--grid", "optimizer.learning_rate=0.1", *TINY)
  dljax("report", "sw")
  assert (tmp_path / "sw" / "results.md").exists()
  dljax("run", "digits_logreg", "--workdir", "runs/a", *TINY[:-1], "--config.checkpoint_every_steps=1")
  assert '"accuracy"' in dljax("eval", "digits_logreg", "--workdir", "runs/a", *TINY).stdout
  dljax("plot", "runs/a", "sw/learning_rate=0.1/seed=0", "--out", "plots/curves.png")
  assert (tmp_path / "plots" / "curves.png").exists()
  assert sorted(os.listdir(tmp_path / "runs" / "a" / "checkpoints")) == ["1", "2"]
