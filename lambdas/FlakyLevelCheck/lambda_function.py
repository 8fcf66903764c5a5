"""FlakyLevelCheck: check a player's level with a service that is busy at first, on purpose.

Input: {"player": <the execution input>, "attempt": <$$.State.RetryCount: 0, 1, 2...>}
The player may carry two knobs for the lesson: "busy_attempts" (default 2) and "slow_seconds"
(default 0). The attempt number comes from the state machine, so the function fails the same
way on AWS, whichever container runs each retry.
Output: {"user_id", "level", "checked_on_attempt"}
"""
import time


class LevelServiceBusy(Exception):
    """The (pretend) level service is busy. Retry and Catch match it by name: "LevelServiceBusy"."""


def lambda_handler(event, context):
    player = event.get("player") or {}
    attempt = event.get("attempt", 0)

    # Busy on attempts 0 and 1 by default: the third attempt (the second retry) succeeds.
    if attempt < player.get("busy_attempts", 2):
        raise LevelServiceBusy(f"the level service is busy (attempt {attempt}), try again later")

    # A slow answer, to show a Task's TimeoutSeconds (States.Timeout).
    time.sleep(player.get("slow_seconds", 0))

    # A bad input is not worth retrying: a plain ValueError, which a Retry on LevelServiceBusy ignores.
    if not player.get("user_id"):
        raise ValueError(f"FlakyLevelCheck: missing required field 'user_id' in {player!r}")
    return {"user_id": player["user_id"], "level": player.get("level"), "checked_on_attempt": attempt}
