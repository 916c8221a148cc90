"""An experiment whose arms need different trainers (e.g. a classical learner against a network): the
config holds one complete config per arm in `methods` and names the one to run in `method`; fields the
arms share are FieldReferences to top-level fields, so `--config.seed=3` reaches every arm."""

import ml_collections

from dljax.errors import UserError
from dljax.train import trainers


def chosen_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The arm's own config, references resolved, with the experiment's name and kind."""
  if config.method not in config.methods:
    raise UserError(f"--config.method={config.method}: choose one of {', '.join(config.methods)}")
  arm = config.methods[config.method].copy_and_resolve_references()
  with arm.unlocked():
    arm.experiment, arm.kind = config.experiment, config.kind
  arm.lock()
  return arm


class ChoiceTrainer(trainers.Trainer):
  """The trainer of the chosen arm, whole: same state, checkpoints and metrics as running the arm alone."""

  def __init__(self, config, mesh, key):
    self.arm = trainers.make_trainer(chosen_config(config), mesh, key)
    self.num_steps, self.examples_per_step = self.arm.num_steps, self.arm.examples_per_step
    self.loss_metric, self.source_files = self.arm.loss_metric, self.arm.source_files

  def init_state(self):
    return self.arm.init_state()

  def host_state(self):
    return self.arm.host_state()

  def restore_host_state(self, host_state):
    self.arm.restore_host_state(host_state)

  def train(self, state, num_steps):
    return self.arm.train(state, num_steps)

  def evaluate(self, state):
    return self.arm.evaluate(state)
