"""Create the lab's resources idempotently, and remove them again.

Every ``ensure_*`` function returns the resource whether it created it or found
it, and picks up changed code, configuration or definitions. Re-running a cell
never fails on "already exists".
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError

from labhelpers import config
from labhelpers.errors import DefinitionError, DeployError
from labhelpers.lab import FUNCTION_NAMES, Lab, connect

log = logging.getLogger("labhelpers")

LAMBDA_RUNTIME = "python3.12"
LAMBDA_HANDLER = "lambda_function.lambda_handler"
LAMBDA_TIMEOUT_S = 10
LAMBDA_MEMORY_MB = 128
DEFINITION_TEMPLATE = config.DATA_DIR / "state_machine.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


# --- IAM -------------------------------------------------------------------------

def _trust_policy(service: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def lambda_role_policy(lab: Lab) -> dict:
    """Least privilege for the lab's functions: the bucket, the table, the FLOW metrics, their logs."""
    n, arn = lab.names, lab.partition
    log_arns = [f"arn:{arn}:logs:{lab.region}:{lab.account_id}:log-group:{g}:*" for g in n.log_groups]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteReports", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"arn:{arn}:s3:::{n.bucket}/*"},
        {"Sid": "UpdateCompletedLevel", "Effect": "Allow",
         "Action": ["dynamodb:UpdateItem", "dynamodb:PutItem"],
         "Resource": f"arn:{arn}:dynamodb:{lab.region}:{lab.account_id}:table/{n.table}"},
        {"Sid": "PutFlowMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
         "Resource": "*",  # PutMetricData has no resource ARN; the condition key narrows it.
         "Condition": {"StringEquals": {"cloudwatch:namespace": n.metric_namespace}}},
        {"Sid": "WriteOwnLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": log_arns},
    ]}


def states_role_policy(lab: Lab) -> dict:
    """Step Functions may only invoke the lab's four functions (and their versions)."""
    arns = [lab.function_arn(base) for base in FUNCTION_NAMES]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeLabFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": arns + [a + ":*" for a in arns]}]}


def ensure_role(lab: Lab, name: str, service: str, policy: dict) -> str:
    """Create (or update) a role trusted by ``service`` with one inline policy; returns its ARN."""
    try:
        role = lab.iam.get_role(RoleName=name)["Role"]
    except ClientError as err:
        if _code(err) != "NoSuchEntity":
            raise
        role = lab.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_trust_policy(service)),
                                   Description="Created by labhelpers for the Step Functions lab")["Role"]
        log.info("created role %s", name)
    lab.iam.put_role_policy(RoleName=name, PolicyName=f"{name}Policy", PolicyDocument=json.dumps(policy))
    return role["Arn"]


def _retry_new_role(call: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    """Retry ``call`` while AWS says a just-created role cannot be assumed yet (IAM is eventually consistent)."""
    deadline = time.monotonic() + timeout_s
    delay = 1.0
    while True:
        try:
            return call()
        except ClientError as err:
            message = str(err)
            transient = _code(err) in ("InvalidParameterValueException", "AccessDeniedException") and (
                "cannot be assumed" in message or "not authorized to perform: sts:AssumeRole" in message
                or "Neither the global service principal" in message)
            if not transient or time.monotonic() + delay > deadline:
                raise
            log.info("%s: the new role is not usable yet, retrying in %.0f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


# --- S3 and DynamoDB ---------------------------------------------------------------

def ensure_bucket(lab: Lab) -> str:
    """The private bucket the report Lambda writes to."""
    name = lab.names.bucket
    kwargs: dict[str, Any] = {"Bucket": name}
    if lab.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": lab.region}
    try:
        lab.s3.create_bucket(**kwargs)
        log.info("created bucket %s", name)
    except ClientError as err:
        if _code(err) != "BucketAlreadyOwnedByYou":
            raise DeployError(f"Could not create bucket {name}: {err}") from err
    lab.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return name


def ensure_table(lab: Lab) -> str:
    """The CompletedLevel table, keyed by user_id."""
    name = lab.names.table
    try:
        lab.dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}])
        log.info("created table %s", name)
    except ClientError as err:
        if _code(err) != "ResourceInUseException":
            raise
    lab.dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


# --- Lambda ------------------------------------------------------------------------

def function_zip(source_dir: Path) -> bytes:
    """Zip a function folder reproducibly (fixed timestamps, sorted), so unchanged code keeps its hash."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source_dir.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(path.relative_to(source_dir).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """The CodeSha256 Lambda reports for a zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def function_environment(lab: Lab) -> dict[str, str]:
    return {"REPORT_BUCKET": lab.names.bucket, "TABLE_NAME": lab.names.table}


def ensure_function(lab: Lab, base: str, role_arn: str, source_dir: Path | None = None,
                    environment: dict[str, str] | None = None, timeout: int = LAMBDA_TIMEOUT_S,
                    handler: str = LAMBDA_HANDLER) -> dict:
    """Create or update one function from ``lambdas/<base>/``; returns its configuration."""
    name = lab.names.function(base)
    source_dir = source_dir or config.LAMBDAS_DIR / base
    if not source_dir.is_dir():
        raise DeployError(f"No code for function {base}: folder {source_dir} does not exist.")
    code = function_zip(source_dir)
    settings = {"Role": role_arn, "Handler": handler, "Runtime": LAMBDA_RUNTIME, "Timeout": timeout,
                "MemorySize": LAMBDA_MEMORY_MB,
                "Environment": {"Variables": environment if environment is not None else function_environment(lab)}}
    try:
        current = lab.lambda_.get_function_configuration(FunctionName=name)
    except ClientError as err:
        if _code(err) != "ResourceNotFoundException":
            raise
        created = _retry_new_role(lambda: lab.lambda_.create_function(
            FunctionName=name, Code={"ZipFile": code}, Description=f"Step Functions lab: {base}",
            **settings), what=f"create function {name}")
        log.info("created function %s", name)
        lab.lambda_.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
        return created
    if current.get("CodeSha256") != code_sha256(code):
        lab.lambda_.update_function_code(FunctionName=name, ZipFile=code)
        lab.lambda_.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
        log.info("updated the code of %s", name)
    wanted = {k: v for k, v in settings.items()}
    have = {"Role": current.get("Role"), "Handler": current.get("Handler"), "Runtime": current.get("Runtime"),
            "Timeout": current.get("Timeout"), "MemorySize": current.get("MemorySize"),
            "Environment": {"Variables": current.get("Environment", {}).get("Variables", {})}}
    if wanted != have:
        _retry_new_role(lambda: lab.lambda_.update_function_configuration(FunctionName=name, **settings),
                        what=f"update function {name}")
        lab.lambda_.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return lab.lambda_.get_function_configuration(FunctionName=name)


# --- Step Functions ------------------------------------------------------------------

def render_definition(lab: Lab, template: str | Path | None = None) -> str:
    """Fill a definition template's ``${...}`` placeholders with this lab's partition, region, account and names."""
    text = Path(template or DEFINITION_TEMPLATE).read_text(encoding="utf-8") if not (
        isinstance(template, str) and template.lstrip().startswith("{")) else template
    values = {"Partition": lab.partition, "Region": lab.region, "AccountId": lab.account_id,
              **{f"{base}FunctionName": lab.names.function(base) for base in FUNCTION_NAMES}}

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise DefinitionError(f"Unknown placeholder ${{{key}}} in the definition template; "
                                  f"known: {', '.join(sorted(values))}.")
        return values[key]

    return _PLACEHOLDER.sub(fill, text)


def ensure_state_machine(lab: Lab, definition: str, role_arn: str, name: str | None = None,
                         type: str = "STANDARD") -> str:
    """Create the state machine, or update it when its definition or role changed; returns its ARN."""
    name = name or lab.names.state_machine
    arn = lab.state_machine_arn if name == lab.names.state_machine else lab.state_machine_arn.rsplit(":", 1)[0] + ":" + name
    try:
        current = lab.sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as err:
        if _code(err) not in ("StateMachineDoesNotExist", "ResourceNotFound"):
            raise
        created = _retry_new_role(lambda: lab.sfn.create_state_machine(
            name=name, definition=definition, roleArn=role_arn, type=type), what=f"create state machine {name}")
        log.info("created state machine %s", name)
        return created["stateMachineArn"]
    if json.loads(current["definition"]) != json.loads(definition) or current["roleArn"] != role_arn:
        lab.sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role_arn)
        log.info("updated state machine %s", name)
    return arn


@dataclass
class Deployment:
    """What :func:`deploy` created or found."""

    bucket: str
    table: str
    lambda_role_arn: str
    states_role_arn: str
    functions: dict[str, str] = field(default_factory=dict)
    state_machine_arn: str = ""


def deploy(lab: Lab | None = None) -> Deployment:
    """Create or update every lab resource: bucket, table, roles, the four functions, the state machine."""
    lab = lab or connect()
    bucket = ensure_bucket(lab)
    table = ensure_table(lab)
    lambda_role = ensure_role(lab, lab.names.lambda_role, "lambda.amazonaws.com", lambda_role_policy(lab))
    states_role = ensure_role(lab, lab.names.states_role, "states.amazonaws.com", states_role_policy(lab))
    functions = {base: ensure_function(lab, base, lambda_role)["FunctionArn"] for base in FUNCTION_NAMES}
    arn = ensure_state_machine(lab, render_definition(lab), states_role)
    return Deployment(bucket, table, lambda_role, states_role, functions, arn)


@dataclass
class CleanupReport:
    """What :func:`cleanup` removed, and what it could not remove and why."""

    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"removed {what}" for what in self.removed] or ["nothing to remove"]
        lines += [f"could not remove {what}: {why}" for what, why in self.failed]
        return "\n".join(lines)


_GONE = {"NoSuchEntity", "ResourceNotFoundException", "NoSuchBucket", "StateMachineDoesNotExist",
         "ResourceNotFound", "ExecutionDoesNotExist"}


def _remove(report: CleanupReport, what: str, call: Callable[[], Any]) -> None:
    try:
        call()
        report.removed.append(what)
    except ClientError as err:
        if _code(err) not in _GONE:
            report.failed.append((what, f"{_code(err)}: {err.response['Error'].get('Message', '')}"))


def _empty_bucket(lab: Lab, bucket: str) -> None:
    pages = lab.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for i in range(0, len(keys), 1000):
            lab.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})


def _delete_role(lab: Lab, name: str) -> None:
    for policy in lab.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        lab.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in lab.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        lab.iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    lab.iam.delete_role(RoleName=name)


def _delete_state_machine(lab: Lab) -> None:
    arn = lab.state_machine_arn
    # DeleteStateMachine succeeds for a missing machine; describe first so the report is truthful.
    lab.sfn.describe_state_machine(stateMachineArn=arn)
    _stop_executions(lab, arn)
    lab.sfn.delete_state_machine(stateMachineArn=arn)


def _stop_executions(lab: Lab, arn: str) -> None:
    pages = lab.sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
    for page in pages:
        for execution in page["executions"]:
            lab.sfn.stop_execution(executionArn=execution["executionArn"], error="LabCleanup",
                                   cause="Stopped by labhelpers cleanup")


def cleanup_plan(lab: Lab) -> list[str]:
    """The resources :func:`cleanup` would remove for this lab's prefix, in order."""
    n = lab.names
    return ([f"state machine {n.state_machine} (running executions stopped first)"]
            + [f"function {f}" for f in n.functions.values()]
            + [f"log group {g}" for g in n.log_groups]
            + [f"table {n.table}", f"bucket {n.bucket} (all objects and versions)",
               f"role {n.states_role}", f"role {n.lambda_role}"])


def cleanup(lab: Lab | None = None) -> CleanupReport:
    """Remove every resource of this lab (this prefix only). Safe to run twice."""
    lab = lab or connect()
    n, report = lab.names, CleanupReport()
    _remove(report, f"state machine {n.state_machine}", lambda: _delete_state_machine(lab))
    for name in n.functions.values():
        _remove(report, f"function {name}", lambda name=name: lab.lambda_.delete_function(FunctionName=name))
    for group in n.log_groups:
        _remove(report, f"log group {group}", lambda group=group: lab.logs.delete_log_group(logGroupName=group))
    _remove(report, f"table {n.table}", lambda: lab.dynamodb.delete_table(TableName=n.table))
    _remove(report, f"bucket {n.bucket}", lambda: (_empty_bucket(lab, n.bucket), lab.s3.delete_bucket(Bucket=n.bucket)))
    for role in (n.states_role, n.lambda_role):
        _remove(report, f"role {role}", lambda role=role: _delete_role(lab, role))
    return report
