"""The let-down coach over real HTTP: signed requests, the live WSGI server, SQLite, the real skill.

Assertions are on message ids (`sessionAttributes.last_message`), the coach's session state, the clips in
the SSML and the directives, never on prose. The clips are short tone MP3s whose manifest claims realistic
lengths (as the built coach clips of audio/catalog.toml will have), so the SSML audio limits are exercised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from skill.alexa.coach_response import MAX_AUDIO_TAGS, MAX_REPROMPT_AUDIO_S, MAX_SPEECH_AUDIO_S
from skill.config import DEFAULT_MODEL_DIR, Config
from skill.conversation import coach
from skill.interaction_model import InteractionModel
from skill.playback.catalog import TrackCatalog, track_id_from_token
from skill.speech.content import ContentLibrary, parse_ssml
from skill.storage.store import ALLOWED_KEYS
from skill.tools.resolver import Resolver
from tests.support.alexa import AlexaClient
from tests.support.audio import fake_mp3, write_fake_audio_dir
from tests.support.pki import TestPKI
from tests.support.server import threaded_server
from tests.test_conversation import attrs, check_response, ends, last_message, reprompt_ssml, speech_ssml

CONTENT = ContentLibrary.load().locale("en-US")
# Clip id → the length its manifest claims (s). coach-breathing carries its own pacing pattern.
COACH_CLIPS = {
    "coach-breathing": 80.0,
    "coach-warmth": 85.0,
    "coach-senses-nursing": 80.0,
    "coach-senses-pumping": 82.0,
    "coach-head-start": 75.0,
}
BREATHING_PATTERN = {"first_in_s": 6.0, "inhale_s": 4.0, "exhale_s": 6.0, "cycles": 7}
ROUND_ORDER = ["breathing", "warmth", "senses", "head_start"]


def write_coach_audio_dir(audio_dir: Path) -> Path:
    """The fake tracks of tests.support.audio plus the five coach clips, in the catalog and the manifest."""
    write_fake_audio_dir(audio_dir)
    catalog = [(audio_dir / "catalog.toml").read_text(encoding="utf-8")]
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    for index, (clip_id, seconds) in enumerate(COACH_CLIPS.items()):
        catalog.append(f'[[track]]\nid = "{clip_id}"\nkind = "clip"\ntitle = "Coach {clip_id}"\nlength_s = {seconds}\n')
        if clip_id == "coach-breathing":
            catalog.append("[track.pattern]\n" + "".join(f"{k} = {v}\n" for k, v in BREATHING_PATTERN.items()))
        data = fake_mp3(500 + 30 * index)
        (audio_dir / f"{clip_id}.mp3").write_bytes(data)
        manifest[clip_id] = {
            "file": f"{clip_id}.mp3",
            "duration_s": seconds,
            "sha256": hashlib.sha256(data).hexdigest(),
            "loop": False,
        }
    (audio_dir / "catalog.toml").write_text("\n".join(catalog), encoding="utf-8")
    (audio_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return audio_dir


@pytest.fixture(scope="module")
def coach_audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_coach_audio_dir(tmp_path_factory.mktemp("coach-audio"))


@pytest.fixture
def coach_service(make_app: Callable[..., Flask], coach_audio_dir: Path) -> Iterator[str]:
    with threaded_server(make_app(LETDOWN_AUDIO_DIR=str(coach_audio_dir))) as base_url:
        yield base_url


@pytest.fixture
def catalog(coach_audio_dir: Path, service_env: dict[str, str]) -> TrackCatalog:
    return TrackCatalog.load(Config.from_env({**service_env, "LETDOWN_AUDIO_DIR": str(coach_audio_dir)}))


class Parent:
    """One Echo with a parent answering the coach; every answer is checked against Alexa's rules."""

    def __init__(self, client: AlexaClient) -> None:
        self.client = client

    def says(self, intent: str, **slots: str) -> dict[str, Any]:
        return check_response(self.client.intent(intent, **slots))

    def stays_silent_through_the_speech(self) -> None:
        """The parent says nothing until the reprompt has led on: the question was asked that long ago."""
        state = self.client.session["attributes"][coach.COACH_KEY]  # type: ignore[index]
        state["asked_at_ms"] -= int((state["reprompt_after_s"] + 1) * 1000)


@pytest.fixture
def parent(coach_service: str, pki: TestPKI) -> Parent:
    return Parent(AlexaClient(base_url=coach_service, pki=pki))


# ----- reading answers ------------------------------------------------------------------------------------


def coach_state(answer: dict[str, Any]) -> dict[str, Any] | None:
    return attrs(answer).get(coach.COACH_KEY)


def clips(ssml: str | None) -> list[str]:
    """The catalog ids of the <audio> clips in an SSML document, in order."""
    if not ssml:
        return []
    return [re.sub(r"\.mp3\?.*$", "", src.rsplit("/", 1)[-1]) for src in re_sources(ssml)]


def re_sources(ssml: str) -> list[str]:
    return [element.get("src") or "" for element in parse_ssml(ssml).iter("audio")]


def directive_types(answer: dict[str, Any]) -> list[str]:
    return [directive["type"] for directive in answer["response"].get("directives") or []]


def says_variant_of(ssml: str | None, message_id: str) -> bool:
    return any(variant in (ssml or "") for variant in CONTENT.variants(message_id))


def assert_round(answer: dict[str, Any], name: str, feeding: str | None = None) -> None:
    """A round: its instruction, its clip inside the speech, one check-in question; the session stays open."""
    round_ = next(r for r in coach.ROUNDS if r.name == name)
    assert last_message(answer) == f"coach.round.{name}"  # the same for nursing and pumping (turn log)
    assert says_variant_of(speech_ssml(answer), coach.instruction_message(round_, feeding))
    assert clips(speech_ssml(answer)) == [round_.clip_for(feeding)]
    assert says_variant_of(speech_ssml(answer), coach.check_in_message(feeding))
    state = coach_state(answer)
    assert state is not None
    assert (state["round"], state["asked"], state.get("feeding")) == (ROUND_ORDER.index(name) + 1, "check_in", feeding)
    assert ends(answer) is False and reprompt_ssml(answer)


def assert_plays_background(answer: dict[str, Any]) -> None:
    plays = [d for d in answer["response"].get("directives") or [] if d["type"] == "AudioPlayer.Play"]
    assert len(plays) == 1
    assert track_id_from_token(plays[0]["audioItem"]["stream"]["token"]) == "feed-background"
    assert ends(answer) is True
    assert coach.COACH_KEY not in attrs(answer)


# ----- whole sessions -------------------------------------------------------------------------------------


def test_yes_on_round_one_confirms_and_offers_the_feed_background(parent: Parent) -> None:
    first = parent.says("LetDownIntent")
    assert_round(first, "breathing")
    confirmed = parent.says("AMAZON.YesIntent")
    assert last_message(confirmed) == "coach.flowing"
    assert says_variant_of(speech_ssml(confirmed), "coach.offer_background")
    assert coach_state(confirmed) == {"round": 1, "asked": "background"}
    assert ends(confirmed) is False and "<audio" not in (speech_ssml(confirmed) or "")
    assert_plays_background(parent.says("AMAZON.YesIntent"))


def test_no_no_yes_steps_up_asking_nursing_or_pumping_once(parent: Parent) -> None:
    assert_round(parent.says("LetDownIntent"), "breathing")
    assert_round(parent.says("AMAZON.NoIntent"), "warmth")
    asked = parent.says("AMAZON.NoIntent")
    assert last_message(asked) == "coach.ask_feeding"
    assert coach_state(asked) == {"round": 2, "asked": "feeding"}
    assert clips(speech_ssml(asked)) == []
    assert_round(parent.says("FeedingModeIntent", mode="pumping"), "senses", "pumping")
    confirmed = parent.says("AMAZON.YesIntent")
    assert last_message(confirmed) == "coach.flowing"
    assert coach_state(confirmed) == {"round": 3, "asked": "background", "feeding": "pumping"}


def test_no_until_the_end_closes_with_reassurance_and_the_offer(parent: Parent) -> None:
    spoken = [last_message(parent.says("LetDownIntent"))]
    spoken.append(last_message(parent.says("AMAZON.NoIntent")))
    assert last_message(parent.says("AMAZON.NoIntent")) == "coach.ask_feeding"
    nursing = parent.says("FeedingModeIntent", mode="breastfeeding")  # a synonym, no entity resolution sent
    assert_round(nursing, "senses", "nursing")
    spoken.append(last_message(nursing))
    last_round = parent.says("AMAZON.NoIntent")
    assert_round(last_round, "head_start", "nursing")
    spoken.append(last_message(last_round))
    assert spoken == [
        "coach.round.breathing",
        "coach.round.warmth",
        "coach.round.senses",
        "coach.round.head_start",
    ]
    closing = parent.says("AMAZON.NoIntent")
    assert last_message(closing) == "coach.close"
    assert says_variant_of(speech_ssml(closing), "coach.offer_background")
    assert coach_state(closing) == {"round": 4, "asked": "background", "feeding": "nursing"}
    goodbye = parent.says("AMAZON.NoIntent")
    assert last_message(goodbye) == "coach.goodbye" and ends(goodbye) is True
    assert coach.COACH_KEY not in attrs(goodbye)


def test_nursing_said_first_is_never_asked_again(parent: Parent) -> None:
    assert_round(parent.says("FeedingModeIntent", mode="nursing"), "breathing", "nursing")
    assert_round(parent.says("AMAZON.NoIntent"), "warmth", "nursing")
    assert_round(parent.says("AMAZON.NoIntent"), "senses", "nursing")


def test_the_reprompt_leads_on_to_the_next_round(parent: Parent) -> None:
    first = parent.says("LetDownIntent")
    reprompt = reprompt_ssml(first)
    # Silence: Alexa speaks the reprompt, which is already round two, with its own clip and check-in.
    assert says_variant_of(reprompt, "coach.lead_on")
    assert says_variant_of(reprompt, "coach.round.warmth")
    assert clips(reprompt) == ["coach-warmth"]
    assert says_variant_of(reprompt, "coach.check_in")
    assert coach_state(first)["then"] == {"round": 2, "asked": "check_in"}  # type: ignore[index]
    parent.stays_silent_through_the_speech()
    # "No" after the reprompt answers round two: round three is next, which needs nursing or pumping.
    after_reprompt = parent.says("AMAZON.NoIntent")
    assert last_message(after_reprompt) == "coach.ask_feeding"
    assert coach_state(after_reprompt) == {"round": 2, "asked": "feeding"}
    # Silence at that question: the reprompt only asks it again (nothing to lead on to without the answer).
    assert says_variant_of(reprompt_ssml(after_reprompt), "coach.ask_feeding.again")
    assert "then" not in coach_state(after_reprompt)  # type: ignore[operator]


def test_an_answer_before_the_reprompt_answers_the_round_it_heard(parent: Parent) -> None:
    parent.says("LetDownIntent")
    assert_round(parent.says("AMAZON.NoIntent"), "warmth")


def test_silence_after_the_last_round_reprompts_the_close(parent: Parent) -> None:
    parent.says("FeedingModeIntent", mode="pumping")
    for _ in range(3):
        last = parent.says("AMAZON.NoIntent")
    assert_round(last, "head_start", "pumping")
    assert says_variant_of(reprompt_ssml(last), "coach.close")
    assert says_variant_of(reprompt_ssml(last), "coach.offer_background")
    parent.stays_silent_through_the_speech()
    assert_plays_background(parent.says("AMAZON.YesIntent"))  # yes, after the close, to the sounds


def test_silence_after_the_reprompt_ends_quietly(parent: Parent) -> None:
    parent.says("LetDownIntent")
    ended = parent.client.end_session("EXCEEDED_MAX_REPROMPTS")
    assert "outputSpeech" not in ended.get("response", {})
    assert not ended.get("response", {}).get("directives")


def test_every_response_keeps_within_alexas_audio_limits(parent: Parent, catalog: TrackCatalog) -> None:
    answers = [parent.says("LetDownIntent"), parent.says("AMAZON.NoIntent"), parent.says("AMAZON.NoIntent")]
    answers += [parent.says("FeedingModeIntent", mode="pumping"), parent.says("AMAZON.NoIntent")]
    for answer in answers:
        for ssml, limit in ((speech_ssml(answer), MAX_SPEECH_AUDIO_S), (reprompt_ssml(answer), MAX_REPROMPT_AUDIO_S)):
            played = clips(ssml)
            assert len(played) <= MAX_AUDIO_TAGS
            assert sum(catalog.get(clip).seconds for clip in played) <= limit  # type: ignore[union-attr]
            assert all(source.startswith("https://") for source in re_sources(ssml or "<speak/>"))


# ----- skip, next, repeat, start over ---------------------------------------------------------------------


def test_skip_next_repeat_and_start_over(parent: Parent) -> None:
    parent.says("LetDownIntent")
    assert_round(parent.says("AMAZON.NextIntent"), "warmth")
    again = parent.says("AMAZON.RepeatIntent")
    assert_round(again, "warmth")
    skipped_question = parent.says("AMAZON.NextIntent")
    assert last_message(skipped_question) == "coach.ask_feeding"
    assert_round(parent.says("AMAZON.NextIntent"), "head_start")  # skipping the question skips its round
    assert_round(parent.says("AMAZON.StartOverIntent"), "breathing")
    assert_round(parent.says("LetDownIntent"), "warmth")  # "nothing's coming, help" again: not yet


def test_an_unasked_nursing_or_pumping_reasks_the_check_in_in_its_words(parent: Parent) -> None:
    parent.says("LetDownIntent")
    reasked = parent.says("FeedingModeIntent", mode="pumping")
    assert last_message(reasked) == "coach.check_in"
    assert says_variant_of(speech_ssml(reasked), "coach.check_in.pumping")
    assert coach_state(reasked) == {"round": 1, "asked": "check_in", "feeding": "pumping", **_dated(reasked)}
    assert_round(parent.says("AMAZON.NoIntent"), "warmth", "pumping")


def test_help_again_after_the_close_starts_the_coach_anew_and_unasked_answers_reoffer(parent: Parent) -> None:
    parent.says("FeedingModeIntent", mode="nursing")
    parent.says("AMAZON.YesIntent")  # flowing: the background offer is open
    reoffered = parent.says("FeedingModeIntent", mode="pumping")
    assert last_message(reoffered) == "coach.offer_background"
    assert coach_state(reoffered) == {"round": 1, "asked": "background", "feeding": "pumping"}
    assert_round(parent.says("LetDownIntent"), "breathing", "pumping")


def _dated(answer: dict[str, Any]) -> dict[str, Any]:
    state = coach_state(answer) or {}
    return {key: state[key] for key in ("asked_at_ms", "reprompt_after_s", "then") if key in state}


# ----- safety, stop, pause -----------------------------------------------------------------------------------


def test_a_red_flag_mid_coach_ends_the_coach_with_the_safety_answer(parent: Parent) -> None:
    parent.says("LetDownIntent")
    parent.says("AMAZON.NoIntent")
    flagged = parent.says("PhysicalRedFlagIntent")
    assert last_message(flagged) == "safety.physical"
    assert clips(speech_ssml(flagged)) == [] and not directive_types(flagged)
    assert not coach.is_active(attrs(flagged))
    if ends(flagged) is False:  # a safety answer that stays open: "no" now is no longer the coach's
        assert not last_message(parent.says("AMAZON.NoIntent")).startswith("coach.")  # type: ignore[union-attr]


def test_red_flag_words_instead_of_an_answer_win_over_the_coach(parent: Parent) -> None:
    parent.says("LetDownIntent")
    parent.says("AMAZON.NoIntent")
    parent.says("AMAZON.NoIntent")  # "nursing or pumping?"
    flagged = parent.says("FeedingModeIntent", mode="pumping but I have a fever and a hot red breast")
    assert last_message(flagged) == "safety.physical"
    assert not coach.is_active(attrs(flagged))


def test_stop_mid_round_ends_the_session(parent: Parent) -> None:
    parent.says("LetDownIntent")
    for name in ("AMAZON.StopIntent", "AMAZON.CancelIntent"):
        parent.says("AMAZON.NoIntent") if parent.client.session else parent.says("LetDownIntent")
        stopped = parent.says(name)
        assert last_message(stopped) == "goodbye" and ends(stopped) is True
        assert parent.client.session is None


def test_pause_mid_round_ends_the_session_as_everywhere(parent: Parent) -> None:
    parent.says("LetDownIntent")
    paused = parent.client.intent("AMAZON.PauseIntent")
    assert ends(paused) is True and "outputSpeech" not in paused["response"]
    assert directive_types(paused) == ["AudioPlayer.Stop"]


# ----- devices without AudioPlayer, privacy -----------------------------------------------------------------


def test_a_speaker_without_audio_player_gets_the_coach_too(parent: Parent) -> None:
    parent.client.audio_player = False
    assert_round(parent.says("LetDownIntent"), "breathing")
    confirmed = parent.says("AMAZON.YesIntent")
    assert last_message(confirmed) == "coach.flowing"
    assert says_variant_of(speech_ssml(confirmed), "coach.enjoy")
    assert ends(confirmed) is True and not directive_types(confirmed)


def test_unbuilt_clips_are_replaced_by_the_spoken_round(make_app: Callable[..., Flask], pki: TestPKI) -> None:
    with threaded_server(make_app()) as base_url:  # today's audio/: built tracks, maybe no coach clips
        parent = Parent(AlexaClient(base_url=base_url, pki=pki))
        first = parent.says("LetDownIntent")
    assert last_message(first) == "coach.round.breathing"
    assert ends(first) is False and reprompt_ssml(first)
    built = clips(speech_ssml(first))
    assert built == ["coach-breathing"] or (
        built == [] and says_variant_of(speech_ssml(first), "coach.spoken.breathing")
    )


def test_no_coach_answer_is_stored_or_logged(
    parent: Parent, service_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    parent.says("LetDownIntent")
    parent.says("AMAZON.NoIntent")
    parent.says("AMAZON.NoIntent")
    parent.says("FeedingModeIntent", mode="pumping")
    parent.says("AMAZON.YesIntent")
    assert_plays_background(parent.says("AMAZON.YesIntent"))
    path = service_env["LETDOWN_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        keys = {key for (key,) in connection.execute("SELECT DISTINCT attr_key FROM attributes")}
        dump = "\n".join(connection.iterdump())
    assert keys <= ALLOWED_KEYS, keys - ALLOWED_KEYS
    for private in ("pumping", "nursing", "coach", "check_in", "feeding", "flowing"):
        assert private not in dump, private
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for private in ("pumping", "nursing", '"coach"', "check_in"):
        assert private not in logged, private


def test_client_supplied_coach_junk_is_ignored(parent: Parent) -> None:
    parent.says("LetDownIntent")
    parent.client.session["attributes"][coach.COACH_KEY] = {"round": 99, "asked": "lottery"}  # type: ignore[index]
    answer = parent.says("AMAZON.NoIntent")
    assert not last_message(answer).startswith("coach.")  # type: ignore[union-attr]


# ----- the player artwork -------------------------------------------------------------------------------------


def test_artwork_is_served_versioned_and_cacheable(parent: Parent, coach_service: str) -> None:
    parent.says("LetDownIntent")
    background = parent.says("AMAZON.YesIntent") and parent.says("AMAZON.YesIntent")
    metadata = background["response"]["directives"][0]["audioItem"]["metadata"]
    for key in ("art", "backgroundImage"):
        url = metadata[key]["sources"][0]["url"]
        assert url.startswith("https://")
        local = coach_service + url[url.index("/art/") :]
        reply = requests.get(local, timeout=10)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/png"
        assert reply.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert "immutable" in reply.headers["Cache-Control"]
    assert requests.get(f"{coach_service}/art/nothing.png", timeout=10).status_code == 404
    assert requests.get(f"{coach_service}/art/../catalog.toml", timeout=10).status_code == 404


# ----- the pure logic's edges ----------------------------------------------------------------------------------


def test_state_round_trips_and_junk_is_refused() -> None:
    state = coach.CoachState(round=2, asked="check_in", feeding="pumping")
    dated = coach.CoachState(**{**state.__dict__, "asked_at_ms": 1000, "reprompt_after_s": 10.0, "then": state})
    assert coach.CoachState.from_json(dated.to_json()) == dated
    for junk in (None, [], {"round": "2", "asked": "check_in"}, {"round": 7, "asked": "check_in"},
                 {"round": True, "asked": "check_in"}, {"round": 1, "asked": "anything"}):  # fmt: skip
        assert coach.CoachState.from_json(junk) is None
    assert coach.settle(dated, 1000 + 9_999) == state
    assert coach.settle(dated, 1000 + 10_000) == state  # `then` here is the same state, undated
    leads_on = coach.CoachState(**{**dated.__dict__, "then": coach.CoachState(round=3, asked="check_in")})
    assert coach.settle(leads_on, 1000 + 10_000).round == 3
    assert coach.settle(leads_on, None).round == 2


def test_whispering_applies_to_the_words_never_to_the_clips(parent: Parent) -> None:
    parent.says("WhisperOnIntent")
    first = parent.says("LetDownIntent")
    for ssml in (speech_ssml(first), reprompt_ssml(first)):
        root = parse_ssml(ssml or "")
        effects = [element for element in root.iter() if element.tag.endswith("effect")]
        assert effects, "the whisper preference was not applied"
        assert all(inner.tag != "audio" for effect in effects for inner in effect.iter())
        assert len(clips(ssml)) == 1


# ----- what parents say to the coach -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utterance", "intent", "mode"),
    [
        ("help my milk let down", "LetDownIntent", None),
        ("coach me", "LetDownIntent", None),
        ("walk me through it", "LetDownIntent", None),
        ("nothing's coming, help", "LetDownIntent", None),
        ("not yet", "AMAZON.NoIntent", None),
        ("still nothing", "AMAZON.NoIntent", None),
        ("I'm pumping right now", "FeedingModeIntent", "pumping"),
        ("pumping", "FeedingModeIntent", "pumping"),
        ("breastfeeding", "FeedingModeIntent", "nursing"),
        ("play the let-down visualisation", "PlayTrackIntent", None),
    ],
)
def test_the_coachs_phrases_resolve(utterance: str, intent: str, mode: str | None) -> None:
    model = InteractionModel.load(DEFAULT_MODEL_DIR / "en-US.json")
    resolved = Resolver(model, CONTENT).resolve(utterance)
    assert resolved.intent == intent
    if mode is not None:
        assert resolved.slots["mode"]["id"] == mode
