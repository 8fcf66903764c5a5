"""The exercises of the notebook series, one module per notebook; each registers its checks.

Conventions for every exercise:

- resources an exercise asks for are named with ``lab.names.prefixed(...)``, so
  several students (prefixes) never collide and cleanup can find them;
- a check raises ``NotDone`` when it finds no attempt, ``NotRight`` (with where and a
  hint) for a wrong attempt, and returns a short success message otherwise;
- answers that are values are handed in with ``lh.submit(exercise_id, value)``.
"""

from labhelpers.exercises import intro  # noqa: F401
