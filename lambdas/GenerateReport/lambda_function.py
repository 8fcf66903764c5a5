"""GenerateReport: write a small text report for one completed level to S3.

Input (the execution input): {"user_id", "level", "score", "max_score", ...}
Output: the same event, unchanged, so the Parallel state can pass it on.
"""
import os

import boto3

# Created once per container, so warm invocations reuse it. boto3 honours
# AWS_ENDPOINT_URL, so this same line works against the local emulator and AWS.
s3_client = boto3.client("s3")


def lambda_handler(event, context):
    # Fail early, naming the field, instead of writing a "None_report_None.txt".
    for field in ("user_id", "level"):
        if not isinstance(event, dict) or event.get(field) in (None, ""):
            raise ValueError(f"GenerateReport: missing required field '{field}' in input {event!r}")

    # Fix: the bucket comes from the environment, never pasted into the code.
    bucket_name = os.environ.get("REPORT_BUCKET")
    if not bucket_name:
        raise ValueError("GenerateReport: environment variable REPORT_BUCKET is not set")

    level = event["level"]
    user_id = event["user_id"]
    # Fix: the seed wrote "\%s" (a backslash); a score reads "10/100".
    report = "Completed Level: %s\nMy Score: %s/%s\n" % (level, event.get("score"), event.get("max_score"))

    s3_client.put_object(
        # Fix: no ACL='public-read' - buckets with ACLs disabled reject it, and it made every report public.
        Bucket=bucket_name,
        Key="%s_report_%s.txt" % (user_id, level),
        Body=report.encode("utf-8"),
        ContentType="text/plain",  # Fix: say what the object is, so it opens as text.
    )
    return event
