"""A non-editable install carries the whole library: the wheel holds every package of dljax/ and every
experiment of the top-level experiments/ (installed as dljax.experiments), and the installed copy lists the
same experiments as this checkout."""

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from dljax import registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                    reason="building a wheel offline needs setuptools in this environment (pip install setuptools)")
def test_wheel_holds_every_package_and_experiment(tmp_path):
  source = tmp_path / "src"
  shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "runs",
                                                                ".pytest_cache"))
  built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
  assert built.returncode == 0, built.stderr[-2000:]
  (wheel,) = (tmp_path / "dist").glob("dljax-*.whl")
  names = set(zipfile.ZipFile(wheel).namelist())

  packages = {os.path.relpath(root, REPO) for root, _, files in os.walk(os.path.join(REPO, "dljax"))
              if "__init__.py" in files}
  assert {f"{p}/__init__.py" for p in packages} <= names, sorted({f"{p}/__init__.py" for p in packages} - names)
  experiments = {f for f in os.listdir(os.path.join(REPO, "experiments")) if f.endswith(".py")}
  assert {f"dljax/experiments/{f}" for f in experiments} <= names
  assert not any(n.startswith("experiments/") for n in names)  # installed under dljax/, not as a top-level package

  target = tmp_path / "site"
  installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
  assert installed.returncode == 0, installed.stderr[-2000:]
  listed = subprocess.run(
      [sys.executable, "-c", "import dljax, sys; from dljax import registry; print(dljax.__file__); "
                             "print(' '.join(e.name for e in registry.all_experiments()))"],
      capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": str(target)})
  assert listed.returncode == 0, listed.stderr[-2000:]
  where, names_listed = listed.stdout.splitlines()
  assert where.startswith(str(target))
  assert names_listed.split() == [e.name for e in registry.all_experiments()]
