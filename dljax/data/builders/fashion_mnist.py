"""Fashion-MNIST as a TFDS dataset, built from the IDX files of Debian's `dataset-fashion-mnist`."""

import gzip
import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from dljax.errors import UserError

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
DIR_ENV = "DLJAX_FASHION_MNIST_DIR"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
# IDX magic numbers: 0x0000 0x08 (unsigned byte) then the number of dimensions.
_IMAGES_MAGIC, _LABELS_MAGIC = 0x0803, 0x0801


def raw_dir() -> str:
  """Where the IDX files are read from: $DLJAX_FASHION_MNIST_DIR, else the Debian package's directory."""
  return os.environ.get(DIR_ENV) or DEFAULT_DIR


def raw_files_present(directory: str | None = None) -> bool:
  directory = directory or raw_dir()
  return all(os.path.isfile(os.path.join(directory, f)) for pair in _FILES.values() for f in pair)


def file_digests(directory: str | None = None) -> dict[str, str]:
  """{path: sha256} of the four IDX files: which files a prepared copy and a run came from."""
  directory = directory or raw_dir()
  digests = {}
  for pair in _FILES.values():
    for name in pair:
      path = os.path.join(directory, name)
      with open(path, "rb") as f:
        digests[path] = hashlib.file_digest(f, "sha256").hexdigest()
  return digests


def read_idx(path: str, magic: int) -> np.ndarray:
  """The uint8 array of a gzipped IDX file, after checking its magic number and its size."""
  bad = UserError(f"{path} is not a valid IDX file (expected magic {magic:#06x}); "
                  "reinstall it: apt-get install --reinstall dataset-fashion-mnist")
  try:
    with gzip.open(path, "rb") as f:
      raw = f.read()
    header = np.frombuffer(raw, dtype=">u4", count=1 + (magic & 0xFF))  # magic, then one size per dim
  except (OSError, EOFError, ValueError) as e:  # not gzip, truncated, or shorter than the header
    raise bad from e
  shape = tuple(int(d) for d in header[1:])
  if header[0] != magic or len(raw) != 4 * len(header) + int(np.prod(shape)):
    raise bad
  return np.frombuffer(raw, dtype=np.uint8, offset=4 * len(header)).reshape(shape)


def read_split(split: str, directory: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 (N, 28, 28), labels uint8 (N,)) of 'train' or 'test', in file order."""
  directory = directory or raw_dir()
  images_file, labels_file = _FILES[split]
  images = read_idx(os.path.join(directory, images_file), _IMAGES_MAGIC)
  labels = read_idx(os.path.join(directory, labels_file), _LABELS_MAGIC)
  if len(images) != len(labels):
    raise UserError(f"{directory}: {split} has {len(images)} images but {len(labels)} labels; "
                    "reinstall it: apt-get install --reinstall dataset-fashion-mnist")
  return images, labels


class DljaxFashionMnist(tfds.core.GeneratorBasedBuilder):
  """Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of clothing, 10 classes, 60,000 train / 10,000 test.

  Built offline from the four IDX files installed by Debian's `dataset-fashion-mnist`
  (/usr/share/datasets/fashion-mnist, or $DLJAX_FASHION_MNIST_DIR), keeping the files' split and row
  order. Images are uint8 (28, 28, 1) 0..255; labels 0..9 name CLASS_NAMES.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "The original 60k/10k split, from the IDX files, in file order."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8, encoding="bytes"),
            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        citation="Xiao, Rasul, Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking "
                 "Machine Learning Algorithms. arXiv:1708.07747, 2017.",
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(pixel_max=255),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: the IDX files are local
    directory = raw_dir()
    if not raw_files_present(directory):
      raise UserError(f"Fashion-MNIST IDX files not found in {directory}: "
                      f"apt-get install dataset-fashion-mnist, or set {DIR_ENV} to their directory")
    return {split: self._generate_examples(*read_split(split, directory)) for split in _FILES}

  def _generate_examples(self, images, labels):
    for i, (image, label) in enumerate(zip(images[..., None], labels)):
      yield i, {"image": image, "label": int(label)}
