"""The baseline a user would otherwise pick: plain moto in-process, no emulator, no patches.

``mock_aws`` with ``execute_state_machine`` on and Lambda without Docker: moto's own
interpreter runs the lab state machine, and each Lambda task only echoes its input
(moto cannot run Python handler code without Docker). Run as its own process by
``benchmarks/run.py`` (mock_aws patches botocore for the whole process), it prints
one JSON document on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (after the path set-up)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-runs", type=int, default=60)
    parser.add_argument("--throughput", type=int, default=1000)
    args = parser.parse_args()
    # Nothing may reach a real account, whatever the host has configured.
    for key in [k for k in os.environ if k.startswith(("AWS_", "LAB_"))]:
        del os.environ[key]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-west-2")

    t0 = time.perf_counter()
    from moto import mock_aws

    import labhelpers as lh
    from labhelpers.executions import wait_all
    from labhelpers.lab import Lab

    result: dict = {"import_s": time.perf_counter() - t0}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        # endpoint_url None: boto3 goes to "AWS", which mock_aws intercepts in-process.
        lab = Lab(target="emulator", region="us-west-2")
        t1 = time.perf_counter()
        lh.deploy(lab)
        result["deploy_s"] = time.perf_counter() - t1
        # Plain moto names every unnamed execution "None": give each a name, as a user would have to.
        def name() -> str:
            return uuid.uuid4().hex

        result["sample_output"] = lh.run_execution(common.varied_inputs(1)[0], lab=lab, name=name()).output
        result["latency"] = common.latency(lambda p: lh.run_execution(p, lab=lab, name=name()).status,
                                           args.latency_runs)
        result["throughput"] = common.throughput(
            lambda p: lh.start_execution(p, lab=lab, name=name()),
            lambda handles: [e.status for e in wait_all(handles, lab=lab, timeout=600)],
            args.throughput, offset=100_000)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
