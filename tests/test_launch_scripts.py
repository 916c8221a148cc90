"""launch/ scripts: --dry_run prints exactly the commands (local processes, sbatch script, gcloud)."""

import os
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = ["run", "digits_mlp", "--workdir", "/shared/runs/mlp", "--config.batch_size=64"]


def _script(name, *args):
  return subprocess.run([sys.executable, os.path.join(REPO, "launch", name), *args], capture_output=True, text=True,
                        cwd=REPO, timeout=120, env={**os.environ, "XLA_FLAGS": ""})


def test_local_dry_run_prints_one_command_per_process():
  result = _script("local.py", "--num_processes", "3", "--port", "4321", "--deterministic", "--dry_run", "--", *JOB)
  assert result.returncode == 0, result.stderr
  python = shlex.quote(sys.executable)
  assert result.stdout.splitlines() == [
      f"XLA_FLAGS=--xla_gpu_deterministic_ops=true {python} -m dljax.cli {shlex.join(JOB)} --coordinator "
      f"localhost:4321 --num_processes 3 --process_id {i} --init_timeout 60 &" for i in range(3)] + ["wait"]


def test_slurm_dry_run_prints_the_sbatch_script():
  result = _script("slurm.py", "--nodes", "4", "--gpus_per_node", "8", "--time", "02:00:00", "--partition", "gpu",
                   "--deterministic", "--dry_run", "--", *JOB)
  assert result.returncode == 0, result.stderr
  assert result.stdout == "\n".join([
      "#!/bin/bash", "#SBATCH --job-name=dljax", "#SBATCH --nodes=4", "#SBATCH --ntasks-per-node=1",
      "#SBATCH --time=02:00:00", "#SBATCH --output=dljax-%j.out", "#SBATCH --gpus-per-node=8",
      "#SBATCH --partition=gpu", "set -euo pipefail",
      'export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=true"',
      "srun python3 -m dljax.cli " + shlex.join(JOB)]) + "\n"
  assert "sbatch" in result.stderr


def test_tpu_vm_dry_run_prints_the_gcloud_command():
  result = _script("tpu_vm.py", "--tpu", "v4-32", "--zone", "us-central2-b", "--project", "p", "--dry_run", "--", *JOB)
  assert result.returncode == 0, result.stderr
  assert shlex.split(result.stdout) == [
      "gcloud", "compute", "tpus", "tpu-vm", "ssh", "v4-32", "--zone=us-central2-b", "--project=p", "--worker=all",
      "--command=cd ~/dljax && DLJAX_DISTRIBUTED=auto python3 -m dljax.cli " + shlex.join(JOB)]


def test_launchers_refuse_bad_input_in_one_line():
  for args, needle in ((["local.py", "--dry_run"], "give the dljax command after `--`"),
                       (["local.py", "--num_processes", "0", "--dry_run", "--", *JOB], "--num_processes=0"),
                       (["slurm.py", "--nodes", "2", "--dry_run", "--", *JOB], "--gpus_per_node"),
                       (["tpu_vm.py", "--tpu", "t", "--zone", "z", "--dry_run", "--", *JOB, "--process_id", "1"],
                        "sets --coordinator")):
    result = _script(*args)
    assert result.returncode == 2 and needle in result.stderr, (args, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_relative_workdir_becomes_absolute_for_every_process(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(REPO, "launch", "local.py"), "--num_processes", "2",
                           "--dry_run", "--", "run", "digits_mlp", "--workdir", "runs/mlp"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, env={**os.environ, "XLA_FLAGS": ""})
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()[:2]
  assert all(f"--workdir {tmp_path}/runs/mlp " in line for line in lines), lines
