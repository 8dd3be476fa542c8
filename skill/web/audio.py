"""GET/HEAD /audio/<file>: the built MP3s the manifest lists, with byte ranges, ETags and cache headers;
GET/HEAD /art/<file>: the player artwork (skill.playback.artwork), cached the same way.

Alexa devices (and CDNs in front of this route) stream with Range requests. Werkzeug's `send_file` does
single ranges, If-None-Match/If-Range and HEAD; this module decides what it cannot:
- a Range header that is malformed or asks for several ranges is ignored (RFC 9110 allows it): full 200;
- an unsatisfiable range answers 416 with `Content-Range: bytes */<size>` (the app's JSON error handler
  would drop that header, so it is built here);
- URLs carrying the current content version (`?v=<sha256 prefix>`, as every stream URL does) are cached
  for a year as immutable; bare URLs only briefly, since a rebuild changes their bytes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.utils import send_file
from werkzeug.wrappers import Response as WsgiResponse

from skill.config import Config
from skill.playback.artwork import ART_ROUTE, Artwork
from skill.playback.catalog import VERSION_CHARS, VERSION_PARAM, ServedFile, TrackCatalog

MP3_MIMETYPE = "audio/mpeg"
PNG_MIMETYPE = "image/png"
VERSIONED_MAX_AGE_S = 365 * 24 * 3600
UNVERSIONED_MAX_AGE_S = 300


def create_audio_blueprint(config: Config, tracks: TrackCatalog, artwork: Artwork | None = None) -> Blueprint:
    blueprint = Blueprint("audio", __name__)

    @blueprint.get("/audio/<path:file_name>")
    def serve_audio(file_name: str) -> WsgiResponse:
        served = tracks.served_file(file_name)
        if served is None:
            abort(404, description="no such audio file")
        return audio_response(served)

    @blueprint.get(f"{ART_ROUTE}/<path:file_name>")
    def serve_art(file_name: str) -> WsgiResponse:
        served = artwork.served_file(file_name) if artwork is not None else None
        if served is None:
            abort(404, description="no such image")
        return audio_response(served, PNG_MIMETYPE)

    return blueprint


def audio_response(served: ServedFile, mimetype: str = MP3_MIMETYPE) -> WsgiResponse:
    environ = range_environ(request.environ)
    versioned = request.args.get(VERSION_PARAM) == served.sha256[:VERSION_CHARS]
    try:
        response = send_file(
            served.path,
            environ,
            mimetype=mimetype,
            conditional=True,
            etag=served.sha256,
            max_age=VERSIONED_MAX_AGE_S if versioned else UNVERSIONED_MAX_AGE_S,
            response_class=current_app.response_class,
        )
    except RequestedRangeNotSatisfiable:
        return range_not_satisfiable(served)
    response.cache_control.immutable = versioned
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def range_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The WSGI environ send_file should see: without a Range header it would only reject."""
    header = environ.get("HTTP_RANGE")
    if header is None:
        return environ
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return {key: value for key, value in environ.items() if key != "HTTP_RANGE"}
    return environ


def range_not_satisfiable(served: ServedFile) -> Response:
    size = served.path.stat().st_size
    response = current_app.response_class(status=416)
    response.headers["Content-Range"] = f"bytes */{size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.set_etag(served.sha256)
    return response
