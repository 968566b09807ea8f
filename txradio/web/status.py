# -*- test-case-name: tests.test_web_status -*-
"""
What the web side says about the stations: plain dictionaries built from a
station's state, the JSON replies made of them, and the Icecast-shaped
C{/status-json.xsl} document that existing widgets and monitoring scripts
read.

Every value is built as Python data and encoded with L{json.dumps}; nothing
here builds JSON from strings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio._version import __version__
from txradio.interfaces import IEncoder, IStation
from txradio.web.upcoming import programmeStatus
from txradio.wire.icy import cleanTitle
from txradio.wire.request import isValidHost

SERVER_ID = f"txradio {__version__}"
"""What C{server_id} and the C{Server} header call this server."""

STREAM_TYPE = "audio/mpeg"
"""The content type of every mount's stream."""

_CORS_METHODS = b"GET, HEAD, OPTIONS"


@dataclass
class WebContext:
    """
    What every resource of the site shares.

    @ivar stations: the stations, the default first.
    @ivar clock: the reactor's time; C{seconds()} is wall-clock time in
        production (it dates history entries and start times).
    @ivar publicURL: a configured base URL, or L{None} to use each request's
        C{Host}.
    @ivar startedAt: when the site was built, in the clock's seconds.
    @ivar libraryEnabled: whether C{/library/} is served.
    @ivar art: the album art's L{txradio.library.art.ArtCache}, or L{None}.
    @ivar hls: mount path to its L{txradio.web.hls.HLSMount}, for the mounts
        that serve HLS.
    """

    stations: list[IStation]
    clock: IReactorTime
    publicURL: str | None = None
    startedAt: float = 0.0
    libraryEnabled: bool = False
    byMount: dict[bytes, IStation] = field(init=False)
    hls: dict[bytes, Any] = field(default_factory=dict)
    art: Any = None

    def __post_init__(self) -> None:
        self.byMount = {station.mount: station for station in self.stations}

    def station(self, mount: str | bytes) -> IStation | None:
        """
        Find a station by its mount.

        @param mount: e.g. C{"/stream"} or C{"stream"}.
        @return: the station or L{None}.
        """
        if isinstance(mount, str):
            mount = mount.encode("utf-8", "replace")
        if not mount.startswith(b"/"):
            mount = b"/" + mount
        return self.byMount.get(mount)


def baseURL(request: Request, publicURL: str | None = None) -> str:
    """
    Work out the absolute URL prefix clients reach this server by.

    @param request: the request being answered.
    @param publicURL: a configured base URL (for servers behind a proxy),
        which wins when given.
    @return: e.g. C{"http://radio.example:8000"}, without a trailing slash.
    """
    if publicURL:
        return publicURL.rstrip("/")
    scheme = "https" if request.isSecure() else "http"
    host = request.getHeader(b"host")
    if host is not None and isValidHost(host.encode("latin-1") if isinstance(host, str) else host):
        hostText = host.decode("ascii") if isinstance(host, bytes) else host
    else:
        address = request.getHost()
        hostText = f"[{address.host}]" if ":" in address.host else address.host
        hostText = f"{hostText}:{address.port}"
    return f"{scheme}://{hostText}"


def isoTime(seconds: float | None, icecast: bool = False) -> str | None:
    """
    Format a time for JSON.

    @param seconds: seconds since the epoch, or L{None}.
    @param icecast: use Icecast's form (C{2024-05-01T12:00:00+0000}) instead
        of RFC 3339's (C{2024-05-01T12:00:00Z}).
    @return: the time in UTC, or L{None}.
    """
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000" if icecast else "%Y-%m-%dT%H:%M:%SZ")


def _httpTime(seconds: float | None) -> str | None:
    """
    Format a time as Icecast's C{server_start} does (RFC 1123).

    @param seconds: seconds since the epoch, or L{None}.
    @return: e.g. C{"Wed, 01 May 2024 12:00:00 +0000"}.
    """
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def displayTitle(title: str | None) -> str | None:
    """
    Clean a title for a page or a JSON reply.

    @param title: the title as the broadcaster has it (from tags, a source or
        the admin), or L{None}.
    @return: the cleaned title, or L{None} when there is none.
    """
    if title is None:
        return None
    return cleanTitle(title) or None


def stationBitrate(station: IStation) -> int | None:
    """
    The bitrate to show for a station: the announced one, else the one
    measured from its audio.

    @param station: the station.
    @return: kbps, or L{None} when not known yet.
    """
    return station.currentInfo.bitrate or station.broadcaster.bitrate


def isLive(station: IStation) -> bool:
    """
    Tell whether a live source client is on the air on a station.

    @param station: the station.
    @return: L{True} while a connected source plays.
    """
    live = station.liveSource
    return live is not None and bool(live.onAir)


def liveDJ(station: IStation) -> str | None:
    """
    The DJ on the air on a station: the show's name.

    @param station: the station.
    @return: the DJ account's name, or L{None} when no DJ is on the air.
    """
    dj = station.liveDJ
    return dj if dj and isLive(station) else None


def summary(station: IStation, hls: Any = None) -> dict[str, Any]:
    """
    The few facts that change while a station plays; what the live page
    shows and C{/events} pushes.

    @param station: the station.
    @param hls: the mount's L{txradio.web.hls.HLSMount}, or L{None}.
    @return: a JSON-ready dictionary; C{listeners} counts ICY listeners,
        C{hlsListeners} HLS sessions (L{None} without HLS).
    """
    info = station.currentInfo
    return {
        "mount": station.mount.decode("ascii"),
        "name": info.name,
        "description": info.description,
        "title": displayTitle(station.broadcaster.title),
        "listeners": station.listenerCount,
        "hlsListeners": hls.sessions.count() if hls is not None else None,
        "peak": station.peakListeners,
        "bitrate": stationBitrate(station),
        "onAir": bool(station.onAir),
        "live": isLive(station),
        "dj": liveDJ(station),
    }


def mountStatus(station: IStation, base: str, now: float, hls: Any = None) -> dict[str, Any]:
    """
    Everything the API tells about one mount.

    @param station: the station.
    @param base: the absolute URL prefix, e.g. C{"http://radio:8000"}.
    @param now: the time now, in the clock's seconds.
    @param hls: the mount's L{txradio.web.hls.HLSMount}, or L{None} when it
        serves no HLS.
    @return: a JSON-ready dictionary; see C{docs/api.md}.
    """
    info = station.currentInfo
    mount = station.mount.decode("ascii")
    broadcaster = station.broadcaster
    started = broadcaster.startedAt
    return {
        "mount": mount,
        "name": info.name,
        "description": info.description,
        "genre": info.genre,
        "url": info.url,
        "public": info.public,
        "onAir": bool(station.onAir),
        "live": isLive(station),
        "dj": liveDJ(station),
        "title": displayTitle(broadcaster.title),
        "listeners": station.listenerCount,
        "peakListeners": station.peakListeners,
        "totalListeners": station.totalListeners,
        "maxListeners": station.maxListeners,
        "bitrate": stationBitrate(station),
        "contentType": STREAM_TYPE,
        "streamURL": base + mount,
        "playlists": {kind: f"{base}{mount}.{kind}" for kind in ("m3u", "pls", "xspf")},
        "startedAt": isoTime(started),
        "uptime": round(now - started, 3) if started is not None else None,
        "bytesSent": broadcaster.bytesSent,
        "listenerBytesSent": sum(listener.bytesSent for listener in broadcaster.listeners),
        **formatStatus(station, base),
        "hls": hls.status(base) if hls is not None else None,
        **programmeStatus(station, isoTime),
    }


def formatStatus(station: IStation, base: str) -> dict[str, Any]:
    """
    What a mount promises about its format, which mounts re-encode it, and
    its encoder's state.

    @param station: the station.
    @param base: the absolute URL prefix.
    @return: C{format} (e.g. C{"44100/2/64k"}, or L{None} when frames play
        as they come), C{derivedFrom} (the parent mount, or L{None}),
        C{derived} (C{{"mount", "bitrate", "streamURL"}} for each mount that
        re-encodes this one) and C{encoder} (L{None} when the mount never
        encodes, else its policy, whether an encoder runs now, runs started,
        restarts and frames dropped).
    """
    audioFormat = station.audioFormat
    parent = station.derivedFrom
    coder = station.conformer
    if coder is None and parent is not None and IEncoder.providedBy(station.programme):
        coder = station.programme
    encoder = None
    if coder is not None:
        encoder = {
            "policy": coder.policy if coder.encoderAvailable or coder.policy == "always" else "skip",
            "running": coder.encoding,
            "runs": coder.runs,
            "restarts": coder.restarts,
            "framesDropped": coder.framesDropped,
        }
    return {
        "format": str(audioFormat) if audioFormat is not None else None,
        "derivedFrom": parent.mount.decode("ascii") if parent is not None else None,
        "derived": [
            {
                "mount": child.mount.decode("ascii"),
                "bitrate": child.audioFormat.bitrate if child.audioFormat is not None else None,
                "streamURL": base + child.mount.decode("ascii"),
            }
            for child in station.derived
        ],
        "encoder": encoder,
    }


def titleHistory(station: IStation) -> list[dict[str, Any]]:
    """
    The titles a station played recently, the most recent first.

    @param station: the station.
    @return: C{{"title": …, "startedAt": …}} dictionaries.
    """
    history = station.broadcaster.history
    return [
        {"title": displayTitle(title), "startedAt": isoTime(when)}
        for when, title in reversed(history)
        if displayTitle(title)
    ]


def icecastSource(station: IStation, base: str) -> dict[str, Any]:
    """
    One entry of C{icestats.source}, with the keys Icecast 2.4 uses.

    @param station: the station.
    @param base: the absolute URL prefix.
    @return: a JSON-ready dictionary.
    """
    info = station.currentInfo
    bitrate = stationBitrate(station)
    started = station.broadcaster.startedAt
    title = displayTitle(station.broadcaster.title) or ""
    return {
        "audio_info": f"bitrate={bitrate}" if bitrate else "",
        "bitrate": bitrate,
        "genre": info.genre,
        "listener_peak": station.peakListeners,
        "listeners": station.listenerCount,
        "listenurl": base + station.mount.decode("ascii"),
        "server_description": info.description,
        "server_name": info.name,
        "server_type": STREAM_TYPE,
        "server_url": info.url,
        "stream_start": _httpTime(started),
        "stream_start_iso8601": isoTime(started, icecast=True),
        "title": title,
        "yp_currently_playing": title,
        "dummy": None,
        # Icecast has no field for a DJ: txradio adds one while a DJ is on.
        **({"dj": dj} if (dj := liveDJ(station)) else {}),
    }


def icestats(context: WebContext, base: str, host: str) -> dict[str, Any]:
    """
    Build Icecast's status document.

    As Icecast does, only mounts with a source on the air are listed, and
    C{source} is an object for one mount, a list for several, and absent
    for none.

    @param context: the site's shared state.
    @param base: the absolute URL prefix.
    @param host: the server's host name as clients reach it.
    @return: C{{"icestats": {…}}}.
    """
    stats: dict[str, Any] = {
        "admin": "",
        "host": host,
        "location": "",
        "server_id": SERVER_ID,
        "server_start": _httpTime(context.startedAt),
        "server_start_iso8601": isoTime(context.startedAt, icecast=True),
    }
    sources = [icecastSource(station, base) for station in context.stations if station.onAir]
    if len(sources) == 1:
        stats["source"] = sources[0]
    elif sources:
        stats["source"] = sources
    return {"icestats": stats}


def encodeJSON(value: Any) -> bytes:
    """
    Encode a value as compact UTF-8 JSON.

    @param value: JSON-ready data.
    @return: the document, with a final newline.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def allowCORS(request: Request) -> None:
    """
    Let pages on any origin read this response (public data only).

    @param request: the request being answered.
    """
    request.setHeader(b"access-control-allow-origin", b"*")


def renderJSON(request: Request, value: Any, code: int = http.OK, cors: bool = True) -> bytes:
    """
    Set the headers of a JSON reply and encode its body.

    @param request: the request.
    @param value: JSON-ready data.
    @param code: the status code.
    @param cors: whether any origin may read it (never for admin replies).
    @return: the body.
    """
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-cache")
    request.setHeader(b"x-content-type-options", b"nosniff")
    if cors:
        allowCORS(request)
    return encodeJSON(value)


def renderPreflight(request: Request) -> bytes:
    """
    Answer a CORS preflight for a read-only public resource.

    @param request: the C{OPTIONS} request.
    @return: an empty body (204).
    """
    request.setResponseCode(http.NO_CONTENT)
    allowCORS(request)
    request.setHeader(b"access-control-allow-methods", _CORS_METHODS)
    request.setHeader(b"access-control-allow-headers", b"Range, Icy-MetaData")
    request.setHeader(b"access-control-max-age", b"86400")
    request.setHeader(b"allow", _CORS_METHODS)
    return b""


class PreflightMixin:
    """
    Answers CORS preflights (C{OPTIONS}) for a read-only public resource;
    mixed in before L{Resource}.
    """

    def render_OPTIONS(self, request: Request) -> bytes:
        """
        Answer a CORS preflight; see L{renderPreflight}.

        @param request: the request.
        @return: an empty body.
        """
        return renderPreflight(request)


class JSONResource(PreflightMixin, Resource):
    """
    A read-only public JSON document: C{GET}, C{HEAD} and CORS preflight.

    Subclasses implement L{data}.
    """

    isLeaf = True

    def __init__(self, context: WebContext) -> None:
        """
        @param context: the site's shared state.
        """
        Resource.__init__(self)
        self.context = context

    def data(self, request: Request) -> tuple[int, Any]:
        """
        Build the document.

        @param request: the request.
        @return: C{(status code, JSON-ready value)}.
        """
        raise NotImplementedError()

    def render_GET(self, request: Request) -> bytes:
        """
        Answer with the document.

        @param request: the request.
        @return: the JSON body.
        """
        code, value = self.data(request)
        return renderJSON(request, value, code)

    render_HEAD = render_GET


def requestHost(request: Request, base: str) -> str:
    """
    The host name (without port) clients reach the server by.

    @param request: the request.
    @param base: the absolute URL prefix worked out for it.
    @return: e.g. C{"radio.example"}.
    """
    return urlsplit(base).hostname or ""


class IcecastStatusResource(JSONResource):
    """
    C{/status-json.xsl}: the stations in Icecast's shape.
    """

    def data(self, request: Request) -> tuple[int, Any]:
        """
        Build C{icestats}.

        @param request: the request.
        @return: 200 and the document.
        """
        base = baseURL(request, self.context.publicURL)
        return http.OK, icestats(self.context, base, requestHost(request, base))


def stationsSummary(stations: Sequence[IStation]) -> list[dict[str, Any]]:
    """
    The L{summary} of every station.

    @param stations: the stations.
    @return: their summaries, in order.
    """
    return [summary(station) for station in stations]
