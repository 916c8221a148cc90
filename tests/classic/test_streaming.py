"""dljax.classic.streaming: chunked prediction equals one call on the whole array."""

import functools

import jax
import numpy as np
import pytest

from dljax.classic import tree
from dljax.classic.streaming import predict_in_chunks
from dljax.data.sources import load_dataset


@pytest.fixture(scope="module")
def digits_tree():
  d = load_dataset("digits")
  x = d.train_x.reshape(len(d.train_x), -1)
  config = tree.default_config(max_depth=8, num_classes=d.num_classes)
  params = jax.jit(functools.partial(tree.fit, config=config))(jax.random.key(0), x, d.train_y)
  return params, d.test_x.reshape(len(d.test_x), -1)


@pytest.mark.parametrize("rows_per_chunk", [1, 7, 100, 360, 1000])
def test_chunks_of_any_size_give_the_whole_arrays_prediction(digits_tree, rows_per_chunk):
  """Chunks that divide the rows, leave a remainder, hold one row, or hold them all (360 test rows)."""
  params, x = digits_tree
  whole = np.asarray(jax.jit(tree.predict)(params, x))
  chunked = predict_in_chunks(jax.jit(tree.predict), params, x, chunk_bytes=rows_per_chunk * x[0].nbytes)
  np.testing.assert_array_equal(np.asarray(chunked), whole)


def test_pytree_and_float64_rows(digits_tree):
  """A predict returning a pytree is concatenated leaf by leaf; float64 rows are cast as in one call."""
  params, x = digits_tree
  both = jax.jit(lambda p, rows: {"proba": tree.predict_proba(p, rows), "leaf": tree.apply(p, rows)})
  whole = both(params, x.astype(np.float64))
  chunked = predict_in_chunks(both, params, x.astype(np.float64), chunk_bytes=50 * 64 * 8)
  np.testing.assert_array_equal(np.asarray(chunked["leaf"]), np.asarray(whole["leaf"]))
  np.testing.assert_allclose(np.asarray(chunked["proba"]), np.asarray(whole["proba"]))


@pytest.mark.parametrize("chunk_bytes,x,message", [(0, np.zeros((3, 2)), "positive number of bytes"),
                                                  (64, np.float32(1.0), "scalar")])
def test_bad_arguments_name_the_fix(chunk_bytes, x, message):
  with pytest.raises(ValueError, match=message):
    predict_in_chunks(lambda p, rows: rows, None, x, chunk_bytes)
