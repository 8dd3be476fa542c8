"""GET/HEAD /audio/<file> over real HTTP: bytes, ranges, ETags, caching, 404s; stream URLs; the real catalog.

The service is given a temporary audio dir with small but valid MP3s and a manifest in the builder's
format (tests/support/audio.py), so these tests do not depend on the real catalog having been built.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from skill.app import create_app
from skill.config import DEFAULT_AUDIO_DIR, Config
from skill.playback.catalog import PLAY_ORDER, TrackCatalog, track_id_from_token
from tests.support.alexa import TEST_PUBLIC_URL, AlexaClient, play_visualisation
from tests.support.audio import fake_mp3, shared_service_env, write_fake_audio_dir
from tests.support.pki import TestPKI
from tests.support.server import threaded_server


@pytest.fixture(scope="session")
def fake_audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_audio_dir(tmp_path_factory.mktemp("audio"))


@pytest.fixture(scope="module")
def audio_service(pki: TestPKI, fake_audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One live service for the module's stateless requests (a server per test costs ~0.5 s to stop)."""
    env = shared_service_env(pki, tmp_path_factory.mktemp("data"), fake_audio_dir)
    with threaded_server(create_app(Config.from_env(env))) as base_url:
        yield base_url


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audio_url(base_url: str, track_id: str = "breathing-1m", versioned: bool = False, root: Path | None = None) -> str:
    url = f"{base_url}/audio/{track_id}.mp3"
    if versioned and root is not None:
        url += f"?v={sha256_of(root / f'{track_id}.mp3')[:12]}"
    return url


def test_full_get_returns_the_file_as_audio_mpeg(audio_service: str, fake_audio_dir: Path) -> None:
    expected = (fake_audio_dir / "breathing-1m.mp3").read_bytes()
    reply = requests.get(audio_url(audio_service), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "audio/mpeg"
    assert reply.content == expected
    assert int(reply.headers["Content-Length"]) == len(expected)
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.headers["ETag"] == f'"{hashlib.sha256(expected).hexdigest()}"'


def test_versioned_urls_are_cached_long_and_immutable_bare_urls_briefly(
    audio_service: str, fake_audio_dir: Path
) -> None:
    versioned = requests.get(audio_url(audio_service, versioned=True, root=fake_audio_dir), timeout=10)
    directives = {part.strip() for part in versioned.headers["Cache-Control"].split(",")}
    assert {"public", "max-age=31536000", "immutable"} <= directives
    bare = requests.get(audio_url(audio_service), timeout=10)
    directives = {part.strip() for part in bare.headers["Cache-Control"].split(",")}
    assert "max-age=300" in directives and "immutable" not in directives
    stale = requests.get(audio_url(audio_service) + "?v=000000000000", timeout=10)
    assert "immutable" not in stale.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=-100", -100, None), ("bytes=100-", 100, None), ("bytes=50-50", 50, 50)],
)
def test_single_byte_range_gets_206_with_exact_bytes(
    audio_service: str, fake_audio_dir: Path, range_header: str, start: int, end: int | None
) -> None:
    data = (fake_audio_dir / "breathing-1m.mp3").read_bytes()
    size = len(data)
    first = start % size
    last = size - 1 if end is None else end
    reply = requests.get(audio_url(audio_service), headers={"Range": range_header}, timeout=10)
    assert reply.status_code == 206
    assert reply.content == data[first : last + 1]
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert int(reply.headers["Content-Length"]) == last - first + 1
    assert reply.headers["Content-Type"] == "audio/mpeg"


def test_range_past_the_end_is_416_with_the_size(audio_service: str, fake_audio_dir: Path) -> None:
    size = (fake_audio_dir / "breathing-1m.mp3").stat().st_size
    reply = requests.get(audio_url(audio_service), headers={"Range": f"bytes={size + 10}-"}, timeout=10)
    assert reply.status_code == 416
    assert reply.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("range_header", ["bytes=0-9,20-29", "bytes=banana", "pages=1-2"])
def test_multiple_or_malformed_ranges_get_the_whole_file(
    audio_service: str, fake_audio_dir: Path, range_header: str
) -> None:
    reply = requests.get(audio_url(audio_service), headers={"Range": range_header}, timeout=10)
    assert reply.status_code == 200
    assert reply.content == (fake_audio_dir / "breathing-1m.mp3").read_bytes()


def test_if_none_match_with_the_etag_is_304(audio_service: str) -> None:
    first = requests.get(audio_url(audio_service), timeout=10)
    again = requests.get(audio_url(audio_service), headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    assert again.content == b""
    other = requests.get(audio_url(audio_service), headers={"If-None-Match": '"something-else"'}, timeout=10)
    assert other.status_code == 200


def test_if_range_honours_the_range_only_for_the_current_etag(audio_service: str, fake_audio_dir: Path) -> None:
    data = (fake_audio_dir / "breathing-1m.mp3").read_bytes()
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    current = requests.get(audio_url(audio_service), headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10)
    assert current.status_code == 206 and current.content == data[:10]
    changed = requests.get(audio_url(audio_service), headers={"Range": "bytes=0-9", "If-Range": '"old"'}, timeout=10)
    assert changed.status_code == 200 and changed.content == data


def test_head_gives_headers_without_a_body(audio_service: str, fake_audio_dir: Path) -> None:
    size = (fake_audio_dir / "breathing-1m.mp3").stat().st_size
    reply = requests.head(audio_url(audio_service), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "audio/mpeg"
    assert int(reply.headers["Content-Length"]) == size
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/audio/nope.mp3",
        "/audio/manifest.json",
        "/audio/catalog.toml",
        "/audio/../skill/app.py",
        "/audio/%2e%2e/skill/app.py",
        "/audio/..%2fmanifest.json",
        "/audio/sub/breathing-1m.mp3",
        "/audio/breathing-1m.mp3%00",
        "/audio//etc/passwd",
    ],
)
def test_only_files_in_the_manifest_are_served(audio_service: str, path: str) -> None:
    session = requests.Session()
    prepared = requests.Request("GET", f"{audio_service}/audio/x").prepare()
    prepared.url = f"{audio_service}{path}"  # sent exactly as written: no client-side normalisation
    reply = session.send(prepared, timeout=10)
    assert reply.status_code == 404
    assert reply.headers["Content-Type"] != "audio/mpeg"


def test_a_track_missing_from_the_manifest_is_neither_served_nor_playable(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    audio_dir = write_fake_audio_dir(tmp_path / "audio", built=["breathing-1m"])
    (audio_dir / "breathing-2m.mp3").write_bytes(fake_mp3(300))  # present on disk, not in the manifest
    app = make_app(LETDOWN_AUDIO_DIR=str(audio_dir))
    tracks = app.extensions["letdown"].deps.tracks
    assert tracks.playable("breathing-1m") is not None
    assert tracks.playable("breathing-2m") is None
    with threaded_server(app) as base_url:
        assert requests.get(f"{base_url}/audio/breathing-1m.mp3", timeout=10).status_code == 200
        assert requests.get(f"{base_url}/audio/breathing-2m.mp3", timeout=10).status_code == 404


def test_service_starts_without_a_manifest_and_serves_nothing(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    audio_dir = write_fake_audio_dir(tmp_path / "audio", built=[])
    (audio_dir / "manifest.json").unlink()
    app = make_app(LETDOWN_AUDIO_DIR=str(audio_dir))
    assert all(not track.playable for track in app.extensions["letdown"].deps.tracks.tracks())
    with threaded_server(app) as base_url:
        assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{base_url}/audio/breathing-1m.mp3", timeout=10).status_code == 404


def test_etag_describes_the_served_bytes_even_when_the_manifest_is_stale(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    audio_dir = write_fake_audio_dir(tmp_path / "audio", built=["breathing-1m"])
    rebuilt = fake_mp3(555)
    (audio_dir / "breathing-1m.mp3").write_bytes(rebuilt)  # the manifest still names the old sha256
    with threaded_server(make_app(LETDOWN_AUDIO_DIR=str(audio_dir))) as base_url:
        reply = requests.get(f"{base_url}/audio/breathing-1m.mp3", timeout=10)
    assert reply.content == rebuilt
    assert reply.headers["ETag"] == f'"{hashlib.sha256(rebuilt).hexdigest()}"'


def test_stream_urls_are_absolute_https_and_versioned(fake_audio_dir: Path) -> None:
    tracks = TrackCatalog.load(Config(audio_dir=fake_audio_dir, public_url=TEST_PUBLIC_URL))
    url = tracks.stream_url("breathing-2m")
    version = sha256_of(fake_audio_dir / "breathing-2m.mp3")[:12]
    assert url == f"{TEST_PUBLIC_URL}/audio/breathing-2m.mp3?v={version}"


def test_stream_urls_use_the_cdn_base_url_when_configured(fake_audio_dir: Path) -> None:
    config = Config(
        audio_dir=fake_audio_dir,
        public_url=TEST_PUBLIC_URL,
        audio_base_url="https://cdn.example.test/letdown",
    )
    url = TrackCatalog.load(config).stream_url("feed-background")
    version = sha256_of(fake_audio_dir / "feed-background.mp3")[:12]
    assert url == f"https://cdn.example.test/letdown/feed-background.mp3?v={version}"


def test_cdn_base_url_from_the_environment_reaches_the_play_directive(
    make_app: Callable[..., Flask], fake_audio_dir: Path, pki: TestPKI
) -> None:
    app = make_app(LETDOWN_AUDIO_DIR=str(fake_audio_dir), LETDOWN_AUDIO_BASE_URL="https://cdn.example.test/a/")
    with threaded_server(app) as base_url:
        answer = play_visualisation(AlexaClient(base_url=base_url, pki=pki))
    stream = answer["response"]["directives"][0]["audioItem"]["stream"]
    assert stream["url"].startswith("https://cdn.example.test/a/letdown-visualisation.mp3?v=")
    assert track_id_from_token(stream["token"]) == "letdown-visualisation"


def test_start_up_warns_when_the_public_url_is_not_https(
    service_env: dict[str, str], fake_audio_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        **service_env,
        "LETDOWN_AUDIO_DIR": str(fake_audio_dir),
        "LETDOWN_PUBLIC_URL": "http://letdown.test",
    }
    with caplog.at_level(logging.WARNING):
        create_app(Config.from_env(env))
    assert any(
        "LETDOWN_PUBLIC_URL" in record.getMessage() and "HTTPS" in record.getMessage() for record in caplog.records
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(Config.from_env({**env, "LETDOWN_PUBLIC_URL": TEST_PUBLIC_URL}))
    assert not any("not HTTPS" in record.getMessage() for record in caplog.records)


def test_the_real_catalog_is_fully_built_and_playable() -> None:
    """Every track in audio/catalog.toml has its built MP3 listed in audio/manifest.json."""
    tracks = TrackCatalog.load(Config(audio_dir=DEFAULT_AUDIO_DIR, public_url=TEST_PUBLIC_URL))
    ids = [track.id for track in tracks.tracks()]
    assert sorted(ids) == sorted(PLAY_ORDER)
    unplayable = [track.id for track in tracks.tracks() if not track.playable]
    assert unplayable == [], f"not built: {unplayable} (run `letdown audio build`)"
    for track in tracks.tracks():
        assert tracks.served_file(track.file or "") is not None
        assert tracks.stream_url(track.id).startswith(f"{TEST_PUBLIC_URL}/audio/{track.id}.mp3?v=")
