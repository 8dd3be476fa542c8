"""Per-locale spoken content: loads `skill/speech/locale/<locale>/*.yaml`, validates it, picks variants.

Each top-level YAML key is either a message (`source` + `text`, optional `long` and `reprompt`; every
variant an SSML fragment) or a data entry (`source` + `data`: non-prose lists such as safety triggers).
Everything is validated once at load and then held in immutable structures.

Layering: a language has one complete base locale (`BASE_LOCALES`: en-US, es-US). Any other locale of
that language holds only what differs: its messages replace the base's, and its `words` data entry
(base phrase → local phrase: "diaper" → "nappy") is applied to every message it inherits.

Help lines: no message holds a phone number. Numbers live in `helpline.<name>` data entries (each with
its own source), which messages reference as `{helpline.<name>}`; they are filled in at load. Help lines
are never inherited: a locale defines every one its messages use, or loading fails. A language-only
folder (`locale/en/`, `locale/es/`) holds the neutral help lines ("your local emergency number") used
for any other country of that language (en-NZ, es-MX), so a parent is never read another country's
number.
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from skill.config import DEFAULT_LOCALE
from skill.yaml_files import YAMLError, read_yaml

DEFAULT_ROOT = Path(__file__).resolve().parent / "locale"
MESSAGE_FORMS = ("text", "long", "reprompt")
MESSAGE_KEYS = frozenset({"source", *MESSAGE_FORMS})
DATA_KEYS = frozenset({"source", "data"})
MAX_SPEECH_CHARS = 8000
MAX_BREAK_SECONDS = 10.0

# Alexa's SSML tags (sources.md#alexa-ssml). `amazon:` tags are parsed in a declared namespace.
AMAZON_NS = "urn:letdown:amazon-ssml"
ALLOWED_TAGS = frozenset(
    {
        "speak", "audio", "break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub",
        "voice", "w", "amazon:domain", "amazon:effect", "amazon:emotion",
    }
)  # fmt: skip
_LOCALE_PATTERN = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
_LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")
# The complete locale of each language; every other locale of the language overrides only what differs.
BASE_LOCALES = MappingProxyType({"en": DEFAULT_LOCALE, "es": "es-US"})
HELPLINE_PREFIX = "helpline."
WORDS_KEY = "words"
NEUTRAL = "neutral"
_HELPLINE_REFERENCE = re.compile(r"\{(helpline\.[a-z_]+)\}")
_TELEPHONE = re.compile(r"interpret-as=[\"']telephone[\"']")
_NUMBER = re.compile(r"\d{3}|\d[ -]\d")
_BREAK_TIME = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


class ContentError(ValueError):
    """The locale content is malformed; the message names the file, message id and problem."""


def parse_ssml(fragment: str) -> ET.Element:
    """Parse an SSML fragment (or a whole `<speak>` document); raises ET.ParseError if it is not XML."""
    body = fragment.strip()
    if body.startswith("<speak>") and body.endswith("</speak>"):
        body = body[len("<speak>") : -len("</speak>")]
    return ET.fromstring(f'<speak xmlns:amazon="{AMAZON_NS}">{body}</speak>')


def tag_name(element: ET.Element) -> str:
    prefix = "{" + AMAZON_NS + "}"
    return "amazon:" + element.tag[len(prefix) :] if element.tag.startswith(prefix) else element.tag


def ssml_problems(ssml: str, *, document: bool = False) -> list[str]:
    """Everything Alexa would reject: bad XML, unknown tags, over-long breaks, size.

    A content fragment (the default) may not carry its own `<speak>`; a `document` is a whole response."""
    try:
        root = parse_ssml(ssml)
    except ET.ParseError as error:
        return [f"not well-formed SSML ({error})"]
    problems = []
    if not document and "<speak" in ssml:
        problems.append("a fragment must not contain <speak> (it is added when the response is built)")
    for element in root.iter():
        name = tag_name(element)
        if name not in ALLOWED_TAGS or (name == "speak" and element is not root):
            problems.append(f"tag <{name}> is not allowed in Alexa SSML")
        if name == "break" and not _break_ok(element.get("time")):
            problems.append(f"<break time={element.get('time')!r}> must be at most {MAX_BREAK_SECONDS:g}s")
        if name == "audio" and not (element.get("src") or "").startswith(("https://", "soundbank://")):
            problems.append("<audio src> must be an https:// or soundbank:// URL")
    if len(ssml) > MAX_SPEECH_CHARS:
        problems.append(f"longer than {MAX_SPEECH_CHARS} characters")
    return problems


def _break_ok(time: str | None) -> bool:
    if time is None:
        return True
    match = _BREAK_TIME.match(time.strip())
    if not match:
        return False
    seconds = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    return seconds <= MAX_BREAK_SECONDS


def plain_text(ssml: str) -> str:
    """The words of an SSML fragment or document, tags removed, whitespace collapsed."""
    try:
        text = "".join(parse_ssml(ssml).itertext())
    except ET.ParseError:
        text = re.sub(r"<[^>]+>", " ", ssml)
    return " ".join(text.split())


@dataclass(frozen=True)
class Message:
    id: str
    source: str
    forms: Mapping[str, tuple[str, ...]]  # form name → 1+ SSML variants


class LocaleContent:
    """The messages of one locale. `pick` chooses a variant with the library's random generator."""

    def __init__(
        self,
        locale: str,
        messages: Mapping[str, Message],
        data: Mapping[str, Any],
        rng: random.Random,
        helplines: str | None = None,
    ) -> None:
        self.locale = locale
        # whose help lines the messages speak: a locale, or NEUTRAL ("your local emergency number")
        self.helplines = helplines or locale
        self._messages = MappingProxyType(dict(messages))
        self._data = MappingProxyType(dict(data))
        self._rng = rng

    def has(self, message_id: str, form: str = "text") -> bool:
        message = self._messages.get(message_id)
        return message is not None and form in message.forms

    def message_ids(self) -> list[str]:
        return sorted(self._messages)

    def message(self, message_id: str) -> Message:
        try:
            return self._messages[message_id]
        except KeyError:
            raise KeyError(f"no message {message_id!r} in locale {self.locale}") from None

    def variants(self, message_id: str, form: str = "text") -> tuple[str, ...]:
        message = self.message(message_id)
        try:
            return message.forms[form]
        except KeyError:
            raise KeyError(f"message {message_id!r} in locale {self.locale} has no {form!r} form") from None

    def pick(self, message_id: str, form: str = "text") -> str:
        """One variant of the message's form, an SSML fragment (no `<speak>`)."""
        return self._rng.choice(self.variants(message_id, form))

    def data(self, key: str) -> Any:
        """A non-prose data entry (immutable: mappings are read-only, lists are tuples)."""
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(f"no data entry {key!r} in locale {self.locale}") from None

    def has_data(self, key: str) -> bool:
        return key in self._data


class ContentLibrary:
    """All locales, loaded once. `locale()`: the exact locale; else its language's base content with that
    language's neutral help lines (en-NZ → en-US words, no US numbers); else en-US with English neutral lines."""

    def __init__(
        self, locales: Mapping[str, LocaleContent], neutral: Mapping[str, LocaleContent] | None = None
    ) -> None:
        if DEFAULT_LOCALE not in locales:
            raise ContentError(f"content has no {DEFAULT_LOCALE} locale")
        self._locales = MappingProxyType(dict(locales))
        self._neutral = MappingProxyType(dict(neutral or {}))

    @classmethod
    def load(cls, root: Path | None = None, seed: int | None = None) -> ContentLibrary:
        root = root or DEFAULT_ROOT
        if not root.is_dir():
            raise ContentError(f"content folder {root} does not exist")
        rng = random.Random(seed)
        raw: dict[str, tuple[dict[str, Message], dict[str, Any]]] = {}
        neutral_lines: dict[str, dict[str, Any]] = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if _LANGUAGE_PATTERN.match(folder.name):
                neutral_lines[folder.name] = _neutral_helplines(folder)
            elif _LOCALE_PATTERN.match(folder.name):
                raw[folder.name] = load_locale_folder(folder)
            else:
                raise ContentError(f"{folder}: folder name is not a locale like en-US or a language like en")
        locales = {}
        for name in raw:
            messages, data = layered(name, raw)
            locales[name] = LocaleContent(name, _filled(name, messages, data), data, rng)
        neutral = {}
        for language, lines in neutral_lines.items():
            base = BASE_LOCALES.get(language)
            if base not in raw:
                raise ContentError(f"{root / language}: neutral help lines for a language without base content")
            messages, data = layered(base, raw)
            data = {**{k: v for k, v in data.items() if not k.startswith(HELPLINE_PREFIX)}, **lines}
            where = f"{base} with the neutral help lines of {language}/"
            neutral[language] = LocaleContent(base, _filled(where, messages, data), data, rng, helplines=NEUTRAL)
        return cls(locales, neutral)

    def locales(self) -> tuple[str, ...]:
        return tuple(sorted(self._locales))

    def locale(self, locale: str | None) -> LocaleContent:
        if not locale:
            return self._locales[DEFAULT_LOCALE]
        if locale in self._locales:
            return self._locales[locale]
        language = locale.split("-")[0].lower()
        if language in self._neutral:
            return self._neutral[language]
        base = BASE_LOCALES.get(language)
        if (
            base is not None and base in self._locales
        ):  # only content without neutral help lines (test fixtures) gets here
            return self._locales[base]
        english = DEFAULT_LOCALE.split("-")[0]
        return self._neutral.get(english, self._locales[DEFAULT_LOCALE])


def layered(
    locale: str, raw: Mapping[str, tuple[dict[str, Message], dict[str, Any]]]
) -> tuple[dict[str, Message], dict[str, Any]]:
    """A locale's messages and data over its language's base: own entries win, inherited messages get the
    locale's `words`, help lines are never inherited."""
    messages, data = raw[locale]
    base = BASE_LOCALES.get(locale.split("-")[0])
    if base is None or base == locale or base not in raw:
        return dict(messages), dict(data)
    base_messages, base_data = raw[base]
    words = data.get(WORDS_KEY, {})
    merged = {key: _reworded(message, words) for key, message in base_messages.items() if key not in messages}
    merged.update(messages)
    inherited = {k: v for k, v in base_data.items() if not k.startswith(HELPLINE_PREFIX) and k != WORDS_KEY}
    return merged, {**inherited, **data}


def _reworded(message: Message, words: Mapping[str, str]) -> Message:
    if not words:
        return message
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b", re.I)

    def local(match: re.Match[str]) -> str:
        found = match.group(0)
        replacement = words.get(found) or words.get(found.lower()) or found
        return replacement[0].upper() + replacement[1:] if found[0].isupper() else replacement

    forms = {
        form: tuple(pattern.sub(local, variant) for variant in variants) for form, variants in message.forms.items()
    }
    return Message(id=message.id, source=message.source, forms=MappingProxyType(forms))


def _filled(where: str, messages: Mapping[str, Message], data: Mapping[str, Any]) -> dict[str, Message]:
    """Every `{helpline.x}` replaced by the locale's help line; a reference it does not define is an error."""
    filled = {}
    for key, message in messages.items():
        forms = {}
        for form, variants in message.forms.items():
            texts = []
            for variant in variants:
                missing = [name for name in _HELPLINE_REFERENCE.findall(variant) if name not in data]
                if missing:
                    raise ContentError(f"{where}: {key} ({form}) uses {', '.join(missing)}, which it does not define")
                text = _HELPLINE_REFERENCE.sub(lambda m: str(data[m.group(1)]), variant)
                problems = ssml_problems(text)
                if problems:
                    raise ContentError(f"{where}: {key} ({form}): {'; '.join(problems)}: {text!r}")
                texts.append(text)
            forms[form] = tuple(texts)
        filled[key] = Message(id=message.id, source=message.source, forms=MappingProxyType(forms))
    return filled


def _neutral_helplines(folder: Path) -> dict[str, Any]:
    messages, data = load_locale_folder(folder)
    extra = sorted(set(messages) | {k for k in data if not k.startswith(HELPLINE_PREFIX)})
    if extra:
        raise ContentError(f"{folder}: a language folder holds only neutral helpline.* entries, not {extra}")
    return data


def load_locale_folder(folder: Path) -> tuple[dict[str, Message], dict[str, Any]]:
    messages: dict[str, Message] = {}
    data: dict[str, Any] = {}
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ContentError(f"{folder}: no *.yaml files")
    for path in files:
        try:
            document = read_yaml(path) or {}
        except YAMLError as error:
            raise ContentError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(document, dict):
            raise ContentError(f"{path}: top level must be a mapping of message ids")
        for key, entry in document.items():
            where = f"{path.name}: {key}"
            if key in messages or key in data:
                raise ContentError(f"{folder.name}/{where}: defined twice")
            if not isinstance(entry, dict):
                raise ContentError(f"{folder.name}/{where}: must be a mapping with source and text")
            if "data" in entry:
                data[str(key)] = _validated_data(str(key), entry, f"{folder.name}/{where}")
            else:
                messages[str(key)] = _validated_message(str(key), entry, f"{folder.name}/{where}")
    return messages, data


def _validated_message(message_id: str, entry: Mapping[str, Any], where: str) -> Message:
    unknown = set(entry) - MESSAGE_KEYS
    if unknown:
        raise ContentError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(MESSAGE_KEYS)})")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ContentError(f"{where}: every message needs a non-empty `source`")
    if "text" not in entry:
        raise ContentError(f"{where}: every message needs `text`")
    forms = {}
    for form in MESSAGE_FORMS:
        if form in entry:
            forms[form] = _validated_variants(entry[form], f"{where} ({form})")
    return Message(id=message_id, source=source.strip(), forms=MappingProxyType(forms))


def _validated_variants(raw: Any, where: str) -> tuple[str, ...]:
    variants = [raw] if isinstance(raw, str) else raw
    if not isinstance(variants, list) or not variants:
        raise ContentError(f"{where}: must be a string or a non-empty list of strings")
    cleaned = []
    for index, variant in enumerate(variants):
        if not isinstance(variant, str) or not variant.strip():
            raise ContentError(f"{where} variant {index + 1}: must be a non-empty string")
        problems = ssml_problems(variant)
        if _TELEPHONE.search(variant) or _NUMBER.search(plain_text(variant)):
            problems.append("numbers belong in helpline.* entries, referenced as {helpline.name}")
        if problems:
            raise ContentError(f"{where} variant {index + 1}: {'; '.join(problems)}: {variant!r}")
        cleaned.append(" ".join(variant.split()))
    return tuple(cleaned)


def _validated_data(key: str, entry: Mapping[str, Any], where: str) -> Any:
    unknown = set(entry) - DATA_KEYS
    if unknown:
        raise ContentError(f"{where}: unknown keys {sorted(unknown)} in a data entry (allowed: source, data)")
    if not isinstance(entry.get("source"), str) or not entry["source"].strip():
        raise ContentError(f"{where}: every entry needs a non-empty `source`")
    if key.startswith(HELPLINE_PREFIX):
        line = entry["data"]
        if not isinstance(line, str) or not line.strip() or ssml_problems(line):
            raise ContentError(f"{where}: a help line is one SSML fragment: {'; '.join(ssml_problems(str(line)))}")
        return " ".join(line.split())
    if key == WORDS_KEY and not (
        isinstance(entry["data"], dict) and all(isinstance(v, str) for v in entry["data"].values())
    ):
        raise ContentError(f"{where}: `words` maps each base phrase to the locale's phrase")
    return _frozen(entry["data"])


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
