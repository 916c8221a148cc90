"""Reconstruction (autoencoders) and anomaly detection: losses and metrics as pure functions of arrays."""

import jax.numpy as jnp
import numpy as np


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
