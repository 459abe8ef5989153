"""Security headers on every response: pages, JSON, static files, errors.

The Content-Security-Policy lets a page run only the portal's own script
files: no inline ``<script>``, no ``eval``, no script, frame or form target
from another site. So even markup that slipped past the sanitizer (a task
statement, a check message quoting the candidate's cluster) cannot run.

- ``script-src 'self'``: every script is a file under ``web/static``; the
  JSON a page needs travels in ``<script type="application/json">`` blocks,
  which a browser never executes.
- ``style-src 'self' 'unsafe-inline'``: xterm.js writes ``<style>`` elements
  and ``style`` attributes without a nonce (it has no option for one), and
  the result bars use ``style="width: …"``. A style cannot run code.
- ``connect-src 'self'``: fetch to the portal and the terminal's websocket
  (CSP Level 3: ``'self'`` covers ``ws:``/``wss:`` to the same host and port).
- ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``: no other site may
  frame a page (clickjacking the Submit button); the second for old browsers.
- ``X-Content-Type-Options: nosniff``: an uploaded or served file is never
  run as a script or style because its content looks like one.
- ``Referrer-Policy: same-origin``: links out of a task statement do not tell
  the other site which attempt page the candidate was on.
- ``Cache-Control: no-store`` on everything but static files: after logging
  out on a shared machine, Back does not show an exam page from the cache.
"""

from __future__ import annotations

from flask import Flask, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_headers(app: Flask) -> None:
    """Add ``HEADERS`` to every response the application makes."""

    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
