"""EndsSimpleLevel: remember the last level a user finished (any level but "latest").

Input (the execution input): {"user_id", "level", ...}
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
    # Fail early, naming the field, instead of a confusing DynamoDB validation error.
    for field in ("user_id", "level"):
        if not isinstance(event, dict) or event.get(field) in (None, ""):
            raise ValueError(f"EndsSimpleLevel: missing required field '{field}' in input {event!r}")

    dynamodb_client.update_item(
        TableName=TABLE_NAME,
        Key={"user_id": {"S": str(event["user_id"])}},
        # Fix: UpdateExpression replaces the legacy AttributeUpdates parameter;
        # "#ts" stands for "timestamp", which is a DynamoDB reserved word.
        UpdateExpression="SET last_level = :level, #ts = :ts",
        ExpressionAttributeNames={"#ts": "timestamp"},
        ExpressionAttributeValues={
            ":level": {"S": str(event["level"])},
            ":ts": {"S": str(time.time())},
        },
    )
    return event
