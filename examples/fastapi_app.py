"""The FastAPI example: consent as a dependency, and a preferences page that sets its cookies
only when the visitor allowed them.

Run it::

    uvicorn examples.fastapi_app:app --host 127.0.0.1 --port 8000 \\
        --log-config examples/uvicorn-log.json   # access log without addresses or queries

It reads ``COOKIEWALL_VAR`` and ``COOKIEWALL_SECRET`` (comma-separated keys, newest first) as
``examples/starlette_app.py`` does, and shares its policy and development key.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from analytics import Recorder, TrafficMiddleware
from cookiewall import Consent, ConsentMiddleware, ReceiptLog, get_consent
from examples.starlette_app import DEV_SECRET, POLICY, url

VAR = Path(os.environ.get("COOKIEWALL_VAR", "var"))
# Comma-separated, newest first, as the Starlette example reads it: passed on whole, "new,old"
# would be one key that no cookie signed with either verifies against. (Importing the
# Starlette example above already warned if the variable is not set.)
SECRET_KEYS = [
    key.strip() for key in os.environ.get("COOKIEWALL_SECRET", "").split(",") if key.strip()
] or [DEV_SECRET]

app = FastAPI(title="cookiewall FastAPI example")
# add_middleware puts the last one added outermost: the recorder first, then the gate, so the
# gate has put the visitor's consent in the scope by the time the recorder reads it.
app.add_middleware(
    TrafficMiddleware, recorder=Recorder(spool_dir=VAR / "spool", site="example.com")
)
app.add_middleware(
    ConsentMiddleware,
    policy=POLICY,
    secret_key=SECRET_KEYS,
    inject_banner=True,
    receipts=ReceiptLog(VAR / "receipts.jsonl"),
)

ConsentDep = Annotated[Consent, Depends(get_consent)]


@app.get("/", response_class=HTMLResponse)
async def home(request: Request, consent: ConsentDep) -> str:
    state = "decided" if consent.decided else "not decided yet"
    granted = ", ".join(sorted(consent.granted)) or "nothing"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Home</title></head>"
        f"<body><h1>Hello</h1><p>You have {state}; allowed: {html.escape(granted)}.</p>"
        # Below the root path the app is served under (`uvicorn --root-path /shop`), if any.
        f'<p><a href="{html.escape(url(request, "/preferences"))}">Preferences</a></p>'
        "</body></html>"
    )


@app.get("/preferences", response_class=HTMLResponse)
async def preferences(request: Request, consent: ConsentDep) -> str:
    hint = (
        "Your choice will be remembered."
        if consent.allows("preferences")
        else "Allow preference cookies to have your choice remembered."
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Preferences</title>"
        f"</head><body><h1>Preferences</h1><p>{hint}</p>"
        f'<form method="post" action="{html.escape(url(request, "/preferences"))}">'
        '<select name="theme">'
        "<option>light</option><option>dark</option></select>"
        '<select name="lang"><option>en</option><option>de</option></select>'
        '<button type="submit">Save</button></form></body></html>'
    )


@app.post("/preferences")
async def save_preferences(
    request: Request,
    consent: ConsentDep,
    theme: Annotated[str, Form()] = "light",
    lang: Annotated[str, Form()] = "en",
) -> RedirectResponse:
    response = RedirectResponse(url(request, "/preferences"), status_code=303)
    # Setting them only when allowed saves work; the gate would drop them anyway.
    if consent.allows("preferences"):
        response.set_cookie("theme", theme if theme in ("light", "dark") else "light")
        response.set_cookie("lang", lang if lang in ("en", "de") else "en")
    return response
