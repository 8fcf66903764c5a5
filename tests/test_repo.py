"""Repository hygiene: set-up files agree, notebooks are clean and linked."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _direct_requirements() -> dict[str, Requirement]:
    """pyproject.toml's dependencies and its test extra, by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    return {canonicalize_name(req.name): req for req in map(Requirement, lines)}


def _lock_lines() -> list[str]:
    """The lines of requirements.lock that name something to install (not comments)."""
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _lock_pins() -> dict[str, list[tuple[Version, str]]]:
    """Each locked package's (version, environment marker) pairs: a universal lock may pin one
    package twice, for example once per range of Python versions."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in _lock_lines():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # reported by test_every_lock_line_is_an_exact_pin
        if len(req.specifier) != 1:
            continue  # likewise
        (spec,) = req.specifier
        pins.setdefault(canonicalize_name(req.name), []).append((Version(spec.version), str(req.marker or "")))
    return pins


def _environment_pins() -> dict[str, Version]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    pins = {}
    in_pip = False
    for line in lines:
        stripped = line.split("#")[0].strip()
        if stripped == "- pip:":
            in_pip = True
        elif in_pip and stripped.startswith("- ") and not stripped.startswith("- -"):
            req = Requirement(stripped[2:])
            specs = list(req.specifier)
            assert len(specs) == 1 and specs[0].operator == "==", f"environment.yml: pin {stripped[2:]!r} with =="
            pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def test_every_lock_line_is_an_exact_pin():
    for line in _lock_lines():
        assert not line.startswith(("-", ".", "/")), f"requirements.lock: {line!r} (the Makefile installs the project)"
        try:
            req = Requirement(line)
        except InvalidRequirement:
            pytest.fail(f"requirements.lock: {line!r} is not a requirement")
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, (
            f"requirements.lock: {line!r} is not pinned with =="
        )
        assert not req.url, f"requirements.lock: {line!r} installs from a URL"


def test_lock_says_how_to_regenerate_it():
    header = (ROOT / "requirements.lock").read_text().splitlines()[:3]
    assert any(line.startswith("#") and "make lock" in line for line in header), (
        "requirements.lock: its header comment names `make lock`"
    )


@pytest.mark.parametrize("name", sorted(_direct_requirements()))
def test_direct_dependency_is_locked_within_its_pyproject_range(name):
    pins = _lock_pins().get(name)
    assert pins, f"{name} (pyproject.toml) is missing from requirements.lock: run `make lock`"
    assert len(pins) == 1 and not pins[0][1], f"{name}: one unconditional pin expected, got {pins}"
    specifier = _direct_requirements()[name].specifier
    assert specifier.contains(pins[0][0], prereleases=True), (
        f"requirements.lock pins {name}=={pins[0][0]}, outside pyproject.toml's {specifier}: run `make lock`"
    )


def test_lock_pins_moto_within_pyproject_range():
    (moto,) = _lock_pins()["moto"]
    assert _direct_requirements()["moto"].specifier.contains(moto[0])


def test_environment_yml_pins_the_locked_versions_of_the_direct_dependencies():
    environment = _environment_pins()
    assert set(environment) == set(_direct_requirements()), "environment.yml: pin exactly pyproject's dependencies"
    lock = _lock_pins()
    mismatched = {name: (str(version), [str(v) for v, _ in lock.get(name, [])])
                  for name, version in environment.items()
                  if [version] != [v for v, _ in lock.get(name, [])]}
    assert not mismatched, f"environment.yml vs requirements.lock (name: (environment, lock)): {mismatched}"


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
