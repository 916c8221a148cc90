"""What each family of gradient-trained experiments means: the batch, the loss, the metrics, the
evaluation (no training loop here; dljax.train.minibatch trains any of them). `config.task` names one."""

from dljax.errors import UserError
from dljax.tasks.base import EvalContext, Evaluation, Figure, Member, Table, Task
from dljax.tasks.reconstruction import OneClassAnomaly, Reconstruction
from dljax.tasks.supervised import Classification, Regression

TASKS: dict[str, type[Task]] = {
    "classification": Classification,
    "regression": Regression,
    "reconstruction": Reconstruction,
    "one_class_anomaly": OneClassAnomaly,
}


def make_task(name: str) -> Task:
  if name not in TASKS:
    raise UserError(f"--config.task={name}: choose one of {', '.join(TASKS)}")
  return TASKS[name]()
