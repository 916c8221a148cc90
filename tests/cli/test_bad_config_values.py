"""Every registered experiment, every field of its config, given values it must refuse: each is one line on
stderr naming the fix, exit 2, no traceback, and no workdir written.

Values outside a field's declared range (dljax.config.RULES) are refused before anything is built; names a
table does not hold (models, learners, data sources, environments) and architectures too deep for the data
are refused by the code that builds them, before the first step. Expectations that do not come from RULES
(sizes refuse 0, dropout refuses 1, ...) check that the rules themselves are not too lax.
"""

import fnmatch
import functools
import os
import re

import ml_collections
import pytest

from dljax import cli
from dljax import config as config_lib
from dljax import registry
from dljax.train import loop

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")

# Independent of RULES: what any sensible range must refuse, by the field's name.
MUST_REFUSE = (
    ("seed", ("-1", "1.5")),
    ("*batch_size", ("0", "-4")), ("num_*", ("0", "-1")), ("*.num_*", ("0", "-1")), ("*.n_*", ("0",)),
    ("*max_depth", ("0",)),
    ("*hidden", ("0", "(0,)", "(-3,)")), ("*conv_features", ("(0,)", "()")), ("*widths", ("(0,)", "()")),
    ("*latent", ("0",)), ("*dropout", ("1.0", "1.5", "-0.1")), ("learning_rate", ("0", "-0.001")),
    ("*.learning_rate", ("0", "-0.001")),
    ("*gamma", ("1.5", "-0.1")), ("*lambda", ("1.5", "-0.1")), ("*epsilon_start", ("1.5", "-0.1")),
    ("*epsilon_end", ("1.5",)), ("*min_confidence", ("1.5",)), ("*min_support", ("0", "1.5")),
    ("*_every_steps", ("-1",)), ("*max_train", ("0", "-1")), ("*max_test", ("0",)), ("*eval_episodes", ("0",)),
)
# Architectures no input of these experiments can take (8x8 digits, 28x28 Fashion-MNIST).
TOO_DEEP = {"model.conv_features": "(8, 8, 8, 8, 8, 8)", "model.widths": "(4, 4, 4, 4, 4, 4)"}


def _leaves(config, prefix=""):
  for key in config.keys():
    value = config[key]
    if isinstance(value, ml_collections.ConfigDict):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      ref = config._fields[key]
      kind = ref.get_type() if isinstance(ref, ml_collections.FieldReference) else type(value)
      yield f"{prefix}{key}", value, kind


def _outside(rule) -> list[str]:
  """Values just outside `rule`, and values of the wrong type."""
  if isinstance(rule, config_lib.Number):
    step = 1 if rule.kind is int else 0.5
    bad = ["abc", "(1, 2)"]
    if rule.kind is int:
      bad.append("1.5")
    if rule.low is not None:
      bad.append(str(rule.low - step))
      if rule.low_open:
        bad.append(str(rule.low))
    if rule.high is not None:
      bad.append(str(rule.high + step))
      if rule.high_open:
        bad.append(str(rule.high))
    if not rule.optional:
      bad.append("None")
    return bad
  if isinstance(rule, config_lib.Sizes):
    bad = ["abc", f"({rule.low - 1},)", "(1.5,)", f"(2, {rule.low - 1})"]
    return bad + (["()"] if rule.min_len else [])
  if isinstance(rule, config_lib.Choice):
    return ["no_such_name", "3"]
  raise AssertionError(rule)


def _cases():
  """(experiment, key, bad value, checked when): every bad input this test tries."""
  cases = []
  for exp in registry.all_experiments():
    seen = set()
    for path, value, kind in _leaves(registry.get_config(exp.name)):
      if config_lib.is_fixed(path):  # what the experiment is, or a choice experiment's arms: never overridden
        cases += [(exp.name, path, "no_such_name", "check")]
        continue
      rule = config_lib.rule_for(path)
      bad = []
      if rule is not None:
        bad += _outside(rule)
      elif kind is bool:
        bad += ["maybe", "2"]
      elif kind is str:
        bad += [("build", "no_such_name")]
      elif kind in (int, float):
        raise AssertionError(f"{exp.name}: numeric field {path} has no rule in dljax.config.RULES")
      for pattern, values in MUST_REFUSE:
        if kind is not str and kind is not bool and fnmatch.fnmatchcase(path, pattern):
          bad += list(values)
      if path in TOO_DEEP:
        bad.append(("build", TOO_DEEP[path]))
      for item in bad:
        when, text = item if isinstance(item, tuple) else ("check", item)
        if (path, text) not in seen:
          seen.add((path, text))
          cases.append((exp.name, path, text, when))
  return cases


CASES = _cases()


def _run(capsys, tmp_path, name, path, text):
  """cli.main in this process (a subprocess per case would take an hour); an exception escaping it is
  what the real CLI would print as a traceback."""
  workdir = tmp_path / "W"
  try:
    code = cli.main(["run", name, "--workdir", str(workdir), f"--config.{path}={text}"])
  except BaseException as e:  # pylint: disable=broad-except
    code = f"Traceback: {type(e).__name__}: {e}"
  err = capsys.readouterr().err.strip()
  return code, err, workdir.exists()


def test_every_bad_value_is_one_line_exit_2_nothing_written(capsys, tmp_path, monkeypatch):
  """Values refused by their field's declared range: before any data is read or anything compiled (a
  value let through pauses at step 0 instead of training: exit 0 and a workdir, reported below)."""
  monkeypatch.setattr(loop, "train_and_evaluate", functools.partial(loop.train_and_evaluate, stop_at_step=0))
  checked = [c for c in CASES if c[3] == "check"]
  failures = []
  for name, path, text, _ in checked:
    code, err, written = _run(capsys, tmp_path, name, path, text)
    if code != 2 or "\n" in err or not err.startswith("dljax: error: ") or written or "Traceback" in err:
      failures.append(f"{name} --config.{path}={text}: exit {code}, written={written}, stderr {err[-300:]!r}")
  assert not failures, f"{len(failures)} of {len(checked)}:\n" + "\n".join(failures[:30])
  print(f"{len(CASES)} bad inputs over {len(registry.all_experiments())} experiments "
        f"({len(checked)} refused by the field's range, {len(CASES) - len(checked)} when built)")


def test_unknown_names_and_too_deep_architectures_refused_when_built(capsys, tmp_path, monkeypatch):
  """Names and shapes only the builder can judge: refused before the first step (a run that would have
  started pauses at step 0 here instead of training, so a miss shows up as exit 0 and a workdir)."""
  monkeypatch.setattr(loop, "train_and_evaluate", functools.partial(loop.train_and_evaluate, stop_at_step=0))
  built = [c for c in CASES if c[3] == "build"]
  failures = []
  for name, path, text, _ in built:
    code, err, written = _run(capsys, tmp_path, name, path, text)
    last = err.splitlines()[-1] if err else ""
    if code != 2 or not last.startswith("dljax: error: ") or written or "Traceback" in err:
      failures.append(f"{name} --config.{path}={text}: exit {code}, written={written}, stderr {err[-300:]!r}")
  assert not failures, f"{len(failures)} of {len(built)}:\n" + "\n".join(failures[:30])


def test_readme_states_how_many_bad_inputs_are_tried():
  with open(README) as f:
    found = re.search(r"([\d,]+) bad inputs", f.read())
  assert found, "README.md should say how many bad inputs tests/cli/test_bad_config_values.py tries"
  assert int(found.group(1).replace(",", "")) == len(CASES)


@pytest.mark.parametrize("name", [e.name for e in registry.all_experiments()])
def test_default_config_is_inside_every_rule(name):
  config_lib.validate(registry.get_config(name))
