"""The explorer's web application: the page, its files, and the JSON API over HTTP.

A thin layer on :class:`~minicnn.explore.session.Explorer`, built with Starlette: each API
route reads a size-limited JSON body, runs the explorer's method in a worker thread (the
network's numbers are computed there, by minicnn's layers) and answers JSON. What can go wrong
with a request is answered, never raised at the server:

==========  ==================================================================================
status      when
==========  ==================================================================================
400         malformed JSON or fields: a broken image, an unknown layer, an index out of range
404         no such route; 405 the wrong method
409         something the request needs is missing: MNIST (test images, live training)
413         a body over ``max_body_bytes``
415         a POST body that is not ``application/json`` (which also keeps other web sites
            from posting to the explorer from a visitor's browser: browsers send JSON across
            sites only after asking, and the explorer never says yes)
400 (host)  a ``Host`` header other than the address it serves (a DNS-rebinding page)
==========  ==================================================================================

Every error body is ``{"error": "<a sentence>"}``. The JSON API itself is documented in
:mod:`minicnn.explore`.
"""

from __future__ import annotations

import json
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from minicnn.explore.errors import RequestError, UnavailableError
from minicnn.explore.session import Explorer

__all__ = ["LOOPBACK_HOSTS", "MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 4 * 2**20
"""The largest request body read: a drawing's PNG is tens of kilobytes; a notebook's
``pixels`` of a 512x512 image about 1.5 MB."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def _static_dir():
    return resources.files("minicnn.explore") / "static"


async def _json_body(request: Request, limit: int) -> dict:
    """The request's JSON object, refusing other content types and bodies over ``limit``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, "send the request body as JSON (Content-Type: "
                                 "application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise HTTPException(400, f"Content-Length must be a number of bytes, got {declared!r}")
    if declared is not None and int(declared) > limit:
        raise HTTPException(413, f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the request body is larger than {limit} bytes")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise RequestError("the request body must be a JSON object")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_SECURITY_HEADERS)


def create_app(explorer: Explorer, *, allowed_hosts=LOOPBACK_HOSTS,
               max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """The Starlette application serving ``explorer``.

    Args:
        explorer: the network and its answers.
        allowed_hosts: the ``Host`` headers served (the address the server is bound to);
            ``["*"]`` to serve any, which only makes sense on a trusted network.
        max_body_bytes: the largest request body read (413 above).
    """

    def post(method):
        async def endpoint(request: Request) -> Response:
            body = await _json_body(request, max_body_bytes)
            answer = await run_in_threadpool(method, body)
            return JSONResponse(answer, headers=_SECURITY_HEADERS)
        return endpoint

    async def model(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(explorer.model_info),
                            headers=_SECURITY_HEADERS)

    async def train(request: Request) -> Response:
        if request.method == "POST":
            return await post(explorer.train)(request)
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            raise RequestError(f"since must be a step number, got {since!r}")
        return JSONResponse(await run_in_threadpool(explorer.train_status, int(since)),
                            headers=_SECURITY_HEADERS)

    async def save(request: Request) -> Response:
        await _json_body(request, max_body_bytes)  # only JSON posts: see the module docstring
        return JSONResponse(await run_in_threadpool(explorer.save), headers=_SECURITY_HEADERS)

    async def index(request: Request) -> Response:
        return FileResponse(str(_static_dir() / "index.html"), headers=_SECURITY_HEADERS)

    async def request_error(request: Request, error: Exception) -> Response:
        return _error(400, str(error))

    async def unavailable(request: Request, error: Exception) -> Response:
        return _error(409, str(error))

    async def http_error(request: Request, error: HTTPException) -> Response:
        return _error(error.status_code, str(error.detail))

    async def server_error(request: Request, error: Exception) -> Response:
        # A bug, not the request's fault: say what broke; the server goes on serving.
        return _error(500, f"internal error: {type(error).__name__}: {error}")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/model", model, methods=["GET"]),
        Route("/api/forward", post(explorer.forward), methods=["POST"]),
        Route("/api/backward", post(explorer.backward), methods=["POST"]),
        Route("/api/unit", post(explorer.unit), methods=["POST"]),
        Route("/api/train", train, methods=["GET", "POST"]),
        Route("/api/save", save, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("minicnn.explore", "static")])),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))],
        exception_handlers={RequestError: request_error, UnavailableError: unavailable,
                            HTTPException: http_error, Exception: server_error},
    )
