"""Repository hygiene: set-up files agree, notebooks are clean and linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _pyproject_requirements() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.findall(r'^\s*"([^"]+)",?\s*(?:#.*)?$', text, re.M)
    return {d for d in deps if re.match(r"[A-Za-z]", d) and "~=" in d}


def _environment_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    return {line.strip()[2:] for line in lines if line.strip().startswith("- ") and "~=" in line}


def test_environment_yml_is_in_step_with_pyproject():
    assert _pyproject_requirements() == _environment_requirements()


def test_readme_opens_with_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [nb.name for nb in NOTEBOOKS if f"notebooks/{nb.name}" not in readme]
    assert not missing, f"not linked from README.md: {missing}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(notebook):
    nb = json.loads(notebook.read_text())
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, "strip notebook metadata"
    for index, cell in enumerate(nb["cells"]):
        assert not cell.get("metadata", {}).get("collapsed"), f"cell {index}: stray UI metadata"
        if cell["cell_type"] != "code":
            continue
        assert cell.get("execution_count") is not None or not cell["source"], f"cell {index} was not run"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell {index} has an error output"
            assert output.get("name") != "stderr", f"cell {index} printed to stderr: {output.get('text')!r:.200}"
