"""The baseline: the cheapest skill ask-sdk-core allows (one handler, no verification, no storage), served
by the same gunicorn setup as `letdown serve`. Used only by bench_service.py."""

from __future__ import annotations

from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_core.skill_builder import SkillBuilder
from ask_sdk_model import RequestEnvelope
from flask import Flask, jsonify, request


def create_app() -> Flask:
    builder = SkillBuilder()

    @builder.request_handler(can_handle_func=lambda handler_input: True)
    def hello(handler_input):  # type: ignore[no-untyped-def]
        return handler_input.response_builder.speak("Hello.").response

    skill = builder.create()
    serializer = DefaultSerializer()
    app = Flask(__name__)

    @app.post("/alexa")
    def alexa():  # type: ignore[no-untyped-def]
        envelope = serializer.deserialize(request.get_data(as_text=True), RequestEnvelope)
        return jsonify(serializer.serialize(skill.invoke(request_envelope=envelope, context=None)))

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    return app
