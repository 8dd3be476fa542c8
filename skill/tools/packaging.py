"""`letdown package --endpoint URL`: an ASK CLI project to deploy the skill (sources.md#alexa-skill-package).

Writes `ask-resources.json`, `skill-package/skill.json` (the manifest, from interaction_model/
publishing.json) and `skill-package/interactionModels/custom/<locale>.json` for every locale that has
both store-card data and an interaction model.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from skill.config import DEFAULT_MODEL_DIR

ASK_RESOURCES_VERSION = "2020-03-31"
MANIFEST_VERSION = "1.0"
CERTIFICATE_TYPES = ("Trusted", "Wildcard")
ALEXA_PATH = "/alexa"
LOCALE_CARD_FIELDS = (
    "name",
    "summary",
    "description",
    "examplePhrases",
    "keywords",
    "smallIconUri",
    "largeIconUri",
)
REQUIRED_CARD_FIELDS = ("name", "summary", "description", "examplePhrases", "keywords")
DISTRIBUTION_COUNTRIES = {
    "en-US": "US",
    "en-GB": "GB",
    "en-CA": "CA",
    "en-AU": "AU",
    "en-IN": "IN",
    "es-US": "US",
}


class PackageError(ValueError):
    """The package cannot be written as asked (bad endpoint, missing store-card data, …)."""


@dataclass
class PackageResult:
    out_dir: Path
    files: list[Path]
    endpoint: str
    warnings: list[str] = field(default_factory=list)


def endpoint_uri(url: str) -> str:
    """The skill endpoint: HTTPS only; a bare host gets the service's /alexa path."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise PackageError(f"the endpoint must be an https:// URL, not {url!r}")
    if parts.query or parts.fragment:
        raise PackageError(f"the endpoint must not have a query or fragment: {url!r}")
    path = parts.path.rstrip("/") or ALEXA_PATH
    return urlunsplit(("https", parts.netloc, path, "", ""))


def load_publishing(model_dir: Path) -> Mapping[str, Mapping[str, Any]]:
    path = model_dir / "publishing.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PackageError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or not data:
        raise PackageError(f"{path} must map each locale to its store card")
    return data


def locale_card(locale: str, card: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in REQUIRED_CARD_FIELDS if not card.get(name)]
    if missing:
        raise PackageError(f"publishing.json {locale}: missing {', '.join(missing)}")
    if len(card["examplePhrases"]) != 3:
        raise PackageError(f"publishing.json {locale}: needs exactly three example phrases")
    return {name: card[name] for name in LOCALE_CARD_FIELDS if card.get(name) is not None}


def single_value(publishing: Mapping[str, Mapping[str, Any]], key: str, default: Any) -> Any:
    values = {json.dumps(card.get(key, default)) for card in publishing.values()}
    if len(values) > 1:
        raise PackageError(f"publishing.json: {key} differs between locales")
    return json.loads(values.pop())


def build_manifest(
    publishing: Mapping[str, Mapping[str, Any]],
    locales: list[str],
    endpoint: str,
    certificate_type: str,
) -> dict[str, Any]:
    privacy_locales = {
        locale: {"privacyPolicyUrl": publishing[locale]["privacyPolicyUrl"]}
        for locale in locales
        if publishing[locale].get("privacyPolicyUrl")
    }
    privacy: dict[str, Any] = {
        "allowsPurchases": False,
        "usesPersonalInfo": bool(single_value(publishing, "usesPersonalInfo", False)),
        "isChildDirected": bool(single_value(publishing, "isChildDirected", False)),
        "isExportCompliant": True,
        "containsAds": bool(single_value(publishing, "containsAds", False)),
        "usesHealthInfo": bool(single_value(publishing, "usesHealthInfo", False)),
    }
    if privacy_locales:
        privacy["locales"] = privacy_locales
    return {
        "manifest": {
            "publishingInformation": {
                "locales": {locale: locale_card(locale, publishing[locale]) for locale in locales},
                "isAvailableWorldwide": False,
                "distributionCountries": sorted({DISTRIBUTION_COUNTRIES.get(loc, "US") for loc in locales}),
                "category": single_value(publishing, "category", None),
                "testingInstructions": (
                    "Say: open let down helper. Try the example phrases, then tell me more, another tip, "
                    "and the AudioPlayer controls (pause, resume) while a track plays."
                ),
            },
            "privacyAndCompliance": privacy,
            "apis": {
                "custom": {
                    "endpoint": {"uri": endpoint, "sslCertificateType": certificate_type},
                    "interfaces": [
                        {"type": "AUDIO_PLAYER"},
                        {"type": "CAN_FULFILL_INTENT_REQUEST"},
                        {"type": "ALEXA_PRESENTATION_APL"},
                    ],
                }
            },
            "manifestVersion": MANIFEST_VERSION,
        }
    }


def write_package(
    endpoint: str,
    out_dir: Path,
    *,
    model_dir: Path = DEFAULT_MODEL_DIR,
    certificate_type: str = "Trusted",
) -> PackageResult:
    if certificate_type not in CERTIFICATE_TYPES:
        raise PackageError(f"certificate type must be one of {', '.join(CERTIFICATE_TYPES)}")
    uri = endpoint_uri(endpoint)
    publishing = load_publishing(model_dir)
    locales = sorted(locale for locale in publishing if (model_dir / f"{locale}.json").is_file())
    if not locales:
        raise PackageError(f"no locale in publishing.json has an interaction model in {model_dir}")
    manifest = build_manifest(publishing, locales, uri, certificate_type)
    if manifest["manifest"]["publishingInformation"]["category"] is None:
        raise PackageError("publishing.json: category is missing")
    warnings = [
        f"{locale}: no {name} yet (certification needs it)"
        for locale in locales
        for name in ("privacyPolicyUrl", "smallIconUri", "largeIconUri")
        if not publishing[locale].get(name)
    ]
    package_dir = out_dir / "skill-package"
    models_dir = package_dir / "interactionModels" / "custom"
    models_dir.mkdir(parents=True, exist_ok=True)
    files = [
        write_json(out_dir / "ask-resources.json", ask_resources()),
        write_json(package_dir / "skill.json", manifest),
    ]
    for locale in locales:
        target = models_dir / f"{locale}.json"
        model = json.loads((model_dir / f"{locale}.json").read_text(encoding="utf-8"))  # refuse broken JSON
        # Compact, as `letdown model check` measures it against Amazon's model size limit: the committed file's
        # indentation (kept for readable diffs) adds over a third to what would be uploaded.
        target.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        files.append(target)
    return PackageResult(out_dir=out_dir, files=files, endpoint=uri, warnings=warnings)


def ask_resources() -> dict[str, Any]:
    return {
        "askcliResourcesVersion": ASK_RESOURCES_VERSION,
        "profiles": {"default": {"skillMetadata": {"src": "./skill-package"}}},
    }


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_package(args: argparse.Namespace) -> int:
    try:
        result = write_package(
            args.endpoint,
            args.out,
            model_dir=args.model_dir,
            certificate_type="Wildcard" if args.wildcard_certificate else "Trusted",
        )
    except PackageError as error:
        print(f"letdown package: {error}")
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"endpoint: {result.endpoint}")
    for path in result.files:
        print(f"wrote {path}")
    return 0


def add_package_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("package", help="write an ASK CLI project (manifest and interaction models)")
    parser.add_argument("--endpoint", required=True, help="the HTTPS URL Alexa posts to (…/alexa)")
    parser.add_argument("--out", type=Path, default=Path("ask-project"), help="output folder (default ./ask-project)")
    parser.add_argument(
        "--wildcard-certificate",
        action="store_true",
        help="the endpoint's certificate is a wildcard certificate (default: a trusted CA certificate)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="folder with <locale>.json and publishing.json",
    )
    parser.set_defaults(run=run_package)
