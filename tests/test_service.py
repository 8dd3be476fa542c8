"""The service foundation: configuration, /healthz, request logs, skill events, storage outages, the servers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope

from skill import __version__
from skill.config import Config, ConfigError, default_database_url
from skill.storage import open_store, sqlite_path
from tests.support.alexa import TEST_USER_ID, AlexaClient, envelope
from tests.support.pki import TestPKI
from tests.support.server import free_port, gunicorn_server, letdown_server, threaded_server


def test_config_defaults_are_embedded() -> None:
    config = Config.from_env({})
    assert config.verify_requests is True
    assert config.database_url == default_database_url()
    assert config.database_url.startswith("sqlite:///")
    assert config.environment == "local"
    assert config.simulator_enabled is True
    assert config.max_body_bytes == 128 * 1024


def test_config_reads_every_documented_variable(tmp_path: Path) -> None:
    config = Config.from_env(
        {
            "LETDOWN_SKILL_ID": "amzn1.ask.skill.a, amzn1.ask.skill.b",
            "LETDOWN_VERIFY_REQUESTS": "0",
            "LETDOWN_CA_BUNDLE": str(tmp_path / "roots.pem"),
            "LETDOWN_CERT_CHAIN_DIR": str(tmp_path),
            "LETDOWN_DATABASE_URL": "postgresql://letdown@db.internal/letdown",
            "LETDOWN_PUBLIC_URL": "https://skill.example.com/",
            "LETDOWN_ENV": "production",
        }
    )
    assert config.skill_ids == {"amzn1.ask.skill.a", "amzn1.ask.skill.b"}
    assert config.verify_requests is False
    assert config.ca_bundle == tmp_path / "roots.pem"
    assert config.cert_chain_dir == tmp_path
    assert config.database_url == "postgresql://letdown@db.internal/letdown"
    assert config.public_url == "https://skill.example.com"
    assert config.simulator_enabled is False


@pytest.mark.parametrize(
    ("name", "value"),
    [("LETDOWN_VERIFY_REQUESTS", "maybe"), ("LETDOWN_ENV", "staging"), ("LETDOWN_MAX_BODY_BYTES", "-5")],
)
def test_config_rejects_unusable_values(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_verification_is_off_only_when_explicitly_zero() -> None:
    assert Config.from_env({"LETDOWN_VERIFY_REQUESTS": ""}).verify_requests is True
    assert Config.from_env({"LETDOWN_VERIFY_REQUESTS": "1"}).verify_requests is True
    off = Config.from_env({"LETDOWN_VERIFY_REQUESTS": "0"})
    assert off.verify_requests is False
    assert any("verification is OFF" in warning for warning in off.warnings())


def test_non_https_public_url_is_warned_about() -> None:
    assert any("not HTTPS" in w for w in Config.from_env({"LETDOWN_PUBLIC_URL": "http://x.test"}).warnings())
    assert not any("not HTTPS" in w for w in Config.from_env({"LETDOWN_PUBLIC_URL": "https://x.test"}).warnings())


HEALTH_TOKEN = "health-token-for-tests"


def healthz_detail(base_url: str) -> dict:
    return requests.get(f"{base_url}/healthz", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}, timeout=10).json()


def test_healthz_reports_service_and_storage(make_app) -> None:
    with threaded_server(make_app(LETDOWN_HEALTH_TOKEN=HEALTH_TOKEN)) as base_url:
        reply = requests.get(f"{base_url}/healthz", timeout=5)
        assert reply.status_code == 200
        assert reply.json() == {"status": "ok", "version": __version__}
        body = healthz_detail(base_url)
    assert body["status"] == "ok"
    assert body["storage"]["ok"] is True
    assert body["verification"] is True


def unreachable_postgres_url() -> str:
    return f"postgresql://letdown@127.0.0.1:{free_port()}/letdown?connect_timeout=1"


def test_database_down_keeps_guidance_answering_and_healthz_says_why(make_app, pki: TestPKI) -> None:
    app = make_app(LETDOWN_DATABASE_URL=unreachable_postgres_url(), LETDOWN_HEALTH_TOKEN=HEALTH_TOKEN)
    with threaded_server(app) as base_url:
        health = healthz_detail(base_url)
        assert health["status"] == "degraded"
        assert health["storage"]["ok"] is False
        assert health["storage"]["detail"]
        device = AlexaClient(base_url=base_url, pki=pki)
        answer = device.launch()
        assert answer["response"]["outputSpeech"]["ssml"]
        answer = device.intent("RelaxTipIntent")
        assert answer["sessionAttributes"]["last_message"] == "tip.relax"


def test_one_structured_log_line_per_request_without_raw_ids_or_words(
    alexa: AlexaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="letdown.request")
    alexa.launch()
    alexa.intent_with(
        {
            "type": "IntentRequest",
            "intent": {"name": "TipIntent", "slots": {"topic": {"name": "topic", "value": "secret words here"}}},
        }
    )
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "letdown.request"]
    assert [line["type"] for line in lines] == ["LaunchRequest", "IntentRequest"]
    assert lines[1]["intent"] == "TipIntent"
    assert all(line["status"] == 200 and line["latency_ms"] >= 0 for line in lines)
    assert all(len(line["user"]) == 12 for line in lines)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert TEST_USER_ID not in text
    assert "secret words here" not in text


def test_rejected_request_is_logged_with_its_reason(live_service: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="letdown.request")
    reply = requests.post(f"{live_service}/alexa", data=b"{}", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    line = json.loads(next(r.getMessage() for r in caplog.records if r.name == "letdown.request"))
    assert line["status"] == 400
    assert line["reason"]


def test_skill_disabled_deletes_the_users_data(alexa: AlexaClient, service_env: dict[str, str]) -> None:
    alexa.launch()  # counts a visit: stored for this user
    store = open_store(service_env["LETDOWN_DATABASE_URL"])
    probe = envelope({"type": "LaunchRequest"})
    request_envelope = DefaultSerializer().deserialize(json.dumps(probe), RequestEnvelope)
    assert store.get_attributes(request_envelope), "launch should have stored a visit"
    answer = alexa.event("AlexaSkillEvent.SkillDisabled", eventCreationTime=probe["request"]["timestamp"])
    assert "outputSpeech" not in answer.get("response", {})
    assert store.get_attributes(request_envelope) == {}
    store.close()


def test_unknown_request_type_is_a_clear_400(alexa: AlexaClient) -> None:
    reply = alexa.send(envelope({"type": "Not.A.Real.Request"}))
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_letdown_serve_runs_waitress_by_default(service_env: dict[str, str], pki: TestPKI, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with letdown_server({**service_env, "LETDOWN_PUBLIC_URL": "http://127.0.0.1"}, log_path=log_path) as base_url:
        reply = requests.get(f"{base_url}/healthz", timeout=5)
        assert reply.json()["status"] == "ok"
        assert reply.headers["Server"] == "letdown"
        answer = AlexaClient(base_url=base_url, pki=pki).launch()
        assert answer["sessionAttributes"]["last_message"] in ("launch.first", "launch.returning")
    log = log_path.read_text()
    assert "Serving on http://127.0.0.1:" in log
    assert "not HTTPS" in log


def eventually_ok(url: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if requests.get(url, timeout=5).json()["status"] == "ok":
            return True
        time.sleep(0.2)
    return False


def test_letdown_serve_can_run_gunicorn_workers(service_env: dict[str, str], pki: TestPKI, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with gunicorn_server({**service_env, "LETDOWN_PUBLIC_URL": "http://127.0.0.1"}, 2, log_path) as base_url:
        # A fresh worker's first storage probe may still be running (the two workers open the same SQLite file
        # at once): a caller meanwhile hears "degraded" ("not checked yet"), so wait for the probe's own answer.
        assert eventually_ok(f"{base_url}/healthz", within_s=15.0)
        answer = AlexaClient(base_url=base_url, pki=pki).launch()
        assert answer["sessionAttributes"]["last_message"] in ("launch.first", "launch.returning")
    log = log_path.read_text()
    assert log.count("Booting worker") == 2
    assert "not HTTPS" in log


def age_every_row(database_url: str) -> None:
    """Make every stored attribute look untouched since 2020 (purge works on whole days)."""
    with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as connection, connection:
        connection.execute("UPDATE attributes SET updated_at = '2020-01-01T00:00:00.000000Z'")


def test_storage_purge_command_forgets_inactive_users(alexa: AlexaClient, service_env: dict[str, str]) -> None:
    alexa.launch()
    store = open_store(service_env["LETDOWN_DATABASE_URL"])
    request_envelope = DefaultSerializer().deserialize(json.dumps(envelope({"type": "LaunchRequest"})), RequestEnvelope)
    command = [sys.executable, "-m", "skill.cli", "storage", "purge"]
    env = {**os.environ, **service_env}
    kept = subprocess.run([*command, "--older-than-days", "30"], env=env, capture_output=True, text=True, check=True)
    assert "deleted 0" in kept.stdout
    assert store.get_attributes(request_envelope)
    age_every_row(service_env["LETDOWN_DATABASE_URL"])
    purged = subprocess.run([*command, "--older-than-days", "1"], env=env, capture_output=True, text=True, check=True)
    assert "deleted 0" not in purged.stdout
    assert store.get_attributes(request_envelope) == {}
    store.close()
