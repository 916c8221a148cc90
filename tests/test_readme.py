"""The README's quickstart, as written: its first code block is parsed out of README.md (so the README cannot
drift from what is tested) and its `dljax` command runs in a subprocess from a fresh directory, with the
relative workdir it names; only a short step count is appended. The README's results table is the output of
`dljax results` (the experiments' Result lines), compared here."""

import json
import os
import re
import shlex
import subprocess
import sys

from dljax import cli, registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT = "--config.num_train_steps=20 --config.checkpoint_every_steps=10 --config.log_every_steps=10"


def readme_commands() -> list[str]:
  """The command lines of README.md's first ```bash block (comments dropped)."""
  with open(os.path.join(REPO, "README.md")) as f:
    block = re.search(r"```bash\n(.*?)```", f.read(), re.S).group(1)
  return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_quickstart_installs_from_the_lock_then_runs_the_default_experiment(tmp_path):
  install, run = readme_commands()[0].split(" && ")
  words = shlex.split(install)
  assert words[:4] == ["pip", "install", "-e", "."], install
  lock = words[words.index("-c") + 1]
  assert os.path.isfile(os.path.join(REPO, lock)), f"the README installs with -c {lock}, which is not in the repo"
  env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
  result = subprocess.run(f"{run} {SHORT}", shell=True, cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  workdir = shlex.split(run)[shlex.split(run).index("--workdir") + 1]
  assert not os.path.isabs(workdir), "the quickstart should show a relative workdir"
  summary = json.loads((tmp_path / workdir / "summary.json").read_text())
  assert summary["status"] == "done" and summary["steps"] == 20
  assert f"{summary['experiment']}: accuracy=" in result.stdout
  assert sorted(os.listdir(tmp_path / workdir / "checkpoints")) == ["10", "20"]


def test_test_command_is_what_ci_runs():
  with open(os.path.join(REPO, ".ci", "run")) as f:
    ci = f.read()
  assert readme_commands()[1] in ci.splitlines(), "the README's test command should be .ci/run's last line"


def test_every_experiment_states_one_run_line_and_one_result_line():
  bad = []
  for exp in registry.all_experiments():
    lines = [line.strip() for line in exp.doc.splitlines()]
    runs = [line for line in lines if line.startswith("Run:")]
    results = [line for line in lines if line.startswith("Result:")]
    if len(runs) != 1 or len(results) != 1 or not cli.result_text(exp.doc):
      bad.append(f"{exp.name}: {len(runs)} Run: lines, {len(results)} Result: lines")
  assert not bad, "each experiment's docstring holds exactly one Run: and one Result: line:\n" + "\n".join(bad)


def test_results_table_is_what_dljax_results_prints():
  with open(os.path.join(REPO, "README.md")) as f:
    found = re.search(r"<!-- results:begin -->\n(.*?)<!-- results:end -->", f.read(), re.S)
  assert found, "README.md should hold the results table between <!-- results:begin --> and <!-- results:end -->"
  assert found.group(1) == cli.results_table(), (
      "README.md's results table differs from the experiments' Result lines: run `dljax results` and paste its "
      "output between <!-- results:begin --> and <!-- results:end --> in README.md")
