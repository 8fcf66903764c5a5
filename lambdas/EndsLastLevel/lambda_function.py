"""EndsLastLevel: record that a user completed the game (level "latest").

Input (the execution input): {"user_id", "total_score", ...}
Output: the same event, unchanged.
"""
import os
import time

import boto3

# Created once per container, so warm invocations reuse it (AWS_ENDPOINT_URL is honoured).
dynamodb_client = boto3.client("dynamodb")
# Fix: table name configurable through the environment instead of hard-coded.
TABLE_NAME = os.environ.get("TABLE_NAME", "CompletedLevel")


def lambda_handler(event, context):
    # Fail early, naming the field, instead of storing total_score "None".
    for field in ("user_id", "total_score"):
        if not isinstance(event, dict) or event.get(field) in (None, ""):
            raise ValueError(f"EndsLastLevel: missing required field '{field}' in input {event!r}")
    total_score = event["total_score"]
    # bool is a subclass of int in Python, so rule it out explicitly.
    if isinstance(total_score, bool) or not isinstance(total_score, (int, float)):
        raise ValueError(f"EndsLastLevel: 'total_score' must be a number, got {total_score!r}")

    dynamodb_client.put_item(
        TableName=TABLE_NAME,
        Item={
            "user_id": {"S": str(event["user_id"])},
            "completed": {"BOOL": True},
            "timestamp": {"S": str(time.time())},
            "total_score": {"N": str(total_score)},  # DynamoDB sends numbers as strings
        },
    )
    return event
