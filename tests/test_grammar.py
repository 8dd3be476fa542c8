"""The interaction-model grammar: template syntax, deterministic expansion, errors that name the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.config import DEFAULT_MODEL_DIR
from skill.interaction_model_grammar import GrammarError, grammar_from_dict, load_grammar

GRAMMAR_PATH = DEFAULT_MODEL_DIR / "grammar" / "en-US.yaml"


def grammar(samples: list[str], phrases: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    slots = extra.pop("slots", {})
    return {
        "invocation_name": "let down helper",
        "phrases": phrases or {},
        "intents": {"TestIntent": {"slots": slots, "samples": samples}},
        **extra,
    }


def samples_of(document: dict[str, Any]) -> tuple[str, ...]:
    return grammar_from_dict(document).samples()["TestIntent"]


def test_alternatives_optionals_and_phrase_lists_expand_to_sorted_unique_samples() -> None:
    document = grammar(
        ["[please] help my <milk> (let down|flow)", "help my milk flow"],
        {"milk": ["milk", "letdown", "let down"]},
    )
    assert samples_of(document) == (
        "help my let down flow",
        "help my let down let down",
        "help my letdown flow",
        "help my letdown let down",
        "help my milk flow",
        "help my milk let down",
        "please help my let down flow",
        "please help my let down let down",
        "please help my letdown flow",
        "please help my letdown let down",
        "please help my milk flow",
        "please help my milk let down",
    )


def test_slots_stay_as_ask_slot_references() -> None:
    document = grammar(["give me a (tip|hint) about {topic}"], slots={"topic": "TipTopic"})
    assert samples_of(document) == ("give me a hint about {topic}", "give me a tip about {topic}")


def test_phrase_lists_may_use_templates_and_other_lists() -> None:
    parsed = grammar_from_dict(
        grammar(["<my_milk>"], {"milk": ["milk", "let-down"], "my_milk": ["(my|the) <milk>", "[my] boob"]})
    )
    assert parsed.phrase_lists["my_milk"] == ("boob", "my boob", "my let-down", "my milk", "the let-down", "the milk")
    assert parsed.phrase_lists["milk"] == ("let-down", "milk")


def test_expansion_is_deterministic_whatever_the_template_order() -> None:
    forward = grammar(["(a|b) [c] d", "e (f|g)"])
    backward = grammar(["e (g|f)", "(b|a) [c] d"])
    assert samples_of(forward) == samples_of(backward)
    assert grammar_from_dict(forward).expand() == grammar_from_dict(forward).expand()


def test_a_template_above_the_cap_keeps_its_core_forms_and_an_even_spread() -> None:
    letters = "|".join("abcdefghij")
    document = grammar([f"[please] ({letters}) ({letters})"], template_cap=10)
    capped = samples_of(document)
    assert len(capped) == 10
    # the five shortest (no "please"), then every 39th of the other 195 in sorted order
    assert capped == ("a a", "a b", "a c", "a d", "a e", "a f", "e e", "i d", "please c c", "please g b")
    assert samples_of(document) == capped


def test_expand_writes_an_ask_interaction_model() -> None:
    document = grammar(["play {track}"], slots={"track": "TrackName"}, fallback_sensitivity="LOW")
    document["slot_types"] = {"TrackName": [{"id": "wave", "value": "ride the wave", "synonyms": ["the wave"]}]}
    document["intents"]["AMAZON.StopIntent"] = {}
    language = grammar_from_dict(document).expand()["interactionModel"]["languageModel"]
    assert language["invocationName"] == "let down helper"
    assert language["modelConfiguration"] == {"fallbackIntentSensitivity": {"level": "LOW"}}
    assert language["intents"] == [
        {"name": "TestIntent", "slots": [{"name": "track", "type": "TrackName"}], "samples": ["play {track}"]},
        {"name": "AMAZON.StopIntent", "samples": []},
    ]
    assert language["types"] == [
        {"name": "TrackName", "values": [{"id": "wave", "name": {"value": "ride the wave", "synonyms": ["the wave"]}}]}
    ]


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("help (my|the milk", "cannot parse"),
        ("help [my milk", "cannot parse"),
        ("help my milk)", "cannot parse"),
        ("help my {slot", "cannot parse"),
        ("help my <unknown>", "Missing expansion rule <unknown>"),
        ("help my {minutes}", "undeclared slot {minutes}"),
        ("help; my milk", "reserves"),
    ],
)
def test_a_broken_template_is_an_error_naming_the_intent(template: str, complaint: str) -> None:
    with pytest.raises(GrammarError, match="TestIntent") as raised:
        grammar_from_dict(grammar([template])).samples()
    assert complaint in str(raised.value)


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ([], "a grammar is a mapping"),
        ({"intents": {}}, "invocation_name is missing"),
        (grammar(["a"], template_cap=0), "template_cap"),
        (grammar(["a"], {"milk": "milk"}), "phrase list milk"),  # type: ignore[dict-item]
        (grammar(["a"], {"loop": ["<loop> again"]}), "refers to itself"),
        ({**grammar(["a"]), "slot_types": {"T": [{"id": "x"}]}}, "needs a 'value'"),
        ({**grammar(["a"]), "intents": {"X": {"samples": "not a list"}}}, "X must be a list"),
    ],
)
def test_a_broken_grammar_is_an_error(document: Any, complaint: str) -> None:
    with pytest.raises(GrammarError, match=complaint):
        grammar_from_dict(document).samples()


def test_load_grammar_reports_yaml_errors(tmp_path: Path) -> None:
    broken = tmp_path / "en-US.yaml"
    broken.write_text("intents: [unclosed\n", encoding="utf-8")
    with pytest.raises(GrammarError, match="not YAML"):
        load_grammar(broken)


def test_the_en_us_grammar_loads_with_its_shared_phrase_lists() -> None:
    parsed = load_grammar(GRAMMAR_PATH)
    assert parsed.invocation_name == "let down helper"
    assert {"let-down", "letdown", "let down"} <= set(parsed.phrase_lists["letdown"])
    assert {"boob", "breast", "nipple"} <= set(parsed.phrase_lists["breast"])
    assert {"boob", "breast", "side"} <= set(parsed.phrase_lists["one_breast"])
    samples = parsed.samples()
    assert "help my letdown" in samples["LetDownIntent"]
    assert "not flowing" in samples["LetDownIntent"]


def test_no_carrier_of_the_en_us_catch_all_is_lost_to_the_template_cap() -> None:
    """Every alternative written in FreeTextIntent's samples is a sample (the cap keeps only a spread)."""
    raw = yaml.safe_load(GRAMMAR_PATH.read_text(encoding="utf-8"))["intents"]["FreeTextIntent"]["samples"]
    written = set()
    for template in raw:
        opening, _, ending = template.partition("{query}")
        for side, words in (("opening", opening.strip()), ("ending", ending.strip())):
            for word in words.strip("()").split("|") if words else ():
                written.add(f"{word} {{query}}" if side == "opening" else f"{{query}} {word}")
    assert written - set(load_grammar(GRAMMAR_PATH).samples()["FreeTextIntent"]) == set()


def test_a_catch_alls_siblings_are_one_carrier_phrase_each() -> None:
    document = grammar(
        ["um {query}", "so {query}"],
        slots={"query": "AMAZON.SearchQuery"},
    )
    siblings = {"openings": ["why", "what's", "is it normal"], "endings": ["at all"]}
    document["intents"]["TestIntent"]["siblings"] = siblings
    samples = grammar_from_dict(document).samples()
    assert samples == {
        "TestIntent": ("so {query}", "um {query}"),
        "TestWhyIntent": ("why {query}",),
        "TestWhatsIntent": ("what's {query}",),
        "TestIsItNormalIntent": ("is it normal {query}",),
        "TestEndAtAllIntent": ("{query} at all",),
    }


def test_a_family_of_interchangeable_words_is_one_sibling() -> None:
    document = grammar(["um {query}"], slots={"query": "AMAZON.SearchQuery"})
    document["intents"]["TestIntent"]["siblings"] = {"openings": [{"fever": ["a temperature", "feverish"]}]}
    samples = grammar_from_dict(document).samples()
    assert samples["TestFeverIntent"] == ("a temperature {query}", "fever {query}", "feverish {query}")


@pytest.mark.parametrize(
    ("siblings", "complaint"),
    [
        ({"openings": ["why (not|so)"]}, "plain words only"),
        ({"openings": ["why {query}"]}, "plain words only"),
        ({"openings": ["why", "why"]}, "TestWhyIntent is defined twice"),
        ({"endings": [""]}, "non-empty strings"),
        ({"openings": [{"fever": ["(a|the) temperature"]}]}, "plain words only"),
        ({"openings": [{"fever": "temperature"}]}, "non-empty strings"),
        ({"openings": "why"}, "list of words"),
    ],
)
def test_broken_siblings_are_an_error(siblings: dict[str, list[str]], complaint: str) -> None:
    document = grammar(["um {query}"], slots={"query": "AMAZON.SearchQuery"})
    document["intents"]["TestIntent"]["siblings"] = siblings
    with pytest.raises(GrammarError, match=complaint):
        grammar_from_dict(document).samples()


def test_siblings_need_a_single_slot() -> None:
    document = grammar(["um"])
    document["intents"]["TestIntent"]["siblings"] = {"openings": ["why"]}
    with pytest.raises(GrammarError, match="exactly one slot"):
        grammar_from_dict(document).samples()
