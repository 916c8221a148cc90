"""Shared by the launch scripts: `SCRIPT [options] -- DLJAX ARGS`, errors as one line and exit 2."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from dljax.errors import UserError  # noqa: E402


class Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UserError(message)


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
  """(launcher options, dljax arguments after `--`)."""
  if "--" not in argv:
    return argv, []
  i = argv.index("--")
  return argv[:i], argv[i + 1:]


def main_wrapper(prog: str, main) -> int:
  try:
    return main(sys.argv[1:])
  except UserError as e:
    print(f"{prog}: error: {e}", file=sys.stderr)
    return 2
