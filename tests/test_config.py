import ml_collections
import pytest

from dljax import config as config_lib
from dljax import registry
from dljax.errors import UserError


def _cfg():
  return registry.get_config("digits_cnn")


def test_overrides_are_typed_by_the_field():
  c = config_lib.apply_overrides(_cfg(), ["optimizer.learning_rate=1", "batch_size=32", "data.augment_flip=true",
                                          "model.conv_features=(8,16)", "data.max_train=100",
                                          "optimizer.grad_clip_norm=1.5", "data.source=npz:/x.npz"])
  assert c.optimizer.learning_rate == 1.0 and isinstance(c.optimizer.learning_rate, float)
  assert c.batch_size == 32 and c.data.augment_flip is True
  assert c.model.conv_features == (8, 16)
  assert c.data.max_train == 100 and c.optimizer.grad_clip_norm == 1.5
  assert c.data.source == "npz:/x.npz"


def test_original_config_is_untouched_and_result_locked():
  base = _cfg()
  c = config_lib.apply_overrides(base, ["batch_size=32"])
  assert base.batch_size == 64
  with pytest.raises(AttributeError):
    c.new_field = 1


@pytest.mark.parametrize("override,match", [
    ("optimizer.learnin_rate=1", "did you mean --config.optimizer.learning_rate"),
    ("batch_size=abc", "expected a value of type int"),
    ("batch_size=1.5", "expected a value of type int"),
    ("data.augment_flip=maybe", "expected a bool"),
    ("optimizer=3", "is a group"),
    ("batch_size", "give a value"),
])
def test_bad_overrides(override, match):
  with pytest.raises(UserError, match=match):
    config_lib.apply_overrides(_cfg(), [override])


def test_registry_refuses_duplicates_and_suggests():
  with pytest.raises(ValueError, match="registered twice"):
    registry.register("digits_cnn", kind="supervised", dataset="digits", description="x")(lambda: None)
  with pytest.raises(ValueError, match="kind must be"):
    registry.register("new_one", kind="semi", dataset="digits", description="x")
  with pytest.raises(UserError, match="did you mean digits_cnn"):
    registry.get("digits_cnm")


def test_every_experiment_config_is_complete():
  for exp in registry.all_experiments():
    c = registry.get_config(exp.name)
    assert isinstance(c, ml_collections.ConfigDict)
    assert c.experiment == exp.name and c.kind == exp.kind
    assert "Run: dljax run " + exp.name in exp.doc and "Result:" in exp.doc
