"""Service configuration, read from LETDOWN_* environment variables (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_data_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AUDIO_DIR = PROJECT_ROOT / "audio"
DEFAULT_MODEL_DIR = PROJECT_ROOT / "interaction_model"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_BODY_BYTES = 128 * 1024
ENVIRONMENTS = ("local", "production")
# What LETDOWN_ALLOW_INSECURE may name: production settings that are refused unless explicitly allowed.
INSECURE_OVERRIDES = ("verification", "simulator")
DEFAULT_LOCALE = "en-US"


class ConfigError(ValueError):
    """A LETDOWN_* variable has a value the service cannot use."""


def default_database_url() -> str:
    return f"sqlite:///{Path(user_data_dir('letdown-helper')) / 'letdown.db'}"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


def _insecure_overrides(env: Mapping[str, str]) -> frozenset[str]:
    names = frozenset(s.strip().lower() for s in env.get("LETDOWN_ALLOW_INSECURE", "").split(",") if s.strip())
    unknown = sorted(names - set(INSECURE_OVERRIDES))
    if unknown:
        raise ConfigError(
            f"LETDOWN_ALLOW_INSECURE may name {', '.join(INSECURE_OVERRIDES)}, not {', '.join(map(repr, unknown))}"
        )
    return names


@dataclass(frozen=True)
class Config:
    skill_ids: frozenset[str] = frozenset()
    verify_requests: bool = True
    ca_bundle: Path | None = None
    cert_chain_dir: Path | None = None
    database_url: str = field(default_factory=default_database_url)
    public_url: str = DEFAULT_PUBLIC_URL
    audio_dir: Path = DEFAULT_AUDIO_DIR
    audio_base_url: str | None = None
    model_dir: Path = DEFAULT_MODEL_DIR
    environment: str = "local"
    simulator_enabled: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allow_insecure: frozenset[str] = frozenset()
    health_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        environment = env.get("LETDOWN_ENV", "local").strip().lower() or "local"
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"LETDOWN_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
        skill_ids = frozenset(s.strip() for s in env.get("LETDOWN_SKILL_ID", "").split(",") if s.strip())
        audio_dir = _optional_path(env, "LETDOWN_AUDIO_DIR") or DEFAULT_AUDIO_DIR
        return cls(
            skill_ids=skill_ids,
            verify_requests=_flag(env, "LETDOWN_VERIFY_REQUESTS", True),
            ca_bundle=_optional_path(env, "LETDOWN_CA_BUNDLE"),
            cert_chain_dir=_optional_path(env, "LETDOWN_CERT_CHAIN_DIR"),
            database_url=env.get("LETDOWN_DATABASE_URL", "").strip() or default_database_url(),
            public_url=(env.get("LETDOWN_PUBLIC_URL", "").strip() or DEFAULT_PUBLIC_URL).rstrip("/"),
            audio_dir=audio_dir,
            audio_base_url=(env.get("LETDOWN_AUDIO_BASE_URL", "").strip().rstrip("/") or None),
            environment=environment,
            simulator_enabled=_flag(env, "LETDOWN_SIMULATOR", environment == "local"),
            max_body_bytes=_positive_int(env, "LETDOWN_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            allow_insecure=_insecure_overrides(env),
            health_token=env.get("LETDOWN_HEALTH_TOKEN", "").strip() or None,
        )

    def production_problems(self, serves_http: bool = True) -> list[str]:
        """One line per reason this configuration must not serve with LETDOWN_ENV=production.

        `serves_http=False` (AWS Lambda): Alexa invokes the function itself, so there is no HTTPS request to
        verify and no simulator page; only the skill id check applies.
        """
        if self.environment != "production":
            return []
        problems = []
        if not self.skill_ids:
            problems.append(
                "LETDOWN_SKILL_ID is not set: in production the service would answer requests meant for any skill"
            )
        if not serves_http:
            return problems
        if not self.verify_requests and "verification" not in self.allow_insecure:
            problems.append(
                "LETDOWN_VERIFY_REQUESTS=0: in production anyone could send forged requests "
                "(set LETDOWN_ALLOW_INSECURE=verification only if something in front verifies them)"
            )
        if self.simulator_enabled and "simulator" not in self.allow_insecure:
            problems.append(
                "LETDOWN_SIMULATOR=1: in production the browser simulator lets anyone drive the skill without Alexa "
                "(set LETDOWN_ALLOW_INSECURE=simulator to allow it anyway)"
            )
        return problems

    def check_safe_to_start(self, serves_http: bool = True) -> None:
        """Raise ConfigError naming every reason not to start; a no-op outside production."""
        problems = self.production_problems(serves_http)
        if problems:
            raise ConfigError("refusing to start with LETDOWN_ENV=production:\n  " + "\n  ".join(problems))

    def warnings(self) -> list[str]:
        """Start-up warnings for settings that are allowed but unsafe in production."""
        found = []
        if not self.verify_requests:
            found.append("LETDOWN_VERIFY_REQUESTS=0: Alexa request verification is OFF; never do this in production")
        if not self.skill_ids:
            found.append("LETDOWN_SKILL_ID is not set: requests for any skill id are accepted")
        for name, url in (("LETDOWN_PUBLIC_URL", self.public_url), ("LETDOWN_AUDIO_BASE_URL", self.audio_base_url)):
            if url and urlsplit(url).scheme != "https":
                found.append(f"{name}={url} is not HTTPS: Alexa devices only play audio from HTTPS URLs")
        return found
