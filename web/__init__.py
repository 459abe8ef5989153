"""The candidate portal: a Flask application factory.

    >>> from web import create_app
    >>> app = create_app({"QUEUE_IMMEDIATE": True})   # doctest: +SKIP

``create_app`` reads the configuration (``web.config``), upgrades the
database to the newest migration, loads the task bank and the exams, and
wires the task queue. The blueprints:

- ``auth``      login, logout, sign-up, account and API tokens
- ``attempts``  exam catalog, attempt pages, results, history
- ``instructions``  an exam's instructions page (the environment and the rules)
- ``api``       the JSON API (``/api/v1``), session or bearer-token auth
- ``admin``     attempts and users, for instructors and admins
- ``terminal``  a websocket per attempt to the candidate's jailed shell
- ``author``    task editor, validation, exam builder, statistics (instructors)
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from . import config as config_module


def create_app(config: dict | None = None) -> Flask:
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("PROCTOR_INSTANCE_PATH")
    app = Flask(__name__, instance_path=os.path.abspath(instance) if instance else None,
                instance_relative_config=True)
    # 0700: the secret key, the database, the queue and the jails live here.
    config_module.private_dir(Path(app.instance_path))
    config_module.load(app, config)

    from .bank import Bank
    from .db import Database, close_session
    from .lifecycle import Lifecycle
    from .queue import Queue
    from .services import load_services

    db = Database(app.config["DATABASE_URL"])
    if app.config.get("MIGRATE", True):
        db.upgrade()
    services = load_services(app.config)
    bank_holder: dict = {}

    def bank() -> Bank:
        if "bank" not in bank_holder:
            bank_holder["bank"] = Bank(services, app.config["EXAMS_DIR"])
        return bank_holder["bank"]

    lifecycle = Lifecycle(db, services, bank, app.config)
    queue = Queue(app, lifecycle)
    app.extensions.update({"proctor.db": db, "proctor.services": services,
                           "proctor.bank": bank, "proctor.lifecycle": lifecycle,
                           "proctor.queue": queue})
    app.teardown_appcontext(close_session)

    from .security import init_security
    init_security(app)
    register_blueprints(app)

    from .errors import init_errors
    from .formatting import init_formatting
    init_formatting(app)
    init_errors(app)
    return app


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .attempts import bp as attempts_bp
    from .auth import bp as auth_bp
    from .instructions import bp as instructions_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(attempts_bp)
    app.register_blueprint(instructions_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    from .terminal import init_terminal
    init_terminal(app)
    from .author import init_author
    init_author(app)
