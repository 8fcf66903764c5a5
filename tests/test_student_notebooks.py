"""Student versions: no solution left, and they run to the end with every check saying "not done yet"."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from labhelpers.notebook import (
    BEGIN_SOLUTION,
    CODE_PLACEHOLDER,
    NOTEBOOK_DIR,
    execute,
    is_exercise_cell,
    write_student_notebooks,
)

INSTRUCTOR = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _text(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    done = subprocess.run([sys.executable, "-m", "labhelpers", "student-notebooks", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(INSTRUCTOR)} student notebooks written" in done.stdout
    return out


def test_every_exercise_has_a_solution_and_a_check_in_the_instructor_notebooks():
    from labhelpers.checks import EXERCISES, _load_exercises

    _load_exercises()
    sources = "\n".join(_text(c) for nb in INSTRUCTOR for c in nbformat.read(nb, as_version=4).cells)
    for exercise_id in EXERCISES:
        assert f'lh.check("{exercise_id}", lab)' in sources, f"no check cell for {exercise_id}"


def test_student_versions_hold_no_solution(student_dir):
    for path in INSTRUCTOR:
        student = nbformat.read(student_dir / path.name, as_version=4)
        for cell in student.cells:
            assert BEGIN_SOLUTION not in _text(cell)
            if is_exercise_cell(cell):
                assert not cell.get("outputs"), f"{path.name}: exercise output left in the student version"
        placeholders = [c for c in student.cells if CODE_PLACEHOLDER in _text(c)]
        assert all("raises-exception" in c.metadata.get("tags", []) for c in placeholders)


def test_student_notebooks_run_through_and_every_check_says_not_done_yet(student_dir, tmp_path):
    from labhelpers.notebook import _environ, fresh_emulator_env
    from labhelpers.emulator import control

    env = fresh_emulator_env()
    with _environ(env):
        try:
            for path in sorted(student_dir.glob("*.ipynb")):
                nb = execute(path)
                for cell in nb.cells:
                    if cell.cell_type != "code":
                        continue
                    errors = [o for o in cell.outputs if o.output_type == "error"]
                    if CODE_PLACEHOLDER in _text(cell):
                        assert [e.ename for e in errors] == ["NotImplementedError"], path.name
                        continue
                    assert not errors, f"{path.name}: {_text(cell)[:80]!r} raised {errors[0].ename}"
                    if "lh.check(" in _text(cell):
                        shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
                        assert "not done yet" in shown, f"{path.name}: {shown!r}"
        finally:
            control.stop(int(env["LAB_EMULATOR_PORT"]))


def test_student_notebooks_never_overwrite_the_instructor_ones():
    with pytest.raises(ValueError, match="lose the solutions"):
        write_student_notebooks(NOTEBOOK_DIR)
