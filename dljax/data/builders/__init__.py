"""TFDS builders for the datasets dljax ships offline.

TFDS requires a custom builder to live in an importable package; importing this package registers
each builder under its `name` (so `tfds.builder("dljax_digits")` works too). Every builder:
  * stores uint8 pixels or float32 features as `tfds.features.Tensor` (not `tfds.features.Image`,
    whose PNG encoding needs TensorFlow), so preparing and reading never needs TensorFlow; images use
    `encoding="bytes"` (one bytes field instead of a list of ints), which halves the time to read
    Fashion-MNIST's 70,000 records back (tfds decodes each record in Python);
  * writes array_record (`file_format="array_record"`), the random-access format `as_data_source()` reads;
  * sets `disable_shuffling=True`, so record i of a split is row i of the documented source order;
  * records in `info.metadata["pixel_max"]` the value the loader divides uint8 pixels by (image datasets).
"""

from dljax.data.builders.digits import DljaxDigits
from dljax.data.builders.fashion_mnist import DljaxFashionMnist
from dljax.data.builders.sklearn_tables import DljaxBreastCancer, DljaxDiabetes, DljaxIris, DljaxWine
from dljax.data.builders.sunspots import DljaxSunspots

__all__ = ["DljaxBreastCancer", "DljaxDiabetes", "DljaxDigits", "DljaxFashionMnist", "DljaxIris", "DljaxSunspots",
           "DljaxWine"]
