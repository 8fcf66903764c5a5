"""Exercises of 09 · The Wait state."""

from __future__ import annotations

from labhelpers.checks import NotRight, exercise
from labhelpers.exercises._common import require_machine
from labhelpers.lab import Lab

BONUS_MACHINE = "BonusWaitFlow"
BONUS_FIELD = "bonus_delay_seconds"
#: The delay the check asks for: an hour and a half on the emulator (accelerated), 2 s on AWS.
EMULATOR_DELAY_S, AWS_DELAY_S = 5400, 2
_CHECK_SPEEDUP = 54_000  # 5400 s in a tenth of a second


def _definition(lab: Lab, name: str) -> tuple[str, dict]:
    return require_machine(lab, name, hint=f'Create it with ensure_state_machine(..., '
                                           f'name=lab.names.prefixed("{BONUS_MACHINE}")).')


@exercise("wait-until-bonus", "wait for the bonus delay the input asks for", "09",
          hint=f'A Wait state with "SecondsPath": "$.{BONUS_FIELD}", then a Pass state.')
def check_wait_until_bonus(lab: Lab) -> str:
    from labhelpers.executions import run_execution
    from labhelpers.waits import accelerated_waits, wait_frame

    name = lab.names.prefixed(BONUS_MACHINE)
    arn, definition = _definition(lab, name)
    states = definition.get("States", {})
    waits = {n: s for n, s in states.items() if s.get("Type") == "Wait"}
    if not waits:
        raise NotRight(f"{name} has no Wait state.", where=f"{name}: States",
                       hint=f'Add a state with "Type": "Wait" and "SecondsPath": "$.{BONUS_FIELD}".')
    wait_name, wait = next(iter(waits.items()))
    if "SecondsPath" not in wait:
        fixed = next((f"{k}: {wait[k]!r}" for k in ("Seconds", "Timestamp", "TimestampPath") if k in wait), "")
        raise NotRight(f"The Wait state {wait_name} does not take its delay from the input ({fixed}).",
                       where=f"{name} → {wait_name}.SecondsPath",
                       hint=f'Replace it with "SecondsPath": "$.{BONUS_FIELD}": each player has a different delay.')
    after = states.get(wait.get("Next", ""), {})
    if after.get("Type") != "Pass":
        raise NotRight(f"After {wait_name} comes {wait.get('Next') or 'the end'}, not a Pass state.",
                       where=f"{name} → {wait_name}.Next",
                       hint="Add a Pass state (it grants the bonus) after the Wait.")
    delay = EMULATOR_DELAY_S if lab.target == "emulator" else AWS_DELAY_S
    with accelerated_waits(_CHECK_SPEEDUP, lab):
        execution = run_execution({"user_id": "bonus-check", BONUS_FIELD: delay}, lab=lab,
                                  state_machine_arn=arn, timeout=60)
    if execution.status != "SUCCEEDED":
        raise NotRight(f"With {{\"{BONUS_FIELD}\": {delay}}} the execution ended {execution.status}: "
                       f"{execution.error}: {execution.cause}", where=f"{name} → {wait_name}.SecondsPath",
                       hint=f'The path must name the input field: "$.{BONUS_FIELD}".')
    waited = int(wait_frame(execution)["seconds"].sum())
    if abs(waited - delay) > 1:
        raise NotRight(f"For {{\"{BONUS_FIELD}\": {delay}}} the history shows a wait of {waited} s.",
                       where=f"{name} → {wait_name}", hint=f"Only one Wait, reading $.{BONUS_FIELD}.")
    return (f"Right: for a delay of {delay} s the history shows {wait_name} waiting {waited} s, "
            f"then {wait['Next']} ran.")
