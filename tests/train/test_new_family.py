"""A new family is one task + one model + one config: here sequence labelling (tag every token of a
variable-length sequence with the parity of the tokens so far), plugged in from this file and trained by the
real CLI with checkpoints, exact resume and --vmap_seeds. The data are generated: random bit strings,
written as an npz the run reads like any user's file."""

import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from dljax import cli, registry, tasks
from dljax.tasks import base
from dljax.train import loop
from tests.train.test_loop import _params

LENGTH, PAD = 12, 2  # tokens 0/1, 2 pads


class Tagger(nn.Module):
  """Embedding -> GRU over time -> a per-token linear head: (B, T) tokens -> (B, T, num_tags) logits."""
  num_tags: int
  hidden: int = 32

  @nn.compact
  def __call__(self, tokens, train: bool = False):
    del train
    h = nn.Embed(3, 8)(tokens)
    h = nn.RNN(nn.GRUCell(self.hidden))(h)
    return nn.Dense(self.num_tags)(h)


class SequenceLabelling(base.Task):
  """Per-token tags of padded sequences: the loss and the accuracy count real tokens only (mask)."""

  models = {"tagger": Tagger}

  def arrays(self, data):
    def fields(x):
      tokens = x.astype(np.int32)
      mask = (tokens != PAD).astype(np.float32)
      tags = np.cumsum(np.where(tokens == 1, 1, 0), axis=1) % 2  # running parity: the label of each token
      return {"x": tokens, "tags": tags.astype(np.int32), "token_mask": mask}
    return fields(data.train_x), fields(data.test_x)

  def model_kwargs(self, data):
    return {"num_tags": 2}

  def example_losses(self, outputs, batch):
    per_token = optax.softmax_cross_entropy_with_integer_labels(outputs, batch["tags"])
    return (per_token * batch["token_mask"]).sum(1) / batch["token_mask"].sum(1)

  def train_metrics(self, outputs, batch):
    hits = (outputs.argmax(-1) == batch["tags"]) * batch["token_mask"]
    return {"token_accuracy": hits.sum() / batch["token_mask"].sum()}

  def eval_outputs(self, outputs, batch):
    tokens = batch["token_mask"] * batch["mask"][:, None]
    return {"tokens": tokens.sum(), "correct": ((outputs.argmax(-1) == batch["tags"]) * tokens).sum()}

  def metrics(self, sums):
    return {"token_accuracy": float(sums["correct"]) / float(sums["tokens"])}


def _write_data(path):
  rng = np.random.RandomState(0)
  x = rng.randint(0, 2, (600, LENGTH))
  lengths = rng.randint(3, LENGTH + 1, 600)
  x[np.arange(LENGTH)[None, :] >= lengths[:, None]] = PAD
  np.savez(path, x_train=x[:480], y_train=np.zeros(480, np.int64), x_test=x[480:], y_test=np.zeros(120, np.int64))


@pytest.fixture()
def toy_tagging(tmp_path, monkeypatch):
  data = str(tmp_path / "parity.npz")
  _write_data(data)

  def get_config():
    """Run: dljax run toy_tagging --workdir /tmp/toy_tagging"""
    c = ml_collections.ConfigDict()
    c.trainer, c.task, c.seed = "minibatch", "sequence_labelling", 0
    c.data = ml_collections.ConfigDict({"source": f"npz:{data}", "max_train": None, "max_test": None,
                                        "on_device": "auto"})
    c.data.max_train = ml_collections.FieldReference(None, field_type=int)
    c.data.max_test = ml_collections.FieldReference(None, field_type=int)
    c.model = ml_collections.ConfigDict({"name": "tagger", "hidden": 32})
    c.optimizer = ml_collections.ConfigDict({"name": "adam", "learning_rate": 1e-2, "schedule": "constant",
                                             "warmup_steps": 0, "momentum": 0.9, "nesterov": False,
                                             "weight_decay": 0.0})
    c.optimizer.grad_clip_norm = ml_collections.FieldReference(None, field_type=float)
    c.batch_size, c.eval_batch_size, c.num_epochs = 32, 64, 20
    c.num_train_steps = ml_collections.FieldReference(None, field_type=int)
    c.log_every_steps, c.eval_every_steps, c.checkpoint_every_steps, c.keep_checkpoints = 25, 0, 100, 2
    return c

  registry.all_experiments()
  monkeypatch.setitem(registry._REGISTRY, "toy_tagging", registry.Experiment(  # pylint: disable=protected-access
      "toy_tagging", "supervised", "generated parity strings", "sequence labelling (test)", get_config))
  monkeypatch.setitem(tasks.TASKS, "sequence_labelling", SequenceLabelling)
  return data


def test_sequence_labelling_trains_resumes_and_vmaps_seeds_through_the_cli(toy_tagging, tmp_path, capsys):
  straight = str(tmp_path / "straight")
  assert cli.main(["run", "toy_tagging", "--workdir", straight]) == 0
  summary = json.load(open(os.path.join(straight, "summary.json")))
  # Running parity needs memory of the whole prefix: a per-token guess gets 0.5, the GRU learns it.
  assert summary["steps"] == 300 and summary["metrics"]["token_accuracy"] > 0.95, summary

  # Interrupted at step 100 (a checkpoint), then the same command resumes: bit for bit the straight run.
  resumed = str(tmp_path / "resumed")
  config = registry.get_config("toy_tagging")
  assert loop.train_and_evaluate(config, resumed, stop_at_step=100)["status"] == "paused"
  assert cli.main(["run", "toy_tagging", "--workdir", resumed]) == 0
  a, b = _params(straight, 300), _params(resumed, 300)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  assert json.load(open(os.path.join(resumed, "summary.json")))["metrics"] == summary["metrics"]

  # Two seeds as one vmapped program: seed 0 is the straight run (float32 rounding of batched kernels).
  vmapped = str(tmp_path / "vmapped")
  assert cli.main(["run", "toy_tagging", "--workdir", vmapped, "--vmap_seeds", "0,1"]) == 0
  seed0 = json.load(open(os.path.join(vmapped, "seed=0", "summary.json")))["metrics"]["token_accuracy"]
  seed1 = json.load(open(os.path.join(vmapped, "seed=1", "summary.json")))["metrics"]["token_accuracy"]
  assert seed0 == pytest.approx(summary["metrics"]["token_accuracy"], abs=2 / 120 / LENGTH)
  assert seed1 > 0.95
  capsys.readouterr()


def test_bad_model_name_of_the_new_family_is_a_one_line_error(toy_tagging, tmp_path, capsys):
  code = cli.main(["run", "toy_tagging", "--workdir", str(tmp_path / "w"), "--config.model.name=lstm"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and "choose one of tagger" in err and "\n" not in err, err
