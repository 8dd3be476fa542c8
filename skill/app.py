"""The WSGI application: the web service, plus the browser simulator where configuration enables it.

`letdown serve` loads `create_serving_app` from here, `flask --app skill.app run` `create_app`.
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


def create_serving_app(config: Config | None = None) -> Flask:
    """The app `letdown serve` runs: every locale's resolver built before the first request, so that none
    waits for one (the tools, the tests and a Lambda cold start build only the locales they meet)."""
    app = create_app(config)
    web.service_of(app).deps.resolvers.build_all()
    return app
