"""A private access log for uvicorn: no client address, no query string, paths redacted.

uvicorn's access log writes every request's client address and full URL, query string
included, to stdout: on most hosts that lands in a log store next to the analytics that
promise never to link an address to a visit. `PrivateAccessLog` is a `logging.Filter` for the
`uvicorn.access` logger that keeps what operators read access logs for (method, path,
status, timing of the line) and drops the rest: the client address becomes `-`, the query
string is cut, and the path is redacted exactly as events store it (ids, e-mail addresses
and tokens become `:id`/`:redacted`, see `analytics.paths.redact_path`).

    uvicorn app:app --log-config examples/uvicorn-log.json
    uvicorn.run(app, log_config=analytics.accesslog.LOG_CONFIG)

References: uvicorn's logging (`uvicorn.config.LOGGING_CONFIG`, `uvicorn.logging`), Python's
`logging.config.dictConfig` schema.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote

from analytics.paths import redact_path

# uvicorn calls access_logger.info('%s - "%s %s HTTP/%s" %d', client, method, path, version,
# status) from both of its HTTP implementations; AccessFormatter unpacks the same five args.
_ACCESS_ARGS = 5


class PrivateAccessLog(logging.Filter):
    """Rewrites uvicorn access records in place; other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == _ACCESS_ARGS:
            _client, method, full_path, http_version, status = args
            path = str(full_path).split("?", 1)[0]
            # uvicorn logs the path percent-encoded (so no CR/LF reaches the log); redaction
            # reads the decoded path, and the result is encoded again for the same reason.
            private = quote(redact_path(unquote(path)), safe="/:@!$&'()*+,;=-._~")
            record.args = ("-", method, private, http_version, status)
        return True


# uvicorn's own default configuration (uvicorn.config.LOGGING_CONFIG, 0.30+) with the filter
# on the access handler; written out so that importing this module needs no uvicorn.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"private": {"()": "analytics.accesslog.PrivateAccessLog"}},
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["private"],
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

__all__ = ["LOG_CONFIG", "PrivateAccessLog"]
