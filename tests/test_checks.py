"""Every self-check against a right answer, no answer, and a typical wrong answer.

Each case uses a prefix of its own, so "no answer" really finds nothing of the exercise.
"""

from __future__ import annotations


import pytest

from labhelpers import checks, connect

pytestmark = pytest.mark.usefixtures("no_submissions")






def test_progress_lists_every_exercise_with_plain_statuses(fresh_lab):
    table = checks.progress(fresh_lab)
    checks._load_exercises()
    assert sorted(table["exercise"]) == sorted(checks.EXERCISES)
    assert set(table["status"]) <= {checks.DONE, checks.NOT_DONE, checks.NOT_RIGHT}
    assert (table["status"] == checks.NOT_DONE).all()
    assert table["hint"].str.len().gt(0).all()


def test_an_unknown_exercise_is_answered_in_words(fresh_lab):
    result = checks.check("no-such-exercise", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "count-states" in result.hint


def test_a_check_that_raises_is_reported_not_thrown(fresh_lab, monkeypatch):
    checks._load_exercises()
    broken = checks.Exercise("boom", "boom", "00", "no hint", lambda lab: 1 / 0)
    monkeypatch.setitem(checks.EXERCISES, "boom", broken)
    result = checks.check("boom", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "ZeroDivisionError" in result.message
    assert "Traceback" not in repr(result)


# --- 00 count-states ---------------------------------------------------------------------------

def test_count_states_right(fresh_lab):
    checks.submit("count-states", 6)
    assert checks.check("count-states", fresh_lab).status == checks.DONE


def test_count_states_no_answer(fresh_lab):
    result = checks.check("count-states", fresh_lab)
    assert result.status == checks.NOT_DONE and "submit" in result.hint


def test_count_states_top_level_only_is_wrong(fresh_lab):
    checks.submit("count-states", 2)
    result = checks.check("count-states", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "branches" in result.hint


def test_a_submitted_answer_is_seen_by_a_later_kernel(fresh_lab):
    checks.submit("count-states", 6, fresh_lab)
    checks._SUBMITTED.clear()  # as in a new notebook kernel
    assert checks.check("count-states", fresh_lab).status == checks.DONE
    other = connect(prefix=f"{fresh_lab.prefix}x")
    assert checks.check("count-states", other).status == checks.NOT_DONE
