"""Datasets that come from a Debian package, and small stand-ins the tests write in the same format.

Tests of the code paths (reading, preparing, training) run on the stand-in, so `python -m pytest` passes
on a machine without the package; tests of the real data mark themselves `requires_real(name)` and skip
with the install command. tests/conftest.py writes each stand-in once per session and points the
dataset's directory variable at it, unless the user set that variable (then the user's files are used).
A new Debian-packaged dataset adds one entry to DEBIAN_DATASETS.
"""

import dataclasses
import gzip
import os
from collections.abc import Callable

import numpy as np
import pytest

from dljax.data.builders import fashion_mnist

# IDX header: two zero bytes, 0x08 (unsigned byte), the number of dimensions; then one big-endian
# uint32 per dimension (LeCun's MNIST format, which Fashion-MNIST keeps).
_UBYTE = 0x08


def write_idx(path: str, array: np.ndarray) -> None:
  """`array` (uint8) as a gzipped IDX file; mtime 0 so equal arrays give equal bytes."""
  header = np.array([(_UBYTE << 8) | array.ndim, *array.shape], dtype=">u4")
  with open(path, "wb") as f:
    f.write(gzip.compress(header.tobytes() + np.ascontiguousarray(array, np.uint8).tobytes(), mtime=0))


def class_images(labels: np.ndarray, rng: np.random.Generator, num_classes: int = 10,
                 size: int = 28) -> np.ndarray:
  """uint8 (N, size, size) images, each its class's template (three bright rectangles, drawn once per
  class) shifted by up to a pixel, dimmed at random and noised: a model can learn the classes in a few
  steps, and an autoencoder can reconstruct them."""
  templates = np.zeros((num_classes, size, size), np.float32)
  for template in templates:
    for _ in range(3):
      top, left = rng.integers(2, size - 8, 2)
      height, width = rng.integers(4, 14, 2)
      template[top:top + height, left:left + width] = rng.uniform(120, 255)
  shifts = rng.integers(-1, 2, (len(labels), 2))
  images = np.stack([np.roll(templates[c], tuple(s), axis=(0, 1)) for c, s in zip(labels, shifts)])
  images = images * rng.uniform(0.6, 1.0, (len(labels), 1, 1)) + rng.normal(0, 20, images.shape)
  return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def write_fashion_mnist(directory: str, train_rows: int = 600, test_rows: int = 200, seed: int = 0) -> None:
  """The four Fashion-MNIST IDX files (same names, magic numbers and layout as Debian's), with
  `train_rows` / `test_rows` images of the 10 classes in equal numbers, shuffled."""
  rng = np.random.default_rng(seed)
  for split, rows in (("train", train_rows), ("test", test_rows)):
    labels = rng.permutation(np.arange(rows) % 10).astype(np.uint8)
    images_file, labels_file = fashion_mnist._FILES[split]
    write_idx(os.path.join(directory, images_file), class_images(labels, rng))
    write_idx(os.path.join(directory, labels_file), labels)


@dataclasses.dataclass(frozen=True)
class DebianDataset:
  package: str                       # apt-get install PACKAGE
  real_dir: str                      # where the package puts its files
  env_var: str                       # the variable dljax reads the directory from
  write_fixture: Callable[[str], None]   # writes a small stand-in into an existing directory
  real_files_present: Callable[[str], bool]

  @property
  def skip_reason(self) -> str:
    return f"needs Debian's {self.package} in {self.real_dir}: apt-get install {self.package}"


DEBIAN_DATASETS = {
    "fashion_mnist": DebianDataset(package="dataset-fashion-mnist", real_dir=fashion_mnist.DEFAULT_DIR,
                                   env_var=fashion_mnist.DIR_ENV, write_fixture=write_fashion_mnist,
                                   real_files_present=fashion_mnist.raw_files_present),
}


def has_real(name: str) -> bool:
  dataset = DEBIAN_DATASETS[name]
  return dataset.real_files_present(dataset.real_dir)


def requires_real(name: str) -> pytest.MarkDecorator:
  """Marks a test of the real files of `name`: skipped, with the install command, where they are absent."""
  return pytest.mark.skipif(not has_real(name), reason=DEBIAN_DATASETS[name].skip_reason)
