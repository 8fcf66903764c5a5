"""The test data is committed under tests/data/ (with its licences), and nothing refers to a folder of one machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
RECORDINGS = DATA / "aws-recordings"
CORPUS = DATA / "asl-corpus"

# Spelled in pieces so that this file does not match itself.
MACHINE_PATHS = ("/" + "work/", "../" + "shared")
SCANNED = [ROOT / "tests", ROOT / "labhelpers", ROOT / "benchmarks", ROOT / "conftest.py"]

# What the tests read from a recording folder, by the scenario's "files" entry in its scenario.json.
SCENARIO_FILES = {"definition": "definition.json", "definitions": "definitions.json", "input": "input.json",
                  "recorded": "recorded.json", "request": "request.json", "notes": "notes.md",
                  "metadata": "scenario.json"}


def _scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        candidates = [top] if top.is_file() else top.rglob("*")
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return files


def test_nothing_refers_to_a_folder_of_one_machine():
    files = _scanned_files()
    assert len(files) > 700  # the scan did look at the code and at tests/data
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(p in line for p in MACHINE_PATHS):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "use paths relative to the file (Path(__file__).parent / ...):\n" + "\n".join(found)


def test_the_data_readme_names_each_folder_and_licence():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for folder in ("aws-recordings/", "asl-corpus/"):
        assert f"`{folder}" in readme, folder
    for licence in ("Apache-2.0", "MIT-0"):
        assert licence in readme, licence
    for licence_file in sorted([*RECORDINGS.glob("LICENSES/*"), *CORPUS.glob("LICENSES/*")]):
        assert f"`{licence_file.relative_to(DATA)}`" in readme or f"`{licence_file.name}`" in readme, licence_file


@pytest.mark.parametrize("folder", [RECORDINGS, CORPUS], ids=lambda p: p.name)
def test_each_data_folder_keeps_its_licences_and_provenance(folder: Path):
    assert sorted(p.name for p in (folder / "LICENSES").iterdir()), folder
    provenance = {"aws-recordings": ["README.md", "index.json"], "asl-corpus": ["SOURCES.md", "summary.json"]}
    for name in provenance[folder.name]:
        assert (folder / name).is_file(), folder / name


def test_every_recording_listed_in_the_index_is_committed_whole():
    index = json.loads((RECORDINGS / "index.json").read_text(encoding="utf-8"))
    listed = [s["id"] for s in index["scenarios"]]
    assert len(listed) == len(set(listed)) == 60
    on_disk = sorted(p.name for p in RECORDINGS.iterdir() if p.is_dir() and p.name != "LICENSES")
    assert on_disk == sorted(listed)
    for scenario in listed:
        folder = RECORDINGS / scenario
        meta = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
        assert meta["id"] == scenario
        assert {"definition", "recorded", "notes", "metadata"} <= set(meta["files"]), scenario
        assert ("input" in meta["files"]) == (meta["input_mode"] is not None), scenario
        assert sorted(p.name for p in folder.iterdir()) == sorted(SCENARIO_FILES[f] for f in meta["files"]), scenario
        for name in ("definition.json", "recorded.json", "input.json", "request.json", "definitions.json"):
            if (folder / name).exists():
                json.loads((folder / name).read_text(encoding="utf-8"))  # each one parses


def test_the_recordings_the_tests_name_are_committed():
    names = set()
    for test_file in ("test_flow.py", "test_sfn_extensions.py"):
        names |= set(re.findall(r'"(test_\w+?__\w+)"', (ROOT / "tests" / test_file).read_text(encoding="utf-8")))
    assert len(names) >= 20
    missing = sorted(n for n in names if not (RECORDINGS / n / "definition.json").is_file())
    assert not missing


def test_every_corpus_definition_is_committed():
    summary = json.loads((CORPUS / "summary.json").read_text(encoding="utf-8"))
    listed = sorted(f["file"] for f in summary["files"])
    on_disk = sorted([*(p.name for p in CORPUS.glob("*.json") if p.name != "summary.json"),
                      *(f"invalid/{p.name}" for p in (CORPUS / "invalid").glob("*.json"))])
    assert len(listed) == 400
    assert on_disk == listed
    for name in listed:
        json.loads((CORPUS / name).read_text(encoding="utf-8"))  # each one parses
