#!/usr/bin/env python3
"""Cloud TPU VM launcher: the same dljax command on every worker of a TPU VM slice through
`gcloud compute tpus tpu-vm ssh NAME --worker=all`; jax joins the workers from the slice's metadata.

  python launch/tpu_vm.py --tpu my-v4-32 --zone us-central2-b -- run fashion_mnist_cnn --workdir gs://bucket/fm
  python launch/tpu_vm.py --tpu my-v4-32 --zone us-central2-b --dry_run -- run fashion_mnist_cnn --workdir /tmp/fm

Each worker needs the project checked out and installed in --directory (e.g. a first call with
`--command 'git clone ... && pip install -e ...'` through gcloud); the workdir should be shared (gs://).
"""

import shlex
import subprocess
import sys

from _common import Parser, main_wrapper, split_argv

from dljax.sweeps import clusters


def main(argv: list[str]) -> int:
  options, dljax_args = split_argv(argv)
  parser = Parser(prog="launch/tpu_vm.py", description=__doc__)
  parser.add_argument("--tpu", required=True, help="the TPU VM's name")
  parser.add_argument("--zone", required=True)
  parser.add_argument("--project")
  parser.add_argument("--directory", default="~/dljax", help="the checkout on every worker")
  parser.add_argument("--python", default="python3")
  parser.add_argument("--deterministic", action="store_true", help="XLA_FLAGS += --xla_gpu_deterministic_ops=true")
  parser.add_argument("--dry_run", action="store_true", help="print the gcloud command, run nothing")
  args = parser.parse_args(options)
  command = clusters.tpu_vm_command(dljax_args, tpu=args.tpu, zone=args.zone, project=args.project,
                                    directory=args.directory, python=args.python, deterministic=args.deterministic)
  if args.dry_run:
    print(shlex.join(command))
    return 0
  try:
    return subprocess.run(command).returncode
  except FileNotFoundError:
    print("launch/tpu_vm.py: error: gcloud not found: install the Google Cloud CLI "
          "(or use --dry_run to see the command)", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main_wrapper("launch/tpu_vm.py", main))
