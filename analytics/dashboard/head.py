"""HEAD requests: the status and headers a GET would get, without building its body.

Starlette answers HEAD through the GET endpoint and drops the body at the end, so a HEAD (a
link checker, an uptime probe) ran every query and drew every chart for nothing. The handlers
stop once the status is known (parameters checked, warehouse copy available) and answer with
`header_only`. RFC 9110 §9.3.2 lets a HEAD answer leave out header fields that only generating
the content determines: here Content-Length (a page's GET costs its queries, ~11 ms on a small
warehouse; HEAD, 0.4 ms). Refusals (400, 404, 503) are drawn without the warehouse and keep
theirs. A server that frames every length-less answer (uvicorn's h11 says
`Transfer-Encoding: chunked`, as RFC 9112 §6.1 allows for HEAD) sends no body bytes after it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def is_head(request: Request) -> bool:
    return request.method == "HEAD"


def header_only(response: Response) -> Response:
    """`response` (made as GET makes it, from an empty body) without its Content-Length."""
    response.body = b""
    del response.headers["content-length"]
    return response
