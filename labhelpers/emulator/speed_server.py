"""Speed: moto's request layer and service backends on every request, one patch each.

Every patch here is optional (``LAB_EMULATOR_FAST=0`` leaves the whole speed group out) and
has its measured gain in ``speed_gains`` (``benchmarks/ablation.py`` measures it). The emulator's HTTP
server (``server.keep_alive_handler``) replaces parts of werkzeug's and moto's request
handler; those replacements are registered here too, so their targets are fingerprinted.
"""

from __future__ import annotations

from typing import Any

from labhelpers.emulator.patching import Patch, replace, replace_everywhere

_DISPATCHER = "moto.moto_server.werkzeug_app"
_WERKZEUG = "werkzeug.serving"

def _backend_lookup_cached(original: Any) -> Any:
    cache: dict[Any, Any] = {}

    def get_backend_for_host(self: Any, host: Any) -> Any:
        # Answered from os.listdir(moto) + ~200 isdir() + regexes per request, under the
        # dispatcher's global lock: the answer for a given Host never changes.
        try:
            return cache[host]
        except KeyError:
            pass
        backend = original(self, host)
        if len(cache) < 4096:  # hosts are few (one per service and region); bound it anyway
            cache[host] = backend
        return backend

    return get_backend_for_host


def _method_names_cached(original: Any) -> Any:
    cache: dict[Any, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        # inspect.getmembers() over a whole response class on every request; the names change
        # only when a class (or a base) gains an attribute, which its __dict__ size shows.
        stamp = tuple(len(vars(c)) for c in clazz.__mro__)
        hit = cache.get(clazz)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        names = original(clazz)
        cache[clazz] = (stamp, names)
        return names

    return method_names_from_class


def _list_executions_written_directly(original: Any) -> Any:
    import datetime
    import json

    from moto import settings
    from moto.core.responses import ActionResult
    from moto.core.serialize import TimestampSerializer

    member_order: list[str] = []
    unix_time = TimestampSerializer._timestamp_unixtimestamp

    def written(value: Any) -> Any:
        if type(value) is str or type(value) is int:
            return value
        if isinstance(value, datetime.datetime):
            return unix_time(value)
        raise TypeError(type(value).__name__)

    def list_executions(self: Any) -> Any:
        # A page of 1,000 executions cost moto's generic serializer ~25 ms (six members, each
        # looked up through alias providers); the page holds only strings, numbers and dates.
        result = original(self)
        page = result.result if isinstance(result, ActionResult) else None
        if not isinstance(page, dict) or settings.PRETTIFY_RESPONSES:
            return result
        if not member_order:
            from moto.core.utils import get_service_model

            shape = get_service_model("stepfunctions").operation_model("ListExecutions").output_shape
            member_order.extend(shape.members["executions"].member.members)
        try:
            items = [{key: written(item[key]) for key in member_order if item.get(key) is not None}
                     for item in page["executions"]]
        except (TypeError, KeyError):
            return result  # a value the shortcut does not know: the generic serializer decides
        # The envelope (status, headers, nextToken) still comes from the serializer.
        status, headers, body = self.serialized(ActionResult({**page, "executions": []}))
        envelope = json.loads(body)
        envelope["executions"] = items
        return status, headers, json.dumps(envelope)

    return list_executions


def _dispatch_without_flask(original: Any) -> Any:
    from botocore.exceptions import ClientError
    from flask import Response
    from werkzeug.exceptions import HTTPException

    from moto.core.utils import convert_to_flask_response
    from moto.moto_api import recorder

    def __call__(self: Any, environ: dict, start_response: Any) -> Any:
        # Flask's request context, URL adapter and after-request hooks cost a fifth of an
        # ordinary request. The view is moto's convert_to_flask_response around a callback:
        # call it as that wrapper does, with the same Request class and Response class.
        if environ.get("HTTP_ORIGIN") or environ.get("REQUEST_METHOD") == "OPTIONS":
            return original(self, environ, start_response)  # CORS: flask_cors answers those
        app = self.get_application(environ)
        try:
            endpoint, _ = app.url_map.bind_to_environ(environ).match()
        except HTTPException:  # 404, 405, a redirect: Flask answers as it always did
            return app(environ, start_response)
        view = app.view_functions.get(endpoint)
        if app.service == "moto_api" or type(view) is not convert_to_flask_response:
            return app(environ, start_response)  # the dashboard renders Flask templates
        request = app.request_class(environ)
        recorder._record_request(request)
        try:
            result = view.callback(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = Response(response=content, status=status, headers=headers)
        if request.method == "HEAD" and "content-length" in headers:
            response.headers["Content-Length"] = headers["content-length"]
        response.headers["Access-Control-Allow-Origin"] = "*"  # what flask_cors adds without an Origin
        return response(environ, start_response)

    return __call__


def _account_backend_found_without_lock(original: Any) -> Any:
    def __getitem__(self: Any, account_id: str) -> Any:
        # moto takes its global backend lock and scans the list of every service's backends
        # (a Python __eq__ per service) on each lookup, several times per request. An account
        # already present was registered when it was created (and a reset clears both).
        try:
            return dict.__getitem__(self, account_id)
        except KeyError:
            return original(self, account_id)

    return __getitem__


_ALIAS_KEYS_MAX = 20_000  # (picker, class, member, shape) combinations; a few hundred in practice


def _alias_keys_cached(original: Any) -> Any:
    from moto.core.utils import get_value as lookup
    from moto.core.serialize import MISSING

    cache: dict[tuple, tuple[str, ...]] = {}

    def __call__(self: Any, context: Any) -> Any:
        # moto instantiates every alias provider for every member of every object it serializes
        # (a ListExecutions page of 1,000: 6 providers x 6 members x 1,000). Which keys to try
        # depends only on the picker, the object's class and the member's shape: compute once.
        obj = context.obj
        if "Meta" in getattr(obj, "__dict__", ()):  # aliases set on the instance itself
            return original(self, context)
        shape = context.shape
        providers = self.alias_providers
        cache_key = (type(self), tuple(providers) if type(providers) is list else providers,
                     type(obj), context.key, shape, getattr(shape, "parent", None))
        keys = cache.get(cache_key)
        if keys is None:
            if len(cache) >= _ALIAS_KEYS_MAX:
                cache.clear()
            keys = cache[cache_key] = tuple(self.get_possible_keys(context))
        for possible_key in keys:
            value = lookup(obj, possible_key, MISSING)
            if value is not MISSING:
                break
        else:
            value = None
        if self.response_transformers:
            key_path = f"{context.key_path}.{context.key}"
            for transform_path, transform in self.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(value)
        return value

    return __call__


def _request_ids_drawn_at_once(original: Any) -> Any:
    import string

    from moto.moto_api._internal import mock_random

    alphabet = string.ascii_letters + string.digits  # moto's alphabet; its ids are 52 long

    def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
        # moto draws each of the 52 characters with its own random.choice() (about 20 us, several
        # per cent of a small request). One choices() call from the same seedable generator.
        request_id = "".join(mock_random.choices(alphabet, k=52))
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = request_id
        return request_id

    return gen_amzn_requestid_long


#: The modules that do ``from moto.utilities.aws_headers import gen_amzn_requestid_long``
#: (tests/test_perf_patches.py checks this list against moto's source).
REQUEST_ID_USERS = ("moto.core.responses",)


PATCHES: list[Patch] = [
    Patch.replacing("dispatcher_backend_lookup_cached",
          "Every request lists moto's package directory under a global lock to find its backend.",
          f"{_DISPATCHER}:DomainDispatcherApplication.get_backend_for_host", _backend_lookup_cached),
    Patch.replacing("requests_dispatched_without_flask",
          "Flask's request context, URL adapter and after-request hooks around every request.",
          f"{_DISPATCHER}:DomainDispatcherApplication.__call__", _dispatch_without_flask,
          relies_on=("moto.core.utils:convert_to_flask_response",
                     "moto.moto_api._internal.recorder.models:Recorder._record_request")),
    Patch.replacing("account_backend_found_without_lock",
          "Every backend lookup takes moto's global lock and scans all services' backends.",
          "moto.core.base_backend:BackendDict.__getitem__", _account_backend_found_without_lock,
          relies_on=("moto.core.base_backend:BackendDict._create_account_specific_backend",
                     "moto.core.base_backend:BackendDict.reset")),
    Patch.replacing("serializer_alias_keys_computed_once",
          "The response serializer builds six alias providers per member of every object it writes.",
          "moto.core.serialize:AttributePicker.__call__", _alias_keys_cached,
          relies_on=("moto.core.serialize:AttributePicker.get_possible_keys",)),
    Patch("request_ids_drawn_at_once",
          "Every response's request id takes 52 random.choice() calls.",
          ("moto.utilities.aws_headers:gen_amzn_requestid_long",),
          lambda rt: replace_everywhere("moto.utilities.aws_headers", "gen_amzn_requestid_long",
                                        _request_ids_drawn_at_once, REQUEST_ID_USERS)),
    Patch("response_method_names_cached",
          "Every request lists its response class's methods with inspect.getmembers().",
          ("moto.core.responses:method_names_from_class", "moto.core.responses:BaseResponse.call_action"),
          lambda rt: replace("moto.core.responses", "method_names_from_class", _method_names_cached)),
    Patch.replacing("list_executions_written_directly",
          "A ListExecutions page of 1,000 costs the generic serializer ~25 ms; a waiting client polls it.",
          "moto.stepfunctions.responses:StepFunctionResponse.list_executions", _list_executions_written_directly,
          relies_on=("moto.core.serialize:TimestampSerializer._timestamp_unixtimestamp",)),
    # Applied by server.keep_alive_handler (the request handler class it serves with).
    Patch("http_connections_kept_alive",
          "werkzeug closes every connection (a TCP handshake and a new server thread per request) and "
          "waits 10 ms after each response for body bytes nobody sends.",
          (f"{_WERKZEUG}:WSGIRequestHandler.run_wsgi", f"{_WERKZEUG}:WSGIRequestHandler.handle",
           f"{_DISPATCHER}:MotoRequestHandler"),
          None),
]
