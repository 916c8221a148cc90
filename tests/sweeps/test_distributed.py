"""Multi-process jobs: 2 processes on localhost training digits_mlp as one job equal 1 process with the
same global batch; the job's settings from flags or the environment; an unreachable coordinator is a
one-line error within the timeout, not a hang."""

import json
import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dljax import cli, parallel
from dljax.errors import UserError
from dljax.train import loop
from tests.conftest import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Momentum SGD, as in tests/train/test_loop.py: the 2-process gradient is summed in another order.
OVERRIDES = ("optimizer.name=momentum", "optimizer.learning_rate=0.05", "checkpoint_every_steps=0")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _params(checkpoint_dir: str):
  checkpointer = ocp.StandardCheckpointer()
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  metadata = checkpointer.metadata(checkpoint_dir)
  metadata = getattr(metadata, "item_metadata", metadata)
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), metadata)
  restored = checkpointer.restore(checkpoint_dir, target)
  return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(restored["params"])}


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
  steps, workdir = 3, str(tmp_path / "two")
  args = ["--num_processes", "2", "--port", str(_free_port()), "--", "run", "digits_mlp", "--workdir", workdir,
          f"--config.num_train_steps={steps}", "--config.data.max_train=64", "--config.data.max_test=40",
          "--config.batch_size=16", "--config.log_every_steps=1",
          *(f"--config.{o}" for o in OVERRIDES)]
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}  # one CPU device per process
  out = subprocess.run([sys.executable, os.path.join(REPO, "launch", "local.py"), *args], capture_output=True,
                       text=True, env=env, cwd=REPO, timeout=300)
  assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
  assert "2 device(s)" in out.stdout
  single = str(tmp_path / "one")
  summary = loop.train_and_evaluate(tiny_config("digits_mlp", *OVERRIDES, steps=steps), single)
  a = _params(os.path.join(workdir, "checkpoints", str(steps), "state"))
  b = _params(os.path.join(single, "checkpoints", str(steps), "state"))
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
  two = json.load(open(os.path.join(workdir, "summary.json")))
  assert two["devices"] == 2 and two["metrics"]["accuracy"] == summary["metrics"]["accuracy"]
  np.testing.assert_allclose(two["metrics"]["loss"], summary["metrics"]["loss"], rtol=1e-5)
  assert json.load(open(os.path.join(workdir, "config.json")))["devices"]["processes"] == 2


def test_unreachable_coordinator_is_a_one_line_error_within_the_timeout(tmp_path, capsys):
  # In-process through the CLI's main: the check runs before jax.distributed.initialize is called.
  start = time.monotonic()
  code = cli.main(["run", "digits_mlp", "--workdir", str(tmp_path / "W"), "--coordinator", f"127.0.0.1:{_free_port()}",
                   "--num_processes", "2", "--process_id", "1", "--init_timeout", "2"])
  err = capsys.readouterr().err
  assert code == 2 and err.startswith("dljax: error: coordinator 127.0.0.1:") and err.count("\n") == 1, err
  assert "unreachable after 2s" in err and "--init_timeout" in err
  assert 2 <= time.monotonic() - start < 30
  assert not (tmp_path / "W").exists() and not jax.distributed.is_initialized()


def test_job_settings_from_flags_environment_and_clusters():
  assert parallel.distributed_spec(environ={}) is None
  spec = parallel.distributed_spec(environ={"DLJAX_COORDINATOR": "10.0.0.2:1234", "DLJAX_NUM_PROCESSES": "4",
                                            "DLJAX_PROCESS_ID": "3", "DLJAX_INIT_TIMEOUT": "30"})
  assert spec == parallel.DistributedSpec("10.0.0.2:1234", 4, 3, 30)
  flags = parallel.distributed_spec("h:1", 2, 0, None, environ={"DLJAX_COORDINATOR": "other:2"})
  assert (flags.coordinator, flags.num_processes, flags.process_id) == ("h:1", 2, 0)  # flags win
  slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_NTASKS": "2", "SLURM_PROCID": "1",
           "SLURM_LOCALID": "0"}
  assert parallel.distributed_spec(environ=slurm).cluster == "slurm"
  assert parallel.distributed_spec(environ={**slurm, "SLURM_NTASKS": "1"}) is None  # one task: one process
  assert parallel.distributed_spec(environ={"TPU_WORKER_HOSTNAMES": "w0,w1"}).cluster == "tpu"
  assert parallel.distributed_spec(environ={"DLJAX_DISTRIBUTED": "auto"}).cluster == "auto"


@pytest.mark.parametrize("kwargs,needle", [
    ({"coordinator": "nohostport", "num_processes": 2, "process_id": 0}, "expected HOST:PORT"),
    ({"coordinator": "h:1"}, "--num_processes and --process_id"),
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 2}, "0 <= process_id < num_processes"),
    ({"num_processes": 2, "process_id": 0}, "need a coordinator"),
    ({"coordinator": "h:1", "num_processes": 2, "process_id": 0, "timeout_s": 0}, "--init_timeout=0"),
])
def test_bad_job_settings_are_user_errors(kwargs, needle):
  with pytest.raises(UserError) as e:
    parallel.distributed_spec(environ={}, **kwargs)
  assert needle in str(e.value)
