"""Sweep expansion and naming, dry-run output, skipping finished runs and resuming interrupted ones."""

import io
import json
import os
import shlex
import sys

import pytest

from dljax.errors import UserError
from dljax.sweeps import sweep
from dljax.train import loop
from dljax.train import workdir as workdir_lib
from tests.conftest import tiny_config

TINY = ("num_train_steps=4", "data.max_train=64", "data.max_test=40", "batch_size=16", "eval_batch_size=40",
        "log_every_steps=1", "checkpoint_every_steps=0")


def _spec(grid, seeds=2, overrides=TINY, name="digits_mlp"):
  return sweep.SweepSpec(name, sweep.parse_grid(grid), seeds, tuple(overrides))


def test_grid_expands_to_the_cartesian_product_times_seeds_with_named_workdirs(tmp_path):
  runs = sweep.expand(_spec(["optimizer.learning_rate=1e-3,3e-4", "model.hidden=(64,),(32, 32)"], seeds=3),
                      str(tmp_path))
  assert len(runs) == 2 * 2 * 3
  names = [os.path.relpath(r.workdir, tmp_path) for r in runs]
  assert names[:4] == ["learning_rate=1e-3,hidden=64/seed=0", "learning_rate=1e-3,hidden=64/seed=1",
                       "learning_rate=1e-3,hidden=64/seed=2", "learning_rate=1e-3,hidden=32_32/seed=0"]
  assert len(set(names)) == len(names)
  assert runs[3].overrides == (*TINY, "optimizer.learning_rate=1e-3", "model.hidden=(32, 32)", "seed=0")
  assert {r.setting for r in runs} == {(("optimizer.learning_rate", a), ("model.hidden", b))
                                       for a in ("1e-3", "3e-4") for b in ("(64,)", "(32, 32)")}


def test_names_use_full_keys_when_leaves_collide_and_stay_distinct():
  assert sweep.setting_name((("optimizer.momentum", "0.9"), ("model.dropout", "0.1"))) == "momentum=0.9,dropout=0.1"
  assert sweep.setting_name((("a.depth", "2"), ("b.depth", "3"))) == "a.depth=2,b.depth=3"
  assert sweep.setting_name(()) == "base"
  assert sweep.split_values("(64,64),(128,),'a,b',3") == ["(64,64)", "(128,)", "'a,b'", "3"]


def test_path_safe_names_that_collide_get_a_hash(tmp_path):
  runs = sweep.expand(sweep.SweepSpec("digits_mlp", (("model.hidden", ("(8,8)", "(8, 8)")),), 1, TINY), str(tmp_path))
  dirs = [r.setting_dir for r in runs]
  assert len(set(dirs)) == 2 and os.path.basename(dirs[0]) == "hidden=8_8"


@pytest.mark.parametrize("grid,seeds,needle", [
    (["optimizer.learnin_rate=1,2"], 1, "--grid optimizer.learnin_rate: unknown config key"),
    (["optimizer.learning_rate=fast"], 1, "expected a value of type float"),
    (["batch_size=8,1.5"], 1, "expected a value of type int"),
    (["optimizer.learning_rate="], 1, "empty grid value"),
    (["optimizer.learning_rate=1e-3,"], 1, "empty grid value"),
    ([""], 1, "expected KEY=V1,V2"),
    (["batch_size=8", "batch_size=16"], 1, "given twice"),
    (["seed=1,2"], 1, "--seeds N"),
    (["batch_size=8"], 0, "--seeds=0"),
    (["batch_size=8"], -1, "--seeds=-1"),
])
def test_bad_grids_and_seeds_are_one_line_user_errors(tmp_path, grid, seeds, needle):
  with pytest.raises(UserError, match=None) as e:
    sweep.plan(_spec(grid, seeds=seeds), str(tmp_path))
  assert needle in str(e.value) and "\n" not in str(e.value)
  assert not os.listdir(tmp_path)


def test_dry_run_prints_exactly_the_commands_and_writes_nothing(tmp_path):
  out = io.StringIO()
  root = str(tmp_path / "sweep")
  counts = sweep.run_sweep(_spec(["optimizer.learning_rate=1e-3,3e-4"], seeds=2), root, dry_run=True,
                           deterministic=True, out=out)
  lines = out.getvalue().splitlines()
  assert counts == {"runs": 4, "skipped": 0, "done": 0, "failed": 0} and len(lines) == 4
  expected = [f"XLA_FLAGS=--xla_gpu_deterministic_ops=true {shlex.quote(sys.executable)} -m dljax.cli run digits_mlp "
              f"--workdir {root}/learning_rate={lr}/seed={s} "
              + " ".join(f"--config.{o}" for o in TINY) + f" --config.optimizer.learning_rate={lr} --config.seed={s}"
              for lr in ("1e-3", "3e-4") for s in (0, 1)]
  assert lines == expected
  assert not os.path.exists(root)
  vmapped = io.StringIO()
  sweep.run_sweep(_spec(["optimizer.learning_rate=1e-3"], seeds=3), root, dry_run=True, vmap_seeds=True, out=vmapped)
  assert vmapped.getvalue().splitlines() == [
      f"{shlex.quote(sys.executable)} -m dljax.cli run digits_mlp --workdir {root}/learning_rate=1e-3 "
      "--vmap_seeds 0,1,2 " + " ".join(f"--config.{o}" for o in TINY) + " --config.optimizer.learning_rate=1e-3"]


def test_rerun_skips_finished_runs_and_resumes_interrupted_ones(tmp_path):
  root = str(tmp_path / "sweep")
  spec = _spec(["optimizer.learning_rate=1e-3,3e-3"], seeds=1, name="digits_logreg")
  finished, interrupted = sweep.expand(spec, root)
  # One run finished, one stopped half-way with a checkpoint (as a killed or pre-empted job leaves it).
  loop.train_and_evaluate(tiny_config("digits_logreg", *TINY[:1], *finished.overrides[1:]), finished.workdir)
  config = tiny_config("digits_logreg", *TINY[:1], "checkpoint_every_steps=0", *interrupted.overrides[1:])
  assert loop.train_and_evaluate(config, interrupted.workdir, stop_at_step=2)["status"] == "paused"
  finished_summary = open(os.path.join(finished.workdir, "summary.json")).read()
  assert [sweep.run_status(r.workdir) for r in (finished, interrupted)] == ["done", "resume"]
  jobs, skipped = sweep.plan(spec, root)
  assert skipped == [finished] and [j.runs for j in jobs] == [[interrupted]]

  counts = sweep.run_sweep(spec, root, parallel=2)
  assert counts == {"runs": 2, "skipped": 1, "done": 1, "failed": 0}
  assert open(os.path.join(finished.workdir, "summary.json")).read() == finished_summary  # untouched
  assert "resumed from checkpoint 2" in open(interrupted.workdir + ".log").read()
  reference = str(tmp_path / "reference")
  loop.train_and_evaluate(config, reference)
  assert json.load(open(os.path.join(interrupted.workdir, "summary.json")))["metrics"] == \
      json.load(open(os.path.join(reference, "summary.json")))["metrics"]
  assert json.load(open(os.path.join(root, "sweep.json")))["grid"] == {"optimizer.learning_rate": ["1e-3", "3e-3"]}
  assert sweep.plan(spec, root)[0] == []  # a third call has nothing left to do


def test_finished_run_with_another_config_is_refused(tmp_path):
  root = str(tmp_path / "sweep")
  spec = _spec(["optimizer.learning_rate=1e-3"], seeds=1, name="digits_logreg")
  (run,) = sweep.expand(spec, root)
  other = tiny_config("digits_logreg", *TINY, "optimizer.learning_rate=1e-3", "batch_size=32")
  os.makedirs(run.workdir)  # the files a finished run leaves (training it would only cost time)
  workdir_lib.write_json(os.path.join(run.workdir, "config.json"), workdir_lib.run_info(other))
  workdir_lib.write_json(os.path.join(run.workdir, "summary.json"), {"status": "done", "metrics": {}})
  with pytest.raises(UserError, match="was run with another config .*batch_size"):
    sweep.plan(spec, root)


def test_sweep_file_matches_the_flags(tmp_path):
  path = tmp_path / "sweep.json"
  path.write_text(json.dumps({"experiment": "digits_mlp", "seeds": 2,
                              "grid": {"optimizer.learning_rate": [1e-3, 0.0003], "model.hidden": [[64], [32, 32]]},
                              "overrides": {"num_train_steps": 4}}))
  loaded = sweep.load_sweep_file(str(path))
  assert loaded == {"experiment": "digits_mlp", "seeds": 2, "overrides": ["num_train_steps=4"],
                    "grid": ["optimizer.learning_rate=0.001,0.0003", "model.hidden=(64,),(32, 32)"]}
  runs = sweep.expand(sweep.SweepSpec("digits_mlp", sweep.parse_grid(loaded["grid"]), 2, ("num_train_steps=4",)),
                      str(tmp_path / "s"))
  assert len(runs) == 8 and runs[-1].overrides[-2:] == ("model.hidden=(32, 32)", "seed=1")
  path.write_text(json.dumps({"experiment": "digits_mlp", "grid": {"batch_size": []}}))
  with pytest.raises(UserError, match="has no values"):
    sweep.load_sweep_file(str(path))
