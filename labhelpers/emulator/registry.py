"""Every patch of the emulator, in the one order they are installed, grouped by purpose.

1. ``correctness`` (``fixes``, ``robustness``, ``parity``): what moto gets wrong or cannot do that
   the lab relies on, what let one bad definition or emulator fault break the account, and where
   its answers differ from AWS's recordings;
2. ``added_apis`` (``sfn_extensions``, ``wait_speedup``, ``grammar``): Step Functions APIs and
   features moto lacks, and ASL that AWS accepts and moto's parser rejects;
3. ``speed`` (``speed_server``, ``speed_interpreter``, ``speed_records``): optional, each with its
   measured gain (``speed_gains``); ``LAB_EMULATOR_FAST=0`` leaves the whole group out.

Later groups may wrap what earlier ones installed (``patching.wrap_current``), never the reverse.

Before installing anything the emulator compares the source of every target with the source
stored for the moto it was written for, and refuses to start on a difference
(``LAB_MOTO_CHECK=warn`` starts anyway and logs the differences: for ``make moto-next``).

    python -m labhelpers.emulator.registry --check    # which patches need a look, with diffs
    python -m labhelpers.emulator.registry --record   # store the installed sources (after review)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from labhelpers.emulator import (fixes, grammar, parity, robustness, sfn_extensions, speed_interpreter,
                                 speed_records, speed_server, wait_speedup)
from labhelpers.emulator.speed_gains import GAINS
from labhelpers.emulator.patching import (SOURCES_FILE, MotoMismatch, Patch, changed_targets, load_stored,
                                          mismatch_message, record, targets_of)

log = logging.getLogger("labhelpers.emulator")

GROUPS: dict[str, list[Patch]] = {
    "correctness": fixes.PATCHES + robustness.PATCHES + parity.PATCHES,
    "added_apis": sfn_extensions.PATCHES + wait_speedup.PATCHES + grammar.PATCHES,
    "speed": speed_server.PATCHES + speed_interpreter.PATCHES + speed_records.PATCHES,
}


def all_patches() -> list[Patch]:
    """Every patch, in install order, each knowing its group (and a speed patch its gain)."""
    return [Patch(p.name, p.why, p.targets, p.install, p.gain or GAINS.get(p.name, ""), group)
            for group, patches in GROUPS.items() for p in patches]


def fast_enabled() -> bool:
    """``LAB_EMULATOR_FAST=0`` (or false/off/no) leaves the speed group out."""
    return os.environ.get("LAB_EMULATOR_FAST", "1").strip().lower() not in {"0", "false", "off", "no"}


def selected(fast: bool | None = None) -> list[Patch]:
    """The patches this emulator installs; ``LAB_EMULATOR_SKIP_PATCHES=a,b`` leaves out named ones
    (benchmarks/ablation.py measures each speed patch that way)."""
    fast = fast_enabled() if fast is None else fast
    skipped = {n.strip() for n in os.environ.get("LAB_EMULATOR_SKIP_PATCHES", "").split(",") if n.strip()}
    patches = all_patches()
    unknown = skipped - {p.name for p in patches}
    if unknown:
        raise ValueError(f"LAB_EMULATOR_SKIP_PATCHES: no patch named {', '.join(sorted(unknown))}")
    return [p for p in patches if (fast or p.group != "speed") and p.name not in skipped]


def verify_moto(patches: list[Patch] | None = None, stored: dict | None = None) -> None:
    """Raise :class:`MotoMismatch` when a target of the patches differs from its stored source."""
    patches = all_patches() if patches is None else patches
    stored = load_stored() if stored is None else stored
    changed = changed_targets(patches, stored)
    if changed:
        raise MotoMismatch(mismatch_message(patches, changed, stored), changed)


def apply(runtime: Any, fast: bool | None = None) -> list[str]:
    """Check the installed moto, then install the selected patches in order; their names."""
    from moto.core.config import default_user_config

    patches = selected(fast)
    try:
        verify_moto(patches)
    except MotoMismatch as err:
        if os.environ.get("LAB_MOTO_CHECK", "strict").strip().lower() != "warn":
            raise
        log.warning("%s (starting anyway: LAB_MOTO_CHECK=warn)", err)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    for patch in patches:
        if patch.install is not None:
            patch.install(runtime)
    return [p.name for p in patches]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labhelpers.emulator.registry",
                                     description="Check or record the moto sources the emulator's patches rely on.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="list each patch whose moto code changed, with diffs")
    action.add_argument("--record", action="store_true",
                        help=f"store the installed sources in {SOURCES_FILE.name} (only after reading every diff)")
    args = parser.parse_args(argv)
    patches = all_patches()
    if args.record:
        SOURCES_FILE.write_text(json.dumps(record(patches), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"recorded {len(targets_of(patches))} sources in {SOURCES_FILE}")
        return 0
    stored = load_stored()
    changed = changed_targets(patches, stored)
    if not changed:
        print(f"all {len(patches)} patches match the moto they were written for ({stored['written_for']})")
        return 0
    print(mismatch_message(patches, changed, stored))
    for patch in patches:
        hits = [t for t in patch.targets if t in changed]
        if hits:
            print(f"\n== patch {patch.name} ({patch.group}): {patch.why}")
            for target in hits:
                print(changed[target])
    return 1


if __name__ == "__main__":
    sys.exit(main())
