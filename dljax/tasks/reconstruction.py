"""Reconstruction (autoencoders) and one-class anomaly detection: the two tasks, and their losses and
metrics as pure functions of arrays."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dljax.errors import UserError
from dljax.nn.autoencoder import AUTOENCODERS
from dljax.tasks import base


def example_errors(reconstruction, x):
  """Per-example mean squared error (1/P)·Σ_pixels (x − x̂)², shape (N,): the loss and the anomaly score."""
  diff = (reconstruction - x).reshape((x.shape[0], -1))
  return jnp.mean(diff * diff, axis=1)


def eval_sums(reconstruction, x, mask):
  """Per-batch sums that add up over the test set; `mask` is 0 on padding rows."""
  errors = example_errors(reconstruction, x)
  return {"count": mask.sum(), "squared_error": (errors * mask).sum()}


def metrics_from_sums(sums) -> dict[str, float]:
  """mse, and PSNR of the mean squared error for images in [0, 1]: 10·log10(1 / mse)."""
  mse = float(sums["squared_error"]) / float(sums["count"])
  return {"mse": mse, "psnr_db": float(10.0 * np.log10(1.0 / mse)) if mse > 0 else float("inf")}


def auroc(scores, is_positive) -> float:
  """Area under the ROC curve of `scores` ranking positives above negatives, ties counted half:
  the Mann–Whitney statistic AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋), R₊ the sum of the positives' ranks
  (average ranks among ties), in float64 on the host."""
  scores = np.asarray(scores, np.float64)
  positive = np.asarray(is_positive, bool)
  n_pos, n_neg = int(positive.sum()), int((~positive).sum())
  if n_pos == 0 or n_neg == 0:
    raise ValueError(f"AUROC needs both classes; got {n_pos} positives and {n_neg} negatives")
  order = np.argsort(scores, kind="mergesort")
  sorted_scores = scores[order]
  ranks = np.empty(len(scores), np.float64)
  # Ties share the mean of the ranks they span: the ranks of a run i..j (1-based) average to (i+j)/2.
  starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
  ends = np.r_[starts[1:], len(scores)]
  ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
  return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def images(x: np.ndarray) -> np.ndarray:
  """(N, H, W) or (N, H, W, C) float images; a channel axis is added for grey ones."""
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4:
    raise UserError(f"autoencoders take images (N, H, W[, C]); this data has rows of shape {x.shape[1:]}")
  return x.astype(np.float32)


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray, title: str):
  """The originals on the top row and their reconstructions below (grey images), in memory."""
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  n = len(originals)
  fig = Figure(figsize=(1.2 * n, 2.7))
  axes = fig.subplots(2, n, squeeze=False)
  for i in range(n):
    for row, shown in enumerate((originals, reconstructions)):
      axes[row, i].imshow(np.squeeze(shown[i]), cmap="gray", vmin=0.0, vmax=1.0)
      axes[row, i].axis("off")
  axes[0, 0].set_title("input", fontsize=8, loc="left")
  axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  return fig


class Reconstruction(base.Task):
  """x -> x̂ on images (labels unused in training): loss (1/P)·‖x − x̂‖²; test MSE and PSNR, and a figure
  of the first test image of each class (up to 10) with its reconstruction."""

  models = AUTOENCODERS

  def arrays(self, data):
    return {"x": images(data.train_x)}, {"x": images(data.test_x), "y": data.test_y}

  def model_kwargs(self, data):
    return {"image_shape": images(data.train_x[:1]).shape[1:]}

  def example_losses(self, outputs, batch):
    return example_errors(outputs, batch["x"])

  def eval_outputs(self, outputs, batch):
    return eval_sums(outputs, batch["x"], batch["mask"])

  def metrics(self, sums):
    return metrics_from_sums(sums)

  def evaluate(self, results, context):
    evaluation = super().evaluate(results, context)
    y = context.test["y"]
    picks = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)[:10]]
    originals = context.test["x"][picks]
    figure = reconstruction_figure(originals, context.predict(0, originals),
                                   f"{context.config.experiment}, step {context.step}")
    return base.Evaluation(evaluation.metrics, (base.Figure(f"reconstructions_step_{context.step}", figure),))


class OneClassAnomaly(Reconstruction):
  """The one-class protocol: for each class c of `config.normal_classes`, an autoencoder trained on the
  training images of class c only (one member per class, vmapped); every test image is scored by its
  reconstruction error under each, and the AUROC of "classes other than c are anomalies" is reported per
  class and averaged. Baselines on the same pixels: PCA reconstruction error (dljax.classic.pca, fitted
  on class c) and scikit-learn's IsolationForest (fitted on class c). Table anomaly_auroc: AUROC per
  class and method, and the mean."""

  eval_reduction = "concat"

  def __init__(self):
    self._baselines = None  # fitted once per trainer: every evaluation scores the same test images

  def arrays(self, data):
    if data.num_classes is None:
      raise UserError(f"{data.name} has real-valued targets; the one-class protocol needs class labels")
    return {"x": images(data.train_x)}, {"x": images(data.test_x), "y": data.test_y}

  def members(self, config, data):
    classes = tuple(int(c) for c in config.normal_classes)
    present = set(np.unique(data.train_y).tolist())
    if not classes or any(c not in present for c in classes) or len(set(classes)) != len(classes):
      raise UserError(f"--config.normal_classes={config.normal_classes}: give distinct labels among "
                      f"{sorted(present)}")
    for c in classes:
      if (data.test_y == c).all() or not (data.test_y == c).any():
        raise UserError(f"class {c}: the test split needs both class-{c} and other images; raise data.max_test")
    rows = [np.flatnonzero(data.train_y == c) for c in classes]
    per_class = min(len(r) for r in rows)  # equal for Fashion-MNIST (6,000); a subset keeps the first rows
    return tuple(base.Member(f"class={c}", int(config.seed), r[:per_class], init_fold=c)
                 for c, r in zip(classes, rows))

  def eval_outputs(self, outputs, batch):
    return {"error": example_errors(outputs, batch["x"])}

  def evaluate(self, results, context):
    classes = [m.init_fold for m in context.members]
    y = context.test["y"]
    scores = {"autoencoder": [r["error"] for r in results]}
    if context.config.baselines.enabled:
      if self._baselines is None:
        self._baselines = baseline_scores(context)
      scores.update(self._baselines)
    table = {method: [auroc(s[k], y != c) for k, c in enumerate(classes)] for method, s in scores.items()}
    metrics = {f"auroc_{method}": float(np.mean(values)) for method, values in table.items()}
    metrics.update({f"auroc_autoencoder_class_{c}": table["autoencoder"][k] for k, c in enumerate(classes)})
    methods = tuple(table)
    rows = [(str(c), *(table[m][k] for m in methods)) for k, c in enumerate(classes)]
    rows.append(("mean", *(float(np.mean(table[m])) for m in methods)))
    title = (f"One-class AUROC on {context.config.data.source} (step {context.step}; "
             "other classes are anomalies)")
    return base.Evaluation(metrics, (base.Table("anomaly_auroc", ("normal_class", *methods), tuple(rows), title),))


def baseline_scores(context: base.EvalContext) -> dict[str, list[np.ndarray]]:
  """{"pca": K × (N_test,), "iforest": K × (N_test,)} anomaly scores, each fitted on one class's rows."""
  from sklearn.ensemble import IsolationForest  # pylint: disable=import-outside-toplevel
  from dljax.classic import pca  # pylint: disable=import-outside-toplevel
  cfg, seed = context.config.baselines, int(context.config.seed)
  train_x, test_x = context.train["x"], context.test["x"]
  flat_test = test_x.reshape(len(test_x), -1)
  pca_config = pca.default_config(n_components=cfg.pca_components, solver=cfg.pca_solver)
  fit = jax.jit(functools.partial(pca.fit, config=pca_config))
  error = jax.jit(pca.reconstruction_error)
  scores = {"pca": [], "iforest": []}
  for member in context.members:
    c, flat_train = member.init_fold, train_x[member.rows].reshape(len(member.rows), -1)
    pca.check_inputs(flat_train, pca_config)
    params = fit(jax.random.fold_in(jax.random.key(seed), c), flat_train)
    scores["pca"].append(np.asarray(error(params, flat_test)))
    forest = IsolationForest(n_estimators=cfg.iforest_estimators, random_state=seed + c)
    scores["iforest"].append(-forest.fit(flat_train).score_samples(flat_test))  # higher = more anomalous
  return scores
