"""ASL that AWS accepts and moto's parser rejects: accepted, drawn, and run or failed clearly.

moto's parser is an ANTLR grammar (generated code) plus a preprocessor that turns the parse tree
into evaluation components. Two kinds of rejection, two remedies:

1. **Preprocessor bugs** (``PARSER_FIXES``), patched where they are: custom error names that
   begin with ``States.`` (AWS's own samples raise and catch ``States.QuorumMet``; the spec's
   "MUST NOT" is a naming rule AWS does not enforce), float arguments of intrinsic functions
   (moto reads an ``INT`` token the float rule does not have), and a JSONata state whose inner
   state goes back to JSONPath (AWS forbids that only when the whole machine is JSONata, which
   :mod:`labhelpers.emulator.asl_validation` reports with AWS's message).

2. **Grammar gaps**: what the generated grammar has no rule for. When moto rejects a
   definition, :func:`rewritten` rewrites what AWS accepts into what moto parses and the
   definition is parsed again. A rewrite that means the same thing (``100`` for
   ``ToleratedFailurePercentage``, an empty ``ReaderConfig``) is simply run. A rewrite that
   stands in for a feature the emulator cannot run (a Distributed Map with ``ExecutionType``
   ``EXPRESS``, ``ItemBatcher``, the HTTP Task, a Resource that is still a ``${...}``
   substitution placeholder...) names that feature: the definition is accepted (so
   ValidateStateMachineDefinition and CreateStateMachine agree with AWS and the graph is
   drawn) and its executions fail with ``States.Runtime`` naming the feature, never a 500
   (the parse raises :class:`UnsupportedFeature`; ``robustness`` turns a parse failure into
   the failed execution). If the rewritten definition still fails, moto's first error stands.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any, Callable, Iterator

from labhelpers.emulator.patching import ORIGINAL, Patch, is_patched, resolve
from labhelpers.emulator.robustness import SCOPE_STACK

_PARSE = "moto.stepfunctions.parser.asl.parse"
_ASL_PARSER = f"{_PARSE}.asl_parser"
_PREPROCESSOR = f"{_PARSE}.preprocessor"
_INTRINSIC_PREPROCESSOR = f"{_PARSE}.intrinsic.preprocessor"
_ERROR_NAMES = "moto.stepfunctions.parser.asl.component.common.error_name"
_TASK = "moto.stepfunctions.parser.asl.component.state.exec.state_task"
_WORKER = "moto.stepfunctions.parser.backend.execution_worker"

#: What a Task whose Resource moto cannot call is parsed as (its executions fail before running).
_STAND_IN_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:labhelpers-unsupported-resource"
_HTTP_TASK = "arn:aws:states:::http:invoke"
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
#: ItemReader InputTypes moto reads (AWS has MANIFEST, JSONL, PARQUET too).
_INPUT_TYPES = ("CSV", "JSON")
#: Number fields moto's grammar reads as numbers, where a ${...} placeholder may stand.
_NUMBER_FIELDS = ("Seconds", "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency", "IntervalSeconds",
                  "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "ToleratedFailureCount",
                  "ToleratedFailurePercentage", "MaxItems", "MaxItemsPerBatch", "MaxInputBytesPerBatch")


class UnsupportedFeature(ValueError):
    """A definition AWS accepts that uses what the local emulator cannot run."""

    def __init__(self, features: list[str]) -> None:
        self.features = features
        super().__init__(
            f"this definition uses {'; '.join(features)}, which AWS accepts but the local emulator "
            f"(moto's ASL interpreter) cannot run. The definition is valid; run it on AWS")


# --- 1. Preprocessor bugs ---------------------------------------------------------------------

def _custom_error_names_any_prefix(original: Any) -> Any:
    def __init__(self: Any, error_name: str | None) -> None:
        from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

        ErrorName.__init__(self, error_name=error_name)  # no 'States.' prefix check: AWS has none

    return __init__


def _float_arguments_read(original: Any) -> Any:
    def visitFunc_arg_float(self: Any, ctx: Any) -> Any:
        from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral

        return ArgumentLiteral(definition_value=float(ctx.NUMBER().getText()))

    return visitFunc_arg_float


def _downgrade_below_a_jsonpath_machine(original: Any) -> Any:
    def _open_query_language_scope(self: Any, parse_tree: Any) -> None:
        # moto's function, except that a JSONPath scope below a JSONata one is refused only
        # when the machine itself (the first scope) is JSONata.
        moto = importlib.import_module(_PREPROCESSOR)
        stack = getattr(self, SCOPE_STACK)
        if not stack or stack[0].query_language_mode == moto.QueryLanguageMode.JSONata:
            return original(self, parse_tree)
        production = moto.is_production(parse_tree)
        if production is None:
            return original(self, parse_tree)  # moto's own error for a tree without children
        declared = None
        for child in production.children:
            sub = moto.is_production(child, moto.ASLParser.RULE_top_layer_stmt) or moto.is_production(
                child, moto.ASLParser.RULE_state_stmt)
            if sub is not None:
                child = sub.children[0]
            sub = moto.is_production(child, moto.ASLParser.RULE_query_language_decl)
            if sub is not None:
                declared = self.visit(sub)
                break
        stack.append(declared if declared is not None else stack[-1])

    return _open_query_language_scope


# --- 2. Grammar gaps: rewrites ------------------------------------------------------------------

def _walk_states(block: Any) -> Iterator[tuple[str, dict]]:
    """(name, state) of every state of a StartAt/States block, nested blocks included."""
    if not isinstance(block, dict) or not isinstance(block.get("States"), dict):
        return
    for name, state in block["States"].items():
        if not isinstance(state, dict):
            continue
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _walk_states(branch)
        for field in ("ItemProcessor", "Iterator"):
            yield from _walk_states(state.get(field))


def _resource_problem(resource: str) -> str | None:
    """Why moto cannot call ``resource`` (the feature to name), or None when it can."""
    from antlr4 import RecognitionException
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        Resource, ServiceResource)
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory import (
        state_task_service_for)

    if resource.split(".waitForTaskToken")[0] == _HTTP_TASK:
        return f"the HTTP Task ({_HTTP_TASK})"
    if _PLACEHOLDER.search(resource):
        return f"the Resource '{resource}' (a ${{...}} substitution placeholder, filled in when deployed)"
    try:
        parsed = Resource.from_resource_arn(resource)
        if isinstance(parsed, ServiceResource):
            state_task_service_for(service_name=parsed.service_name)
    except RecognitionException:
        return f"the service integration '{resource}'"
    except Exception:  # not an ARN at all
        parsed = None
    if parsed is None:
        return f"the Resource '{resource}' (not an ARN the emulator can call)"
    return None


def _rewrite_state(name: str, state: dict, features: list[str]) -> None:
    resource = state.get("Resource")
    if state.get("Type") == "Task" and isinstance(resource, str):
        problem = _resource_problem(resource)
        if problem:
            features.append(f"{problem} in state '{name}'")
            state["Resource"] = _STAND_IN_RESOURCE
    for field in _NUMBER_FIELDS:
        value = state.get(field)
        if isinstance(value, str) and _PLACEHOLDER.fullmatch(value):
            features.append(f"the substitution placeholder {value} as {field} of state '{name}'")
            state[field] = 1
    if state.get("Type") != "Map":
        return
    percentage = state.get("ToleratedFailurePercentage")
    if isinstance(percentage, int) and not isinstance(percentage, bool):
        state["ToleratedFailurePercentage"] = float(percentage)  # moto's grammar reads only decimals
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
        features.append(f"a Distributed Map with ExecutionType EXPRESS (state '{name}')")
        config["ExecutionType"] = "STANDARD"
    if "ItemBatcher" in state:
        features.append(f"ItemBatcher (Distributed Map batches, state '{name}')")
        del state["ItemBatcher"]
    reader = state.get("ItemReader")
    if isinstance(reader, dict) and reader.get("ReaderConfig") == {}:
        del reader["ReaderConfig"]  # an empty ReaderConfig is no ReaderConfig
    config = reader.get("ReaderConfig") if isinstance(reader, dict) else None
    if isinstance(config, dict) and config.get("InputType") not in (None, *_INPUT_TYPES):
        features.append(f"ItemReader InputType {config['InputType']} (state '{name}')")
        config["InputType"] = "JSON"


def rewritten(definition: str) -> tuple[str, list[str]] | None:
    """The definition rewritten into what moto's grammar parses, and the features that needed
    rewriting that the emulator cannot run; None when nothing was rewritten."""
    try:
        document = json.loads(definition)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    before = json.dumps(document, sort_keys=True)
    features: list[str] = []
    for name, state in list(_walk_states(document)):
        _rewrite_state(name, state, features)
    if json.dumps(document, sort_keys=True) == before:
        return None
    return json.dumps(document), features


def moto_parse() -> Callable[[str], Any]:
    """moto's own AmazonStateLanguageParser.parse (under any patch installed over it)."""
    return resolve(f"{_ASL_PARSER}:AmazonStateLanguageParser.parse")


def parse_accepting_aws_features(definition: str, parse: Callable[[str], Any] | None = None) -> Any:
    """moto's parse; where it fails on what AWS accepts, the rewritten definition's parse (or
    :class:`UnsupportedFeature` naming what the emulator cannot run)."""
    parse = parse or moto_parse()
    try:
        return parse(definition)
    except Exception as err:
        again = rewritten(definition)
        if again is None:
            raise
        text, features = again
        try:
            result = parse(text)
        except Exception:
            raise err from None  # moto's first error is the one to report
        if features:
            raise UnsupportedFeature(features) from None
        return result


def accepted_despite_moto(definition: str, analyse: Callable[[str], Any]) -> bool:
    """Whether a definition moto rejected is one AWS accepts: its rewrite passes ``analyse``
    (moto's parse, or its EXPRESS static analyser)."""
    again = rewritten(definition)
    if again is None:
        return False
    try:
        analyse(again[0])
    except Exception:  # moto's parser raises several types: the rewrite did not help
        return False
    return True


def _parse_accepting_aws_features(original: Any) -> Any:
    def parse(definition: str) -> Any:
        return parse_accepting_aws_features(definition, original)

    return staticmethod(parse)


def _install_parse(_: Any) -> None:
    parser = importlib.import_module(_ASL_PARSER).AmazonStateLanguageParser
    original = moto_parse()
    replacement = _parse_accepting_aws_features(original)
    replacement.__func__.__dict__[ORIGINAL] = original
    parser.parse = replacement


PARSER_FIXES: list[Patch] = [
    Patch.replacing("states_prefixed_custom_error_names_accepted",
          "moto rejects a custom error name beginning with 'States.' ('Custom Error Names MUST NOT "
          "begin with the prefix...'), which AWS accepts: AWS's published samples raise and catch "
          "States.QuorumMet, States.FauxFailure1, States.TaskFailedId.",
          f"{_ERROR_NAMES}.custom_error_name:CustomErrorName.__init__", _custom_error_names_any_prefix,
          relies_on=(f"{_ERROR_NAMES}.error_name:ErrorName.__init__",)),
    Patch.replacing("intrinsic_float_arguments_read",
          "An intrinsic function with a decimal argument (States.ArrayRange(1, 9, 1.5)...) fails to parse: "
          "'Func_arg_floatContext' object has no attribute 'INT'.",
          f"{_INTRINSIC_PREPROCESSOR}:Preprocessor.visitFunc_arg_float", _float_arguments_read,
          relies_on=("moto.stepfunctions.parser.asl.component.intrinsic.argument.argument:ArgumentLiteral",)),
    Patch.replacing("jsonata_state_hands_over_to_jsonpath",
          "In a JSONPath machine, a JSONata Map or Parallel whose inner state sets QueryLanguage JSONPath "
          "is rejected ('Cannot downgrade from JSONata context...'); AWS forbids that only when the whole "
          "machine is JSONata.",
          f"{_PREPROCESSOR}:Preprocessor._open_query_language_scope", _downgrade_below_a_jsonpath_machine,
          relies_on=(f"{_PREPROCESSOR}:Preprocessor.visitQuery_language_decl",
                     "moto.stepfunctions.parser.asl.antlt4utils.antlr4utils:is_production",
                     "moto.stepfunctions.parser.asl.component.common.query_language:QueryLanguage")),
]


def install_parser_fixes() -> None:
    """Install the preprocessor fixes (idempotent): ValidateStateMachineDefinition's verdict must
    not depend on whether this process installed the emulator's patches."""
    for patch in PARSER_FIXES:
        if not is_patched(patch.targets[0]):
            patch.install(None)


PATCHES: list[Patch] = [
    *PARSER_FIXES,
    Patch("aws_features_moto_cannot_parse_accepted",
          "moto's ANTLR grammar rejects definitions AWS accepts: Distributed Map with ExecutionType EXPRESS "
          "or ItemBatcher, the HTTP Task, ToleratedFailurePercentage written as an integer, a Resource or a "
          "number that is still a ${...} placeholder. They are accepted; what the emulator cannot run fails "
          "the execution with States.Runtime naming the feature.",
          (f"{_ASL_PARSER}:AmazonStateLanguageParser.parse",
           f"{_WORKER}:ExecutionWorker._get_evaluation_entrypoint",
           f"{_TASK}.service.resource:Resource.from_resource_arn",
           f"{_TASK}.service.state_task_service_factory:state_task_service_for"),
          _install_parse),
]
