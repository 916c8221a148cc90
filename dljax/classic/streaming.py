"""Prediction on a large host (numpy) array: rows in chunks, each chunk's copy overlapping compute.

A jitted `predict(params, x)` called on a numpy array first copies all of x into a device buffer (JAX
aliases host memory only when it is 64-byte aligned), then computes. For a tree that means the whole
array crosses memory three times before the first test: read by the copy, written, read again, and
every further level of the walk reads each row's line from memory once more. In chunks of a few MB,
dispatch being asynchronous, the copy of chunk k+1 runs on the calling thread while chunk k computes,
and a chunk's rows stay in cache through all the levels of the walk: a digits tree on 100k rows takes
5.6-6.0 ms this way against 7.6 ms in one call, scikit-learn 7.4-7.7 ms (benchmarks/classic_tree.py).
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

# A few MB: small enough that a chunk stays in a 2-core machine's caches (1 MB L2 per core, a shared
# L3) while it is computed, large enough that the per-call dispatch (~30 µs) stays a small fraction.
CHUNK_BYTES = 4 << 20


def predict_in_chunks(predict: Callable[[Any, jax.Array], Any], params: Any, x: np.ndarray,
                      chunk_bytes: int = CHUNK_BYTES) -> Any:
  """`predict(params, x)` computed on consecutive row chunks of about `chunk_bytes` each, concatenated.

  `predict` should be jitted: it then compiles twice at most (the full chunks and the last one). Its
  output (an array or a pytree of arrays) must have the rows as the leading axis, as every learner's
  `predict`, `predict_proba` and `decision_function` in `dljax.classic` do.
  """
  if int(chunk_bytes) < 1:
    raise ValueError(f"chunk_bytes={chunk_bytes}: pass a positive number of bytes, e.g. {CHUNK_BYTES}")
  x = np.asarray(x)
  if x.ndim == 0:
    raise ValueError("x is a scalar: pass an array with one row per example")
  row_bytes = max(1, x.nbytes // max(1, len(x)))
  rows = max(1, int(chunk_bytes) // row_bytes)
  if len(x) <= rows:
    return predict(params, x)
  # Every call is dispatched before any result is awaited: the copies and computes pipeline.
  parts = [predict(params, x[start:start + rows]) for start in range(0, len(x), rows)]
  return jax.tree.map(lambda *pieces: jnp.concatenate(pieces), *parts)
