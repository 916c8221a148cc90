"""The one writer of evaluation artifacts: a Table as NAME.md and NAME.csv, a Figure as NAME.png, in the
run's workdir. Trainers and tasks build them in memory (dljax.tasks.base); only the loop calls this."""

import csv
import io
import os

from dljax.tasks.base import Figure, Table


def _cell(value, digits: int) -> str:
  return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table_markdown(table: Table, digits: int = 4) -> str:
  lines = [f"{table.title}\n"] if table.title else []
  lines.append("| " + " | ".join(table.columns) + " |")
  lines.append("|" + "---|" * len(table.columns))
  lines.extend("| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in table.rows)
  return "\n".join(lines) + "\n"


def table_csv(table: Table) -> str:
  """Full precision in the csv (the markdown rounds for reading); cells quoted where csv needs it."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(table.columns)
  writer.writerows([f"{v:.10g}" if isinstance(v, float) else v for v in row] for row in table.rows)
  return out.getvalue()


def _write_text(path: str, text: str) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def write(workdir: str, artifacts) -> list[str]:
  """Writes every artifact into `workdir`; returns the paths written."""
  paths = []
  for artifact in artifacts:
    base = os.path.join(workdir, artifact.name)
    if isinstance(artifact, Table):
      _write_text(base + ".md", table_markdown(artifact))
      _write_text(base + ".csv", table_csv(artifact))
      paths += [base + ".md", base + ".csv"]
    elif isinstance(artifact, Figure):
      artifact.figure.savefig(base + ".png", dpi=100)
      paths.append(base + ".png")
    else:
      raise TypeError(f"unknown artifact {artifact!r}")
  return paths
