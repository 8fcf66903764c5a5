"""Exercises of 08 · The Map state."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from labhelpers.checks import NotRight, exercise
from labhelpers.exercises.error_handling import invokes, machine_definition
from labhelpers.executions import run_execution
from labhelpers.lab import Lab

MAP_MACHINE = "MapExercise"
CHECK_LEVEL = "level-map-check"
CHECK_PLAYERS = [{"user_id": f"check-map-{i}", "score": score, "max_score": 100}
                 for i, score in enumerate((91, 47, 68), start=1)]


def _processor(state: dict) -> dict:
    return state.get("ItemProcessor") or state.get("Iterator") or {}


def _report(lab: Lab, key: str) -> str | None:
    try:
        return lab.s3.get_object(Bucket=lab.names.bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise


@exercise("map-players", "one report per player with a Map state", "08",
          hint="A Map state with ItemsPath \"$.players\", MaxConcurrency 2, an ItemSelector that adds "
               "\"level.$\": \"$.level\" to each player's fields, and a Task on GenerateReport in its ItemProcessor.")
def check_map_players(lab: Lab) -> str:
    name = lab.names.prefixed(MAP_MACHINE)
    arn, definition = machine_definition(
        lab, MAP_MACHINE, hint=f'Create it with ensure_state_machine(..., name=lab.names.prefixed("{MAP_MACHINE}")).')
    maps = [(n, s) for n, s in definition.get("States", {}).items() if s.get("Type") == "Map"]
    if not maps:
        raise NotRight(f"{name} has no Map state.", where=f"{name}: States",
                       hint='Add a state with "Type": "Map" and an ItemProcessor.')
    map_name, state = maps[0]
    where = f"{name}: state {map_name!r}"
    if state.get("ItemsPath") != "$.players":
        raise NotRight(f"The Map iterates over {state.get('ItemsPath', '$')!r}, not the players.",
                       where=f"{where}, ItemsPath", hint='Set "ItemsPath": "$.players".')
    if state.get("MaxConcurrency") != 2:
        raise NotRight(f"MaxConcurrency is {state.get('MaxConcurrency', 'not set (no limit)')}: the report "
                       "service takes two players at a time.", where=f"{where}, MaxConcurrency",
                       hint='Set "MaxConcurrency": 2 (0 or no value means no limit).')
    function = lab.names.function("GenerateReport")
    if not any(invokes(s, function) for s in _processor(state).get("States", {}).values()):
        raise NotRight(f"No state of the Map's item processor invokes {function}.",
                       where=f"{where}, ItemProcessor",
                       hint=f"A Task whose Resource is {lab.function_arn('GenerateReport')}.")

    keys = {p["user_id"]: f"{p['user_id']}_report_{CHECK_LEVEL}.txt" for p in CHECK_PLAYERS}
    for key in keys.values():
        lab.s3.delete_object(Bucket=lab.names.bucket, Key=key)
    run = run_execution({"level": CHECK_LEVEL, "players": CHECK_PLAYERS}, lab=lab, state_machine_arn=arn)
    if run.status != "SUCCEEDED":
        message = run.error or ""
        try:
            message = json.loads(run.cause or "{}").get("errorMessage") or message
        except (json.JSONDecodeError, AttributeError):
            pass
        raise NotRight(f"A class of three players failed: {run.error}: {message}", where=f"execution {run.name}",
                       hint="Each item is one player without the level: the ItemSelector must add "
                            '"level.$": "$.level" (the Map\'s input) to the player\'s fields.')
    outputs = [json.loads(e["stateExitedEventDetails"]["output"]) for e in run.events
               if e["type"] == "MapStateExited" and e["stateExitedEventDetails"]["name"] == map_name]
    if not outputs or not isinstance(outputs[0], list) or len(outputs[0]) != len(CHECK_PLAYERS):
        raise NotRight("The Map's output should be an array with one entry per player.",
                       where=f"{where}, output", hint="Leave ResultSelector out; each iteration's output is one entry.")
    for player in CHECK_PLAYERS:
        text = _report(lab, keys[player["user_id"]])
        if text is None:
            raise NotRight(f"No report {keys[player['user_id']]} was written.", where=f"bucket {lab.names.bucket}",
                           hint="GenerateReport names the report <user_id>_report_<level>.txt.")
        if f"{player['score']}/{player['max_score']}" not in text:
            raise NotRight(f"The report of {player['user_id']} does not show the score: {text.strip()!r}.",
                           where=f"{where}, ItemSelector",
                           hint='Pass the player\'s fields too: "score.$": "$$.Map.Item.Value.score", and max_score.')
    return f"Right: {len(CHECK_PLAYERS)} players, {len(CHECK_PLAYERS)} reports, two at a time."
