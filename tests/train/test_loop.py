"""The whole train-and-evaluate path on tiny data: outputs, resume, device counts, signals, failures."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dljax import registry
from dljax.errors import UserError
from dljax.train import loop
from tests.conftest import run_cli, tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _params(workdir: str, step: int):
  """The state arrays of checkpoint `step`, whatever device count wrote them, as numpy."""
  path = os.path.join(workdir, "checkpoints", str(step), "state")
  checkpointer = ocp.StandardCheckpointer()
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  metadata = checkpointer.metadata(path)
  metadata = getattr(metadata, "item_metadata", metadata)
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), metadata)
  restored = checkpointer.restore(path, target)
  return {"/".join(str(k) for k in path): np.asarray(v)
          for path, v in jax.tree_util.tree_flatten_with_path(restored)[0]}


def _train_records(workdir: str):
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  return [{k: v for k, v in r.items() if k != "time"} for r in lines]


@pytest.mark.parametrize("name", [e.name for e in registry.all_experiments()
                                  if registry.get_config(e.name).get("task") in ("classification", "regression")])
def test_every_experiment_trains_and_writes_its_workdir(name, tmp_path):
  summary = loop.train_and_evaluate(tiny_config(name), str(tmp_path))
  assert summary["status"] == "done" and summary["steps"] == 2
  on_disk = json.load(open(tmp_path / "summary.json"))
  for key in ("experiment", "kind", "metrics", "steps", "wall_time_s", "examples_per_s"):
    assert key in on_disk
  assert on_disk["experiment"] == name
  if "accuracy" in on_disk["metrics"]:  # classification
    assert 0.0 <= on_disk["metrics"]["accuracy"] <= 1.0 and np.isfinite(on_disk["metrics"]["loss"])
  else:  # regression (sunspots)
    assert set(on_disk["metrics"]) == {"mse", "r2"} and on_disk["metrics"]["mse"] > 0
    assert on_disk["metrics"]["r2"] <= 1.0
  info = json.load(open(tmp_path / "config.json"))
  assert info["seed"] == 0 and "jax" in info["versions"] and info["config"]["experiment"] == name
  if info["config"]["data"]["source"] == "fashion_mnist":  # files from outside pip: their sha256 recorded
    assert len(info["data_files"]) == 4 and all(len(v) == 64 for v in info["data_files"].values())
  records = _train_records(tmp_path)
  assert [r["step"] for r in records if r["split"] == "train"] == [1, 2]
  assert records[-1]["split"] == "test" and records[-1]["step"] == 2
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tensorboard"))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["1", "2"]


def test_npz_source_classification_and_regression(tmp_path):
  rng = np.random.RandomState(0)
  x = rng.randn(80, 5).astype(np.float32)
  w = rng.randn(5).astype(np.float32)
  np.savez(tmp_path / "cls.npz", x_train=x[:60], y_train=(x[:60] @ w > 0).astype(np.int64),
           x_test=x[60:], y_test=(x[60:] @ w > 0).astype(np.int64))
  np.savez(tmp_path / "reg.npz", x_train=x[:60], y_train=x[:60] @ w, x_test=x[60:], y_test=x[60:] @ w)
  cls = loop.train_and_evaluate(tiny_config("digits_mlp", f"data.source=npz:{tmp_path}/cls.npz", steps=3),
                                str(tmp_path / "cls"))
  assert set(cls["metrics"]) == {"accuracy", "loss"}
  with pytest.raises(UserError, match="real-valued targets; this experiment classifies.*--config.task=regression"):
    loop.train_and_evaluate(tiny_config("digits_mlp", f"data.source=npz:{tmp_path}/reg.npz", steps=3),
                            str(tmp_path / "refused"))
  reg = loop.train_and_evaluate(tiny_config("digits_mlp", f"data.source=npz:{tmp_path}/reg.npz", "task=regression",
                                            steps=3), str(tmp_path / "reg"))
  assert set(reg["metrics"]) == {"mse", "r2"}


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
  # digits_cnn exercises dropout, batch norm, augmentation and a cosine schedule.
  config = tiny_config("digits_cnn", "checkpoint_every_steps=0", steps=6)
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  loop.train_and_evaluate(config, straight)
  paused = loop.train_and_evaluate(config, resumed, stop_at_step=3)
  assert paused["status"] == "paused" and os.listdir(os.path.join(resumed, "checkpoints")) == ["3"]
  loop.train_and_evaluate(config, resumed)
  a, b = _params(straight, 6), _params(resumed, 6)
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  assert json.load(open(os.path.join(straight, "summary.json")))["metrics"] == \
      json.load(open(os.path.join(resumed, "summary.json")))["metrics"]
  assert _train_records(straight) == _train_records(resumed)


_DEVICE_SCRIPT = textwrap.dedent("""
    import sys
    from tests.conftest import tiny_config
    from dljax.train import loop
    import jax
    assert jax.device_count() == 8, jax.devices()
    config = tiny_config("digits_cnn", *sys.argv[3:], steps=6)
    stop = None if sys.argv[2] == "none" else int(sys.argv[2])
    print(loop.train_and_evaluate(config, sys.argv[1], stop_at_step=stop))
""")


# Momentum SGD, not Adam: Adam's m/sqrt(v) turns the last-bit differences of a reordered gradient
# sum (8 partial sums instead of 1) into O(lr) differences for weights whose gradient is ~0, which
# says nothing about the sharding. With SGD the comparison checks the sharded math itself.
_DEVICE_OVERRIDES = ("checkpoint_every_steps=0", "optimizer.name=momentum", "optimizer.learning_rate=0.05")


def _on_8_devices(workdir, stop="none"):
  args = (workdir, stop, *_DEVICE_OVERRIDES)
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
  out = subprocess.run([sys.executable, "-c", _DEVICE_SCRIPT, *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]


def test_8_fake_devices_equal_1_device_and_resume_across_device_counts(tmp_path):
  assert jax.device_count() == 1
  config = tiny_config("digits_cnn", *_DEVICE_OVERRIDES, steps=6)
  one, eight, mixed = (str(tmp_path / d) for d in ("one", "eight", "mixed"))
  loop.train_and_evaluate(config, one)
  _on_8_devices(eight)
  a, b = _params(one, 6), _params(eight, 6)
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
  losses = lambda d: [r["loss"] for r in _train_records(d) if r["split"] == "train"]
  np.testing.assert_allclose(losses(one), losses(eight), rtol=1e-5)
  # 1 device -> 8 devices -> 1 device on one workdir.
  loop.train_and_evaluate(config, mixed, stop_at_step=2)
  _on_8_devices(mixed, 4)
  loop.train_and_evaluate(config, mixed)
  c = _params(mixed, 6)
  for k in a:
    np.testing.assert_allclose(a[k], c[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = tiny_config("digits_logreg", "optimizer.name=sgd", "optimizer.learning_rate=1e30",
                       "optimizer.schedule=constant", steps=6)
  with pytest.raises(UserError, match=r"became (nan|inf|non-finite) at step (\d+); the last good checkpoint") as e:
    loop.train_and_evaluate(config, str(tmp_path))
  bad_step, kept = map(int, re.search(r"at step (\d+);.*\(step (\d+)\)", str(e.value)).groups())
  assert kept == bad_step - 1 >= 1
  assert max(int(s) for s in os.listdir(tmp_path / "checkpoints")) == kept
  assert all(np.isfinite(v).all() for v in _params(str(tmp_path), kept).values())
  records = _train_records(tmp_path)
  assert max(r["step"] for r in records) == kept  # nothing logged past the last good step


def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path, capsys):
  config = tiny_config("digits_mlp", steps=3)
  loop.train_and_evaluate(config, str(tmp_path))
  state_dir = tmp_path / "checkpoints" / "3" / "state"
  for root, _, files in os.walk(state_dir):
    for f in files:
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  summary = loop.train_and_evaluate(config, str(tmp_path))
  assert "checkpoint 3" in capsys.readouterr().err and summary["steps"] == 3
  assert os.path.isdir(tmp_path / "checkpoints_unreadable" / "3")
  reference = str(tmp_path / "reference")
  loop.train_and_evaluate(config, reference)
  for k, v in _params(reference, 3).items():
    np.testing.assert_array_equal(v, _params(str(tmp_path), 3)[k])


def test_sigterm_saves_a_restorable_checkpoint_and_exits_0(tmp_path):
  workdir = tmp_path / "run"
  proc = subprocess.Popen([sys.executable, "-m", "dljax.cli", "run", "digits_cnn", "--workdir", str(workdir),
                           "--config.num_train_steps=100000", "--config.log_every_steps=5",
                           "--config.checkpoint_every_steps=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  metrics = workdir / "metrics.jsonl"
  deadline = time.time() + 120
  while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
    time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-2000:]
  assert "interrupted at step" in out
  steps = [int(s) for s in os.listdir(workdir / "checkpoints")]
  assert len(steps) == 1 and steps[0] >= 10
  result = run_cli("eval", "digits_cnn", "--workdir", str(workdir), "--config.num_train_steps=100000")
  assert result.returncode == 0, result.stderr
  assert 0.0 <= json.loads(result.stdout)["accuracy"] <= 1.0
