"""The let-down coach: rounds that step up, one check-in after each, and what every answer leads to.

Pure logic over a `CoachState` kept in the session attributes (key `coach`) and nowhere else: the
answers (yes, no, nursing, pumping) steer only this session and are never stored or logged.

A round is one calm instruction, the round's clip and one check-in question. Yes → a warm confirmation
and the offer of the feed background. No, not yet, skip or next → the next round, in the guide's order
(seed §4): breathing and dropped shoulders, warmth and a gentle massage, the baby's senses (nursing and
pumping differ, so that round asks once which it is), then a head start by hand-expressing or pumping.
After the last round: reassurance, where to get help, the background offer.

Silence: Alexa speaks the reprompt after about eight seconds of silence, and a SessionEndedRequest after
a second silence cannot be answered at all. So the reprompt is the second chance and leads on: it is
already the next step (the next round, the question it needs, or the close). Whether an answer came
after the reprompt is told by the time since the question was asked (Alexa's request timestamps): the
reprompt starts once the speech is over plus the wait, and answers given to it come well after that.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from skill.speech.render import LAST_MESSAGE

COACH_KEY = "coach"
MESSAGE_PREFIX = "coach."
NURSING, PUMPING = "nursing", "pumping"
FEEDING_MODES = (NURSING, PUMPING)
CHECK_IN, FEEDING, BACKGROUND = "check_in", "feeding", "background"
QUESTIONS = (CHECK_IN, FEEDING, BACKGROUND)
# Alexa waits about eight seconds of silence before it speaks the reprompt (platform reference §5).
REPROMPT_WAIT_S = 8.0


@dataclass(frozen=True)
class Round:
    name: str
    clip: str  # catalog id of the round's clip; `{feeding}` is filled in for rounds that differ
    needs_feeding: bool = False

    def clip_for(self, feeding: str | None) -> str:
        return self.clip.format(feeding=feeding or NURSING)


ROUNDS: tuple[Round, ...] = (
    Round("breathing", "coach-breathing"),
    Round("warmth", "coach-warmth"),
    Round("senses", "coach-senses-{feeding}", needs_feeding=True),
    Round("head_start", "coach-head-start"),
)
CLIP_IDS: tuple[str, ...] = tuple(
    sorted({r.clip_for(mode) for r in ROUNDS for mode in (FEEDING_MODES if r.needs_feeding else (None,))})
)


@dataclass(frozen=True)
class CoachState:
    """Where the coach is: the round last played (1-based; 0 before the first), the open question, and
    nursing or pumping once said. `asked_at_ms` and `reprompt_after_s` date the question; `then` is the
    state the reprompt leads to, if it leads anywhere."""

    round: int = 0
    asked: str | None = None
    feeding: str | None = None
    asked_at_ms: int | None = None
    reprompt_after_s: float | None = None
    then: CoachState | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"round": self.round, "asked": self.asked}
        if self.feeding:
            data["feeding"] = self.feeding
        if self.asked_at_ms is not None and self.reprompt_after_s is not None and self.then is not None:
            data["asked_at_ms"] = self.asked_at_ms
            data["reprompt_after_s"] = round(self.reprompt_after_s, 1)
            data["then"] = self.then.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any, depth: int = 0) -> CoachState | None:
        """The state a client sent back; None for anything that is not one (junk is never trusted)."""
        if not isinstance(data, Mapping) or depth > 1:
            return None
        number, asked, feeding = data.get("round"), data.get("asked"), data.get("feeding")
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= len(ROUNDS):
            return None
        if asked not in QUESTIONS:
            return None
        asked_at, after = data.get("asked_at_ms"), data.get("reprompt_after_s")
        then = cls.from_json(data.get("then"), depth + 1) if "then" in data else None
        state = cls(round=number, asked=asked, feeding=feeding if feeding in FEEDING_MODES else None)
        if isinstance(asked_at, int) and isinstance(after, int | float) and then is not None:
            return replace(state, asked_at_ms=asked_at, reprompt_after_s=float(after), then=then)
        return state

    def undated(self) -> CoachState:
        return replace(self, asked_at_ms=None, reprompt_after_s=None, then=None)


@dataclass(frozen=True)
class Part:
    """One piece of a spoken turn: a message, optionally followed by a clip; where the clip cannot play,
    the message `instead` (a spoken version of the clip that opens with the instruction) replaces both."""

    message: str | None = None
    clip: str | None = None
    instead: str | None = None


@dataclass(frozen=True)
class Step:
    """What the coach says next, and the state it leaves (None: the coach is over)."""

    message_id: str  # the main message (recorded as last_message)
    parts: tuple[Part, ...]
    state: CoachState | None
    end_session: bool = False
    play_background: bool = False
    screen_round: Round | None = None  # the round whose screen an APL device shows


@dataclass(frozen=True)
class Turn:
    """A response: the step spoken now, and the step the reprompt speaks if the parent stays silent."""

    now: Step
    reprompt: Step | None = None


# ----- session attributes ---------------------------------------------------------------------------------


def load(attributes: Mapping[str, Any]) -> CoachState | None:
    """The coach's state, only while the last answer was the coach's (anything else, safety first, ends it)."""
    last = attributes.get(LAST_MESSAGE)
    if not isinstance(last, str) or not last.startswith(MESSAGE_PREFIX):
        return None
    return CoachState.from_json(attributes.get(COACH_KEY))


def save(attributes: MutableMapping[str, Any], state: CoachState | None) -> None:
    if state is None:
        attributes.pop(COACH_KEY, None)
    else:
        attributes[COACH_KEY] = state.to_json()


def is_active(attributes: Mapping[str, Any]) -> bool:
    return load(attributes) is not None


def settle(state: CoachState, now_ms: int | None) -> CoachState:
    """The state the parent is answering: the one the reprompt led to, if the answer came after it."""
    if state.then is None or state.asked_at_ms is None or state.reprompt_after_s is None or now_ms is None:
        return state.undated()
    if (now_ms - state.asked_at_ms) / 1000 >= state.reprompt_after_s:
        return state.then.undated()
    return state.undated()


# ----- messages -------------------------------------------------------------------------------------------


def round_at(number: int) -> Round:
    return ROUNDS[number - 1]


def round_message(round_: Round) -> str:
    """The id recorded for a round (`last_message`): the same for nursing and pumping, since the turn log
    records it and the answers are never logged."""
    return f"coach.round.{round_.name}"


def instruction_message(round_: Round, feeding: str | None) -> str:
    base = f"coach.round.{round_.name}"
    return f"{base}.{feeding or NURSING}" if round_.needs_feeding else base


def check_in_message(feeding: str | None) -> str:
    return f"coach.check_in.{feeding}" if feeding else "coach.check_in"


def spoken_instead_message(round_: Round, feeding: str | None) -> str:
    """What a device hears in place of the clip when it cannot be played (not built, or not HTTPS)."""
    base = f"coach.spoken.{round_.name}"
    return f"{base}.{feeding or NURSING}" if round_.needs_feeding else base


# ----- steps ----------------------------------------------------------------------------------------------


def round_step(number: int, feeding: str | None, *, lead_in: str | None = None) -> Step:
    round_ = round_at(number)
    instruction = instruction_message(round_, feeding)
    parts = (
        *((Part(message=lead_in),) if lead_in else ()),
        Part(message=instruction, clip=round_.clip_for(feeding), instead=spoken_instead_message(round_, feeding)),
        Part(message=check_in_message(feeding)),
    )
    state = CoachState(round=number, asked=CHECK_IN, feeding=feeding)
    return Step(round_message(round_), parts, state, screen_round=round_)


def feeding_question_step(state: CoachState, *, lead_in: str | None = None) -> Step:
    parts = (*((Part(message=lead_in),) if lead_in else ()), Part(message="coach.ask_feeding"))
    return Step("coach.ask_feeding", parts, replace(state.undated(), asked=FEEDING))


def background_offer(first: str, state: CoachState, audio_player: bool) -> Step:
    """`first`, then the offer of calm background sound; without AudioPlayer a warm close instead."""
    if not audio_player:
        return Step(first, (Part(message=first), Part(message="coach.enjoy")), None, end_session=True)
    offer = (Part(message=first), Part(message="coach.offer_background"))
    return Step(first, offer, replace(state.undated(), asked=BACKGROUND))


def close_step(state: CoachState, audio_player: bool) -> Step:
    return background_offer("coach.close", state, audio_player)


def flowing_step(state: CoachState, audio_player: bool) -> Step:
    return background_offer("coach.flowing", state, audio_player)


def next_step(state: CoachState, audio_player: bool, *, lead_in: str | None = None) -> Step:
    """Step up: the next round (asking nursing or pumping first when that round needs it), or the close."""
    following = state.round + 1
    if following > len(ROUNDS):
        return close_step(state, audio_player)
    if round_at(following).needs_feeding and state.feeding is None:
        return feeding_question_step(state, lead_in=lead_in)
    return round_step(following, state.feeding, lead_in=lead_in)


def with_reprompt(now: Step, audio_player: bool) -> Turn:
    """The turn for `now`, with the reprompt that leads on when the parent says nothing."""
    state = now.state
    if state is None:
        return Turn(now)
    if state.asked == CHECK_IN:
        return Turn(now, next_step(state, audio_player, lead_in="coach.lead_on"))
    if state.asked == FEEDING:
        return Turn(now, Step("coach.ask_feeding", (Part(message="coach.ask_feeding.again"),), state))
    return Turn(now, Step(now.message_id, (Part(message="coach.offer_background.again"),), state))


# ----- what each answer does -----------------------------------------------------------------------------


def start(feeding: str | None, audio_player: bool) -> Turn:
    return with_reprompt(round_step(1, feeding), audio_player)


def answer_yes(state: CoachState, audio_player: bool) -> Turn:
    if state.asked == CHECK_IN:
        return with_reprompt(flowing_step(state, audio_player), audio_player)
    if state.asked == BACKGROUND:
        return Turn(Step("coach.background", (), None, end_session=True, play_background=True))
    return with_reprompt(feeding_question_step(state), audio_player)  # "yes" to "nursing or pumping?"


def answer_no(state: CoachState, audio_player: bool) -> Turn:
    if state.asked == CHECK_IN:
        return with_reprompt(next_step(state, audio_player), audio_player)
    if state.asked == BACKGROUND:
        return Turn(Step("coach.goodbye", (Part(message="coach.goodbye"),), None, end_session=True))
    return with_reprompt(feeding_question_step(state), audio_player)


def answer_not_yet(state: CoachState, audio_player: bool) -> Turn:
    """ "Nothing's coming, help" again: the next round; after the close (or a let-down), the coach anew."""
    if state.asked == BACKGROUND:
        return start(state.feeding, audio_player)
    return answer_no(state, audio_player)


def answer_skip(state: CoachState, audio_player: bool) -> Turn:
    """Skip or next: on to the next round, whatever was asked (a skipped nursing-or-pumping question skips
    the round that needed it)."""
    if state.asked == FEEDING:
        return with_reprompt(next_step(replace(state, round=state.round + 1), audio_player), audio_player)
    if state.asked == BACKGROUND:
        return answer_no(state, audio_player)
    return with_reprompt(next_step(state, audio_player), audio_player)


def answer_feeding(state: CoachState, feeding: str, audio_player: bool) -> Turn:
    """Nursing or pumping: the round that needed it, or (said unasked) the check-in again in its words."""
    known = replace(state, feeding=feeding)
    if state.asked == FEEDING:
        return with_reprompt(next_step(known, audio_player), audio_player)
    if state.asked == CHECK_IN:
        parts = (Part(message=check_in_message(feeding)),)
        return with_reprompt(Step(check_in_message(None), parts, known.undated()), audio_player)
    return answer_repeat(known, audio_player)  # to the background offer: the offer again


def answer_repeat(state: CoachState, audio_player: bool) -> Turn:
    """Repeat: the round again, clip and all (or the open question)."""
    if state.asked == CHECK_IN and state.round >= 1:
        return with_reprompt(round_step(state.round, state.feeding), audio_player)
    if state.asked == FEEDING:
        return with_reprompt(feeding_question_step(state), audio_player)
    offer = Step("coach.offer_background", (Part(message="coach.offer_background"),), state.undated())
    return with_reprompt(offer, audio_player)


def feeding_mode(value_id: str | None) -> str | None:
    return value_id if value_id in FEEDING_MODES else None
