"""Reported speech: a partner, parent or friend telling the skill about the parent ("my wife says she can't
see herself still being here") is also read in the first person ("… i can not see myself still being here"),
so that every rule the lexicon writes for the parent's own words hears the same thing reported. The words
are data (the lexicon's `reported`); a text that names no reporter is read only as said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FirstPerson:
    reporter: re.Pattern[str]
    subject: re.Pattern[str]  # a reporter who opens the sentence ("my partner scratches her arms")
    words: Mapping[str, str]  # she → i, herself → myself, his → my
    possessive: Mapping[str, str]  # her → my before a noun; as an object "her" stays: it is most often the baby
    object_followers: frozenset[str]  # words after which "her" is an object ("look after her and …")
    verbs: Mapping[str, str]  # after "i": is → am, has → have
    adverbs: frozenset[str]  # may stand between "i" and its verb ("she always says" → "i always say")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> FirstPerson:
        return cls(
            reporter=re.compile(str(data["reporter"])),
            subject=re.compile(str(data.get("subject") or r"(?!)")),
            words=dict(data.get("words") or {}),
            possessive=dict(data.get("possessive") or {}),
            object_followers=frozenset(data.get("object_followers") or ()),
            verbs=dict(data.get("verbs") or {}),
            adverbs=frozenset(data.get("adverbs") or ()),
        )

    def reading(self, normalised: str) -> str | None:
        """The text in the first person when a reporter opens it, or names one whom a pronoun then speaks of;
        else None ("giving her things away to my sister's baby" does neither: its "her" is the baby's)."""
        tokens = normalised.split()
        spoken_of = self.reporter.search(normalised) and any(self.words.get(token) == "i" for token in tokens)
        if not (spoken_of or self.subject.match(normalised)):
            return None
        read: list[str] = []
        agree = False  # the next verb follows a pronoun now read as "i"
        for index, token in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token in self.possessive:
                ambiguous = following is None or following in self.object_followers
                read.append(token if ambiguous else self.possessive[token])
                agree = False
            elif token in self.words:
                read.append(self.words[token])
                agree = self.words[token] == "i"
            elif agree and token in self.adverbs:
                read.append(token)
            else:
                read.append(self._agreeing(token) if agree else token)
                agree = False
        first_person = " ".join(read)
        return first_person if first_person != normalised else None

    def _agreeing(self, verb: str) -> str:
        """A verb after "i" in the first person: is → am, wants → want, scratches → scratch, tries → try."""
        if verb in self.verbs:
            return self.verbs[verb]
        if verb.endswith("ies") and len(verb) > 4:
            return verb[:-3] + "y"
        if verb.endswith(("ches", "shes", "sses", "xes")):
            return verb[:-2]
        if verb.endswith("s") and not verb.endswith(("ss", "us", "is")) and len(verb) > 3:
            return verb[:-1]
        return verb
