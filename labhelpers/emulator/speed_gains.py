"""What each speed patch was measured to save (the figures in benchmarks/README.md, "Speed patches").

``benchmarks/ablation.py`` starts a fresh emulator without one patch, runs a batch of 300 lab
executions, and compares it with the full set run just before it: emulator CPU and resident
memory growth per execution, median of 4 such pairs (2 cores, moto 5.2.6). With every patch the
emulator took about 7.6 ms of CPU and grew by about 32 KB per execution; without the speed group,
27-37 ms and 98 KB. The machine's own noise is about 1 ms and 3 KB: a patch whose effect only shows
with thousands of executions (a scan), or in a lesson the batch does not run, says so and how
that was measured. Four earlier patches measured within the noise were removed.
"""

GAINS: dict[str, str] = {
    "dispatcher_backend_lookup_cached": "left out: +3.9 ms of emulator CPU per execution.",
    "account_backend_found_without_lock":
        "within the noise in the batch; kept with the two below for latency (next line).",
    "serializer_alias_keys_computed_once":
        "within the noise in the batch; with request ids and the account lookup, one execution's latency "
        "(StartExecution, DescribeExecution polls) p50 26.2 ms against 27.8 ms without the three "
        "(5 alternating pairs, median ratio 1.06).",
    "request_ids_drawn_at_once":
        "within the noise in the batch; kept with the two above for latency.",
    "requests_dispatched_without_flask":
        "left out: +0.7 ms of emulator CPU per execution (more in all four pairs).",
    "response_method_names_cached": "left out: +2.7 ms of emulator CPU per execution.",
    "list_executions_written_directly":
        "within the noise at 300 executions; a ListExecutions page of 1,000 (what wait_all polls while a "
        "class runs) is written in 23 ms instead of 76 ms, client parsing included (in-process).",
    "http_connections_kept_alive":
        "left out: +2.1 ms of emulator CPU per execution (a new connection and server thread per request).",
    "sfn_definition_parsed_once": "left out: +5.8 ms of emulator CPU and +17 KB per execution.",
    "jsonpath_parsed_once": "left out: +1.6 ms of emulator CPU per execution.",
    "sfn_boto_clients_cached":
        "not used by the lab's Lambda tasks (called in-process); each optimised or AWS SDK integration "
        "call (dynamodb:updateItem, aws-sdk:*) builds a client in 1.7 ms without it, 0.3 us with it.",
    "execution_threads_reused":
        "left out: +0.1 ms and +4.6 KB per execution; its pool also tells idle_gc when no execution runs.",
    "parallel_branch_threads_reused": "left out: +0.6 ms of emulator CPU and +25 KB per execution.",
    "program_without_timeout_runs_inline": "left out: +1.0 ms of emulator CPU and +4 KB per execution.",
    "result_path_parsed_once": "left out: +2.2 ms of emulator CPU per execution.",
    "state_without_timeout_runs_inline": "left out: +1.7 ms of emulator CPU and +11 KB per execution.",
    "sfn_executions_indexed":
        "the index the two scans below use; within the noise at 300 executions.",
    "describe_execution_without_scan":
        "within the noise at 300 executions; with 10,000 executions of a machine a DescribeExecution "
        "scanned for 0.16 ms, indexed 3 us (in-process).",
    "start_execution_name_check_without_scan":
        "within the noise at 300 executions; with 10,000 executions of a machine each StartExecution "
        "scanned for 0.15 ms, indexed 1 us (in-process).",
    "state_machine_snapshot_shared": "left out: +0.6 ms of emulator CPU per execution.",
    "finished_execution_releases_interpreter_state": "left out: +7.8 KB per execution kept for good.",
}
