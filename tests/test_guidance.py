"""The guide's logic as pure functions of session attributes and content: which answer, which offer, which tip."""

from __future__ import annotations

from typing import Any

import pytest

from skill.conversation import guidance
from skill.speech.content import ContentLibrary, LocaleContent
from skill.speech.offers import Offer
from skill.speech.render import HEARD_TIPS, LAST_FORM, LAST_MESSAGE, LAST_OFFER, Reply


@pytest.fixture(scope="module")
def content() -> LocaleContent:
    return ContentLibrary.load(seed=1).locale("en-US")


def test_tips_come_in_order_without_repeats_then_all_heard(content: LocaleContent) -> None:
    attributes: dict[str, Any] = {}
    heard = [guidance.another_tip_reply(attributes, content).message_id for _ in guidance.TIP_IDS]
    assert heard == [guidance.tip_message(tip) for tip in guidance.TIP_IDS]
    assert attributes[HEARD_TIPS] == list(guidance.TIP_IDS)
    last = guidance.another_tip_reply(attributes, content)
    assert (last.message_id, last.offer) == ("tip.all_heard", Offer.BREATHING)


def test_a_named_tip_is_recorded_once_and_junk_from_the_client_is_dropped(content: LocaleContent) -> None:
    attributes: dict[str, Any] = {HEARD_TIPS: ["comfort", "made-up", 7]}
    guidance.tip_reply("comfort", attributes, content)
    assert attributes[HEARD_TIPS] == ["comfort"]
    assert guidance.heard_tips({HEARD_TIPS: "relax"}) == []


def test_the_offer_after_an_answer(content: LocaleContent) -> None:
    assert content.has("tip.relax", "long")
    assert guidance.offer_after("tip.relax", "text", [], content) == Offer.MORE.message_id
    assert guidance.offer_after("tip.relax", "long", [], content) == Offer.NEXT_TIP.message_id
    assert guidance.offer_after("tip.relax", "long", list(guidance.TIP_IDS), content) == Offer.BREATHING.message_id
    assert guidance.offer_after("safety.crisis", "text", [], content) is None


def test_yes_answers_the_open_offer(content: LocaleContent) -> None:
    next_tip = guidance.yes_reply({LAST_OFFER: "next_tip"}, content)
    assert next_tip is not None and next_tip.message_id == guidance.tip_message(guidance.TIP_IDS[0])
    assert guidance.yes_reply({LAST_OFFER: "breathing"}, content) is None  # the audio side answers it
    assert guidance.yes_reply({LAST_OFFER: "a client's invention"}, content) == Reply(
        "fallback.main", then="fallback.safety_line", reprompt="fallback.reprompt"
    )


def test_the_first_tip_is_offered_as_a_tip_then_another(content: LocaleContent) -> None:
    assert guidance.offer_after("about.letdown", "long", [], content) == "offer.first_tip"
    assert guidance.offer_after("about.letdown", "long", ["relax"], content) == Offer.NEXT_TIP.message_id


def test_what_can_i_do_after_dmer_is_dmer_coping(content: LocaleContent) -> None:
    after_dmer = {LAST_MESSAGE: "dmer.about"}
    assert guidance.help_reply(after_dmer, content).message_id == "dmer.coping"
    assert guidance.another_tip_reply(dict(after_dmer), content).message_id == "dmer.coping"
    assert guidance.help_reply({}, content).message_id == "help.main"


def test_no_acknowledges_an_offer_and_otherwise_says_goodbye() -> None:
    assert guidance.no_reply({LAST_OFFER: "more"}).message_id == "no.ack"
    assert guidance.no_reply({}) == Reply("goodbye", end_session=True)


def test_tell_me_more_gives_the_long_form_then_nothing_more(content: LocaleContent) -> None:
    longer = guidance.more_reply({LAST_MESSAGE: "tip.relax"}, content)
    assert (longer.message_id, longer.form) == ("tip.relax", "long")
    assert guidance.more_reply({LAST_MESSAGE: "tip.relax", LAST_FORM: "long"}, content).message_id != "tip.relax"
    assert guidance.more_reply({}, content) == Reply("more.nothing")


def test_start_over_begins_the_tips_again(content: LocaleContent) -> None:
    attributes: dict[str, Any] = {HEARD_TIPS: list(guidance.TIP_IDS)}
    reply = guidance.start_over_reply(attributes, content)
    assert reply.message_id == guidance.tip_message(guidance.TIP_IDS[0])
    assert attributes[HEARD_TIPS] == [guidance.TIP_IDS[0]]
