"""Error pages: HTML for a browser, JSON for the API and for the pages'
scripts, with the reason the code gave (``abort(409, "…")``) or a default."""

from __future__ import annotations

from flask import jsonify, render_template, request


def wants_json() -> bool:
    return request.path.startswith("/api/") or \
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"


def init_errors(app) -> None:
    """Error pages for the HTTP errors the portal raises, each with its reason."""
    def error_page(code: int, title: str, message: str):
        def handler(exc):
            msg = getattr(exc, "description", None) or message
            if wants_json():
                return jsonify(error=title, message=msg), code
            return render_template("error.html", code=code, title=title, message=msg), code
        return handler

    app.register_error_handler(400, error_page(400, "Bad request", "The request was not understood."))
    app.register_error_handler(403, error_page(403, "Forbidden", "You may not do that."))
    app.register_error_handler(404, error_page(404, "Not found", "There is nothing here."))
    app.register_error_handler(409, error_page(409, "Conflict", "That cannot be done now."))
    app.register_error_handler(413, error_page(413, "Too large", "That is more than the portal "
                                                                 "accepts in one request."))
    app.register_error_handler(429, error_page(429, "Too many attempts",
                                               "Too many tries; wait a minute and try again."))
