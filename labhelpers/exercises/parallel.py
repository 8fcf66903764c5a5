"""Exercises of 01 · The Parallel state and the report Lambda."""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from labhelpers.checks import NotDone, NotRight, exercise
from labhelpers.exercises._common import _MISSING, _code
from labhelpers.lab import Lab

REPORT_PLAYER = "exercise-player"
REPORT_LEVEL = "level-2"
_REPORT_TEXT = re.compile(r"Completed Level: (?P<level>.*)\nMy Score: (?P<score>.*)/(?P<max>.*)\n?")


@exercise("report-for-player", f'a report for "{REPORT_PLAYER}" at "{REPORT_LEVEL}"', "01",
          hint=f'Invoke GenerateReport with an event whose user_id is "{REPORT_PLAYER}" and level "{REPORT_LEVEL}".')
def check_report_for_player(lab: Lab) -> str:
    bucket = lab.names.bucket
    key = f"{REPORT_PLAYER}_report_{REPORT_LEVEL}.txt"
    try:
        body = lab.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
    except ClientError as err:
        if _code(err) not in _MISSING:
            raise
        body = None
    if body is None:
        try:
            others = [o["Key"] for o in lab.s3.list_objects_v2(Bucket=bucket, Prefix=f"{REPORT_PLAYER}_report_")
                      .get("Contents", [])]
        except ClientError as err:
            if _code(err) not in _MISSING:
                raise
            raise NotDone(f"The report bucket {bucket} does not exist yet.",
                          hint="Run section 2 of this notebook first: it creates the bucket.") from None
        if others:
            found = sorted(others)[0]
            level = found[len(f"{REPORT_PLAYER}_report_"):].removesuffix(".txt")
            raise NotRight(f"There is a report for {REPORT_PLAYER}, but for level {level!r}, not {REPORT_LEVEL!r}.",
                           where=f"s3://{bucket}/{found}",
                           hint=f'The report is named <user_id>_report_<level>.txt: send "level": "{REPORT_LEVEL}".')
        raise NotDone(f"No report {key} in the bucket yet.")
    match = _REPORT_TEXT.fullmatch(body)
    if not match:
        raise NotRight(f"{key} exists but does not read like a report of GenerateReport: {body[:60]!r}.",
                       where=f"s3://{bucket}/{key}",
                       hint="Write it by invoking the GenerateReport function, not with put_object.")
    if match["level"] != REPORT_LEVEL:
        raise NotRight(f"The report's text says level {match['level']!r}.", where=f"s3://{bucket}/{key}",
                       hint=f'Invoke GenerateReport again with "level": "{REPORT_LEVEL}".')
    return f"Right: s3://…/{key} exists and reads \"Completed Level: {REPORT_LEVEL}\"."
