"""`letdown package`: an ASK CLI project with a valid manifest, an HTTPS endpoint and the models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skill.config import DEFAULT_MODEL_DIR
from skill.tools.packaging import PackageError, endpoint_uri, write_package
from tests.support.server import REPO_ROOT

PUBLISHING = json.loads((DEFAULT_MODEL_DIR / "publishing.json").read_text(encoding="utf-8"))


def test_package_writes_an_ask_cli_project(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skill.cli", "package", "--endpoint", "https://skill.example.com/alexa",
         "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    resources = json.loads((tmp_path / "ask-resources.json").read_text())
    assert resources["profiles"]["default"]["skillMetadata"]["src"] == "./skill-package"
    manifest = json.loads((tmp_path / "skill-package" / "skill.json").read_text())["manifest"]
    assert manifest["manifestVersion"] == "1.0"
    publishing = manifest["publishingInformation"]
    assert publishing["category"] == "HEALTH_AND_FITNESS"
    card = publishing["locales"]["en-US"]
    assert card["examplePhrases"] == PUBLISHING["en-US"]["examplePhrases"]
    assert card["description"] == PUBLISHING["en-US"]["description"]
    assert None not in card.values()
    privacy = manifest["privacyAndCompliance"]
    assert privacy["isChildDirected"] is False
    assert privacy["usesHealthInfo"] is False
    assert privacy["containsAds"] is False
    custom = manifest["apis"]["custom"]
    assert custom["endpoint"] == {"uri": "https://skill.example.com/alexa", "sslCertificateType": "Trusted"}
    assert {"type": "AUDIO_PLAYER"} in custom["interfaces"]
    assert {"type": "CAN_FULFILL_INTENT_REQUEST"} in custom["interfaces"]
    assert {"type": "ALEXA_PRESENTATION_APL"} in custom["interfaces"]  # the Echo Show breathing screen
    model = tmp_path / "skill-package" / "interactionModels" / "custom" / "en-US.json"
    assert json.loads(model.read_text()) == json.loads((DEFAULT_MODEL_DIR / "en-US.json").read_text())


def test_package_refuses_plain_http(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skill.cli", "package", "--endpoint", "http://skill.example.com/alexa",
         "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "https" in result.stdout
    assert not (tmp_path / "skill-package").exists()


def test_wildcard_certificate(tmp_path: Path) -> None:
    result = write_package("https://letdown.example.net", tmp_path, certificate_type="Wildcard")
    manifest = json.loads((tmp_path / "skill-package" / "skill.json").read_text())["manifest"]
    assert manifest["apis"]["custom"]["endpoint"] == {
        "uri": "https://letdown.example.net/alexa",
        "sslCertificateType": "Wildcard",
    }
    assert result.endpoint == "https://letdown.example.net/alexa"


@pytest.mark.parametrize("url", ["ftp://example.com", "https://", "example.com/alexa", "https://x.test/a?b=1"])
def test_bad_endpoints(url: str) -> None:
    with pytest.raises(PackageError):
        endpoint_uri(url)


def test_missing_store_card_fields(tmp_path: Path) -> None:
    card = {k: v for k, v in PUBLISHING["en-US"].items() if k != "examplePhrases"}
    (tmp_path / "publishing.json").write_text(json.dumps({"en-US": card}))
    (tmp_path / "en-US.json").write_text((DEFAULT_MODEL_DIR / "en-US.json").read_text())
    with pytest.raises(PackageError, match="examplePhrases"):
        write_package("https://skill.example.com", tmp_path / "out", model_dir=tmp_path)
