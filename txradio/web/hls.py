# -*- test-case-name: tests.test_web_hls -*-
"""
HLS on the web site: for every mount that has it,

 - C{/MOUNT.m3u8}: the live media playlist (a sliding window of segments);
 - C{/MOUNT/hls/N.mp3}: segment number C{N}, packed audio;
 - C{/MOUNT/master.m3u8}: a master playlist listing the mount and the mounts
   derived from it (or from which it is derived) as variants.

Segments never change once listed: they are served with a long
C{max-age}, C{immutable} and a strong C{ETag}, and answer 404 once they are
gone.  Playlists change every segment: C{max-age} is half a target
duration.  Everything is served from memory, built once per mount (never per
client), with CORS open to every origin.  Any HTTP cache or CDN in front
then costs the server about one request per segment per variant, however
many clients listen (see C{docs/hls.md}).

HLS listeners are counted as I{sessions}: distinct client address and
C{User-Agent} pairs that fetched a playlist or a segment of the mount within
the last three target durations (a player reloads its playlist about every
target duration).  A session that fetched nothing for that long has ended:
the station's events then carry an L{HLSSessionEnded}, which the audience
statistics keep with the protocol C{hls}.  No token goes into segment URIs: a token would make every
client's URIs different and defeat every cache, which is the point of HLS.
Behind a cache, the server sees the cache, so it counts caches, not
listeners: count those in the cache's own logs.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import IStation
from txradio.stream.events import HLS_IDLE, STATION_STOPPED, HLSSessionEnded
from txradio.stream.segmenter import (
    DEFAULT_GAP_THRESHOLD,
    DEFAULT_TARGET_DURATION,
    DEFAULT_WINDOW,
    Segmenter,
)
from txradio.web.status import PreflightMixin
from txradio.wire.hls import (
    PLAYLIST_TYPE,
    SEGMENT_TYPE,
    Variant,
    masterPlaylist,
    mediaPlaylist,
)

SEGMENT_CACHE_CONTROL = b"public, max-age=86400, immutable"
"""How long caches may keep a segment: a day (it never changes)."""

MAX_SESSIONS = 100000
"""The most HLS sessions remembered per mount (memory stays bounded)."""

SESSION_TARGETS = 3
"""Target durations without a request after which an HLS session has ended
(a player reloads its playlist about every target duration)."""

_SEGMENTS = b"/hls/"


@dataclass(frozen=True)
class HLSSettings:
    """
    How a radio serves HLS.

    @ivar enabled: serve HLS for the mounts that do not opt out (a station
        opts out with a false C{hls} attribute).
    @ivar targetDuration: seconds a segment lasts.
    @ivar windowSegments: segments a live playlist lists.
    @ivar gapThreshold: seconds the stream may drift from the wall clock
        before it counts as a break in time (a discontinuity).
    """

    enabled: bool = True
    targetDuration: int = DEFAULT_TARGET_DURATION
    windowSegments: int = DEFAULT_WINDOW
    gapThreshold: float = DEFAULT_GAP_THRESHOLD


class SessionCounter:
    """
    Counts clients seen recently, by a key such as address and user agent,
    and tells when each one's session ended: L{window} seconds after its
    last request, or when L{limit} more recent clients push it out.

    @ivar window: seconds a client counts after its last request.
    @ivar limit: the most keys remembered; the oldest go first.
    """

    def __init__(
        self,
        clock: IReactorTime,
        window: float,
        limit: int = MAX_SESSIONS,
        ended: Callable[[Any, float, float, bool], None] | None = None,
    ) -> None:
        """
        @param clock: the time.
        @param window: seconds a client counts after its last request.
        @param limit: the most keys remembered.
        @param ended: called with a session's key, the times of its first
            and last requests, and whether it ended idle (C{False} when it
            was pushed out or ended by L{endAll}).
        """
        self._clock = clock
        self.window = window
        self.limit = limit
        self._ended = ended
        # Key to (first request, last request), least recently seen first.
        self._seen: OrderedDict[Any, tuple[float, float]] = OrderedDict()

    def seen(self, key: Any) -> None:
        """
        Note a request from a client.

        @param key: what tells clients apart.
        """
        now = self._clock.seconds()
        first = now
        known = self._seen.pop(key, None)
        if known is not None:
            if known[1] < now - self.window:
                self._end(key, known, True)
            else:
                first = known[0]
        self._seen[key] = (first, now)
        while len(self._seen) > self.limit:
            self._end(*self._seen.popitem(last=False), False)
        self.expire()

    def expire(self) -> None:
        """
        End the sessions idle for longer than L{window} seconds.
        """
        horizon = self._clock.seconds() - self.window
        seen = self._seen
        while seen:
            key, times = next(iter(seen.items()))
            if times[1] >= horizon:
                break
            del seen[key]
            self._end(key, times, True)

    def endAll(self) -> None:
        """
        End every session (the mount stops serving HLS).
        """
        while self._seen:
            self._end(*self._seen.popitem(last=False), False)

    def _end(self, key: Any, times: tuple[float, float], idle: bool) -> None:
        """
        Tell that a session ended.
        """
        if self._ended is not None:
            self._ended(key, times[0], times[1], idle)

    def count(self) -> int:
        """
        @return: the clients seen within L{window} seconds.
        """
        self.expire()
        return len(self._seen)


def _relative(target: str, fromDocument: str) -> str:
    """
    A relative reference from one path to another, so that playlists work
    whatever host or path prefix (a proxy's) they are reached by.

    @param target: an absolute path, e.g. C{"/stream/hls/7.mp3"}.
    @param fromDocument: the absolute path of the document linking to it.
    @return: e.g. C{"stream/hls/7.mp3"}.
    """
    return posixpath.relpath(target, posixpath.dirname(fromDocument) or "/")


def _matches(request: Request, etag: bytes) -> bool:
    """
    Tell whether a request's C{If-None-Match} names an entity tag (weak
    comparison, as RFC 9110 prescribes for it).

    @param request: the request.
    @param etag: the current tag, quotes included.
    @return: L{True} when the client already holds this entity.
    """
    header = request.getHeader(b"if-none-match")
    if not header:
        return False
    if isinstance(header, str):
        header = header.encode("latin-1")
    wanted = etag.removeprefix(b"W/")
    for tag in header.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == wanted:
            return True
    return False


def _entityTag(body: bytes) -> bytes:
    """
    A strong entity tag for a body.

    @param body: the bytes served.
    @return: a short hash of them, in quotes.
    """
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode("ascii") + b'"'


def _send(request: Request, body: bytes, contentType: bytes, etag: bytes, cacheControl: bytes) -> bytes:
    """
    Answer with a body from memory, or 304 when the client holds it.

    @return: the body, or nothing for a 304.
    """
    request.setHeader(b"access-control-allow-origin", b"*")
    request.setHeader(b"cache-control", cacheControl)
    request.setHeader(b"etag", etag)
    if _matches(request, etag):
        request.setResponseCode(http.NOT_MODIFIED)
        return b""
    request.setHeader(b"content-type", contentType)
    return body


def _notFound(request: Request, message: str) -> bytes:
    """
    Answer 404, which caches must not keep (the thing may exist soon).

    @return: the body.
    """
    request.setResponseCode(http.NOT_FOUND)
    request.setHeader(b"access-control-allow-origin", b"*")
    request.setHeader(b"cache-control", b"no-cache")
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return message.encode("utf-8") + b"\n"


class HLSMount:
    """
    One mount's HLS: its segmenter, its playlists (built once per segment)
    and its request and session counts.

    @ivar station: the L{txradio.stream.station.Station}.
    @ivar segmenter: the L{Segmenter} cutting its stream.
    @ivar path: the mount path as text, e.g. C{"/stream"}.
    @ivar playlistPath: C{"/stream.m3u8"}.
    @ivar masterPath: C{"/stream/master.m3u8"}.
    @ivar sessions: the L{SessionCounter} of its HLS listeners.
    @ivar segmentRequests: requests that reached a segment, by sequence
        number, for the segments still kept.
    @ivar playlistRequests: requests for its media playlist.
    """

    def __init__(self, station, segmenter: Segmenter, clock: IReactorTime) -> None:
        """
        @param station: the station.
        @param segmenter: its segmenter.
        @param clock: the time, for session counting.
        """
        self.station = station
        self.segmenter = segmenter
        self.path = station.mount.decode("ascii")
        self.playlistPath = self.path + ".m3u8"
        self.masterPath = self.path + "/master.m3u8"
        self.sessions = SessionCounter(clock, SESSION_TARGETS * segmenter.targetDuration, ended=self._sessionEnded)
        self.segmentRequests: dict[int, int] = {}
        self.playlistRequests = 0
        self._segmentPrefix = _relative(self.path + "/hls", self.playlistPath) + "/"
        self._cachedAt = -1
        self._playlist = b""
        self._playlistTag = b""

    @property
    def maxAge(self) -> int:
        """
        Seconds a playlist may be cached: half a target duration, at least
        one.
        """
        return max(1, self.segmenter.targetDuration // 2)

    def segmentPath(self, sequence: int) -> str:
        """
        @param sequence: a segment's number.
        @return: its absolute path, e.g. C{"/stream/hls/7.mp3"}.
        """
        return f"{self.path}/hls/{sequence}.mp3"

    def playlist(self) -> tuple[bytes, bytes] | None:
        """
        The media playlist, rebuilt only when a segment was added.

        @return: C{(text, etag)}, or L{None} before the first segment.
        """
        segmenter = self.segmenter
        if not segmenter.segments:
            return None
        if self._cachedAt != segmenter.generation:
            window = segmenter.window()
            prefix = self._segmentPrefix
            text = mediaPlaylist(
                window,
                segmenter.targetDuration,
                lambda segment: f"{prefix}{segment.sequence}.mp3",
                segmenter.discontinuitySequence(window),
            )
            self._playlist = text.encode("utf-8")
            self._playlistTag = _entityTag(self._playlist)
            self._cachedAt = segmenter.generation
            oldest = segmenter.segments[0].sequence
            for sequence in [s for s in self.segmentRequests if s < oldest]:
                del self.segmentRequests[sequence]
        return self._playlist, self._playlistTag

    def variant(self, fromDocument: str) -> Variant:
        """
        Describe this mount as a variant of a master playlist.

        @param fromDocument: the master playlist's path, for a relative URI.
        @return: the L{Variant}; its bandwidth is measured from the segments
            kept, or taken from the mount's nominal bitrate before any.
        """
        measured = self.segmenter.bandwidth()
        if measured is not None:
            peak, average = measured
            return Variant(_relative(self.playlistPath, fromDocument), -(-peak // 1000) * 1000, average)
        kbps = self.station.currentInfo.bitrate or self.station.broadcaster.bitrate or 128
        return Variant(_relative(self.playlistPath, fromDocument), kbps * 1000)

    def noteClient(self, request: Request) -> None:
        """
        Count the client behind a request as an HLS session.

        @param request: a playlist or segment request.
        """
        address = request.getClientAddress()
        # An IAddress has no common fields: a UNIX socket's has no host.
        host = getattr(address, "host", str(address))
        self.sessions.seen((host, request.getHeader(b"user-agent") or b""))

    def _sessionEnded(self, key: tuple[str, bytes], first: float, last: float, idle: bool) -> None:
        """
        Tell the station's observers (the audience statistics among them)
        that an HLS session ended: it lasted from its first request to the
        end of the segment its last request could fetch.

        @param key: the client's address and C{User-Agent}.
        @param first: when its first request came.
        @param last: when its last request came.
        @param idle: whether it stopped fetching (or the mount stopped).
        """
        host, agent = key
        end = last + self.segmenter.targetDuration
        self.station.events.emit(
            HLSSessionEnded(
                self.station,
                end,
                host,
                agent.decode("utf-8", "replace"),
                HLS_IDLE if idle else STATION_STOPPED,
                end - first,
            )
        )

    def status(self, base: str) -> dict[str, Any]:
        """
        What the status API says about this mount's HLS.

        @param base: the absolute URL prefix.
        @return: a JSON-ready dictionary.
        """
        window = self.segmenter.window()
        return {
            "playlistURL": base + self.playlistPath,
            "masterURL": base + self.masterPath,
            "sessions": self.sessions.count(),
            "targetDuration": self.segmenter.targetDuration,
            "segments": len(window),
            "mediaSequence": window[0].sequence if window else None,
        }


class _MountResource(PreflightMixin, Resource):
    """
    A resource serving one mount's HLS (a leaf): its playlists and segments.

    @ivar mount: the mount's L{HLSMount}.
    """

    isLeaf = True

    def __init__(self, mount: HLSMount) -> None:
        """
        @param mount: the mount's HLS.
        """
        Resource.__init__(self)
        self.mount = mount


class MediaPlaylistResource(_MountResource):
    """
    C{/MOUNT.m3u8}: a mount's live media playlist.
    """

    def render_GET(self, request: Request) -> bytes:
        """
        Serve the playlist.

        @param request: the request.
        @return: the playlist text.
        """
        mount = self.mount
        mount.playlistRequests += 1
        mount.noteClient(request)
        built = mount.playlist()
        if built is None:
            # The first segment is not cut yet (a few seconds after start):
            # a live playlist with no segment, which players reload, rather
            # than a 404 that many of them take as the end.
            body = mediaPlaylist([], mount.segmenter.targetDuration, str).encode("utf-8")
            return _send(request, body, PLAYLIST_TYPE, _entityTag(body), b"no-cache")
        body, etag = built
        return _send(request, body, PLAYLIST_TYPE, etag, b"public, max-age=%d" % mount.maxAge)


class MasterPlaylistResource(_MountResource):
    """
    C{/MOUNT/master.m3u8}: the mount and its derived mounts as variants.
    """

    isLeaf = True

    def __init__(self, mount: HLSMount, family) -> None:
        """
        @param mount: the mount's HLS.
        @param family: a callable returning the L{HLSMount}s to list, this
            one first.
        """
        Resource.__init__(self)
        self.mount = mount
        self._family = family

    def render_GET(self, request: Request) -> bytes:
        """
        Serve the master playlist.

        @param request: the request.
        @return: the playlist text.
        """
        variants = [member.variant(self.mount.masterPath) for member in self._family()]
        body = masterPlaylist(variants).encode("utf-8")
        etag = _entityTag(body)
        return _send(request, body, PLAYLIST_TYPE, etag, b"public, max-age=%d" % self.mount.segmenter.targetDuration)


class SegmentResource(_MountResource):
    """
    C{/MOUNT/hls/N.mp3}: a mount's segments, from memory.
    """

    def render_GET(self, request: Request) -> bytes:
        """
        Serve the segment the path names.

        @param request: the request.
        @return: the segment's bytes, or a 404 page.
        """
        mount = self.mount
        name = request.path.rpartition(b"/")[2]
        number, _, extension = name.partition(b".")
        if extension != b"mp3" or not number.isdigit() or len(number) > 20:
            return _notFound(request, "no such segment")
        sequence = int(number)
        segment = mount.segmenter.segment(sequence)
        if segment is None:
            return _notFound(request, "this segment is gone or not made yet")
        mount.segmentRequests[sequence] = mount.segmentRequests.get(sequence, 0) + 1
        mount.noteClient(request)
        return _send(request, segment.data, SEGMENT_TYPE, segment.etag, SEGMENT_CACHE_CONTROL)


def _wantsHLS(station: IStation) -> bool:
    """
    Tell whether a station serves HLS (it opts out with C{hls = False}).
    """
    return bool(station.hls)


def relatedStations(station: IStation) -> list[IStation]:
    """
    The stations playing the same programme as C{station} at other
    bitrates (those a master playlist lists beside it): the mount it is
    derived from and every mount derived from that one.

    @param station: a station; derived mounts are found through its
        C{derivedFrom} and C{derived} attributes.
    @return: the family, its root first.
    """
    root = station
    seen = {id(root)}
    while root.derivedFrom is not None and id(root.derivedFrom) not in seen:
        root = root.derivedFrom
        seen.add(id(root))
    family = [root]
    for member in root.derived:
        if all(member is not known for known in family):
            family.append(member)
    return family


class _SessionSweep(TimerService):
    """
    Ends the idle HLS sessions of a site every target duration, and all of
    them when it stops.
    """

    def __init__(self, routes: HLSRoutes) -> None:
        """
        @param routes: the site's HLS routes.
        """
        TimerService.__init__(self, routes.settings.targetDuration, routes.expireSessions)
        self._routes = routes

    def stopService(self) -> Deferred[None]:
        """
        End every session, then stop the timer.
        """
        self._routes.endSessions()
        return TimerService.stopService(self)


class HLSRoutes:
    """
    The HLS side of a site: an L{HLSMount} per station that has HLS, the
    resources the site routes to, and a service running the segmenters.

    @ivar mounts: mount path (L{bytes}) to L{HLSMount}.
    @ivar service: a L{MultiService} of the segmenters; run it with the
        radio.
    @ivar settings: the L{HLSSettings}.
    """

    def __init__(self, stations: Sequence, clock: IReactorTime, settings: HLSSettings | None = None) -> None:
        """
        @param stations: the stations.
        @param clock: the wall clock.
        @param settings: how to serve HLS; the defaults when L{None}.
        """
        self.settings = settings if settings is not None else HLSSettings()
        self.service = MultiService()
        self.service.setName("hls")
        self.mounts: dict[bytes, HLSMount] = {}
        self._segments: dict[bytes, SegmentResource] = {}
        self._paths: dict[bytes, Resource] = {}
        self._clock = clock
        sweep = _SessionSweep(self)
        sweep.clock = clock
        sweep.setName("hls-sessions")
        sweep.setServiceParent(self.service)
        for station in stations:
            self.addStation(station)

    def expireSessions(self) -> None:
        """
        End the HLS sessions that fetched nothing for a while (every
        target duration, whether requests come or not).
        """
        for mount in list(self.mounts.values()):
            mount.sessions.expire()

    def endSessions(self) -> None:
        """
        End every HLS session (the radio stops: they are recorded before
        the statistics close).
        """
        for mount in list(self.mounts.values()):
            mount.sessions.endAll()

    def addStation(self, station) -> None:
        """
        Serve HLS for a station, if the settings and the station want it.

        @param station: the station.
        """
        if not self.settings.enabled or not _wantsHLS(station) or station.mount in self.mounts:
            return
        segmenter = Segmenter(
            station.broadcaster,
            clock=self._clock,
            targetDuration=self.settings.targetDuration,
            windowSegments=self.settings.windowSegments,
            gapThreshold=self.settings.gapThreshold,
            name=station.mount.decode("ascii"),
        )
        segmenter.setName(station.mount.decode("ascii"))
        segmenter.setServiceParent(self.service)
        mount = HLSMount(station, segmenter, self._clock)
        self.mounts[station.mount] = mount
        self._segments[station.mount] = SegmentResource(mount)
        self._paths[station.mount + b".m3u8"] = MediaPlaylistResource(mount)
        self._paths[station.mount + b"/master.m3u8"] = MasterPlaylistResource(
            mount, lambda station=station: self.family(station)
        )

    def removeStation(self, station) -> None:
        """
        Stop serving HLS for a station: its segmenter stops and its
        playlists and segments go.

        @param station: the station.
        """
        mount = self.mounts.pop(station.mount, None)
        if mount is None:
            return
        self._segments.pop(station.mount, None)
        self._paths.pop(station.mount + b".m3u8", None)
        self._paths.pop(station.mount + b"/master.m3u8", None)
        mount.segmenter.disownServiceParent()
        mount.sessions.endAll()

    def family(self, station) -> list[HLSMount]:
        """
        The HLS mounts a station's master playlist lists: the station
        first, then its relatives that serve HLS.

        @param station: the station.
        @return: L{HLSMount}s.
        """
        own = self.mounts[station.mount]
        members = [own]
        for relative in relatedStations(station):
            mount = relative if isinstance(relative, (bytes, str)) else relative.mount
            if isinstance(mount, str):
                mount = mount.encode("ascii")
            found = self.mounts.get(mount)
            if found is not None and found is not own:
                members.append(found)
        return members

    def paths(self) -> dict[bytes, Resource]:
        """
        @return: the playlists' resources by their full paths.
        """
        return dict(self._paths)

    def resourceFor(self, path: bytes) -> Resource | None:
        """
        Find the resource for a segment path.

        @param path: a request's path, e.g. C{b"/stream/hls/7.mp3"}.
        @return: the mount's L{SegmentResource}, or L{None}.
        """
        mount, found, rest = path.rpartition(_SEGMENTS)
        if not found or b"/" in rest:
            return None
        return self._segments.get(mount)
