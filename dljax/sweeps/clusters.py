"""Launch commands for one `dljax` job on several processes: on this machine, on a SLURM cluster
(one task per node, GPUs per node as a parameter) and on a Cloud TPU VM slice (every worker through
`gcloud compute tpus tpu-vm ssh --worker=all`). The scripts in the top-level launch/ directory are thin
wrappers of these functions; each has `--dry_run`, which prints exactly what it would run.

How the processes find each other: locally each gets --coordinator/--num_processes/--process_id;
under SLURM every task reads SLURM_* (dljax.parallel detects a step of more than one task); on a TPU
VM slice DLJAX_DISTRIBUTED=auto makes jax read the slice's metadata itself.
"""

import shlex
import sys

from dljax.errors import UserError
from dljax.sweeps.sweep import DETERMINISTIC_XLA_FLAG
from dljax.train.workdir import resolve


def _check_dljax_args(args: list[str]) -> None:
  if not args or args[0] not in ("run", "eval", "sweep"):
    raise UserError("give the dljax command after `--`, e.g. -- run digits_mlp --workdir runs/x")
  if any(a.startswith(("--coordinator", "--num_processes", "--process_id")) for a in args):
    raise UserError("the launcher sets --coordinator, --num_processes and --process_id itself; drop them")


def absolute_workdir(args: list[str]) -> list[str]:
  """`args` with its --workdir made absolute here, so every process (and a SLURM job started from
  another directory) writes to the same place."""
  out = list(args)
  for i, arg in enumerate(out):
    if arg == "--workdir" and i + 1 < len(out):
      out[i + 1] = resolve(out[i + 1])
    elif arg.startswith("--workdir="):
      out[i] = "--workdir=" + resolve(arg[len("--workdir="):])
  return out


def _positive(value: int, flag: str) -> None:
  if value < 1:
    raise UserError(f"{flag}={value}: give an integer >= 1")


def xla_flags(existing: str, deterministic: bool) -> str:
  if deterministic and DETERMINISTIC_XLA_FLAG not in existing:
    return (existing + " " + DETERMINISTIC_XLA_FLAG).strip()
  return existing


def local_commands(num_processes: int, port: int, dljax_args: list[str], *, python: str = sys.executable,
                   init_timeout: int = 60) -> list[list[str]]:
  """One command per process: process i of N joins the coordinator that process 0 serves on localhost:PORT."""
  _positive(num_processes, "--num_processes")
  _check_dljax_args(dljax_args)
  if not 1 <= port <= 65535:
    raise UserError(f"--port={port}: give a TCP port in 1..65535")
  if dljax_args[0] == "sweep":
    raise UserError("the local multi-process launcher runs one job (run or eval); a sweep launches its own processes")
  dljax_args = absolute_workdir(dljax_args)
  return [[python, "-m", "dljax.cli", *dljax_args, "--coordinator", f"localhost:{port}",
           "--num_processes", str(num_processes), "--process_id", str(i), "--init_timeout", str(init_timeout)]
          for i in range(num_processes)]


def slurm_script(dljax_args: list[str], *, nodes: int, gpus_per_node: int, time: str = "01:00:00",
                 job_name: str = "dljax", partition: str | None = None, cpus_per_task: int | None = None,
                 python: str = "python3", deterministic: bool = False, setup: str | None = None) -> str:
  """An sbatch script: one task per node, each task seeing its node's `gpus_per_node` GPUs; `srun`
  starts the tasks and dljax.parallel joins them into one jax job from SLURM's environment."""
  _positive(nodes, "--nodes")
  if gpus_per_node < 0:
    raise UserError(f"--gpus_per_node={gpus_per_node}: give 0 (CPU nodes) or more")
  _check_dljax_args(dljax_args)
  dljax_args = absolute_workdir(dljax_args)
  lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name}", f"#SBATCH --nodes={nodes}",
           "#SBATCH --ntasks-per-node=1", f"#SBATCH --time={time}", f"#SBATCH --output={job_name}-%j.out"]
  if gpus_per_node:
    lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
  if cpus_per_task:
    lines.append(f"#SBATCH --cpus-per-task={cpus_per_task}")
  if partition:
    lines.append(f"#SBATCH --partition={partition}")
  lines += ["set -euo pipefail"]
  if setup:
    lines.append(setup)
  if deterministic:
    lines.append(f'export XLA_FLAGS="${{XLA_FLAGS:-}} {DETERMINISTIC_XLA_FLAG}"')
  lines.append("srun " + shlex.join([python, "-m", "dljax.cli", *dljax_args]))
  return "\n".join(lines) + "\n"


def tpu_vm_command(dljax_args: list[str], *, tpu: str, zone: str, project: str | None = None,
                   directory: str = "~/dljax", python: str = "python3", deterministic: bool = False) -> list[str]:
  """`gcloud compute tpus tpu-vm ssh TPU --worker=all --command ...`: the same dljax command on every
  worker of the slice, from `directory` (the project's checkout on each worker)."""
  _check_dljax_args(dljax_args)
  if not tpu or not zone:
    raise UserError("give the TPU VM's name and zone: --tpu NAME --zone ZONE")
  env = "DLJAX_DISTRIBUTED=auto"
  if deterministic:  # TPUs are deterministic already; kept so one flag means the same on every launcher
    env += f" XLA_FLAGS={shlex.quote(DETERMINISTIC_XLA_FLAG)}"
  remote = f"cd {directory} && {env} " + shlex.join([python, "-m", "dljax.cli", *dljax_args])
  command = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", tpu, f"--zone={zone}"]
  if project:
    command.append(f"--project={project}")
  return command + ["--worker=all", f"--command={remote}"]
