"""The skill as an AWS Lambda function: real Alexa envelopes through the ask-sdk's own lambda_handler.

Each event is the JSON an Alexa device's request becomes (tests/support/alexa.py), parsed as Lambda hands it
to a function. The Lambda runtime itself cannot run here, so its context object is stood in for by a small
class with the attributes Lambda's has; nothing in the skill reads it beyond passing it to the SDK.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from skill import lambda_function
from skill.config import Config, ConfigError
from skill.lambda_function import RejectedRequest, create_lambda_handler
from tests.support.alexa import TEST_USER_ID, envelope, intent_request, new_session
from tests.support.postgres import PostgresServer, postgres_server_fixture


@dataclass
class LambdaContextStandIn:
    """The attributes of the context object Lambda's Python runtime passes (it cannot run here)."""

    function_name: str = "letdown-helper"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.monotonic() + 8)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def as_lambda_event(built: dict[str, Any]) -> dict[str, Any]:
    """What Lambda passes a function for an Alexa request: the request's JSON, parsed."""
    return json.loads(json.dumps(built))


def lambda_env(service_env: dict[str, str], **overrides: str) -> dict[str, str]:
    """A production Lambda's settings: the skill id and a database; no request verification settings."""
    env = {
        name: value
        for name, value in service_env.items()
        if name not in ("LETDOWN_CA_BUNDLE", "LETDOWN_CERT_CHAIN_DIR")
    }
    return {**env, "LETDOWN_ENV": "production", **overrides}


def launch(handler: Any, user_id: str = TEST_USER_ID) -> dict[str, Any]:
    event = as_lambda_event(envelope({"type": "LaunchRequest"}, new_session(user_id), user_id=user_id))
    return handler(event, LambdaContextStandIn())


def test_lambda_answers_a_launch_and_keeps_the_visit(service_env: dict[str, str]) -> None:
    config = Config.from_env(lambda_env(service_env))
    handler = create_lambda_handler(config)
    first = launch(handler)
    assert first["version"] == "1.0"
    assert first["sessionAttributes"]["last_message"] == "launch.first"
    assert first["response"]["outputSpeech"]["ssml"].startswith("<speak>")
    # A second Lambda instance (a cold start) finds the visit in the shared store.
    again = launch(create_lambda_handler(config))
    assert again["sessionAttributes"]["last_message"] == "launch.returning"


def test_lambda_answers_an_intent_in_a_session(service_env: dict[str, str]) -> None:
    handler = create_lambda_handler(Config.from_env(lambda_env(service_env)))
    event = as_lambda_event(envelope(intent_request("RelaxTipIntent"), new_session()))
    answer = handler(event, LambdaContextStandIn())
    assert answer["sessionAttributes"]["last_message"] == "tip.relax"


def test_lambda_refuses_another_skills_request_and_logs_it(
    service_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="letdown.request")
    handler = create_lambda_handler(Config.from_env(lambda_env(service_env)))
    other = "amzn1.ask.skill.someone-elses-skill"
    event = as_lambda_event(envelope({"type": "LaunchRequest"}, new_session(skill_id=other), skill_id=other))
    with pytest.raises(RejectedRequest, match="application id does not match"):
        handler(event, LambdaContextStandIn())
    line = json.loads(next(r.getMessage() for r in caplog.records if r.name == "letdown.request"))
    assert line["status"] == 400 and line["type"] == "LaunchRequest"


def test_lambda_in_production_needs_the_skill_id(service_env: dict[str, str]) -> None:
    config = Config.from_env(lambda_env(service_env, LETDOWN_SKILL_ID=""))
    with pytest.raises(ConfigError, match="LETDOWN_SKILL_ID is not set"):
        create_lambda_handler(config)


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch, service_env: dict[str, str]) -> Iterator[None]:
    for name, value in lambda_env(service_env).items():
        monkeypatch.setenv(name, value)
    lambda_function._handler_for_this_instance.cache_clear()
    yield
    lambda_function._handler_for_this_instance.cache_clear()


def test_the_module_handler_is_what_lambda_calls(lambda_environment: None) -> None:
    """`skill.lambda_function.lambda_handler` as the function's handler setting names it."""
    answer = launch(lambda_function.lambda_handler)
    assert answer["sessionAttributes"]["last_message"] == "launch.first"
    assert launch(lambda_function.lambda_handler)["sessionAttributes"]["last_message"] == "launch.returning"


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    yield from postgres_server_fixture()


@pytest.mark.postgres
def test_lambda_keeps_state_in_postgresql(
    service_env: dict[str, str],
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    open_store = lambda_function.open_store

    def open_and_close_after(url: str) -> Any:
        # A Lambda container keeps its store until it is frozen; a test closes it (an unclosed pool is
        # collected later on its own worker thread, which psycopg_pool reports as "cannot join current thread").
        store = open_store(url)
        request.addfinalizer(store.close)
        return store

    monkeypatch.setattr(lambda_function, "open_store", open_and_close_after)
    env = lambda_env(service_env, LETDOWN_DATABASE_URL=postgres_server.create_database())
    assert launch(create_lambda_handler(Config.from_env(env)))["sessionAttributes"]["last_message"] == "launch.first"
    cold_start = create_lambda_handler(Config.from_env(env))
    assert launch(cold_start)["sessionAttributes"]["last_message"] == "launch.returning"
    assert launch(cold_start, "amzn1.ask.account.SOMEONEELSE")["sessionAttributes"]["last_message"] == "launch.first"
