"""The exercises of the notebook series, one module per notebook; each registers its checks.

Conventions for every exercise:

- resources an exercise asks for are named with ``lab.names.prefixed(...)``, so
  several students (prefixes) never collide and cleanup can find them;
- a check raises ``NotDone`` when it finds no attempt, ``NotRight`` (with where and a
  hint) for a wrong attempt, and returns a short success message otherwise;
- answers that are values are handed in with ``lh.submit(exercise_id, value)``.
"""

from labhelpers.exercises import intro  # noqa: F401
from labhelpers.exercises import parallel  # noqa: F401  (01)
from labhelpers.exercises import choice  # noqa: F401  (02)
from labhelpers.exercises import metric  # noqa: F401  (03)
from labhelpers.exercises import machine  # noqa: F401  (04)
from labhelpers.exercises import executions  # noqa: F401  (05)
from labhelpers.exercises import metrics_logs  # noqa: F401  (06)
from labhelpers.exercises import validation  # noqa: F401
from labhelpers.exercises import wait  # noqa: F401
from labhelpers.exercises import data_flow  # noqa: F401
from labhelpers.exercises import error_handling  # noqa: F401
from labhelpers.exercises import map_state  # noqa: F401
