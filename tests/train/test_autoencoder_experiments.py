"""The autoencoder experiments through the loop on a slice of Fashion-MNIST: outputs, exact resume,
the vmapped one-class models against separate runs, AUROC against scikit-learn, the written plot and table."""

import csv

import jax
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dljax import config as config_lib
from dljax import parallel
from dljax import registry
from dljax.errors import UserError
from dljax.train import checkpoint, loop, minibatch
from tests.train.test_loop import _params, _train_records

TINY = ["data.max_train=400", "data.max_test=120", "batch_size=16", "eval_batch_size=64", "log_every_steps=2",
        "checkpoint_every_steps=0"]


def _config(name, *overrides):
  return config_lib.apply_overrides(registry.get_config(name), TINY + list(overrides))


def test_autoencoder_resumes_bit_for_bit_and_writes_its_plot(tmp_path):
  config = _config("fashion_mnist_autoencoder", "num_train_steps=4", "model.widths=(4, 8)")
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  summary = loop.train_and_evaluate(config, straight)
  assert summary["status"] == "done" and set(summary["metrics"]) == {"mse", "psnr_db"}
  assert 0.0 < summary["metrics"]["mse"] < 0.25
  assert loop.train_and_evaluate(config, resumed, stop_at_step=2)["status"] == "paused"
  loop.train_and_evaluate(config, resumed)
  a, b = _params(straight, 4), _params(resumed, 4)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  assert _train_records(straight) == _train_records(resumed)
  assert (tmp_path / "resumed" / "reconstructions_step_4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_class_models_equal_separate_runs_and_auroc_equals_sklearn(tmp_path):
  common = ("num_train_steps=4", "baselines.iforest_estimators=10", "baselines.pca_components=8")
  both = loop.train_and_evaluate(_config("fashion_mnist_anomaly", "normal_classes=(3, 7)", *common),
                                 str(tmp_path / "both"))
  alone = loop.train_and_evaluate(_config("fashion_mnist_anomaly", "normal_classes=(7,)", *common),
                                  str(tmp_path / "alone"))
  m = both["metrics"]
  # Model 7 of the vmapped pair trains on the same batches from the same initial key as a class-7 run alone.
  assert m["auroc_autoencoder_class_7"] == pytest.approx(alone["metrics"]["auroc_autoencoder_class_7"], abs=2e-3)
  assert m["auroc_autoencoder"] == pytest.approx((m["auroc_autoencoder_class_3"] + m["auroc_autoencoder_class_7"]) / 2)
  with open(tmp_path / "both" / "anomaly_auroc.csv") as f:
    table = list(csv.DictReader(f))
  assert [row["normal_class"] for row in table] == ["3", "7", "mean"]
  assert float(table[-1]["pca"]) == pytest.approx(m["auroc_pca"], abs=1e-6)
  assert float(table[-1]["iforest"]) == pytest.approx(m["auroc_iforest"], abs=1e-6)
  assert "| mean |" in (tmp_path / "both" / "anomaly_auroc.md").read_text()

  # The scores behind the AUROC, recomputed from the restored checkpoint and ranked by scikit-learn.
  config = _config("fashion_mnist_anomaly", "normal_classes=(3, 7)", *common)
  trainer = minibatch.MinibatchTrainer(config, parallel.make_mesh(), jax.random.key(config.seed))
  checkpointer = checkpoint.Checkpointer(str(tmp_path / "both" / "checkpoints"))
  _, state, _ = checkpointer.restore_latest(checkpoint.abstract_like(trainer.init_state()))
  checkpointer.close()
  errors = [r["error"] for r in trainer.eval_results(state)]
  assert [e.shape for e in errors] == [(120,), (120,)]
  for k, c in enumerate((3, 7)):
    assert m[f"auroc_autoencoder_class_{c}"] == pytest.approx(
        roc_auc_score(trainer.test_arrays["y"] != c, errors[k]), abs=1e-12)


@pytest.mark.parametrize("override,message", [
    ("normal_classes=(3, 3)", "distinct labels"),
    ("normal_classes=(11,)", "distinct labels"),
    ("model.name=vae", "choose one of dense_ae, conv_ae"),
])
def test_bad_one_class_configs_are_user_errors(tmp_path, override, message):
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(_config("fashion_mnist_anomaly", override), str(tmp_path))

