"""Shared fixtures: the test PKI, a live service over real HTTP with verification on, and an Alexa client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from skill.app import create_app
from skill.config import Config
from tests.support.alexa import AlexaClient, service_environment
from tests.support.pki import TestPKI
from tests.support.server import threaded_server

# The fast subset (`./dev test --fast`, i.e. `-m "not slow"`): tests of the pure modules (content,
# guidance, safety, rendering, sources, the interaction model and resolver), in-process, no server,
# browser, database server or audio build. Every test of any other module is marked `slow`; a test of
# these modules that starts a process marks itself.
FAST_MODULES = frozenset(
    {"test_content", "test_guidance", "test_safety", "test_render", "test_sources", "test_model", "test_safety_lexicon"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem not in FAST_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def service_env(pki: TestPKI, tmp_path: Path) -> dict[str, str]:
    """The environment a deployed service would have, pointed at the test PKI and a fresh SQLite file."""
    return service_environment(pki, tmp_path)


@pytest.fixture
def make_app(service_env: dict[str, str]) -> Callable[..., Flask]:
    """Builds an app from the service environment, with any variables overridden."""

    def build(**overrides: str) -> Flask:
        return create_app(Config.from_env({**service_env, **overrides}))

    return build


@pytest.fixture
def live_service(make_app: Callable[..., Flask]) -> Iterator[str]:
    """Base URL of the app served over real HTTP by werkzeug's WSGI server."""
    with threaded_server(make_app()) as base_url:
        yield base_url


@pytest.fixture
def alexa(live_service: str, pki: TestPKI) -> AlexaClient:
    """One simulated Echo talking to the live service, every request signed by the test PKI."""
    return AlexaClient(base_url=live_service, pki=pki)
