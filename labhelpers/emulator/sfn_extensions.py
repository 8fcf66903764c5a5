"""Step Functions APIs and ASL features moto lacks, added to the emulator.

Each entry of ``PATCHES`` is a :class:`labhelpers.emulator.patches.Patch`.
"""

from __future__ import annotations

from labhelpers.emulator.patches import Patch

PATCHES: list[Patch] = []
