# -*- test-case-name: tests.test_listener,tests.test_source,tests.test_service -*-
"""
A station: one mount point with its stream info, broadcaster and limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IEncoder, IFrameSource, ILiveSource, IStation
from txradio.stream.broadcast import DEFAULT_BURST, DEFAULT_TICK, Broadcaster, Chunk
from txradio.stream.events import SOURCE_LEFT, EventBus, MetadataUpdated, SourceDisconnected, StationStats, TitleChanged
from txradio.stream.listener import DEFAULT_LAG_LIMIT, Listener
from txradio.stream.switcher import MountFollower, Switcher
from txradio.wire.audioformat import AudioFormat
from txradio.wire.icy import DEFAULT_METAINT, StreamInfo, responseHead

DEFAULT_MOUNT = b"/stream"


def normalizeMount(mount: str | bytes) -> bytes:
    """
    Turn a mount name into the path listeners request.

    @param mount: e.g. C{"stream"}, C{"/stream"} or C{b"/live"}.
    @return: the path as L{bytes}, with one leading slash.
    @raise ValueError: for an empty mount, one with a query, a fragment,
        white space, control characters or C{..} segments, or a name that ends
        in a playlist extension (which would hide the station's playlists).
    """
    if isinstance(mount, bytes):
        mount = mount.decode("ascii", "replace")
    path = "/" + mount.strip("/")
    if path == "/":
        raise ValueError("a mount needs a name, such as /stream")
    if any(c in path for c in "?#%\\ \t") or any(ord(c) < 0x21 or ord(c) > 0x7E for c in path):
        raise ValueError(f"mount {mount!r} may hold only printable ASCII without ?, #, % or spaces")
    if ".." in path.split("/") or "." in path.split("/"):
        raise ValueError(f"mount {mount!r} may not contain . or .. segments")
    if path.endswith((".m3u", ".pls", ".xspf", ".m3u8")):
        raise ValueError(f"mount {mount!r} may not end in a playlist extension")
    return path.encode("ascii")


_LIVE, _PROGRAMME, _FALLBACK = range(3)


def _connected(source: IFrameSource) -> bool:
    """
    Tell whether a live source still has its client.

    @param source: the live slot's source: an L{ILiveSource}, or any
        L{IFrameSource} (then on the air counts as connected).
    @return: L{True} while its client is connected.
    """
    return bool(source.connected) if ILiveSource.providedBy(source) else bool(source.onAir)

FALLBACK_SLOT = _FALLBACK
"""The switcher slot of a station's fallback (after live and programme)."""


@dataclass(frozen=True, slots=True)
class StationLimits:
    """
    How a station serves its listeners: the settings that travel together
    from its mount's configuration (a reload replaces them at once).

    @ivar metaint: audio bytes between metadata blocks for listeners that ask.
    @ivar maxListeners: the most listeners at once, or L{None} for no limit.
    @ivar lagLimit: bytes a stalled listener may fall behind before it is
        dropped.
    @ivar legacyStatus: answer C{ICY 200 OK} instead of C{HTTP/1.0 200 OK}.
    """

    metaint: int = DEFAULT_METAINT
    maxListeners: int | None = None
    lagLimit: int = DEFAULT_LAG_LIMIT
    legacyStatus: bool = False


@implementer(IStation)
class Station(MultiService):
    """
    One mount point: the path listeners tune into, what it announces, its
    broadcaster and its limits.

    It is a service whose child is its broadcaster, so starting the station
    starts the clock that paces it.

    What it plays is chosen by a L{Switcher}: a live source client when one
    is connected, else its own programme (a playlist or a relay), else its
    fallback mount.  Listeners stay connected through every switch.

    @ivar mount: the mount path, e.g. C{b"/stream"}.
    @ivar info: the L{StreamInfo} announced in headers and status.
    @ivar broadcaster: the L{Broadcaster} that paces the station's source.
    @ivar limits: the L{StationLimits} it serves listeners with (also read
        as L{metaint}, L{maxListeners}, L{lagLimit} and L{legacyStatus}).
    @ivar sourceUser: the user name live source clients log in with.
    @ivar sourcePassword: their password, or L{None} when this mount takes
        no live sources.
    @ivar programme: the station's own source (playlist or relay), or
        L{None} for a live-only mount.
    @ivar peakListeners: the most listeners seen at once.
    @ivar totalListeners: listeners served since start.
    @ivar events: the L{EventBus} telling what happens here (listeners,
        titles, sources), for logs, hooks and metrics.
    @ivar stats: the L{StationStats} counted from those events.
    @ivar maxListenerDuration: seconds a listener may stay before it is
        disconnected (Icecast's C{max-listener-duration}), or 0 for no
        limit; it applies to listeners who join after it is set.
    @ivar intro: the chunk each new listener is sent before its burst
        (see L{txradio.stream.intro}), or L{None}.
    """

    _log = Logger()

    def __init__(
        self,
        source: IFrameSource | None,
        mount: bytes | str = DEFAULT_MOUNT,
        info: StreamInfo | None = None,
        clock: IReactorTime | None = None,
        metaint: int = DEFAULT_METAINT,
        burstSize: int = DEFAULT_BURST,
        maxListeners: int | None = None,
        lagLimit: int = DEFAULT_LAG_LIMIT,
        tickInterval: float = DEFAULT_TICK,
        legacyStatus: bool = False,
        sourcePassword: str | None = None,
        sourceUser: str = "source",
        conform: Callable[[IFrameSource], IEncoder] | None = None,
    ) -> None:
        """
        @param source: the station's own L{IFrameSource} (its programme), or
            L{None} for a mount that plays only live sources.
        @param mount: the path listeners request.
        @param info: what the station announces; a default one if L{None}.
        @param clock: the time to pace by; the global reactor by default.
        @param metaint: audio bytes between metadata blocks.
        @param burstSize: bytes of recent audio a new listener receives.
        @param maxListeners: the most listeners at once, or L{None}.
        @param lagLimit: bytes a stalled listener may fall behind.
        @param tickInterval: seconds between writes to listeners.
        @param legacyStatus: answer C{ICY 200 OK}.
        @param sourcePassword: the password live source clients must give;
            L{None} (the default) refuses every source client.
        @param sourceUser: the user name they must give.
        @param conform: a callable that wraps the switcher in a
            L{txradio.sources.transcode.TranscodingSource} keeping the
            mount's format, or L{None} to play every source's frames as
            they are.
        @raise ValueError: for a bad mount or metaint.
        """
        MultiService.__init__(self)
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        if not 0 < metaint <= 1 << 20:
            raise ValueError(f"metaint must be between 1 and 1048576 bytes, not {metaint}")
        self.mount = normalizeMount(mount)
        self.setName(self.mount.decode("ascii"))  # type: ignore[no-untyped-call]  # Twisted's services are untyped
        self.info = info if info is not None else StreamInfo()
        self.clock = clock
        self.limits = StationLimits(metaint, maxListeners, lagLimit, legacyStatus)
        self.peakListeners = 0
        self.totalListeners = 0
        self.maxListenerDuration = 0.0
        self.intro: Chunk | None = None
        # What the builder made the intro from (txradio.build), so that a
        # reload reads the file again only when it changed.
        self.introKey: object = None
        self.events = EventBus()
        self.stats = StationStats()
        self.events.subscribe(self.stats)
        self.sourceUser = sourceUser
        self.sourcePassword = sourcePassword
        self.programme = source
        self.liveInfo: StreamInfo | None = None
        # The DJ account on the air (txradio.net.djs), or None for none or
        # a source that logged in with the mount's own password.
        self.liveDJ: str | None = None
        self.switcher = Switcher([None, source, None], name=self.mount.decode("ascii"))
        # What keeps the mount's format (None: frames play as they come),
        # the mount this one re-encodes (None: none), and the mounts that
        # re-encode this one; see txradio.build.
        self.conformer: IEncoder | None = conform(self.switcher) if conform is not None else None
        self.derivedFrom: Station | None = None
        self.derived: list[Station] = []
        # Whether the site serves this mount as HLS too (the builder and a
        # reload turn it off per mount).
        self.hls = True
        # The mount's recorder of live shows (txradio.operations.recordings),
        # set by the builder when the mount has record = true; the site
        # serves its podcast.
        self.recorder: Any = None
        self.broadcaster = Broadcaster(
            self.conformer if self.conformer is not None else self.switcher,
            clock=clock,
            burstSize=burstSize,
            tickInterval=tickInterval,
            name=self.mount.decode("ascii"),
        )
        self.broadcaster.onTitleChange = self._titleChanged
        self.broadcaster.setServiceParent(self)  # type: ignore[no-untyped-call]  # Twisted's services are untyped
        if source is not None and IService.providedBy(source):
            # A programme that connects somewhere (a relay) runs with the
            # station.
            source.setServiceParent(self)  # type: ignore[no-untyped-call]  # Twisted's services are untyped

    @property
    def metaint(self) -> int:
        """
        Audio bytes between metadata blocks for listeners that ask.
        """
        return self.limits.metaint

    @property
    def maxListeners(self) -> int | None:
        """
        The most listeners at once, or L{None} for no limit.
        """
        return self.limits.maxListeners

    @property
    def lagLimit(self) -> int:
        """
        Bytes a stalled listener may fall behind before it is dropped.
        """
        return self.limits.lagLimit

    @property
    def legacyStatus(self) -> bool:
        """
        Whether to answer C{ICY 200 OK} instead of C{HTTP/1.0 200 OK}.
        """
        return self.limits.legacyStatus

    def _titleChanged(self, title: str) -> None:
        """
        The broadcaster's stream carries a new title from now on: tell the
        observers.

        @param title: the new title.
        """
        self.events.emit(TitleChanged(self, self.clock.seconds(), title))

    def stopService(self) -> Deferred[None] | None:
        """
        Stop the broadcaster (disconnecting every listener) and close the
        source.

        @return: the result of stopping the children.
        """
        result = MultiService.stopService(self)
        if self.conformer is not None:
            # It closes the switcher it wraps.
            self.conformer.close()
        self.switcher.close()
        # Encoder child processes end after the kill: wait until they have.
        waits = [
            source.whenIdle()
            for source in (self.conformer, self.programme)
            if IEncoder.providedBy(source)
        ]
        if waits:
            from twisted.internet.defer import DeferredList, maybeDeferred

            done: Deferred[None] = DeferredList([maybeDeferred(lambda: result), *waits]).addCallback(lambda _: None)
            return done
        stopped: Deferred[None] | None = result
        return stopped

    @property
    def audioFormat(self) -> AudioFormat | None:
        """
        The L{txradio.wire.audioformat.AudioFormat} the mount promises, or
        L{None} when it plays frames as they come.
        """
        coder = self.conformer
        if coder is None and self.derivedFrom is not None and IEncoder.providedBy(self.programme):
            coder = self.programme
        if coder is None:
            return None
        audioFormat: AudioFormat = coder.outputFormat
        return audioFormat

    @property
    def onAir(self) -> bool:
        """
        Whether the station has anything to play now.
        """
        return self.switcher.onAir

    @property
    def acceptsSources(self) -> bool:
        """
        Whether live source clients may connect (a password is set).
        """
        return bool(self.sourcePassword)

    @property
    def liveSource(self) -> IFrameSource | None:
        """
        The connected live source, or L{None}.
        """
        return self.switcher.sourceAt(_LIVE)

    def attachLive(self, source: IFrameSource, info: StreamInfo | None = None, dj: str | None = None) -> bool:
        """
        Put a live source on the air, ahead of the programme.

        @param source: the live source.
        @param info: what the source announces (its C{ice-*} headers), shown
            to listeners while it is live.
        @param dj: the DJ account it logged in as, or L{None}.
        @return: L{False} when another live source is already connected.
        """
        current = self.liveSource
        if current is not None and current is not source and _connected(current):
            return False
        self.switcher.setSource(_LIVE, source)
        self.liveInfo = info
        self.liveDJ = dj
        return True

    @property
    def currentInfo(self) -> StreamInfo:
        """
        The stream info listeners are shown now: the live source's while one
        is connected, else the mount's own.
        """
        live = self.liveSource
        if self.liveInfo is not None and live is not None and live.onAir:
            return self.liveInfo
        return self.info

    def detachLive(self, source: IFrameSource, peer: str = "") -> None:
        """
        A live source's connection ended.  Its queued audio still plays, then
        the programme or the fallback follows; on a mount with neither, the
        listeners are disconnected, as they would be from Icecast.

        @param source: the live source that ended.
        @param peer: its address, for the observers.
        """
        if self.liveSource is not source:
            return
        self.liveInfo = None
        self.liveDJ = None
        self.events.emit(SourceDisconnected(self, self.clock.seconds(), peer))
        if self.switcher.sourceAt(_PROGRAMME) is None and self.switcher.sourceAt(_FALLBACK) is None:
            self.switcher.setSource(_LIVE, None)
            for listener in list(self.broadcaster.listeners):
                listener.disconnect(SOURCE_LEFT)

    def replaceProgramme(self, source: IFrameSource) -> None:
        """
        Play another programme from the next frame on (a playlist changed
        by a configuration reload); listeners stay connected.

        @param source: the new programme; the old one is closed.
        """
        old, self.programme = self.programme, source
        self.switcher.setSource(_PROGRAMME, source)
        if old is not None and old is not source:
            if IService.providedBy(old) and old.parent is self:
                old.disownServiceParent()  # type: ignore[no-untyped-call]  # Twisted's services are untyped
            old.close()
        if IService.providedBy(source):
            source.setServiceParent(self)  # type: ignore[no-untyped-call]  # Twisted's services are untyped

    def setFallback(self, station: IStation | None) -> None:
        """
        Play another mount's stream whenever this one has nothing else.

        @param station: the fallback station, or L{None} for none.
        """
        previous = self.switcher.sourceAt(_FALLBACK)
        if previous is not None:
            previous.close()
        follower = MountFollower(station, name=self.mount.decode("ascii")) if station else None
        self.switcher.setSource(_FALLBACK, follower)
        if IEncoder.providedBy(self.programme):
            # A derived mount whose encoder waits to restart plays its
            # fallback if it has one, else silence.
            self.programme.yieldsToFallback = station is not None

    @property
    def fallback(self) -> IStation | None:
        """
        The station set by L{setFallback}, or L{None}.
        """
        follower = self.switcher.sourceAt(_FALLBACK)
        return follower.station if isinstance(follower, MountFollower) else None

    def moveListeners(self, destination: IStation) -> int:
        """
        Move every listener to another mount without a reconnect (Icecast's
        C{moveclients}); see L{Listener.moveTo}.  Mounts following this one
        (fallbacks, derived mounts) stay.

        @param destination: the station they move to.
        @return: how many moved.
        @raise ValueError: when C{destination} is this station.
        """
        if destination is self:
            raise ValueError("a mount's listeners cannot move to the same mount")
        moving = [listener for listener in self.broadcaster.listeners if isinstance(listener, Listener)]
        for listener in moving:
            listener.moveTo(destination.broadcaster)
        destination.peakListeners = max(destination.peakListeners, destination.listenerCount)
        return len(moving)

    def killSource(self) -> bool:
        """
        End the connected live source from the server side (Icecast's
        C{killsource}): its queued audio is dropped, its connection closed,
        and the mount goes back to its programme or fallback from the next
        frame on.

        @return: L{False} when no live source is connected.
        """
        live = self.liveSource
        if not ILiveSource.providedBy(live) or not live.connected:
            return False
        live.kill()
        return True

    def updateTitle(self, title: str) -> None:
        """
        Change the title listeners see (a metadata update).

        On a live source it applies from the audio received next; otherwise
        from the next frame sent.

        @param title: the new title; it is cleaned before it is sent.
        """
        self.events.emit(MetadataUpdated(self, self.clock.seconds(), title))
        live = self.liveSource
        if live is not None and live.onAir and ILiveSource.providedBy(live):
            live.setTitle(title)
        else:
            self.broadcaster.announce(title)

    @property
    def listenerCount(self) -> int:
        """
        The number of listeners connected now (not counting the derived
        mounts that follow this one, which are marked C{internal}).
        """
        listeners = self.broadcaster.listeners
        if not self.derived:
            return len(listeners)
        return sum(1 for listener in listeners if not listener.internal)

    def admit(self) -> bool:
        """
        Tell whether one more listener may join; see L{IStation.admit}.

        @return: L{False} when the station is full.
        """
        return self.maxListeners is None or self.listenerCount < self.maxListeners

    def responseHead(self, wantsMetadata: bool) -> bytes:
        """
        Build the response head for a new listener.

        @param wantsMetadata: whether the listener sent C{Icy-MetaData: 1}.
        @return: the status line and headers.
        """
        from txradio._version import __version__

        info = self.currentInfo
        if info.bitrate is None and self.broadcaster.bitrate is not None:
            info = replace(info, bitrate=self.broadcaster.bitrate)
        return responseHead(
            info,
            self.metaint if wantsMetadata else None,
            legacyStatus=self.legacyStatus,
            server=b"txradio/" + __version__.encode("ascii"),
        )

    def connectListener(
        self, transport: Any, wantsMetadata: bool, peer: str, userAgent: str
    ) -> Listener:
        """
        Start streaming to a transport whose response head has been sent.

        @param transport: the listener's connection.
        @param wantsMetadata: whether to splice metadata blocks in.
        @param peer: the listener's address, for logs and status.
        @param userAgent: the player's name.
        @return: the new, started L{Listener}.
        """
        listener = Listener(
            transport,
            self.broadcaster,
            self.clock,
            metaint=self.metaint if wantsMetadata else 0,
            lagLimit=self.lagLimit,
            peer=peer,
            userAgent=userAgent,
        )
        introBytes = listener.start(self.intro)
        if self.maxListenerDuration > 0:
            listener.limitDuration(self.maxListenerDuration)
        # Before the first tick, all a listener has been sent is its intro
        # and its burst.
        self.stats.burstBytes += listener.bytesSent - introBytes
        self.totalListeners += 1
        self.peakListeners = max(self.peakListeners, self.listenerCount)
        return listener
