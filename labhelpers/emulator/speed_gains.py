"""What each speed patch was measured to save (benchmarks/ablation.py; benchmarks/README.md has the runs).

One place for the figures, so the patch modules stay readable and the README can quote them.
"""

GAINS: dict[str, str] = {
    "sfn_definition_parsed_once": "",
    "jsonpath_parsed_once": "",
    "sfn_boto_clients_cached": "",
    "sfn_threads_not_retained": "",
    "execution_threads_reused": "",
    "parallel_branch_threads_reused": "",
    "program_without_timeout_runs_inline": "",
    "result_path_parsed_once": "",
    "sfn_json_values_copied_fast": "",
    "state_without_timeout_runs_inline": "",
    "dispatcher_backend_lookup_cached": "",
    "account_backend_found_without_lock": "",
    "requests_dispatched_without_flask": "",
    "response_method_names_cached": "",
    "serializer_alias_keys_computed_once": "",
    "request_ids_drawn_at_once": "",
    "list_executions_written_directly": "",
    "dynamodb_update_expression_parsed_once": "",
    "http_connections_kept_alive": "",
    "sfn_executions_indexed": "",
    "describe_execution_without_scan": "",
    "start_execution_name_check_without_scan": "",
    "machine_for_execution_without_scan": "",
    "state_machine_snapshot_shared": "",
    "finished_execution_releases_interpreter_state": "",
}
