"""Speed: moto's request layer and service backends on every request, one patch each.

Every patch here is optional (``LAB_EMULATOR_FAST=0`` leaves the whole speed group out) and
has its measured gain in ``speed_gains`` (``benchmarks/ablation.py`` measures it). The emulator's HTTP
server (``server.keep_alive_handler``) replaces parts of werkzeug's and moto's request
handler; those replacements are registered here too, so their targets are fingerprinted.
"""

from __future__ import annotations

from typing import Any

from labhelpers.emulator.patching import Patch, replace

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


PATCHES: list[Patch] = [
    Patch.replacing("dispatcher_backend_lookup_cached",
          "Every request lists moto's package directory under a global lock to find its backend.",
          f"{_DISPATCHER}:DomainDispatcherApplication.get_backend_for_host", _backend_lookup_cached),
    Patch.replacing("requests_dispatched_without_flask",
          "Flask's request context, URL adapter and after-request hooks around every request.",
          f"{_DISPATCHER}:DomainDispatcherApplication.__call__", _dispatch_without_flask,
          relies_on=("moto.core.utils:convert_to_flask_response",
                     "moto.moto_api._internal.recorder.models:Recorder._record_request")),
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
