"""The WSGI application: the web service, plus the browser simulator where configuration enables it.

`letdown serve` and `flask --app skill.app run` load `create_app` from here.
"""

from __future__ import annotations

from flask import Flask

from skill.config import Config
from skill.tools.simulator import create_simulator_blueprint
from skill.web import app as web


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = web.create_app(config)
    if config.simulator_enabled:
        app.register_blueprint(create_simulator_blueprint(web.service_of(app).deps))
    return app
