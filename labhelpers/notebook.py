"""The one set-up call each notebook makes, and the tools that keep the committed notebooks clean.

In a notebook::

    import labhelpers as lh
    lab = lh.notebook_setup(needs=["bucket", "lambda_role"])

connects to the current target, makes sure what earlier notebooks created exists
(so every notebook runs on its own), and sets display options.
"""

from __future__ import annotations

import logging
import re
import os
import socket
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from labhelpers import config
from labhelpers.lab import FUNCTION_NAMES, Lab, connect

log = logging.getLogger("labhelpers")
NOTEBOOK_DIR = config.PROJECT_ROOT / "notebooks"


def _prerequisites() -> dict[str, Callable[[Lab], Any]]:
    from labhelpers import resources as r

    def lambda_role(lab: Lab) -> str:
        return r.ensure_role(lab, lab.names.lambda_role, "lambda.amazonaws.com", r.lambda_role_policy(lab))

    def states_role(lab: Lab) -> str:
        return r.ensure_role(lab, lab.names.states_role, "states.amazonaws.com", r.states_role_policy(lab))

    def functions(lab: Lab) -> None:
        role = lambda_role(lab)
        for base in FUNCTION_NAMES:
            r.ensure_function(lab, base, role)

    return {
        "bucket": r.ensure_bucket,
        "table": r.ensure_table,
        "lambda_role": lambda_role,
        "states_role": states_role,
        "functions": functions,
        "state_machine": r.deploy,
    }


PREREQUISITES = ("bucket", "table", "lambda_role", "states_role", "functions", "state_machine")


def notebook_setup(needs: list[str] | tuple[str, ...] = (), *, target: str | None = None) -> Lab:
    """Connect, ensure the resources named in ``needs`` exist, and set quiet, readable display options."""
    unknown = [n for n in needs if n not in PREREQUISITES]
    if unknown:
        raise ValueError(f"Unknown prerequisite(s) {unknown}; choose from {list(PREREQUISITES)}.")
    _display_options()
    lab = connect(target)
    steps = _prerequisites()
    for name in needs:
        steps[name](lab)
    return lab


def _display_options() -> None:
    import graphviz
    import pandas as pd

    # PNG: graphviz's SVG differs between graphviz versions, so it would not compare across machines.
    graphviz.set_jupyter_format("png")
    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.max_rows", 40)
    pd.set_option("display.width", 140)
    # Library chatter (botocore, urllib3) stays out of the notebook.
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def show_code(function: str) -> Any:
    """Display a Lambda handler's source from ``lambdas/<function>/lambda_function.py``, highlighted."""
    from IPython.display import Code

    path = config.LAMBDAS_DIR / function / "lambda_function.py"
    return Code(filename=str(path), language="python")


# --- committed-notebook tools ---------------------------------------------------------------------

KEEP_METADATA = ("kernelspec", "language_info")


def strip(nb: Any) -> Any:
    """Drop notebook and cell metadata that only records a session (outputs stay); keep only
    the final state of progress bars, as a reader (and nbval) sees them."""
    from nbval.plugin import coalesce_streams

    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_METADATA}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
            for output in cell.outputs:
                output.get("metadata", {}).pop("needs_background", None)
    return nb


@contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    old = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


def execute(path: Path, *, timeout: int = 300) -> Any:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder) and return it, stripped."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return strip(nb)


def fresh_emulator_env() -> dict[str, str]:
    """Environment for running notebooks against a new, empty emulator (as CI does)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {"LAB_STATE_DIR": tempfile.mkdtemp(prefix="labhelpers-nb-"), "LAB_EMULATOR_PORT": str(port),
            "LAB_TARGET": "emulator"}


def refresh(paths: list[Path] | None = None) -> list[Path]:
    """Re-run notebooks in order on a fresh emulator and save them with their outputs."""
    import nbformat

    from labhelpers.emulator import control

    paths = paths or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    env = fresh_emulator_env()
    with _environ(env):
        try:
            for path in paths:
                nbformat.write(execute(path), path)
                log.info("refreshed %s", path.name)
        finally:
            control.stop(int(env["LAB_EMULATOR_PORT"]))
    return paths


# --- student versions -------------------------------------------------------------------------------

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
CODE_PLACEHOLDER = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_PLACEHOLDER = "YOUR ANSWER HERE"
_SOLUTION = re.compile(rf"^([ \t]*){re.escape(BEGIN_SOLUTION)}.*?^[ \t]*{re.escape(END_SOLUTION)}[^\n]*$",
                       re.S | re.M)


def is_exercise_cell(cell: Any) -> bool:
    """A solution cell, or the check/submit call that belongs to an exercise."""
    text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    return BEGIN_SOLUTION in text or "lh.check(" in text or "lh.submit(" in text


def student_version(nb: Any) -> Any:
    """The notebook without its solutions (nbgrader's markers), exercise outputs cleared."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        exercise_cell = is_exercise_cell(cell)
        if BEGIN_SOLUTION in text:
            placeholder = CODE_PLACEHOLDER if cell.cell_type == "code" else TEXT_PLACEHOLDER
            cell.source = _SOLUTION.sub(
                lambda m: "\n".join(m.group(1) + line for line in placeholder.splitlines()), text)
            if cell.cell_type == "code":
                # Run All goes on past the placeholder's NotImplementedError (JupyterLab and nbclient honour it).
                tags = list(cell.metadata.get("tags", []))
                cell.metadata["tags"] = tags + ["raises-exception"] * ("raises-exception" not in tags)
        if exercise_cell and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_student_notebooks(out_dir: Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student version of every notebook into ``out_dir``; returns the files written."""
    import nbformat

    out_dir = Path(out_dir)
    if out_dir.resolve() == NOTEBOOK_DIR.resolve():
        raise ValueError("Writing student notebooks over the instructor notebooks would lose the solutions.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        target = out_dir / path.name
        nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written
