"""PutMetric: publish how long the level took as a CloudWatch metric.

Input: the Parallel state's output, a list with one entry per branch;
event[0] is what the "Gen Report" branch returned (the execution input).
Output: True, which becomes the result of the whole execution.
"""
import boto3

# Created once per container, so warm invocations reuse it (AWS_ENDPOINT_URL is honoured).
cw_client = boto3.client("cloudwatch")


def lambda_handler(event, context):
    # Fix: the seed silently put the value False; fail with a clear message instead.
    if not isinstance(event, list) or not event or not isinstance(event[0], dict):
        raise ValueError(
            "PutMetric expected a non-empty list (the Parallel output) whose first "
            f"element is an object, but got {type(event).__name__}: {event!r:.200}"
        )
    time_played = event[0].get("time_played")
    # bool is a subclass of int in Python, so rule it out explicitly.
    if isinstance(time_played, bool) or not isinstance(time_played, (int, float)):
        raise ValueError(
            f"PutMetric expected 'time_played' to be a number in event[0], but got {time_played!r}"
        )

    cw_client.put_metric_data(
        Namespace="FLOW",
        MetricData=[{"MetricName": "CompleteLevel", "Value": time_played, "Unit": "Seconds"}],
    )
    return True
