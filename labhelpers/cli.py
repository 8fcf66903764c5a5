"""``python -m labhelpers ...``: the same helpers as the notebooks, from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from labhelpers.errors import LabError


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--target", choices=["emulator", "aws"], help="where to work (default: LAB_TARGET or emulator)")
    common.add_argument("--prefix", help="name prefix for every resource (default: LAB_PREFIX)")
    common.add_argument("--port", type=int, help="emulator port (default: LAB_EMULATOR_PORT or 7544)")
    common.add_argument("--yes", action="store_true", help="do not ask for confirmation on AWS")
    common.add_argument("--region", help="region (default: LAB_REGION, else AWS_DEFAULT_REGION / your AWS config)")
    common.add_argument("-v", "--verbose", action="store_true", help="log what is being done")

    parser = argparse.ArgumentParser(prog="python -m labhelpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    emulator = sub.add_parser("emulator", help="start, stop, inspect or reset the local emulator")
    emu_sub = emulator.add_subparsers(dest="action", required=True)
    for action, text in [("start", "start it in the background (no-op when running); prints its URL last"),
                         ("stop", "stop it"), ("status", "show running emulators"),
                         ("reset", "empty the local account")]:
        p = emu_sub.add_parser(action, help=text)
        p.add_argument("--port", type=int)
    env = emu_sub.add_parser(
        "env", help="print shell `export` lines that point the AWS CLI, boto3 and other AWS tools at the "
                    "local account (starts the emulator first when none runs)",
        description="Prints the endpoint, credentials and region that labhelpers' connect() uses, as shell "
                    "lines: run `eval \"$(python -m labhelpers emulator env)\"`, then `aws stepfunctions ...`. "
                    "AWS_DISABLE_HOST_PREFIX_INJECTION=true is among them: without it TestState and "
                    "StartSyncExecution go to the host sync-127.0.0.1, which does not exist. When no emulator "
                    "runs on the port, one is started (said on stderr), as connect() and `emulator start` do.")
    env.add_argument("--port", type=int)

    deploy = sub.add_parser("deploy", parents=[common],
                            help="create or update every lab resource; prints the state machine ARN last")
    deploy.add_argument("--dry-run", action="store_true",
                        help="only list what would be created or updated (read-only calls)")
    run = sub.add_parser("run", parents=[common], help="run the lab's state machine once and print status and output")
    run.add_argument("--input", default=None, help="a JSON file or JSON text (default: data/seed_input.json)")
    run.add_argument("--timeout", type=float, default=60.0)
    cleanup = sub.add_parser("cleanup", parents=[common], help="delete every lab resource of this prefix")
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be deleted (read-only calls)")
    students = sub.add_parser("student-notebooks",
                              help="write the notebooks without their solutions (for students) into OUT_DIR")
    students.add_argument("out_dir", metavar="OUT_DIR")
    sub.add_parser("progress", parents=[common], help="show the exercise progress table for the current target")
    return parser


def _lab(args: argparse.Namespace) -> Any:
    from labhelpers.lab import connect

    return connect(args.target, prefix=args.prefix, region=args.region, port=args.port)


def _emulator_env_lines(port: int | None) -> list[str]:
    """Shell lines giving any AWS tool what ``connect()`` gives its clients on the emulator.

    Every value is read from a Lab made by ``connect()``, so there is one source of truth:
    its endpoint, region, credentials and host-prefix setting.
    """
    import os
    import shlex

    from labhelpers.emulator import control
    from labhelpers.lab import connect

    if control.probe(port) is None:
        # Like connect(): a student who asks for the variables wants an emulator behind them.
        died = control.had_died(port)
        info = control.start(port)
        note = " (the earlier one had stopped: its local account is gone)" if died else ""
        print(f"no emulator answered on {info.endpoint_url}, so one was started{note} (pid {info.pid}); "
              f"logs in {info.log_file}", file=sys.stderr)
    lab = connect("emulator", prefix="", port=port, start=False)
    credentials = lab.session.get_credentials().get_frozen_credentials()
    # False on the emulator: it has no "sync-" host for StartSyncExecution and TestState.
    inject_host_prefix = lab.client("stepfunctions").meta.config.inject_host_prefix
    exports = {
        "AWS_ENDPOINT_URL": lab.endpoint_url,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token,
        "AWS_DEFAULT_REGION": lab.region,
        "AWS_REGION": lab.region,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "false" if inject_host_prefix else "true",
    }
    # Nothing of the user's own AWS set-up may leak in: a profile (its credentials, SSO, role),
    # a session token, or endpoint settings that would win over, or cancel, AWS_ENDPOINT_URL.
    unset = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]
    unset += sorted(name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_"))
    unset += [name for name, value in exports.items() if value is None]
    lines = [f"# the local emulator's account: eval \"$(python -m labhelpers emulator env)\""]
    lines += [f"export {name}={shlex.quote(str(value))}" for name, value in exports.items() if value is not None]
    lines.append("unset " + " ".join(unset))
    return lines


def _confirm(args: argparse.Namespace, plan: Any) -> None:
    """Show the plan; on AWS go on only after --yes or a typed "y". Raises LabError otherwise."""
    print(plan, flush=True)
    if args.yes:
        return
    # No terminal (a script, CI, a notebook's !cell): never guess a yes on a real account.
    if sys.stdin is None or not sys.stdin.isatty():
        raise LabError("Refusing to change the AWS account without confirmation, and there is no terminal "
                       "to ask on: nothing was changed. Re-run with --yes (or --dry-run to only look).")
    if input("Proceed? [y/N] ").strip().lower() not in ("y", "yes"):
        raise LabError("Cancelled; nothing was changed.")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(message)s")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _dispatch(args)
    except (LabError, ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head or less, which stopped reading
        sys.stderr.close()
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "emulator":
        from labhelpers.emulator import control

        if args.action == "start":
            info = control.start(args.port)
            if not info.already_running:
                print(f"emulator started (pid {info.pid}); logs in {info.log_file}")
            print(info.endpoint_url)
        elif args.action == "stop":
            print("emulator stopped" if control.stop(args.port) else "no emulator was running")
        elif args.action == "status":
            for row in control.status():
                state = f"running, pid {row['pid']}, up {row['uptime_s']} s" if row["running"] else "not running"
                print(f"{row['endpoint_url']}: {state}")
        elif args.action == "env":
            print("\n".join(_emulator_env_lines(args.port)))
        elif args.action == "reset":
            result = control.reset(args.port)
            print(f"local account reset ({result['workers_stopped']} Lambda workers stopped)")
        return 0

    if args.command == "deploy":
        from labhelpers import resources

        lab = _lab(args)
        if args.dry_run:
            print(resources.plan_deploy(lab))
            print("dry run: nothing was created or changed")
            return 0
        if lab.target == "aws":
            _confirm(args, resources.plan_deploy(lab))
            lab.plan_shown = True  # just printed: deploy() need not print it again
        deployment = resources.deploy(lab)
        print(f"bucket {deployment.bucket}\ntable {deployment.table}")
        for base, arn in deployment.functions.items():
            print(f"function {arn}")
        print(deployment.state_machine_arn)
        return 0

    if args.command == "run":
        from labhelpers import config
        from labhelpers.executions import run_execution

        lab = _lab(args)
        execution = run_execution(args.input or config.DATA_DIR / "seed_input.json", lab=lab, timeout=args.timeout)
        print(execution.status)
        if execution.status == "SUCCEEDED":
            print(json.dumps(execution.output))
        else:
            print(f"error: {execution.error}\ncause: {execution.cause}")
        return 0 if execution.status == "SUCCEEDED" else 2

    if args.command == "cleanup":
        from labhelpers import resources

        lab = _lab(args)
        if args.dry_run:
            print(resources.plan_cleanup(lab))
            print("dry run: nothing was deleted")
            return 0
        if lab.target == "aws":
            plan = resources.plan_cleanup(lab)
            if not plan.to_change:  # nothing there: no question to ask
                print(plan)
                return 0
            _confirm(args, plan)
        report = resources.cleanup(lab)
        print(report)
        return 1 if report.failed else 0

    if args.command == "student-notebooks":
        from labhelpers.notebook import write_student_notebooks

        written = write_student_notebooks(Path(args.out_dir))
        for path in written:
            print(path)
        print(f"{len(written)} student notebooks written (solutions replaced, exercise outputs cleared)")
        return 0

    if args.command == "progress":
        from labhelpers.checks import progress

        print(progress(_lab(args)).to_string(index=False))
        return 0
    return 1
