"""The same skill as an AWS Lambda function: set the function's handler to `skill.lambda_function.lambda_handler`.

Lambda is invoked by the Alexa service itself (the function's Alexa Skills Kit trigger), so there is no
HTTPS request whose signature could be checked: that check is Amazon's on this path. The application id
check stays (LETDOWN_SKILL_ID, and the trigger's own skill id restriction). Storage: PostgreSQL through
LETDOWN_DATABASE_URL (a Lambda's file system is read-only outside /tmp and not kept between instances).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from skill.alexa.deps import SkillDeps
from skill.alexa.skill_builder import build_skill_builder
from skill.config import Config
from skill.storage import open_store
from skill.web import log_scrub
from skill.web.request_log import log_request
from skill.web.verification import VerificationError, check_application_id

log = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class RejectedRequest(Exception):
    """An event this skill must not answer (another skill's id); Lambda reports it as a failed invocation."""


def create_lambda_handler(config: Config) -> LambdaHandler:
    """The ask-sdk's own Lambda handler for our skill, behind the application id check and the request log."""
    config.check_safe_to_start(serves_http=False)
    for warning in config.warnings():
        if "LETDOWN_VERIFY_REQUESTS" not in warning:  # nothing to verify on Lambda: Amazon invokes it
            log.warning(warning)
    deps = SkillDeps.load(config)
    # The SDK annotates the event as str; Lambda passes the parsed JSON, which the SDK re-encodes.
    sdk_handler = cast(LambdaHandler, build_skill_builder(deps, open_store(config.database_url)).lambda_handler())

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        with log_scrub.scrubbing():
            log_scrub.remember(event)
            try:
                check_application_id(event, config.skill_ids)
            except VerificationError as error:
                log_request(event, 400, (time.perf_counter() - started) * 1000, error.reason)
                raise RejectedRequest(error.reason) from None
            try:
                response = sdk_handler(event, context)
            except Exception:
                log.exception("request failed")
                log_request(event, 500, (time.perf_counter() - started) * 1000, "internal error")
                raise
            log_request(event, 200, (time.perf_counter() - started) * 1000, None)
            return response

    return handler


@functools.cache
def _handler_for_this_instance() -> LambdaHandler:
    # Built on the first invocation and kept for the life of the Lambda instance (its warm starts).
    root = logging.getLogger()
    root.setLevel(logging.INFO)  # Lambda's runtime starts the root logger at WARNING: keep the request log
    log_scrub.install(root.handlers)
    return create_lambda_handler(Config.from_env())


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handler_for_this_instance()(event, context)
