"""orbax checkpoints of (state pytree, JSON host state), restored against an abstract target carrying
the current mesh's shardings, so a checkpoint written on one device count restores on another."""

import os
import shutil
import sys

import jax
import orbax.checkpoint as ocp

from dljax.errors import UserError


def abstract_like(state):
  """ShapeDtypeStructs with the shardings of `state`: the restore target."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)


class Checkpointer:

  def __init__(self, directory: str, max_to_keep: int = 3, *, read_only: bool = False):
    """`read_only` (`dljax eval`): nothing is created, saved or moved; an unreadable checkpoint is skipped."""
    self.directory, self.read_only = directory, read_only
    self._manager = ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=not read_only, read_only=read_only,
                                             enable_async_checkpointing=False))

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state, host_state: dict) -> None:
    self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     host=ocp.args.JsonSave(host_state)), force=True)
    self._manager.wait_until_finished()

  def restore_latest(self, abstract_state):
    """(step, state, host_state) of the newest readable checkpoint, or None if there is none.

    An unreadable newest checkpoint (a crash mid-write, a corrupted disk) is moved aside to
    `checkpoints_unreadable/STEP` (kept for inspection, out of the way of the next save at that
    step) with a warning, and the previous one is used.
    """
    steps = self.all_steps()
    for step in reversed(steps):
      try:
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), host=ocp.args.JsonRestore()))
        return step, restored["state"], restored["host"]
      except Exception as e:  # orbax raises many types for a bad checkpoint; all mean "unreadable"
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if self.read_only:
          print(f"warning: checkpoint {step} in {self.directory} is unreadable ({message[:200]}); "
                "trying an older one (left in place: read-only)", file=sys.stderr, flush=True)
          continue
        aside = self._move_aside(step)
        print(f"warning: checkpoint {step} in {self.directory} is unreadable ({message[:200]}); "
              f"moved to {aside}, falling back to an older one", file=sys.stderr, flush=True)
    if steps:
      raise UserError(f"no readable checkpoint among steps {steps} in {self.directory}: the config may not "
                      "match the one that wrote them; use a fresh --workdir or delete that directory")
    return None

  def _move_aside(self, step: int) -> str:
    target = os.path.join(os.path.dirname(os.path.normpath(self.directory)), "checkpoints_unreadable", str(step))
    suffix = 0
    while os.path.exists(target + (f".{suffix}" if suffix else "")):
      suffix += 1
    target += f".{suffix}" if suffix else ""
    if jax.process_index() == 0:
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
    self._manager.reload()
    return target

  def close(self):
    self._manager.close()
