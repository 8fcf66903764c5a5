"""Exercises and their self-checks.

Each exercise has an id (``"choice-high-score"``) and a check that looks at the
student's real resources and executions on the current target, then answers in
plain words: done, not done yet, or not right yet -- with where the problem is
and a hint. A wrong answer is never a traceback.

In a notebook::

    lh.submit("count-states", 6)          # for exercises whose answer is a value
    lh.check("count-states", lab)         # one line after each exercise
    lh.progress(lab)                      # the whole table, for "show me your table"
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("labhelpers")

DONE = "done"
NOT_DONE = "not done yet"
NOT_RIGHT = "not right yet"


@dataclass(frozen=True)
class CheckResult:
    """What a check found, in plain words."""

    exercise: str
    title: str
    status: str
    message: str
    where: str | None = None
    hint: str | None = None

    def __bool__(self) -> bool:
        return self.status == DONE

    def __repr__(self) -> str:
        mark = {DONE: "✔", NOT_DONE: "…", NOT_RIGHT: "✘"}[self.status]
        lines = [f"{mark} {self.exercise} ({self.title}): {self.status}", f"  {self.message}"]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.hint and self.status != DONE:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {DONE: "#2e7d32", NOT_DONE: "#6b7280", NOT_RIGHT: "#c62828"}[self.status]
        rows = [f'<b style="color:{colour}">{html.escape(self.status)}</b> · '
                f"<code>{html.escape(self.exercise)}</code> {html.escape(self.title)}",
                html.escape(self.message)]
        if self.where:
            rows.append(f"<i>where:</i> {html.escape(self.where)}")
        if self.hint and self.status != DONE:
            rows.append(f"<i>hint:</i> {html.escape(self.hint)}")
        body = "<br>".join(rows)
        return f'<div style="border-left:4px solid {colour};padding:4px 10px">{body}</div>'


class NotDone(Exception):
    """Raised inside a check: nothing of the exercise was found yet."""

    def __init__(self, message: str, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.where, self.hint = message, where, hint


class NotRight(NotDone):
    """Raised inside a check: an attempt was found, and this is what is wrong with it."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it is, what it asks, and its check."""

    id: str
    title: str
    notebook: str
    hint: str
    run: Callable[..., str] = field(repr=False)


EXERCISES: dict[str, Exercise] = {}
_SUBMITTED: dict[str, Any] = {}
_checking: dict[str, Lab] = {}


def exercise(id: str, title: str, notebook: str, hint: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register a check. The function takes ``(lab, answer)`` and returns the success message,
    or raises :class:`NotDone` / :class:`NotRight`."""

    def register(func: Callable[..., str]) -> Callable[..., str]:
        if id in EXERCISES:
            raise ValueError(f"exercise {id!r} is registered twice")
        EXERCISES[id] = Exercise(id, title, notebook, hint, func)
        return func

    return register


def _owner(lab: Lab | None) -> str:
    """Whose answers: the target and prefix (a student), as connect() would choose them."""
    if lab is not None:
        return f"{lab.target}:{lab.prefix}"
    target = (os.environ.get("LAB_TARGET") or "emulator").strip().lower()
    return f"{target}:{(os.environ.get('LAB_PREFIX') or '').lower()}"


def _answers_file() -> Path:
    from labhelpers import config

    return config.state_dir() / "answers.json"


def _saved_answers() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_answers_file().read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def submit(exercise_id: str, answer: Any, lab: Lab | None = None) -> str:
    """Hand in the answer of an exercise whose answer is a value.

    It is kept for this kernel and, when it is JSON, in the lab's state folder too, so the
    progress table of a later notebook still sees it.
    """
    _load_exercises()
    if exercise_id not in EXERCISES:
        raise KeyError(f"No exercise {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}.")
    owner = _owner(lab)
    _SUBMITTED[exercise_id] = answer
    try:
        saved = _saved_answers()
        saved.setdefault(owner, {})[exercise_id] = json.loads(json.dumps(answer))
        _answers_file().write_text(json.dumps(saved, indent=1))
    except (TypeError, ValueError, OSError):
        pass  # not JSON (or no disk): this kernel still has it
    return f"answer to {exercise_id} recorded; now run its check"


def submitted(exercise_id: str, lab: Lab | None = None) -> Any:
    """The submitted answer, or raise NotDone when there is none."""
    if exercise_id in _SUBMITTED:  # this kernel's latest answer
        return _SUBMITTED[exercise_id]
    saved = _saved_answers().get(_owner(lab if lab is not None else _checking.get("lab")), {})
    if exercise_id in saved:
        return saved[exercise_id]
    raise NotDone("No answer submitted yet.", hint=f'Finish the exercise with lh.submit("{exercise_id}", answer).')


def check(exercise_id: str, lab: Lab | None = None) -> CheckResult:
    """Check one exercise against the current target and say, in plain words, how it stands."""
    _load_exercises()
    if exercise_id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES))
        return CheckResult(exercise_id, "unknown exercise", NOT_RIGHT,
                           f"There is no exercise called {exercise_id!r}.", hint=f"Known exercises: {known}.")
    ex = EXERCISES[exercise_id]
    lab = lab or connect()
    _checking["lab"] = lab  # submitted() answers for the lab being checked
    try:
        message = ex.run(lab)
        return CheckResult(ex.id, ex.title, DONE, message)
    except NotRight as wrong:
        return CheckResult(ex.id, ex.title, NOT_RIGHT, wrong.message, wrong.where, wrong.hint or ex.hint)
    except NotDone as missing:
        return CheckResult(ex.id, ex.title, NOT_DONE, missing.message, missing.where, missing.hint or ex.hint)
    except Exception as err:  # a check must answer in words, whatever the attempt did
        log.debug("check %s failed", exercise_id, exc_info=True)
        return CheckResult(ex.id, ex.title, NOT_RIGHT, f"Checking it raised {type(err).__name__}: {err}",
                           hint=ex.hint)


def progress(lab: Lab | None = None) -> "pd.DataFrame":
    """Every exercise with its status and, when not done, a hint: the table an instructor asks for."""
    import pandas as pd

    _load_exercises()
    lab = lab or connect()
    rows = []
    for ex in sorted(EXERCISES.values(), key=lambda e: (e.notebook, e.id)):
        result = check(ex.id, lab)
        rows.append({"notebook": ex.notebook, "exercise": ex.id, "title": ex.title, "status": result.status,
                     "hint": "" if result else (result.hint or "")})
    return pd.DataFrame(rows, columns=["notebook", "exercise", "title", "status", "hint"])


def _load_exercises() -> None:
    # The exercise definitions register themselves on import.
    import labhelpers.exercises  # noqa: F401
