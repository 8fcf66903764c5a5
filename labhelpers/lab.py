"""Connect to a target (the local emulator or a real AWS account) and name the lab's resources."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from labhelpers import config
from labhelpers.errors import TargetError

log = logging.getLogger("labhelpers")

#: The four functions of the lab, as the seed names them.
FUNCTION_NAMES = ("GenerateReport", "EndsSimpleLevel", "EndsLastLevel", "PutMetric")


@dataclass(frozen=True)
class LabNames:
    """Every resource name of one lab; a prefix keeps several students apart in one account."""

    prefix: str
    account_id: str
    region: str

    def _p(self, name: str) -> str:
        return f"{self.prefix}-{name}" if self.prefix else name

    def prefixed(self, name: str) -> str:
        """Any other resource of the lab (an exercise's function or state machine), prefixed alike."""
        return self._p(name)

    def function(self, base: str) -> str:
        return self._p(base)

    @property
    def functions(self) -> dict[str, str]:
        return {base: self.function(base) for base in FUNCTION_NAMES}

    @property
    def table(self) -> str:
        return self._p("CompletedLevel")

    @property
    def state_machine(self) -> str:
        return self._p("CompleteLevelFlow")

    @property
    def lambda_role(self) -> str:
        return self._p("StepFunctionsLabLambdaRole")

    @property
    def states_role(self) -> str:
        return self._p("StepFunctionsLabStatesRole")

    @property
    def bucket(self) -> str:
        """A valid S3 name (3-63 chars of a-z, 0-9, '-'), unique per account, region and prefix.

        When the prefix had to be changed to fit (upper case, odd characters, too long), a short
        hash of the exact prefix keeps two such prefixes from landing on the same bucket.
        """
        slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", self.prefix.lower())).strip("-")
        tail = "-".join(p for p in (re.sub(r"[^a-z0-9-]", "", self.account_id.lower()),
                                    re.sub(r"[^a-z0-9-]", "", self.region.lower())) if p)
        room = 63 - len("sfn-lab-") - len(tail) - 1
        if slug != self.prefix or len(slug) > room:
            digest = hashlib.sha256(self.prefix.encode()).hexdigest()[:6]
            slug = "-".join(p for p in (slug[:max(room - 7, 0)].strip("-"), digest) if p) if self.prefix else ""
        name = "-".join(p for p in ("sfn-lab", slug, tail) if p)
        # Only reachable with an absurd account id or region: keep the result valid anyway.
        return name[:63].rstrip("-")

    @property
    def log_groups(self) -> list[str]:
        return [f"/aws/lambda/{name}" for name in self.functions.values()]

    @property
    def metric_namespace(self) -> str:
        return "FLOW"

    @property
    def metric_name(self) -> str:
        return "CompleteLevel"


#: Longest prefix: "<prefix>-StepFunctionsLabLambdaRole" must fit IAM's 64-character role names.
MAX_PREFIX_LENGTH = 32


def _validate_prefix(prefix: str) -> str:
    """Check a prefix and return it in lower case.

    Lower case because IAM role names ignore case and S3 names are lower case only:
    "Alice" and "alice" would otherwise share roles but not functions.
    """
    prefix = prefix.strip()
    if prefix and not re.fullmatch(rf"[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{MAX_PREFIX_LENGTH - 2}}}[A-Za-z0-9])?", prefix):
        raise TargetError(
            f"LAB_PREFIX {prefix!r} is not usable in resource names: use 1-{MAX_PREFIX_LENGTH} letters, "
            "digits or hyphens, starting and ending with a letter or digit (for example 'alice')."
        )
    return prefix.lower()


def _isolated_session(region: str) -> Any:
    """A boto3 session that reads nothing from the user's AWS set-up (profile, config, credentials files)."""
    import boto3
    import botocore.session

    # Without this a stray AWS_PROFILE (or a broken ~/.aws/config) would break, or leak into, emulator clients.
    core = botocore.session.Session(session_vars={
        "profile": (None, None, None, None),
        "config_file": (None, None, os.devnull, None),
        "credentials_file": (None, None, os.devnull, None),
    })
    return boto3.Session(botocore_session=core, region_name=region, **config.FAKE_CREDENTIALS)


@dataclass
class Lab:
    """A handle on one target: lazily created boto3 clients plus the lab's resource names.

    Create it with :func:`connect`. ``lab.sfn``, ``lab.lambda_``, ``lab.s3``... are
    ordinary boto3 clients, so every AWS call in a notebook is the call you would
    make against AWS.
    """

    target: str
    region: str
    prefix: str = ""
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Set once the deployment plan was shown (AWS target), so it is shown once per Lab.
    plan_shown: bool = field(default=False, repr=False)

    @cached_property
    def session(self) -> Any:
        import boto3

        if self.target == "emulator":
            # Explicit fake credentials: the emulator never sees (or needs) real ones.
            return _isolated_session(self.region)
        # The standard credential chain (env, profile, SSO, instance role...): only on explicit opt-in.
        return boto3.Session(region_name=self.region)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this target, created on first use."""
        if service not in self._clients:
            from botocore.config import Config

            # AWS serves StartSyncExecution and TestState on a "sync-" host; a custom endpoint
            # (the emulator, or AWS_ENDPOINT_URL) has no such host, so keep its name as given.
            custom_endpoint = bool(self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
            kwargs: dict[str, Any] = {"config": Config(retries={"max_attempts": 3, "mode": "standard"},
                                                       max_pool_connections=50,
                                                       inject_host_prefix=not custom_endpoint)}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._clients[service] = self.session.client(service, **kwargs)
        return self._clients[service]

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    @property
    def logs(self) -> Any:
        return self.client("logs")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @cached_property
    def account_id(self) -> str:
        """The account the credentials belong to (STS on AWS; the emulator's fixed one locally)."""
        if self.target == "emulator":
            return config.EMULATOR_ACCOUNT_ID
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client("sts").get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as err:
            raise TargetError(f"Cannot use the AWS account: {err}. Check your credentials "
                              "(`aws sts get-caller-identity` must work).") from err

    @cached_property
    def partition(self) -> str:
        """aws, aws-cn or aws-us-gov: from the session's endpoint data, never assumed."""
        return self.session.get_partition_for_region(self.region) or "aws"

    @cached_property
    def names(self) -> LabNames:
        return LabNames(prefix=self.prefix, account_id=self.account_id, region=self.region)

    def function_arn(self, base: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{self.names.function(base)}"

    @property
    def state_machine_arn(self) -> str:
        return self.state_machine_arn_for(self.names.state_machine)

    def state_machine_arn_for(self, name: str) -> str:
        """The ARN of the state machine called ``name`` (a full name: prefix it with names.prefixed)."""
        return f"arn:{self.partition}:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"<Lab target={self.target!r} region={self.region!r}{prefix} at {where}>"


def _target(target: str | None) -> str:
    chosen = (target or os.environ.get("LAB_TARGET") or "emulator").strip().lower()
    if chosen not in config.TARGETS:
        raise TargetError(f"Unknown target {chosen!r}: LAB_TARGET must be one of {', '.join(config.TARGETS)}.")
    return chosen


def connect(target: str | None = None, *, prefix: str | None = None, region: str | None = None,
            port: int | None = None, start: bool = True) -> Lab:
    """Return a :class:`Lab` for the current target.

    The target is ``target``, else ``LAB_TARGET``, else the local emulator. On the
    emulator, one is started when nothing answers; if an earlier one has died,
    you are told that its account (everything created in it) is gone.
    Nothing talks to a real AWS account unless ``target="aws"`` or ``LAB_TARGET=aws``;
    the emulator's clients use fake credentials and ignore the user's AWS configuration.
    ``prefix`` (else ``LAB_PREFIX``) goes into every resource name.
    """
    chosen = _target(target)
    prefix = _validate_prefix(prefix if prefix is not None else os.environ.get("LAB_PREFIX", ""))
    if chosen == "aws":
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            aws_region = region or os.environ.get("LAB_REGION") or boto3.Session().region_name
        except BotoCoreError as err:  # e.g. AWS_PROFILE names a profile that does not exist
            raise TargetError(f"Cannot read your AWS configuration: {err}") from err
        if not aws_region:
            raise TargetError("No AWS region configured: set AWS_DEFAULT_REGION or LAB_REGION (or --region).")
        return Lab(target="aws", region=aws_region, prefix=prefix)

    from labhelpers.emulator import control

    port = port or config.emulator_port()
    lab_region = region or os.environ.get("LAB_REGION") or config.EMULATOR_REGION
    if control.probe(port) is None:
        if not start:
            from labhelpers.errors import EmulatorError

            raise EmulatorError(f"No emulator answers on {control.endpoint_url(port)}; "
                                "start one with `python -m labhelpers emulator start`.")
        died = control.had_died(port)
        info = control.start(port)
        if died:
            log.warning("The local emulator had stopped, so a new one was started at %s: the local "
                        "account was reset and everything created earlier is gone. Re-run the "
                        "set-up cells (or `python -m labhelpers deploy`).", info.endpoint_url)
    return Lab(target="emulator", region=lab_region, prefix=prefix,
               endpoint_url=control.endpoint_url(port))
