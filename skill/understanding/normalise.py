"""Normalising what people say before it is compared: one form for samples, lexicon phrases and queries.

`normalise` keeps every meaningful word (the safety lexicon reads it); `Normaliser.key` goes further for
fuzzy matching: phrase-list synonyms become one canonical word, fillers go, words are stemmed.
The stemmer is Snowball's English stemmer (`snowballstemmer`, pure Python, the Porter2 reference
implementation), cached per word because the vocabulary is small.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from functools import lru_cache
from types import MappingProxyType

import snowballstemmer  # type: ignore[import-untyped]

from skill.text import spoken_form

# Contractions, expanded before apostrophes are dropped ("I'll" must not become the word "ill").
_CONTRACTIONS = (
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bshan['’]t\b"), "shall not"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’]m\b"), " am"),
    (re.compile(r"['’]re\b"), " are"),
    (re.compile(r"['’]ve\b"), " have"),
    (re.compile(r"['’]ll\b"), " will"),
    (re.compile(r"['’]d\b"), " would"),
    (re.compile(r"\b(it|that|what|there|here|he|she|who|where|how)['’]s\b"), r"\1 is"),
    (re.compile(r"\blet['’]s\b"), "let us"),
    (re.compile(r"['’]s\b"), ""),  # the rest are possessives ("the baby's fever") or "has" ("baby's got")
)
# The same contractions as speech recognition often writes them, without the apostrophe.
_BARE_CONTRACTIONS: Mapping[str, str] = MappingProxyType(
    {
        "cant": "can not", "cannot": "can not", "wont": "will not", "dont": "do not", "doesnt": "does not",
        "didnt": "did not", "isnt": "is not", "arent": "are not", "wasnt": "was not", "werent": "were not",
        "havent": "have not", "hasnt": "has not", "hadnt": "had not", "couldnt": "could not",
        "shouldnt": "should not", "wouldnt": "would not", "aint": "is not", "im": "i am", "ive": "i have",
        "youre": "you are", "theyre": "they are", "thats": "that is", "whats": "what is", "theres": "there is",
        "hows": "how is", "shes": "she is", "hes": "he is", "gonna": "going to",
        "wanna": "want to", "gotta": "got to", "kinda": "kind of", "sorta": "sort of",
    }
)  # fmt: skip
# Spellings of one thing that speech recognition and people write differently: one canonical form.
_SPELLINGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b(?:{pattern})\b"), canonical)
    for pattern, canonical in (
        (r"let downs|letdowns|let down|letting down|lets down|let dow", "letdown"),
        (r"un pause", "unpause"),
        (r"dysphoric milk ejection reflex|dysphoric milk ejection|dysphoric letdown", "dmer"),
        (r"d mer|dee mer|d m e r|demur|demure|d mare|dmer|dee emm ee are", "dmer"),
        # the acronym and its name together; also "dysphoric …" on a device, whose sibling puts back "demur"
        (r"dmer milk ejection reflex|dmer milk ejection", "dmer"),
        (r"nappies|nappy|diapers", "diaper"),
        (r"mum|momma|mama|mommy|mummy", "mom"),
        (r"babys|babies", "baby"),
        # dialect and dropped-g spellings that speech recognition hands over (Scots, Northern English, Irish,
        # Caribbean, US): the words the safety lexicon and the samples are written in
        (r"meself|mesel|masel|mysel|maself", "myself"),
        (r"ah am", "i am"),
        (r"wi", "with"),
        (r"cannae|canna|cyaan", "can not"),
        (r"finna|fixing to", "going to"),
        (r"bairn|bairns", "baby"),
        # "I'll" typed without its apostrophe, where a verb follows ("ill be", "ill lose it"; "she is ill" stays)
        (r"ill (?=(?:be|lose|snap|just|never|do|go|have|make|take|end|kill|hurt|harm|die|stop)\b)", "i will "),
        (r"feart", "scared"),
        (r"alane", "alone"),
        (r"awfy", "very"),
        (r"aboot", "about"),
        (r"nae mair|no mair", "any more"),
        (r"tae", "to"),
        (r"dae", "do"),
        (r"tek", "take"),
        (r"waan", "want"),
        (r"bleedin", "bleeding"),
        (r"thinkin", "thinking"),
        (r"somethin", "something"),
        (r"nothin", "nothing"),
        (r"cryin", "crying"),
        (r"dyin", "dying"),
        (r"killin", "killing"),
        (r"hurtin", "hurting"),
        (r"feedin", "feeding"),
        (r"pumpin", "pumping"),
        (r"tryin", "trying"),
        (r"killmyself|kilmyself", "kill myself"),
        (r"ah (do|think|want|can|feel|just|keep|have|was|will|need|would|could|know)", r"i \1"),  # after "dae" → "do"
    )
)
# Words that carry nothing in a request ("um, so, like, can you just…, please, Alexa").
FILLERS = frozenset(
    {"um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "hm", "mm", "like", "please", "alexa", "so", "just",
     "actually", "basically", "literally", "really", "oh", "ah", "hey", "well"}
)  # fmt: skip
_FILLER_PHRASES = re.compile(r"\b(?:you know|i mean|kind of|sort of)\b")
# Very common words: dropped from the fuzzy-matching key so that the content words decide.
STOP_WORDS = frozenset(
    {"a", "an", "the", "i", "me", "my", "mine", "myself", "is", "am", "are", "was", "be", "been", "it", "to",
     "of", "at", "in", "on", "and", "or", "this", "that", "you", "your", "some", "any", "there", "for", "with",
     "we", "our", "us", "im", "its", "as", "then", "now", "right", "tonight", "today", "again", "too", "still"}
)  # fmt: skip

_STEMMER = snowballstemmer.stemmer("english")


def expand_contractions(text: str) -> str:
    text = text.lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def normalise(text: str) -> str:
    """Lower-case words: contractions expanded, numbers spelled out, one spelling for "letdown", "dmer"…

    Every meaningful word stays (including "not", "no", "never"), so the safety lexicon can read it."""
    words = []
    for word in spoken_form(expand_contractions(text)).split():
        words.append(_BARE_CONTRACTIONS.get(word, word))
    joined = " ".join(words)
    for pattern, canonical in _SPELLINGS:
        joined = pattern.sub(canonical, joined)
    return joined


def without_fillers(normalised: str) -> str:
    text = _FILLER_PHRASES.sub(" ", normalised)
    return " ".join(word for word in text.split() if word not in FILLERS)


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


class Normaliser:
    """Turns text into a fuzzy-matching key, with synonyms from phrase lists (each list → its first phrase).

    `phrase_lists` are groups of interchangeable phrases, e.g. ("breast", "boob", "boobs", "side").
    """

    def __init__(self, phrase_lists: Iterable[Iterable[str]] = ()) -> None:
        synonyms: dict[str, str] = {}
        for group in phrase_lists:
            forms = [without_fillers(normalise(phrase)) for phrase in group]
            forms = [form for form in forms if form]
            if len(forms) < 2:
                continue
            canonical = forms[0]
            for form in forms[1:]:
                if form != canonical and form not in synonyms and len(form.split()) <= 4:
                    synonyms[form] = canonical
        self.synonyms: Mapping[str, str] = MappingProxyType(synonyms)
        self._pattern = (
            re.compile(r"\b(?:" + "|".join(re.escape(s) for s in sorted(synonyms, key=len, reverse=True)) + r")\b")
            if synonyms
            else None
        )

    def canonical(self, text: str, memo: MutableMapping[str, str] | None = None) -> str:
        """Normalised words, fillers dropped, every synonym replaced by its group's canonical phrase.

        `memo` keeps the normal forms (before synonyms, so any locale's Normaliser may share it)."""
        if memo is None:
            text = without_fillers(normalise(text))
        elif text in memo:
            text = memo[text]
        else:
            text = memo[text] = without_fillers(normalise(text))
        if self._pattern is not None:
            text = self._pattern.sub(lambda match: self.synonyms[match.group(0)], text)
        return text

    def key(self, text: str, memo: MutableMapping[str, str] | None = None) -> str:
        """The fuzzy-matching key: canonical words without stop words, stemmed."""
        return self.key_of_canonical(self.canonical(text, memo))

    @staticmethod
    def key_of_canonical(canonical: str) -> str:
        words = [stem(word) for word in canonical.split() if word not in STOP_WORDS]
        return " ".join(words)
