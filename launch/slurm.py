#!/usr/bin/env python3
"""SLURM launcher: an sbatch script with one task per node and GPUS_PER_NODE GPUs per task; srun starts
the tasks and dljax joins them into one jax job from SLURM's environment (no addresses to pass).

  python launch/slurm.py --nodes 2 --gpus_per_node 8 -- run fashion_mnist_cnn --workdir /shared/runs/fm
  python launch/slurm.py --nodes 2 --gpus_per_node 8 --dry_run -- run fashion_mnist_cnn --workdir /shared/runs/fm

The workdir must be on a filesystem every node sees (orbax writes checkpoints from all processes).
--dry_run prints the script (stdout; `sbatch` would read it on stdin); otherwise the script goes to `sbatch` on stdin.
"""

import shlex
import subprocess
import sys

from _common import Parser, main_wrapper, split_argv

from dljax.sweeps import clusters


def main(argv: list[str]) -> int:
  options, dljax_args = split_argv(argv)
  parser = Parser(prog="launch/slurm.py", description=__doc__)
  parser.add_argument("--nodes", type=int, required=True)
  parser.add_argument("--gpus_per_node", type=int, required=True)
  parser.add_argument("--time", default="01:00:00")
  parser.add_argument("--job_name", default="dljax")
  parser.add_argument("--partition")
  parser.add_argument("--cpus_per_task", type=int)
  parser.add_argument("--python", default="python3", help="the interpreter on the nodes")
  parser.add_argument("--setup", help="a shell line run before srun, e.g. 'source ~/venv/bin/activate'")
  parser.add_argument("--deterministic", action="store_true", help="XLA_FLAGS += --xla_gpu_deterministic_ops=true")
  parser.add_argument("--dry_run", action="store_true", help="print the script, submit nothing")
  args = parser.parse_args(options)
  script = clusters.slurm_script(dljax_args, nodes=args.nodes, gpus_per_node=args.gpus_per_node, time=args.time,
                                 job_name=args.job_name, partition=args.partition, cpus_per_task=args.cpus_per_task,
                                 python=args.python, deterministic=args.deterministic, setup=args.setup)
  if args.dry_run:  # the script on stdout (`> job.sh && sbatch job.sh` submits it), how it goes on stderr
    print("launch/slurm.py: would submit this script with `sbatch` (on stdin):", file=sys.stderr)
    print(script, end="")
    return 0
  try:
    return subprocess.run(["sbatch"], input=script, text=True).returncode
  except FileNotFoundError:
    print("launch/slurm.py: error: sbatch not found: run this on a SLURM login node "
          f"(or use --dry_run to see the script); it would submit:\n{shlex.quote(script)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main_wrapper("launch/slurm.py", main))
