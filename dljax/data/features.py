"""Hand-made image features, computed once per set of source files and cached beside the data dir.

  fashion_mnist_hog   HOG descriptors of the Fashion-MNIST images (scikit-image: 9 orientations, 7x7-pixel
                      cells, 2x2-cell blocks, L2-Hys; 324 numbers per image), labels unchanged.
"""

import dataclasses
import os

import numpy as np

HOG = {"orientations": 9, "pixels_per_cell": (7, 7), "cells_per_block": (2, 2), "block_norm": "L2-Hys"}


def hog_features(images: np.ndarray) -> np.ndarray:
  """(N, 28, 28[, 1]) images in [0, 1] -> (N, 324) float32 HOG descriptors."""
  from skimage.feature import hog  # pylint: disable=import-outside-toplevel
  images = images.reshape(len(images), 28, 28)
  return np.stack([hog(im, feature_vector=True, **HOG) for im in images]).astype(np.float32)


def _save_npz(path: str, **arrays) -> None:
  """Atomic: parallel sweep processes may write the same cache file; a reader never sees half of one."""
  tmp = f"{path}.tmp{os.getpid()}.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def cached_hog(images, cache_dir: str):
  """(train, test) HOG features of a dataset, computed on first use into cache_dir/hog.npz."""
  path = os.path.join(cache_dir, "hog.npz")
  if not os.path.exists(path):
    os.makedirs(cache_dir, exist_ok=True)
    train, test = images()
    _save_npz(path, train=hog_features(train), test=hog_features(test))
  with np.load(path) as f:
    return f["train"], f["test"]


def with_hog(data, cache_dir: str):
  """The dataset with its images replaced by their HOG descriptors (cached)."""
  train, test = cached_hog(lambda: (data.train_x, data.test_x), cache_dir)
  return dataclasses.replace(data, train_x=train, test_x=test, name=data.name + "_hog")
