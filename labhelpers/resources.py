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

from botocore.exceptions import BotoCoreError, ClientError

from labhelpers import config
from labhelpers.errors import DefinitionError, DeployError
from labhelpers.lab import FUNCTION_NAMES, Lab, connect

log = logging.getLogger("labhelpers")

LAMBDA_RUNTIME = "python3.12"
LAMBDA_HANDLER = "lambda_function.lambda_handler"
LAMBDA_TIMEOUT_S = 10
LAMBDA_MEMORY_MB = 128
#: Lambda log groups keep a week of logs: enough for the lab, and storage cannot pile up.
LOG_RETENTION_DAYS = 7
DEFINITION_TEMPLATE = config.DATA_DIR / "state_machine.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def _message(err: ClientError) -> str:
    return f"{_code(err)}: {err.response.get('Error', {}).get('Message', '')}".rstrip(": ")


def lab_tags(lab: Lab) -> dict[str, str]:
    """Tags put on every resource that takes them, so a tag search finds a student's leftovers."""
    tags = {"labhelpers:lab": "step-functions"}
    if lab.prefix:
        tags["labhelpers:prefix"] = lab.prefix
    return tags


def _tag_list(lab: Lab, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in lab_tags(lab).items()]


# --- What deploy and cleanup would do (read-only) ------------------------------------

@dataclass
class PlanItem:
    """One lab resource and whether it exists now (None: could not tell, see ``note``)."""

    kind: str
    name: str
    exists: bool | None
    note: str = ""


@dataclass
class Plan:
    """What :func:`deploy` or :func:`cleanup` would do, found with read-only calls only."""

    action: str  # "deploy" or "cleanup"
    where: str
    account_id: str
    region: str
    prefix: str
    items: list[PlanItem] = field(default_factory=list)

    @property
    def to_change(self) -> list[PlanItem]:
        """The items the action would touch: all of them for deploy, the existing ones for cleanup."""
        return self.items if self.action == "deploy" else [i for i in self.items if i.exists is not False]

    def __str__(self) -> str:
        head = (f"{'Deploy to' if self.action == 'deploy' else 'Clean up in'} {self.where}: "
                f"account {self.account_id}, region {self.region}, prefix {self.prefix or '(none)'}")
        verbs = ({True: "update", False: "create", None: "create?"} if self.action == "deploy"
                 else {True: "delete", False: "absent", None: "delete?"})
        lines = [head]
        for item in self.items:
            extra = " (exists)" if self.action == "deploy" and item.exists else ""
            extra += " (not found, nothing to do)" if self.action == "cleanup" and item.exists is False else ""
            extra += f" ({item.note})" if item.note else ""
            lines.append(f"  {verbs[item.exists]:<7} {item.kind} {item.name}{extra}")
        if self.action == "cleanup" and not self.to_change:
            lines.append("  nothing to remove")
        return "\n".join(lines)

    __repr__ = __str__  # a notebook cell ending in deploy(dry_run=True) shows the readable list


def _check(call: Callable[[], Any]) -> tuple[bool | None, str]:
    """Run a read-only call: (True, "") if the resource is there, (False, "") if not, (None, why) if unknown."""
    try:
        result = call()
    except ClientError as err:
        code = _code(err)
        if code in _GONE or code in ("404", "NotFound", "NoSuchKey"):
            return False, ""
        if code == "403":  # HeadBucket has no body: a 403 is a bucket someone else owns, or no permission
            return None, "403 Forbidden: the name is taken by another account, or you may not read it"
        return None, f"could not check: {_message(err)}"
    except BotoCoreError as err:
        return None, f"could not check: {err}"
    return (result if isinstance(result, bool) else True), ""


def _log_group_exists(lab: Lab, group: str) -> bool:
    groups = lab.logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
    return any(g["logGroupName"] == group for g in groups)


def _inventory(lab: Lab) -> dict[str, list[tuple[str, str, Callable[[], Any]]]]:
    """Every lab resource by kind, each with a read-only existence check; in deploy order."""
    n = lab.names
    return {
        "bucket": [("bucket", n.bucket, lambda: lab.s3.head_bucket(Bucket=n.bucket))],
        "table": [("table", n.table, lambda: lab.dynamodb.describe_table(TableName=n.table))],
        "roles": [("role", r, lambda r=r: lab.iam.get_role(RoleName=r)) for r in (n.lambda_role, n.states_role)],
        "log groups": [("log group", g, lambda g=g: _log_group_exists(lab, g)) for g in n.log_groups],
        "functions": [("function", f, lambda f=f: lab.lambda_.get_function_configuration(FunctionName=f))
                      for f in n.functions.values()],
        "state machine": [("state machine", n.state_machine,
                           lambda: lab.sfn.describe_state_machine(stateMachineArn=lab.state_machine_arn))],
        "exercise resources": _exercise_inventory(lab),
    }


def _exercise_inventory(lab: Lab) -> list[tuple[str, str, Callable[[], Any]]]:
    try:
        machines, functions = exercise_resources(lab)
    except (ClientError, BotoCoreError):  # listing is not allowed: the plan shows the lab's own only
        return []
    return ([("state machine", arn.rsplit(":", 1)[-1], lambda: True) for arn in machines]
            + [("function", f, lambda: True) for f in functions]
            + [("role", r, lambda: True) for r in exercise_roles(lab)])


def _mine(lab: Lab, tags: dict[str, str]) -> bool:
    wanted = lab_tags(lab)
    return all(tags.get(k) == wanted.get(k) for k in ("labhelpers:lab", "labhelpers:prefix"))


def exercise_roles(lab: Lab) -> list[str]:
    """Roles labhelpers created for this prefix beyond the lab's two (a chapter's own role), by tag."""
    own = {lab.names.lambda_role, lab.names.states_role}
    roles = []
    for page in lab.iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"] in own:
                continue
            tags = lab.iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])
            if _mine(lab, {t["Key"]: t["Value"] for t in tags}):
                roles.append(role["RoleName"])
    return sorted(roles)


def exercise_resources(lab: Lab) -> tuple[list[str], list[str]]:
    """State machine ARNs and function names that labhelpers created for this prefix beyond the
    lab's own (playgrounds, exercises, later chapters), found by their tags."""
    machines, functions = [], []
    for page in lab.sfn.get_paginator("list_state_machines").paginate():
        for sm in page["stateMachines"]:
            if sm["name"] == lab.names.state_machine:
                continue
            tags = lab.sfn.list_tags_for_resource(resourceArn=sm["stateMachineArn"]).get("tags", [])
            if _mine(lab, {t["key"]: t["value"] for t in tags}):
                machines.append(sm["stateMachineArn"])
    for page in lab.lambda_.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            if fn["FunctionName"] in lab.names.functions.values():
                continue
            if _mine(lab, lab.lambda_.list_tags(Resource=fn["FunctionArn"]).get("Tags", {})):
                functions.append(fn["FunctionName"])
    return sorted(machines), sorted(functions)


def _plan(lab: Lab, action: str, order: list[str]) -> Plan:
    inventory = _inventory(lab)
    items = [PlanItem(kind, name, *_check(check)) for key in order for kind, name, check in inventory[key]]
    where = "AWS" if lab.target == "aws" else f"the local emulator at {lab.endpoint_url}"
    return Plan(action, where, lab.account_id, lab.region, lab.prefix, items)


def plan_deploy(lab: Lab | None = None) -> Plan:
    """What :func:`deploy` would create or update, without changing anything."""
    return _plan(lab or connect(), "deploy",
                 ["bucket", "table", "roles", "log groups", "functions", "state machine"])


def plan_cleanup(lab: Lab | None = None) -> Plan:
    """What :func:`cleanup` would delete for this prefix, without changing anything."""
    plan = _plan(lab or connect(), "cleanup",
                 ["exercise resources", "state machine", "functions", "log groups", "table", "bucket", "roles"])
    what = {"state machine": "running executions are stopped first",
            "bucket": "with every object, version and delete marker", "role": "with its policies"}
    for item in plan.items:
        if item.exists is not False and item.kind in what:
            item.note = "; ".join(n for n in (what[item.kind], item.note) if n)
    return plan


def show_plan(lab: Lab) -> Plan | None:
    """On AWS, print the deployment plan once per Lab, before the first resource is created.

    The emulator stays quiet: there it would only clutter every notebook.
    """
    if lab.target != "aws" or lab.plan_shown:
        return None
    plan = plan_deploy(lab)
    print(plan, flush=True)
    lab.plan_shown = True
    return plan


# --- IAM -------------------------------------------------------------------------

def _trust_policy(service: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def lambda_role_policy(lab: Lab) -> dict:
    """Least privilege for the lab's functions: the bucket, the table, the FLOW metrics, their logs.

    No logs:CreateLogGroup: :func:`ensure_function` creates each log group first (with a retention
    period), so the functions only need to write streams and events into their own groups.
    """
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
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": log_arns},
    ]}


def states_role_policy(lab: Lab) -> dict:
    """Step Functions may only invoke the lab's four functions (and their versions)."""
    arns = [lab.function_arn(base) for base in FUNCTION_NAMES]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeLabFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": arns + [a + ":*" for a in arns]}]}


def _policy_document(doc: Any) -> dict:
    """IAM returns policy documents URL-encoded JSON (boto3 decodes most of them); accept both."""
    if isinstance(doc, dict):
        return doc
    from urllib.parse import unquote

    return json.loads(unquote(doc))


def ensure_role(lab: Lab, name: str, service: str, policy: dict) -> str:
    """Create (or update) a role trusted by ``service`` with one inline policy; returns its ARN."""
    show_plan(lab)
    trust = _trust_policy(service)
    try:
        role = lab.iam.get_role(RoleName=name)["Role"]
    except ClientError as err:
        if _code(err) != "NoSuchEntity":
            raise
        role = lab.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                   Description="Created by labhelpers for the Step Functions lab",
                                   Tags=_tag_list(lab))["Role"]
        log.info("created role %s", name)
    else:
        if _policy_document(role.get("AssumeRolePolicyDocument", {})) != trust:
            lab.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
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
    show_plan(lab)
    name = lab.names.bucket
    kwargs: dict[str, Any] = {"Bucket": name}
    if lab.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": lab.region}
    try:
        lab.s3.create_bucket(**kwargs)
        lab.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(lab)})
        log.info("created bucket %s", name)
    except ClientError as err:
        if _code(err) == "BucketAlreadyExists":
            raise DeployError(f"The bucket name {name} is taken by another AWS account; choose another "
                              "prefix (LAB_PREFIX or --prefix).") from err
        if _code(err) != "BucketAlreadyOwnedByYou":
            raise DeployError(f"Could not create bucket {name}: {err}") from err
    lab.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return name


def ensure_table(lab: Lab) -> str:
    """The CompletedLevel table, keyed by user_id."""
    show_plan(lab)
    name = lab.names.table
    try:
        lab.dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
            Tags=_tag_list(lab))
        log.info("created table %s", name)
    except ClientError as err:
        if _code(err) != "ResourceInUseException":
            raise
    lab.dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


def ensure_log_group(lab: Lab, group: str) -> str:
    """One function's log group, with a retention period.

    Created here, not by Lambda on first use, so the execution role needs no logs:CreateLogGroup
    and old log events expire instead of being stored (and billed) forever.
    """
    show_plan(lab)
    try:
        lab.logs.create_log_group(logGroupName=group, tags=lab_tags(lab))
        log.info("created log group %s", group)
    except ClientError as err:
        if _code(err) != "ResourceAlreadyExistsException":
            raise
    lab.logs.put_retention_policy(logGroupName=group, retentionInDays=LOG_RETENTION_DAYS)
    return group


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
    show_plan(lab)
    name = lab.names.function(base)
    source_dir = source_dir or config.LAMBDAS_DIR / base
    if not source_dir.is_dir():
        raise DeployError(f"No code for function {base}: folder {source_dir} does not exist.")
    code = function_zip(source_dir)
    # Before the function exists: its role may write to this group but not create it.
    ensure_log_group(lab, f"/aws/lambda/{name}")
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
            Tags=lab_tags(lab), **settings), what=f"create function {name}")
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
    show_plan(lab)
    name = name or lab.names.state_machine
    arn = lab.state_machine_arn_for(name)
    try:
        current = lab.sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as err:
        if _code(err) not in ("StateMachineDoesNotExist", "ResourceNotFound"):
            raise
        created = _retry_new_role(lambda: lab.sfn.create_state_machine(
            name=name, definition=definition, roleArn=role_arn, type=type,
            tags=_tag_list(lab, "key", "value")), what=f"create state machine {name}")
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


def deploy(lab: Lab | None = None, *, dry_run: bool = False) -> Deployment | Plan:
    """Create or update every lab resource: bucket, table, roles, log groups, the four functions, the state machine.

    On AWS the plan (account, region, prefix, resources) is printed first, once per Lab.
    ``dry_run=True`` only returns that plan: read-only calls, nothing is created or changed.
    """
    lab = lab or connect()
    if dry_run:
        return plan_deploy(lab)
    show_plan(lab)
    bucket = ensure_bucket(lab)
    table = ensure_table(lab)
    lambda_role = ensure_role(lab, lab.names.lambda_role, "lambda.amazonaws.com", lambda_role_policy(lab))
    states_role = ensure_role(lab, lab.names.states_role, "states.amazonaws.com", states_role_policy(lab))
    # ensure_function creates each function's log group first.
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


class _NotRemoved(Exception):
    """A deletion that AWS accepted only in part (e.g. some objects of a bucket stayed)."""


def _remove(report: CleanupReport, what: str, call: Callable[[], Any]) -> None:
    """Run one deletion; a missing resource is not an error (cleanup runs twice safely)."""
    try:
        call()
        report.removed.append(what)
    except ClientError as err:
        if _code(err) not in _GONE:
            report.failed.append((what, _message(err)))
    except (BotoCoreError, _NotRemoved) as err:
        report.failed.append((what, str(err)))


def _empty_bucket(lab: Lab, bucket: str) -> None:
    """Delete every object version and delete marker (a versioned bucket keeps both), and open uploads."""
    pages = lab.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for i in range(0, len(keys), 1000):
            result = lab.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
            # DeleteObjects answers 200 even when some keys failed: the failures are in the body.
            if errors := result.get("Errors"):
                first = errors[0]
                raise _NotRemoved(f"{len(errors)} object version(s) could not be deleted, e.g. "
                                  f"{first.get('Key')}: {first.get('Code')}: {first.get('Message', '')}")
    for page in lab.s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            lab.s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def _delete_role(lab: Lab, name: str) -> None:
    for policy in lab.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        lab.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in lab.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        lab.iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    lab.iam.delete_role(RoleName=name)


def _delete_state_machine(lab: Lab, arn: str | None = None) -> None:
    arn = arn or lab.state_machine_arn
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
    machines, functions = exercise_resources(lab)
    return ([f"state machine {arn.rsplit(':', 1)[-1]}" for arn in machines]
            + [f"function {f}" for f in functions]
            + [f"state machine {n.state_machine} (running executions stopped first)"]
            + [f"function {f}" for f in n.functions.values()]
            + [f"log group {g}" for g in n.log_groups]
            + [f"table {n.table}", f"bucket {n.bucket} (all objects and versions)"]
            + [f"role {r}" for r in exercise_roles(lab)]
            + [f"role {n.states_role}", f"role {n.lambda_role}"])


def cleanup(lab: Lab | None = None, *, dry_run: bool = False) -> CleanupReport | Plan:
    """Remove every resource of this lab (this prefix only, by exact names). Safe to run twice.

    Returns what was removed and what could not be removed and why. ``dry_run=True`` only
    returns what would be deleted (read-only calls).
    """
    lab = lab or connect()
    if dry_run:
        return plan_cleanup(lab)
    n, report = lab.names, CleanupReport()
    machines, functions = exercise_resources(lab)
    for arn in machines:
        _remove(report, f"state machine {arn.rsplit(':', 1)[-1]}", lambda arn=arn: _delete_state_machine(lab, arn))
    for name in functions:
        _remove(report, f"function {name}", lambda name=name: lab.lambda_.delete_function(FunctionName=name))
        _remove(report, f"log group /aws/lambda/{name}",
                lambda name=name: lab.logs.delete_log_group(logGroupName=f"/aws/lambda/{name}"))
    _remove(report, f"state machine {n.state_machine}", lambda: _delete_state_machine(lab))
    for name in n.functions.values():
        _remove(report, f"function {name}", lambda name=name: lab.lambda_.delete_function(FunctionName=name))
    for group in n.log_groups:
        _remove(report, f"log group {group}", lambda group=group: lab.logs.delete_log_group(logGroupName=group))
    _remove(report, f"table {n.table}", lambda: lab.dynamodb.delete_table(TableName=n.table))
    _remove(report, f"bucket {n.bucket}", lambda: (_empty_bucket(lab, n.bucket), lab.s3.delete_bucket(Bucket=n.bucket)))
    for role in [*exercise_roles(lab), n.states_role, n.lambda_role]:
        _remove(report, f"role {role}", lambda role=role: _delete_role(lab, role))
    return report
