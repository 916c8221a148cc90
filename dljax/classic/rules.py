"""Association rules: Apriori frequent itemsets and the rules "antecedent A ⇒ consequent C" they imply.

Transactions are the rows of a boolean matrix X ∈ {0,1}^{N×D} (row n holds the items of basket n).
The support of an itemset I is the fraction of baskets that contain all of it,

    supp(I) = |{n : X[n, i] = 1 ∀ i ∈ I}| / N,

and a rule A ⇒ C (A ∩ C = ∅) is scored by

    support    = supp(A ∪ C)
    confidence = supp(A ∪ C) / supp(A)             (P(C | A))
    lift       = confidence / supp(C)              (> 1: A and C occur together more than by chance)

Apriori (Agrawal & Srikant, 1994) grows frequent itemsets one item at a time: every subset of a
frequent itemset is frequent, so a k-itemset is a candidate only if all its (k−1)-subsets are. Here
each level is one jitted program of boolean matrix products over the frequent (k−1)-itemsets, held
as an indicator matrix F ∈ {0,1}^{P×D} (row p = itemset p), with candidates written p ∪ {j}, j > max(p):

  * candidate generation (join + prune): the (k−1)-subsets of p ∪ {j} other than p are p∖{i} ∪ {j};
    they are the frequent q with |q ∩ p| = k−2 and j ∈ q, so with S = [F·Fᵀ = k−2] (P×P),
        (S·F)[p, j] = k−1   ⇔   every (k−1)-subset of p ∪ {j} is frequent;
  * support counting: T = [X·Fᵀ = k−1] (N×P) marks the baskets holding all of p, and
        count(p ∪ {j}) = (Tᵀ·X)[p, j],
    accumulated over chunks of rows so memory stays N-independent.

Counts are exact integers (float32 sums of 0/1 are exact below 2^24 per chunk; chunks add in int32);
the support threshold and the rule ratios are computed on the host in float64, the same arithmetic as
mlxtend's `apriori`/`association_rules`, so both give identical itemsets and rules.
"""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from dljax.errors import UserError

_HIGHEST = jax.lax.Precision.HIGHEST
_ROW_CHUNK = 8192  # rows per support-counting matmul: N×P indicator memory is chunk×P floats


@dataclasses.dataclass(frozen=True)
class FrequentItemsets:
  itemsets: list[tuple[int, ...]]   # sorted item (column) indices
  counts: np.ndarray                # (M,) int64: baskets containing each itemset
  num_transactions: int

  @property
  def support(self) -> np.ndarray:
    return self.counts / float(self.num_transactions)

  def as_dict(self) -> dict[frozenset, float]:
    return {frozenset(s): float(v) for s, v in zip(self.itemsets, self.support)}


@dataclasses.dataclass(frozen=True)
class Rules:
  antecedents: list[tuple[int, ...]]
  consequents: list[tuple[int, ...]]
  antecedent_support: np.ndarray    # float64, each (R,)
  consequent_support: np.ndarray
  support: np.ndarray
  confidence: np.ndarray
  lift: np.ndarray

  def __len__(self) -> int:
    return len(self.antecedents)

  def sorted_by(self, metric: str = "lift") -> "Rules":
    """Rules in decreasing `metric` (ties: decreasing confidence, then support), a stable order."""
    order = np.lexsort((-self.support, -self.confidence, -getattr(self, metric)))
    pick = lambda seq: [seq[i] for i in order]
    return Rules(pick(self.antecedents), pick(self.consequents), *(getattr(self, f)[order] for f in
                 ("antecedent_support", "consequent_support", "support", "confidence", "lift")))


def check_transactions(x) -> np.ndarray:
  """A non-empty 2-D matrix of 0/1 (or bool) values, returned as bool; else a one-line UserError."""
  x = np.asarray(x)
  if x.ndim != 2:
    raise UserError(f"transactions have shape {x.shape}; give a 2-D one-hot matrix (baskets × items)")
  if x.shape[0] == 0:
    raise UserError("there are no transactions (0 rows); give at least one basket")
  if x.shape[1] == 0:
    raise UserError("the transactions have no items (0 columns); give one column per item")
  if x.dtype == bool:
    return x
  if x.dtype.kind not in "biuf":
    raise UserError(f"transactions have dtype {x.dtype}; give a 0/1 or bool one-hot matrix")
  if not np.isin(x, (0, 1)).all():
    raise UserError("transactions hold values other than 0/1 (or NaN); one-hot encode them first")
  return x.astype(bool)


def check_min_support(min_support) -> float:
  try:
    value = float(min_support)
  except (TypeError, ValueError):
    raise UserError(f"min_support={min_support!r}: give a number in (0, 1]") from None
  if not 0.0 < value <= 1.0:  # also refuses NaN
    raise UserError(f"min_support={min_support}: give a fraction of baskets in (0, 1]")
  return value


def _bucket(n: int) -> int:
  """Padded size (a power of two >= 8, then multiples of 512), so levels compile for few distinct shapes."""
  return max(8, 1 << (n - 1).bit_length()) if n <= 512 else -(-n // 512) * 512


@jax.jit
def _candidates(prefixes, valid, last_item, k):
  """Candidates p ∪ {j} of size k (join + prune), for all P prefixes (frequent (k−1)-itemsets) at once.

  prefixes: (P, D) float32 indicator rows; valid: (P,) bool (False on padding); last_item: (P,) int32.
  Returns (P, D) bool.
  """
  overlap = jnp.dot(prefixes, prefixes.T, precision=_HIGHEST)
  siblings = (overlap == k - 2) & valid[:, None] & valid[None, :]
  subsets_frequent = jnp.dot(siblings.astype(jnp.float32), prefixes, precision=_HIGHEST)
  items = jnp.arange(prefixes.shape[1])
  return (subsets_frequent == k - 1) & (items[None, :] > last_item[:, None]) & valid[:, None]


@jax.jit
def _extension_counts(x_chunks, prefixes, valid):
  """counts[p, j] = baskets holding all of prefix p and item j, as (P, D) int32.

  x_chunks: (C, R, D) float32 0/1 transactions in row chunks (zero padding rows contain nothing).
  """
  size = prefixes.sum(axis=1)

  def count_chunk(total, x):
    holds_prefix = (jnp.dot(prefixes, x.T, precision=_HIGHEST) == size[:, None]) & valid[:, None]  # (P, R)
    counts = jnp.dot(holds_prefix.astype(jnp.float32), x, precision=_HIGHEST)
    return total + counts.astype(jnp.int32), None

  counts, _ = jax.lax.scan(count_chunk, jnp.zeros(prefixes.shape, jnp.int32), x_chunks)
  return counts


def _indicator_rows(itemsets, d):
  """(bucket, D) float32 indicator rows, validity mask and last items of `itemsets` (padded)."""
  size = _bucket(len(itemsets))
  rows = np.zeros((size, d), np.float32)
  last_item = np.full(size, d, np.int32)
  for row, itemset in enumerate(itemsets):
    rows[row, list(itemset)] = 1.0
    last_item[row] = itemset[-1]
  return jnp.asarray(rows), jnp.asarray(np.arange(size) < len(itemsets)), jnp.asarray(last_item)


def _row_chunks(x: np.ndarray) -> jax.Array:
  n, d = x.shape
  rows = min(_ROW_CHUNK, n)
  num_chunks = -(-n // rows)
  padded = np.zeros((num_chunks * rows, d), np.float32)
  padded[:n] = x
  return jnp.asarray(padded.reshape(num_chunks, rows, d))


def apriori(x, min_support: float, max_len: int | None = None) -> FrequentItemsets:
  """Every itemset with support >= min_support (and at most max_len items), level by level."""
  x = check_transactions(x)
  min_support = check_min_support(min_support)
  if max_len is not None and max_len < 1:
    raise UserError(f"max_len={max_len}: give None (no limit) or a positive number of items")
  n, d = x.shape
  item_counts = x.sum(axis=0, dtype=np.int64)
  frequent = item_counts / float(n) >= min_support  # float64, as mlxtend compares supports
  level_sets = [(int(i),) for i in np.flatnonzero(frequent)]
  all_sets, all_counts = list(level_sets), [item_counts[frequent]]
  x_chunks = _row_chunks(x) if len(level_sets) > 1 and (max_len is None or max_len > 1) else None
  k = 2
  while len(level_sets) > 1 and (max_len is None or k <= max_len):
    candidate = np.asarray(_candidates(*_indicator_rows(level_sets, d), jnp.int32(k)))[:len(level_sets)]
    with_candidates = np.flatnonzero(candidate.any(axis=1))  # only these prefixes are counted
    if len(with_candidates) == 0:
      break
    prefixes = [level_sets[r] for r in with_candidates]
    rows_of, valid, _ = _indicator_rows(prefixes, d)
    counts = np.asarray(_extension_counts(x_chunks, rows_of, valid))[:len(prefixes)]
    keep = candidate[with_candidates] & (counts.astype(np.int64) / float(n) >= min_support)
    rows, items = np.nonzero(keep)
    level_sets = [prefixes[r] + (int(j),) for r, j in zip(rows, items)]
    all_sets += level_sets
    all_counts.append(counts[rows, items].astype(np.int64))
    k += 1
  return FrequentItemsets(all_sets, np.concatenate(all_counts).astype(np.int64), n)


def association_rules(frequent: FrequentItemsets, *, min_confidence: float = 0.0, min_lift: float = 0.0,
                      min_support: float = 0.0) -> Rules:
  """Every rule A ⇒ C with A ∪ C frequent, A, C ≠ ∅, passing all three thresholds (float64 ratios)."""
  for name, value in (("min_confidence", min_confidence), ("min_support", min_support)):
    if not 0.0 <= value <= 1.0:
      raise UserError(f"{name}={value}: give a fraction in [0, 1]")
  if not min_lift >= 0.0:
    raise UserError(f"min_lift={min_lift}: give a non-negative lift")
  n = float(frequent.num_transactions)
  support_of = {frozenset(s): c / n for s, c in zip(frequent.itemsets, frequent.counts.tolist())}
  antecedents, consequents, values = [], [], []
  for itemset, count in zip(frequent.itemsets, frequent.counts.tolist()):
    s_ac = count / n
    if len(itemset) < 2 or s_ac < min_support:
      continue
    for size in range(len(itemset) - 1, 0, -1):
      for a in itertools.combinations(itemset, size):
        c = tuple(i for i in itemset if i not in a)
        s_a, s_c = support_of[frozenset(a)], support_of[frozenset(c)]
        confidence = s_ac / s_a
        lift = confidence / s_c
        if confidence >= min_confidence and lift >= min_lift:
          antecedents.append(a)
          consequents.append(c)
          values.append((s_a, s_c, s_ac, confidence, lift))
  columns = np.asarray(values, np.float64).reshape(-1, 5).T
  return Rules(antecedents, consequents, *columns)

