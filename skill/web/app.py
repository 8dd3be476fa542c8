"""The Flask app factory: POST /alexa (verification → ask-sdk skill), GET /healthz, audio and simulator."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_core.skill import CustomSkill
from ask_sdk_model import RequestEnvelope
from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from skill import __version__
from skill.alexa.deps import SkillDeps
from skill.alexa.skill_builder import build_skill
from skill.config import Config
from skill.storage import AttributeStore, DeletionNotDone, open_store
from skill.web.audio import create_audio_blueprint
from skill.web.errors import BadRequest
from skill.web.log_scrub import remember, scrubbing
from skill.web.request_log import log_request
from skill.web.verification import HeaderSource, RequestVerifier, VerificationError, check_application_id

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    config.check_safe_to_start()
    for warning in config.warnings():
        log.warning(warning)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Alexa reads keys by name; sorting costs time
    store = open_store(config.database_url)
    deps = SkillDeps.load(config)
    app.extensions["letdown"] = LetdownService(
        config=config,
        deps=deps,
        store=store,
        skill=build_skill(deps, store),
        verifier=RequestVerifier(ca_bundle=config.ca_bundle, cert_chain_dir=config.cert_chain_dir),
    )
    app.add_url_rule("/alexa", view_func=alexa_endpoint, methods=["POST"])
    app.add_url_rule("/healthz", view_func=healthz, methods=["GET"])
    app.register_blueprint(create_audio_blueprint(config, deps.tracks, deps.artwork))
    app.register_error_handler(HTTPException, http_error_as_json)
    return app


class EnvelopeSerializer(DefaultSerializer):
    """The SDK's serializer, made cheaper on the request path through two of its name-mangled hooks.

    DefaultSerializer parses each datetime with dateutil's general-purpose parser (about a third of the cost
    of deserializing an envelope) and re-imports every model class by name for every field it reads.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def _DefaultSerializer__load_class_from_name(self, class_name: str) -> Any:
        if class_name not in self._classes:
            self._classes[class_name] = super()._DefaultSerializer__load_class_from_name(class_name)  # type: ignore[misc]
        return self._classes[class_name]

    def _DefaultSerializer__deserialize_datetime(self, payload: Any, obj_type: Any) -> Any:
        try:
            parsed = datetime.fromisoformat(payload)
        except (TypeError, ValueError):
            return super()._DefaultSerializer__deserialize_datetime(payload, obj_type)  # type: ignore[misc]
        return parsed.date() if obj_type is date else parsed


class LetdownService:
    """Everything one app instance owns; reached from views through `current_app`."""

    def __init__(
        self,
        config: Config,
        deps: SkillDeps,
        store: AttributeStore,
        skill: CustomSkill,
        verifier: RequestVerifier,
    ) -> None:
        self.config = config
        self.deps = deps
        self.store = store
        self.skill = skill
        self.verifier = verifier
        self.serializer = EnvelopeSerializer()

    def handle_alexa_request(self, headers: HeaderSource, body: bytes) -> dict[str, Any]:
        """Verify a raw Alexa request and answer it; raises BadRequest for anything the client got wrong."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(400, "body is not JSON") from None  # Alexa sends UTF-8
        envelope = parse_envelope(text)
        g.envelope = envelope
        remember(envelope)
        try:
            if self.config.verify_requests:
                self.verifier.verify(headers, body, envelope)
            check_application_id(envelope, self.config.skill_ids)
        except VerificationError as error:
            raise BadRequest(400, error.reason) from None
        return self.invoke(envelope, raw_json=text)

    def invoke(self, envelope: Mapping[str, Any], raw_json: str | None = None) -> dict[str, Any]:
        """Run an envelope that has already passed verification through the ask-sdk skill.

        `raw_json`, the envelope's own JSON text when the caller has it, spares encoding it again.
        """
        try:
            request_envelope = self.serializer.deserialize(raw_json or json.dumps(envelope), RequestEnvelope)
        except Exception:  # the SDK raises several types for malformed fields
            raise BadRequest(400, "request envelope has malformed fields") from None
        if request_envelope.request is None:
            raise BadRequest(400, "unsupported request type")
        response_envelope = self.skill.invoke(request_envelope=request_envelope, context=None)
        return cast(dict[str, Any], self.serializer.serialize(response_envelope))


def parse_envelope(text: str) -> dict[str, Any]:
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting like "[[[[…"
        raise BadRequest(400, "body is not JSON") from None
    if not isinstance(envelope, dict):
        raise BadRequest(400, "body is not an Alexa request envelope")
    request_part = envelope.get("request")
    context = envelope.get("context")
    if not (
        isinstance(envelope.get("version"), str)
        and isinstance(request_part, dict)
        and isinstance(request_part.get("type"), str)
        and isinstance(request_part.get("timestamp"), str)
        and isinstance(context, dict)
        and isinstance(context.get("System"), dict)
    ):
        raise BadRequest(400, "body is not an Alexa request envelope")
    return envelope


def service_of(app: Flask) -> LetdownService:
    return app.extensions["letdown"]


def service() -> LetdownService:
    return service_of(current_app)


def alexa_endpoint() -> tuple[Response, int]:
    """POST /alexa; one `letdown.request` line per request, whatever its outcome (a 5xx included)."""
    started = time.perf_counter()
    g.envelope = None
    status, reason = 200, None
    with scrubbing():
        try:
            if request.mimetype != "application/json":
                raise BadRequest(415, "content type must be application/json")
            body = read_body(service().config.max_body_bytes)
            payload = service().handle_alexa_request(request.headers, body)
        except BadRequest as error:
            status, reason = error.status, error.reason
            payload = {"error": error.reason}
        except HTTPException as error:  # 413 from MAX_CONTENT_LENGTH while reading the body
            status, reason = error.code or 400, error.description
            payload = {"error": error.description}
        except DeletionNotDone:
            # Only AlexaSkillEvent.SkillDisabled raises this, and only when the user's data could be neither
            # deleted nor journaled for deletion: never claim success for that one (see lifecycle.py).
            status, reason = 503, "user data deletion could not be done or recorded; storage unavailable"
            payload = {"error": "storage unavailable"}
        except Exception:  # a bug: logged (words and ids scrubbed) and answered, never a bare reset
            log.exception("request failed")
            status, reason = 500, "internal error"
            payload = {"error": "internal error"}
        log_request(g.envelope, status, (time.perf_counter() - started) * 1000, reason)
    return jsonify(payload), status


def read_body(limit: int) -> bytes:
    """The whole body, or BadRequest(413) once it passes `limit` bytes, with or without a Content-Length.

    A chunked body has no Content-Length to refuse up front; reading one byte past the limit tells it apart
    from one that fits exactly, instead of silently cutting it.
    """
    if request.content_length is not None and request.content_length > limit:
        raise BadRequest(413, f"body is larger than {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise BadRequest(413, f"body is larger than {limit} bytes")
    return body


def healthz() -> tuple[Response, int]:
    """Status and version for anyone; the storage detail only to a caller with LETDOWN_HEALTH_TOKEN."""
    config = service().config
    storage_ok, storage_detail = service().store.health()
    status = "ok" if storage_ok else "degraded"
    if not storage_ok:
        log.warning("healthz: degraded: storage %s", storage_detail)
    answer: dict[str, Any] = {"status": status, "version": __version__}
    if config.health_token and hmac.compare_digest(
        request.headers.get("Authorization", "").encode(), f"Bearer {config.health_token}".encode()
    ):
        answer["storage"] = {"ok": storage_ok, "detail": storage_detail}
        answer["verification"] = config.verify_requests
        answer["environment"] = config.environment
    return jsonify(answer), 200


def http_error_as_json(error: HTTPException) -> tuple[Response, int]:
    return jsonify(error=error.description), error.code or 500
