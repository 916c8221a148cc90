"""Errors the user can fix."""


class UserError(Exception):
  """Bad input from the user; the CLI prints str(e) as one line on stderr and exits 2."""
