"""Correctness: what moto gets wrong or cannot do that the lab relies on, fixed one patch each.

Lambda handlers really run (in warm worker subprocesses), Step Functions answers and fails as
AWS does, CloudWatch metric queries return what AWS returns, and the log stays readable.
"""

from __future__ import annotations

import base64
import importlib
import io
import logging
import math
import re
import threading
import uuid
from typing import Any, Callable

from labhelpers.emulator.patching import Patch, replace

log = logging.getLogger("labhelpers.emulator")

# --- Lambda: run the handler code ------------------------------------------------

_runtime: Any = None
_log_streams: set[tuple[str, str, str, str]] = set()
_log_lock = threading.Lock()


def _function_spec(fn: Any) -> Any:
    from labhelpers.emulator.lambda_runtime import FunctionSpec

    return FunctionSpec(
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        version=str(fn.version),
        code_sha256=fn.code_sha_256,
        code_zip=fn.code_bytes,
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        timeout=int(fn.timeout or 3),
        memory_size=int(fn.memory_size or 128),
        environment=dict(fn.environment_vars or {}),
        region=fn.region,
        account_id=fn.account_id,
    )


def _save_logs(fn: Any, result: Any) -> None:
    """Write an invocation's log events to CloudWatch Logs, one stream per worker as AWS does."""
    logs = fn.logs_backend
    key = (fn.account_id, fn.region, result.log_group, result.log_stream)
    with _log_lock:
        logs.ensure_log_group(result.log_group)
        if key not in _log_streams or result.log_stream not in logs.groups[result.log_group].streams:
            logs.ensure_log_stream(result.log_group, result.log_stream)
            _log_streams.add(key)
        events = [{"timestamp": ts, "message": msg} for ts, msg in result.log_events]
        if events:
            logs.put_log_events(result.log_group, result.log_stream, events)


def run_invocation(fn: Any, payload: bytes) -> Any:
    """Run one invocation of a moto LambdaFunction on the real runtime and log it."""
    result = _runtime.invoke(_function_spec(fn), payload)
    try:
        _save_logs(fn, result)
    except Exception:  # a logging failure must never fail the invocation
        log.exception("could not save the logs of %s", fn.function_name)
    return result


def _lambda_invoke(original: Any) -> Any:
    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        payload = body.encode() if isinstance(body, str) else (body or b"")
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(target=run_invocation, args=(self, payload), daemon=True).start()
            return b""
        result = run_invocation(self, payload)
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = str(self.version)
        # responses.py drops this header unless the caller asked for LogType=Tail.
        response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail().encode()).decode()
        return result.payload

    return invoke


def _install_lambda_invoke(runtime: Any) -> None:
    global _runtime
    _runtime = runtime
    replace(_LAMBDA_MODELS, "LambdaFunction.invoke", _lambda_invoke)


def _deleted_function_stops_workers(original: Any) -> Any:
    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        original(self, function_name, qualifier)
        if qualifier is None:
            # Warm workers of a deleted function would hold their memory until the emulator stops.
            _runtime.forget(function_name.split(":")[6] if function_name.startswith("arn:") else function_name)

    return delete_function


def _split_function_name(name: str, region: str) -> tuple[str, str, str | None]:
    """(account, name, qualifier) from a function name, partial ARN or full ARN."""
    from moto.core import DEFAULT_ACCOUNT_ID

    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        return parts[4], parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) == 2:
        return DEFAULT_ACCOUNT_ID, parts[0], parts[1]
    return DEFAULT_ACCOUNT_ID, name, None


def _sfn_invoke_in_process(original: Any) -> Any:
    def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> dict:
        from botocore.exceptions import ClientError
        from moto.awslambda.models import lambda_backends

        from labhelpers.emulator.moto_compat import error_code, error_message, moto_errors

        account, name, qualifier = _split_function_name(parameters["FunctionName"], region)
        qualifier = parameters.get("Qualifier") or qualifier
        try:
            fn = lambda_backends[account][region].get_function(name, qualifier)
        except moto_errors() as err:
            # The same error boto3 would raise, so the interpreter reports it as on AWS.
            raise ClientError({"Error": {"Code": error_code(err), "Message": error_message(err)}},
                              "Invoke") from None
        payload = parameters.get("Payload") or b"{}"
        result = run_invocation(fn, payload if isinstance(payload, bytes) else str(payload).encode())
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": str(fn.version),
            "Payload": lambda_eval_utils._from_payload(io.BytesIO(result.payload)),
        }
        if result.function_error:
            response["FunctionError"] = result.function_error
        return response

    return _invoke_lambda_function


# --- Step Functions -------------------------------------------------------------

def _execution_names_like_aws(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None,
                        execution_input: Any = None, trace_header: Any = None) -> Any:
        # AWS names an unnamed execution with a UUID; moto names them all "None".
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


def _describe_execution_as_aws(original: Any) -> Any:
    def describe_execution(self: Any) -> Any:
        from moto.core.responses import ActionResult

        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        if not hasattr(execution, "to_describe_output"):
            return original(self)
        # moto's response returns a string output without its JSON quotes ("done" comes back as
        # done) and no stopDate for TIMED_OUT; the interpreter's own rendering gets both right.
        return ActionResult({k: v for k, v in execution.to_describe_output().items() if v is not None})

    return describe_execution


def _install_string_escapes_decoded(_: Any) -> None:
    import json

    preprocessor = importlib.import_module(_PREPROCESSOR).Preprocessor
    original = preprocessor.__dict__["_inner_string_of"].__func__
    original = getattr(original, "__labhelpers_original__", original)

    def _inner_string_of(parser_rule_context: Any) -> str | None:
        # moto strips a string literal's quotes but keeps its JSON escapes: a JSONPath filter
        # written [?(@.name == \"b\")] failed to parse and "say \"hi\"" kept its backslashes.
        text = original(parser_rule_context)
        if text is None or "\\" not in text:
            return text
        try:
            return json.loads(f'"{text}"')
        except ValueError:
            return text

    _inner_string_of.__labhelpers_original__ = original
    preprocessor._inner_string_of = staticmethod(_inner_string_of)


def _choice_missing_path_fails(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent, FailureEventException)
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType)
        from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
            ComparisonOperatorType)
        from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

        self.variable.eval(env)
        missing = isinstance(env.stack[-1], NoSuchVariable)
        if missing and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
            # AWS fails the execution here; moto quietly treated the rule as false.
            path = self.variable.string_sampler.literal_value
            cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
            runtime = StatesErrorNameType.StatesRuntime
            raise FailureEventException(failure_event=FailureEvent(
                env=env, error_name=StatesErrorName(typ=runtime), event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=runtime.to_name(), cause=cause))))
        self.comparison_function.eval(env)

    return _eval_body


def _error_name_for(name: str | None) -> Any:
    """A States.* error keeps its reserved name; anything else is a custom error name."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    if name and name.startswith("States."):
        try:
            return StatesErrorName.from_name(name)
        except ValueError:
            pass  # an unknown States.* name: let CustomErrorName reject it as before
    return CustomErrorName(name)


def _states_errors_propagate(module: str) -> Callable[[Any], None]:
    def install(runtime: Any) -> None:
        # A branch or iteration that fails with States.Runtime (or States.Timeout...) re-raised the
        # name as a *custom* error, which refuses the States. prefix: the execution then failed with
        # "ValueError(Custom Error Names MUST NOT begin with the prefix 'States.')" instead.
        setattr(importlib.import_module(module), "CustomErrorName", lambda error_name=None: _error_name_for(error_name))

    return install


# --- CloudWatch -----------------------------------------------------------------

def _list_metrics_once_per_metric(original: Any) -> Any:
    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: Any) -> list:
        # moto only de-duplicates metrics that have dimensions: one entry per datapoint otherwise.
        seen: set = set()
        unique = []
        for datum in original(self, metric_name, namespace, dimensions):
            key = (datum.namespace, datum.name,
                   tuple(sorted((d.name, d.value) for d in datum.dimensions)))
            if key not in seen:
                seen.add(key)
                unique.append(datum)
        return unique

    return get_filtered_metrics


def _percentile_statistics(original: Any) -> Any:
    def get_statistics_for_type(self: Any, stat: str) -> Any:
        # CloudWatch answers percentile statistics ("p90", "p99.9") for raw datapoints; moto returns None.
        match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?|100)", stat or "")
        if not match:
            return original(self, stat)
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = math.ceil(float(match.group(1)) / 100 * len(values))  # nearest-rank method
        return values[min(max(rank, 1), len(values)) - 1]

    return get_statistics_for_type


# A metric is its namespace, name *and exact set of dimensions*: a query without dimensions must
# not see datapoints put with a Level dimension. moto filters by dimensions only when the query
# has some (and then by subset). The two query APIs set a per-thread scope that get_all_metrics honours.
_metric_scope = threading.local()


def _dimension_key(dimensions: Any) -> tuple:
    return tuple(sorted((d["Name"], d.get("Value")) if isinstance(d, dict) else (d.name, d.value)
                        for d in dimensions or []))


def _metrics_in_scope(original: Any) -> Any:
    def get_all_metrics(self: Any) -> list:
        metrics = original(self)
        scope = getattr(_metric_scope, "dimensions", None)
        if scope is None:
            return metrics
        return [md for md in metrics if _dimension_key(md.dimensions) == scope]

    return get_all_metrics


def _scoped(dimensions: Any, call: Callable[[], Any]) -> Any:
    _metric_scope.dimensions = _dimension_key(dimensions)
    try:
        return call()
    finally:
        _metric_scope.dimensions = None


def _statistics_exact_dimensions(original: Any) -> Any:
    def get_metric_statistics(self: Any, namespace: str, metric_name: str, start_time: Any, end_time: Any,
                              period: int, stats: list, dimensions: list, unit: str | None = None) -> Any:
        return _scoped(dimensions, lambda: original(self, namespace, metric_name, start_time, end_time,
                                                    period, stats, dimensions, unit))

    return get_metric_statistics


def _metric_data_exact_dimensions(original: Any) -> Any:
    def get_metric_data(self: Any, queries: list, start_time: Any, end_time: Any,
                        scan_by: str = "TimestampAscending") -> list:
        if any("MetricStat" not in q for q in queries):  # metric math: leave it to moto
            return original(self, queries, start_time, end_time, scan_by)
        results: list = []
        for query in queries:
            dims = query["MetricStat"]["Metric"].get("Dimensions", [])
            results += _scoped(dims, lambda q=query: original(self, [q], start_time, end_time, scan_by))
        return results

    return get_metric_data


# --- Logging ----------------------------------------------------------------------

def _short_failure_log(original: Any) -> Any:
    def log_failure(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto logs repr(component) -- the whole parsed definition -- at ERROR for every
        # level a failure passes through. The history already records the failure.
        if log.isEnabledFor(logging.DEBUG):
            exc = (args or list(kwargs.values()) or [None])[0]
            log.debug("%s %s failed: %r", type(self).__name__, getattr(self, "name", ""), exc)

    return log_failure


_LAMBDA_MODELS = "moto.awslambda.models"
_LOGS_MODELS = "moto.logs.models"
_LAMBDA_EVAL = "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
_PARSER_MODELS = "moto.stepfunctions.parser.models"
_SFN_RESPONSES = "moto.stepfunctions.responses"
_EXECUTION = "moto.stepfunctions.parser.backend.execution"
_CHOICE_VARIABLE = "moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable"
_ERROR_NAME = "moto.stepfunctions.parser.asl.component.common.error_name"
_FAILURE_EVENT = f"{_ERROR_NAME}.failure_event"
_PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.preprocessor"
_PARALLEL_BRANCHES = "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl"
_MAP_ITERATION = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker"
_MOCK_EVAL = "moto.stepfunctions.parser.asl.component.state.exec.state_task.mock_eval_utils"
_CLOUDWATCH = "moto.cloudwatch.models"
_EVAL_COMPONENT = "moto.stepfunctions.parser.asl.component.eval_component"
#: What a States.* error's propagation builds instead of a CustomErrorName.
_ERROR_NAMES = (f"{_ERROR_NAME}.custom_error_name:CustomErrorName",
                f"{_ERROR_NAME}.states_error_name:StatesErrorName.from_name")

PATCHES: list[Patch] = [
    Patch("lambda_invoke_runs_handler_code",
          "Without Docker moto cannot run a function; run it in a warm worker subprocess instead.",
          (f"{_LAMBDA_MODELS}:LambdaFunction.invoke", f"{_LAMBDA_MODELS}:LambdaFunction.__init__",
           f"{_LOGS_MODELS}:LogsBackend.ensure_log_group", f"{_LOGS_MODELS}:LogsBackend.ensure_log_stream",
           f"{_LOGS_MODELS}:LogsBackend.put_log_events"),
          _install_lambda_invoke),
    Patch.replacing("deleted_function_stops_its_workers",
          "Deleting a function leaves its warm workers (and their memory) running.",
          f"{_LAMBDA_MODELS}:LambdaBackend.delete_function", _deleted_function_stops_workers),
    Patch.replacing("sfn_invokes_lambda_in_process",
          "moto's interpreter calls Lambda over HTTP with a new boto3 client per call; call the backend directly.",
          f"{_LAMBDA_EVAL}:_invoke_lambda_function", _sfn_invoke_in_process,
          relies_on=(f"{_LAMBDA_MODELS}:LambdaBackend.get_function", f"{_LAMBDA_EVAL}:_from_payload",
                     "moto.awslambda.exceptions:LambdaClientError")),
    Patch.replacing("start_execution_names_like_aws",
          "An execution started without a name is named None, so the second one fails with ExecutionAlreadyExists.",
          f"{_PARSER_MODELS}:StepFunctionsParserBackend.start_execution", _execution_names_like_aws),
    Patch.replacing("describe_execution_output_is_json",
          "DescribeExecution returns a string output without JSON quotes and drops TIMED_OUT's stopDate.",
          f"{_SFN_RESPONSES}:StepFunctionResponse.describe_execution", _describe_execution_as_aws,
          relies_on=(f"{_EXECUTION}:Execution.to_describe_output",)),
    Patch.replacing("choice_missing_path_fails_the_execution",
          "A Choice rule on a path missing from the input is silently false; AWS fails with States.Runtime.",
          f"{_CHOICE_VARIABLE}:ComparisonVariable._eval_body", _choice_missing_path_fails,
          relies_on=(f"{_FAILURE_EVENT}:FailureEvent", f"{_FAILURE_EVENT}:FailureEventException")),
    Patch("string_escapes_decoded",
          "Strings in a definition keep their JSON escapes: a JSONPath filter with \\\" fails to parse.",
          (f"{_PREPROCESSOR}:Preprocessor._inner_string_of",), _install_string_escapes_decoded),
    Patch("states_errors_propagate_from_parallel_branches",
          "A States.* error in a Parallel branch turns into a ValueError about custom error names.",
          (f"{_PARALLEL_BRANCHES}:BranchesDecl._eval_body", *_ERROR_NAMES),
          _states_errors_propagate(_PARALLEL_BRANCHES)),
    Patch("states_errors_propagate_from_map_iterations",
          "The same for a Map iteration that fails with a States.* error.",
          (f"{_MAP_ITERATION}:IterationWorker._eval_job", *_ERROR_NAMES),
          _states_errors_propagate(_MAP_ITERATION)),
    Patch("states_errors_from_mocked_throws",
          "The same for a mocked Throw (MockConfigFile) of a States.* error such as States.Timeout.",
          (f"{_MOCK_EVAL}:_eval_mocked_response_throw", *_ERROR_NAMES),
          _states_errors_propagate(_MOCK_EVAL)),
    Patch.replacing("list_metrics_once_per_metric",
          "list_metrics returns one entry per datapoint for metrics without dimensions.",
          f"{_CLOUDWATCH}:CloudWatchBackend.get_filtered_metrics", _list_metrics_once_per_metric),
    Patch.replacing("metric_percentile_statistics",
          "GetMetricData/GetMetricStatistics answer None for percentile statistics such as p90.",
          f"{_CLOUDWATCH}:Statistics.get_statistics_for_type", _percentile_statistics),
    Patch.replacing("metrics_scoped_to_their_dimensions",
          "Metric queries see datapoints of every dimension set, not only the metric asked for.",
          f"{_CLOUDWATCH}:CloudWatchBackend.get_all_metrics", _metrics_in_scope),
    Patch.replacing("metric_statistics_match_exact_dimensions",
          "GetMetricStatistics: without dimensions it sums every dimension set; with some, any superset.",
          f"{_CLOUDWATCH}:CloudWatchBackend.get_metric_statistics", _statistics_exact_dimensions),
    Patch.replacing("metric_data_match_exact_dimensions",
          "GetMetricData: the same, per query.",
          f"{_CLOUDWATCH}:CloudWatchBackend.get_metric_data", _metric_data_exact_dimensions),
    Patch.replacing("failure_log_without_definition_dump",
          "A failing execution logs the whole parsed definition at ERROR, once per nesting level.",
          f"{_EVAL_COMPONENT}:EvalComponent._log_failure_event_exception", _short_failure_log),
    Patch.replacing("exception_log_without_definition_dump",
          "The same dump for any other exception inside the interpreter.",
          f"{_EVAL_COMPONENT}:EvalComponent._log_exception", _short_failure_log),
]
