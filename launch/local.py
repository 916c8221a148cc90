#!/usr/bin/env python3
"""Local multi-process launcher: one dljax job as N processes on this machine (jax.distributed over
localhost; CPU processes exchange collectives through gloo).

  python launch/local.py --num_processes 2 -- run digits_mlp --workdir runs/mlp2 --config.batch_size=64
  python launch/local.py --num_processes 2 --dry_run -- run digits_mlp --workdir runs/mlp2   # print only

Each process gets one CPU device unless XLA_FLAGS says otherwise; process 0 serves the coordinator on
localhost:--port and alone writes the workdir's metrics; orbax writes the checkpoints collectively.
Exits with the first non-zero exit code of the processes (0 when all succeed).
"""

import os
import shlex
import subprocess
import sys
import threading

from _common import Parser, main_wrapper, split_argv

from dljax.sweeps import clusters


def _forward(prefix: str, stream, out) -> None:
  for line in stream:
    out.write(f"[{prefix}] {line}")
    out.flush()


def main(argv: list[str]) -> int:
  options, dljax_args = split_argv(argv)
  parser = Parser(prog="launch/local.py", description=__doc__)
  parser.add_argument("--num_processes", type=int, default=2)
  parser.add_argument("--port", type=int, default=12355)
  parser.add_argument("--init_timeout", type=int, default=60, help="seconds a process waits for the others")
  parser.add_argument("--deterministic", action="store_true", help="XLA_FLAGS += --xla_gpu_deterministic_ops=true")
  parser.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  args = parser.parse_args(options)
  commands = clusters.local_commands(args.num_processes, args.port, dljax_args, init_timeout=args.init_timeout)
  env = dict(os.environ)
  flags = clusters.xla_flags(env.get("XLA_FLAGS", ""), args.deterministic)
  prefix = f"XLA_FLAGS={shlex.quote(flags)} " if flags != env.get("XLA_FLAGS", "") else ""
  if args.dry_run:
    for command in commands:
      print(prefix + shlex.join(command) + " &")
    print("wait")
    return 0
  env["XLA_FLAGS"] = flags
  procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for c in commands]
  threads = [threading.Thread(target=_forward, args=(str(i), p.stdout, sys.stdout)) for i, p in enumerate(procs)]
  for t in threads:
    t.start()
  codes = [p.wait() for p in procs]
  for t in threads:
    t.join()
  return next((c for c in codes if c != 0), 0)


if __name__ == "__main__":
  sys.exit(main_wrapper("launch/local.py", main))
