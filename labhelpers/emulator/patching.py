"""The mechanism of the emulator's patch layer: what a patch is, how it is installed, and how
the emulator checks that the moto (and werkzeug) code it patches is the code it was written for.

A leaf module: it imports nothing from labhelpers, so the patch modules (``fixes``,
``sfn_extensions``, ``wait_speedup``, ``speed_*``) and the ``registry`` that orders them all
import it, and nothing imports them back.

Each patch names its *targets*: the functions and classes of moto (or werkzeug) that it
replaces, wraps, constructs, catches or otherwise relies on, as ``"module:Qualified.name"``.
The source of every target, as it was in the moto the patches were written for, is stored in
``moto_sources.json`` beside this module; the emulator compares it with the installed source
when it starts, so a changed target shows a diff, not just two hashes.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: Stored sources of every target, with the versions they were read from.
SOURCES_FILE = Path(__file__).with_name("moto_sources.json")
ORIGINAL = "__labhelpers_original__"


@dataclass(frozen=True)
class Patch:
    """One fix, named for what it fixes.

    ``targets``: the moto code it touches or relies on (``"module:Qualified.name"``), each
    fingerprinted. ``install(runtime)`` applies it; ``None`` when the server applies it itself
    (its request handler) and the patch only records what that code relies on. ``gain``: for a
    speed patch, what it was measured to save.
    """

    name: str
    why: str
    targets: tuple[str, ...]
    install: Callable[[Any], None] | None
    gain: str = ""
    group: str = field(default="", compare=False)

    @classmethod
    def replacing(cls, name: str, why: str, target: str, make: Callable[[Any], Any],
                  relies_on: tuple[str, ...] = (), gain: str = "") -> "Patch":
        """The common case: replace ``target`` with ``make(original)``."""
        module, attribute = target.split(":")
        return cls(name, why, (target, *relies_on), lambda rt: replace(module, attribute, make), gain)


def resolve(target: str) -> Any:
    """The object a target names, as moto defines it (unwrapping a patch installed over it)."""
    module, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attribute.split("."):
        obj = inspect.getattr_static(obj, part) if isinstance(obj, type) else getattr(obj, part)
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        obj = getattr(obj, ORIGINAL, obj)
    return obj


def target_source(target: str) -> str:
    return inspect.getsource(resolve(target))


def targets_of(patches: list[Patch]) -> list[str]:
    """Every target of these patches, once each, sorted."""
    return sorted({t for p in patches for t in p.targets})


# --- installing ---------------------------------------------------------------------------------

def _owner_and_name(module: str, attribute: str) -> tuple[Any, str]:
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def is_patched(target: str) -> bool:
    """Whether a patch has been installed over ``target`` (it carries moto's original)."""
    owner, name = _owner_and_name(*target.split(":"))
    return getattr(getattr(owner, name), ORIGINAL, None) is not None


def replace(module: str, attribute: str, make: Callable[[Any], Any]) -> None:
    """Set ``module.attribute`` to ``make(original)``: installing twice replaces, never stacks."""
    owner, name = _owner_and_name(module, attribute)
    original = getattr(owner, name)
    original = getattr(original, ORIGINAL, original)
    replacement = make(original)
    setattr(replacement, ORIGINAL, original)
    setattr(owner, name, replacement)


def wrap_current(module: str, attribute: str, make: Callable[[Any], Any], marker: str | None = None) -> None:
    """Like :func:`replace`, but wrap the attribute as it is now, so patches of one function stack.

    ``marker`` makes the wrap idempotent: a second install finds it and does nothing. moto's own
    function stays reachable as ``__labhelpers_original__`` for the fingerprint check.
    """
    owner, name = _owner_and_name(module, attribute)
    current = getattr(owner, name)
    if marker and getattr(current, marker, False):
        return
    replacement = make(current)
    setattr(replacement, ORIGINAL, getattr(current, ORIGINAL, current))
    if marker:
        setattr(replacement, marker, True)
    setattr(owner, name, replacement)


def replace_everywhere(module: str, name: str, make: Callable[[Any], Any], users: tuple[str, ...]) -> None:
    """Replace a function in its module and in the ``users`` modules that imported it by name."""
    replace(module, name, make)
    replacement = getattr(importlib.import_module(module), name)
    for module_name in users:
        setattr(importlib.import_module(module_name), name, replacement)


# --- checking the fingerprints -------------------------------------------------------------------

class MotoMismatch(RuntimeError):
    """The installed moto is not the one the patches were written for: some targets changed."""

    def __init__(self, message: str, changed: dict[str, str]) -> None:
        super().__init__(message)
        self.changed = changed  # target -> unified diff (or why it cannot be read)


def installed_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("moto", "werkzeug")}


def load_stored() -> dict:
    return json.loads(SOURCES_FILE.read_text(encoding="utf-8"))


def changed_targets(patches: list[Patch], stored: dict | None = None) -> dict[str, str]:
    """Each target whose installed source differs from the stored one, with a unified diff."""
    sources = (stored or load_stored())["sources"]
    changed: dict[str, str] = {}
    for target in targets_of(patches):
        try:
            now = target_source(target)
        except Exception as err:  # gone, renamed, or no source to read
            changed[target] = f"cannot read it: {type(err).__name__}: {err}"
            continue
        before = sources.get(target)
        if before is None:
            changed[target] = "no source stored for it (python -m labhelpers.emulator.registry --record)"
        elif now != before:
            changed[target] = "".join(difflib.unified_diff(
                before.splitlines(keepends=True), now.splitlines(keepends=True),
                f"{target} (as written for)", f"{target} (installed)"))
    return changed


def mismatch_message(patches: list[Patch], changed: dict[str, str], stored: dict) -> str:
    """One message: which moto was found, which the patches were written for, how to fix it."""
    found = installed_versions()
    written = stored["written_for"]
    names = sorted({p.name for p in patches for t in p.targets if t in changed})
    versions = ", ".join(f"{k} {found[k]}" for k in sorted(found))
    expected = ", ".join(f"{k} {written[k]}" for k in sorted(written))
    return (f"The emulator's patches were written for {expected}; this environment has {versions}, "
            f"in which {len(changed)} patched function(s) changed ({', '.join(sorted(changed))}; "
            f"patches: {', '.join(names)}). Run `make` (or `pip install -r requirements.lock`) to "
            f"reinstall the locked versions; `python -m labhelpers.emulator.registry --check` "
            f"shows the diffs.")


def record(patches: list[Patch]) -> dict:
    """The stored-sources document for the installed moto (written after reading every diff)."""
    return {"written_for": installed_versions(),
            "sources": {t: target_source(t) for t in targets_of(patches)}}
