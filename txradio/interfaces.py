"""
The interfaces that connect txradio's parts.

Data flows one way: an L{IFrameSource} yields MP3 frames and title marks, an
L{IBroadcaster} paces them in real time and turns them into shared
L{txradio.stream.broadcast.Chunk}s, and every L{IListener} writes those chunks to its
own connection.  Sources never know about listeners; listeners never parse
MP3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:  # pragma: no cover - types only: no import cycle, no twisted.web
    from twisted.internet.defer import Deferred

    from txradio.wire.icy import StreamInfo
    from txradio.wire.mp3 import Frame
    from txradio.wire.passwordhash import PasswordHash
    from txradio.wire.programme import TitleChange

Chunk = Any
"""
A L{txradio.stream.broadcast.Chunk}: the stream layer's type, above this
module, so named here without importing it.
"""


class IFrameSource(Interface):
    """
    A supply of MP3 frames for one broadcaster.

    A source is pulled: the broadcaster asks for as much audio as is due on
    each tick.  Implementations: a playlist of files, a live source client, a
    relayed upstream, a transcoder, another mount followed, a switcher
    between sources.
    """

    title = Attribute(
        "The title of the audio most recently returned by L{pull}, as a "
        "L{str}, or L{None} before any."
    )

    onAir = Attribute(
        "Whether the source can supply audio now (L{bool}): a playlist "
        "unless it has nothing playable, a live source while its client is "
        "connected, a relay while its upstream streams.  A mount plays its "
        "fallback while its own source is off the air."
    )

    def pull(duration: float) -> list[Frame | TitleChange]:
        """
        Return the audio that is ready now, up to about C{duration} seconds.

        The result is a list of L{txradio.wire.mp3.Frame} objects, each a whole
        frame, interleaved with L{txradio.wire.programme.TitleChange} marks that
        apply to the frames after them.  It may hold up to one frame more
        than C{duration} asks for, and fewer frames (or none) when a live
        source has no more audio yet; it never raises for want of audio.

        This is called from the reactor thread on every tick: it must not
        block on the network.  Reading a local file is allowed.

        @param duration: seconds of audio wanted, greater than zero.
        @return: frames and marks, in stream order.
        """

    def close() -> None:
        """
        Release files and connections; the source returns nothing afterwards.

        Calling it twice is harmless.
        """


class ILiveSource(IFrameSource):
    """
    A source fed by a client connection (a live source client, or a
    relayed upstream's connection), which can be told titles by the
    operator.
    """

    name = Attribute("A name for logs and the admin (L{str}), e.g. the mount and the peer.")
    connected = Attribute(
        "Whether its client is still connected (L{bool}); frames it queued "
        "may play on after it left, while L{IFrameSource.onAir} stays true."
    )

    def setTitle(title: str) -> None:
        """
        Carry a title from the audio received next on.

        @param title: the new title.
        """

    def kill() -> None:
        """
        End the source from the server side: drop its queued audio and close
        the connection that feeds it.  Harmless once it has ended.
        """


class IProgramme(IFrameSource):
    """
    A programme an operator can steer: a playlist, which can skip to its
    next track and read its track list again.
    """

    trackPath = Attribute("The file whose title was announced last (L{str}), or L{None}.")
    requests = Attribute(
        "The L{txradio.sources.requests.RequestQueue} its next tracks are "
        "taken from first, or L{None} when the mount takes no requests."
    )

    def skip() -> None:
        """
        Play the next track from the next frame on.
        """

    def reload() -> None:
        """
        Read the track list again (a changed folder or M3U file); the track
        playing now plays on.
        """

    def upcoming() -> str | None:
        """
        Say what plays next, without reading ahead more than a file's tags.

        @return: the next track's title, or L{None} when it is not known.
        """


class IStandby(IFrameSource):
    """
    A source that holds resources (a process, a subscription to another
    mount) only while it is played, and can be told it is not played now.
    """

    def standby() -> None:
        """
        Not played from now on: let go of what is held until L{pull} is
        called again.
        """


class IEncoder(IStandby):
    """
    A source that re-encodes another one's audio into a fixed format (an
    ffmpeg child process), for a mount's format policy or a derived mount.
    """

    outputFormat = Attribute("The L{txradio.wire.audioformat.AudioFormat} it produces.")
    policy = Attribute("The mount's format policy (L{str}): C{\"transcode\"}, C{\"always\"} or C{\"skip\"}.")
    encoderAvailable = Attribute("Whether an encoder program was found (L{bool}).")
    encoding = Attribute("Whether an encoder process runs now (L{bool}).")
    runs = Attribute("Encoder processes started so far (L{int}).")
    restarts = Attribute("Encoder runs that failed and were restarted (L{int}).")
    framesDropped = Attribute("Frames dropped because they could not be re-encoded (L{int}).")
    yieldsToFallback = Attribute(
        "Whether, while its encoder waits to restart, the mount plays its "
        "fallback (L{True}) or silence (L{False}); set by the station."
    )

    def whenIdle() -> Deferred[None]:
        """
        @return: a L{Deferred} firing once no encoder process is left
            running (at once when none is).
        """


class IRelay(IFrameSource):
    """
    A programme relayed from another server's stream.
    """

    upstream = Attribute("The L{txradio.wire.upstream.Upstream} relayed now (after redirects).")
    connects = Attribute("Successful connections to the upstream so far (L{int}).")
    failures = Attribute("Failed attempts to reach the upstream so far (L{int}).")


class IListener(Interface):
    """
    One connection (or internal consumer) receiving a broadcaster's stream.
    """

    id = Attribute(
        "A number for a listener of the listener port (L{int}), unique in the "
        "process and what the admin calls it by, or L{None} for the others "
        "(followers, pushes, internal consumers)."
    )
    peer = Attribute("The listener's address, as a printable L{str}.")
    bytesSent = Attribute("Bytes written to this listener so far (L{int}).")
    userAgent = Attribute("What the listener's player calls itself (L{str}); empty when none.")
    connectedAt = Attribute(
        "When its stream started, in its clock's seconds (L{float}), or "
        "L{None} for a consumer that is not a connection."
    )
    seconds = Attribute("How long it has been connected, in seconds (L{float}).")
    lag = Attribute("Bytes of audio it is behind, held while its connection is paused (L{int}).")
    internal = Attribute(
        "Whether it is part of the radio rather than an audience member (a "
        "derived mount re-encoding this one): not counted as a listener."
    )

    def deliver(chunk: Chunk) -> None:
        """
        Send the next piece of the stream.

        Called by the broadcaster on every tick with the same
        L{txradio.stream.broadcast.Chunk} object for every listener.  It must not
        block and must not modify the chunk.  A listener that cannot keep up
        holds on to chunks up to its lag limit and then disconnects itself.

        @param chunk: the audio that follows the previous chunk.
        """

    def disconnect(reason: str) -> None:
        """
        End this listener's stream at once.

        @param reason: why, for the log (e.g. C{"kicked"}, C{"lag limit"}).
        """


class IBroadcaster(Interface):
    """
    Paces one source's frames in real time and fans them out to listeners.
    """

    title = Attribute("The title now playing (L{str}), or L{None}.")
    listeners = Attribute("The connected L{IListener}s (a read-only view).")
    bitrate = Attribute("The bitrate of the last frame sent, in kbps (L{int}), or L{None} before any.")
    bytesSent = Attribute("Audio bytes sent since start, once (not per listener) (L{int}).")
    startedAt = Attribute("When it started, in its clock's seconds (L{float}), or L{None} before.")
    history = Attribute(
        "The last titles as C{(when, title)} pairs, oldest first (a "
        "sequence), C{when} in its clock's seconds."
    )
    lateness = Attribute("A histogram of how late its ticks ran (C{cumulative()}, C{total}).")

    def addListener(listener: IListener) -> list[Chunk]:
        """
        Start sending the stream to C{listener}.

        @param listener: an L{IListener} that is not yet attached.
        @return: the burst: a list of L{txradio.stream.broadcast.Chunk}s holding the
            most recent audio, starting at a frame boundary, for the listener
            to send at once; the next L{IListener.deliver} continues exactly
            where the burst ends.
        """

    def removeListener(listener: IListener) -> None:
        """
        Stop sending to C{listener}; harmless if it is not attached.

        @param listener: an L{IListener} given to L{addListener}.
        """

    def addObserver(observer: IListener) -> None:
        """
        Send the stream to an internal consumer (an HLS segmenter) that is
        not one of the listeners: it gets every chunk, no burst, and is not
        counted or disconnected with them.

        @param observer: the consumer.
        """

    def removeObserver(observer: IListener) -> None:
        """
        Stop sending to an observer; harmless if it is not attached.

        @param observer: an observer given to L{addObserver}.
        """

    def announce(title: str) -> None:
        """
        Change the title from the next frame sent on.

        @param title: the new title.
        """

    def setSource(source: IFrameSource) -> None:
        """
        Switch to another source at the next frame boundary.

        Listeners stay connected; the old source is not closed.

        @param source: the L{IFrameSource} to play from now on.
        """


class IStation(Interface):
    """
    One mount point: a path that listeners tune into, with its stream info,
    its broadcaster and its limits.

    This is all that the web pages, the metrics and the network protocols
    use of a station.
    """

    mount = Attribute("The mount path as L{bytes}, e.g. C{b'/stream'}.")
    info = Attribute("The L{txradio.wire.icy.StreamInfo} the station announces.")
    currentInfo = Attribute(
        "The L{txradio.wire.icy.StreamInfo} listeners are shown now: the "
        "live source's while one is connected, else L{info}."
    )
    broadcaster = Attribute("The station's L{IBroadcaster}.")
    metaint = Attribute("Audio bytes between metadata blocks (L{int}).")
    clock = Attribute("The L{twisted.internet.interfaces.IReactorTime} it paces by.")
    events = Attribute("The L{txradio.stream.events.EventBus} telling what happens here.")
    stats = Attribute("The L{txradio.stream.events.StationStats} counted from its events.")
    onAir = Attribute("Whether it has anything to play now (L{bool}).")
    listenerCount = Attribute("Listeners connected now, internal ones not counted (L{int}).")
    peakListeners = Attribute("The most listeners seen at once (L{int}).")
    totalListeners = Attribute("Listeners served since start (L{int}).")
    maxListeners = Attribute("The most listeners at once (L{int}), or L{None} for no limit.")
    sourceUser = Attribute("The user name live source clients log in with (L{str}).")
    sourcePassword = Attribute("Their password (L{str}), or L{None} when it takes no live sources.")
    acceptsSources = Attribute("Whether live source clients may connect (L{bool}).")
    liveSource = Attribute("The connected live L{IFrameSource} (an L{ILiveSource}), or L{None}.")
    liveInfo = Attribute("The L{txradio.wire.icy.StreamInfo} the live source sent, or L{None}.")
    liveDJ = Attribute(
        "The DJ account's name (L{str}) the live source logged in with, or "
        "L{None} when it logged in with the mount's own password or none is connected."
    )
    recorder = Attribute(
        "The mount's recorder of live shows (a "
        "L{txradio.operations.recordings.Recorder}), or L{None} when it records none."
    )
    programme = Attribute(
        "Its own L{IFrameSource} (a playlist, a relay, or a derived mount's "
        "encoder), or L{None} for a live-only mount; check L{IProgramme}, "
        "L{IRelay} or L{IEncoder} for what it can do."
    )
    conformer = Attribute("The L{IEncoder} keeping the mount's format, or L{None}.")
    audioFormat = Attribute(
        "The L{txradio.wire.audioformat.AudioFormat} the mount promises, or "
        "L{None} when it plays frames as they come."
    )
    derivedFrom = Attribute("The L{IStation} this mount re-encodes, or L{None}.")
    derived = Attribute("The L{IStation}s that re-encode this one (a L{list}, maybe empty).")
    hls = Attribute("Whether the mount is also served as HLS (L{bool}).")
    fallback = Attribute("The L{IStation} played when this one has nothing, or L{None}.")

    def admit() -> bool:
        """
        Tell whether one more listener may join.

        @return: L{False} when the station is at its listener limit.
        """

    def responseHead(wantsMetadata: bool) -> bytes:
        """
        Build the response head for a new listener.

        @param wantsMetadata: whether the listener sent C{Icy-MetaData: 1}.
        @return: the status line and headers.
        """

    def connectListener(transport: Any, wantsMetadata: bool, peer: str, userAgent: str) -> IListener:
        """
        Start streaming to a transport whose response head has been sent.

        @param transport: the listener's connection (an L{ITransport} and
            L{IConsumer}).
        @param wantsMetadata: whether to splice metadata blocks in.
        @param peer: the listener's address, for logs and status.
        @param userAgent: the player's name.
        @return: the new, started listener.
        """

    def attachLive(source: IFrameSource, info: StreamInfo | None = None, dj: str | None = None) -> bool:
        """
        Put a live source on the air, ahead of the programme.

        @param source: the live source.
        @param info: what the source announces, shown while it is live.
        @param dj: the DJ account it logged in as (the show's name), or
            L{None}.
        @return: L{False} when another live source is already connected.
        """

    def detachLive(source: IFrameSource, peer: str = "") -> None:
        """
        A live source's connection ended; see
        L{txradio.stream.station.Station.detachLive}.

        @param source: the live source that ended.
        @param peer: its address, for the observers.
        """

    def updateTitle(title: str) -> None:
        """
        Change the title listeners see (a metadata update).

        @param title: the new title.
        """

    def setFallback(station: IStation | None) -> None:
        """
        Play another mount's stream whenever this one has nothing else.

        @param station: the fallback mount, or L{None} for none.
        """

    def moveListeners(destination: IStation) -> int:
        """
        Move every listener to another mount at a frame boundary, without a
        reconnect (Icecast's C{moveclients}); mounts following this one stay.

        @param destination: the mount they move to.
        @return: how many moved.
        @raise ValueError: when C{destination} is this mount.
        """

    def killSource() -> bool:
        """
        End the connected live source from the server side (Icecast's
        C{killsource}); the mount goes back to its programme or fallback.

        @return: L{False} when no live source is connected.
        """


class IMountMaker(Interface):
    """
    Makes mounts for source clients that broadcast to a mount that is not
    configured (Icecast's dynamic mounts, allowed by its global source
    password); see L{txradio.dynamic.DynamicMounts}.  The listener port asks
    it only after the source's credentials matched one of L{accounts}.
    """

    def accounts() -> Sequence[tuple[str, str | PasswordHash]]:
        """
        @return: the C{(user, password)} pairs that may make a mount; none
            when dynamic mounts are off.
        """

    def make(path: bytes, head: Any) -> IStation:
        """
        Make a mount, registered with the radio (its stream, playlists,
        status and HLS appear), for a source about to go live on it.

        @param path: the path the source asked for.
        @param head: its L{txradio.wire.request.RequestHead}; its C{ice-*}
            headers fill the mount's stream info.
        @return: the new station, with no source yet.
        @raise txradio.wire.request.RequestError: when the name is refused
            (malformed, too long, or a path the site or another mount
            owns: 403 or 409) or there are as many dynamic mounts as
            allowed (403).
        """

    def release(station: IStation) -> None:
        """
        The source of a mount made by L{make} left (or was refused): its
        listeners move to the template's fallback mount, or have been
        disconnected, and the mount goes.  Calling it for a mount that is
        already gone does nothing.

        @param station: the station L{make} returned.
        """


class ILoginThrottle(Interface):
    """
    Slows down password guessing per client address; see
    L{txradio.net.throttle.LoginThrottle}.  Every password check asks
    L{wait} first and reports the outcome.
    """

    def wait(address: str) -> float:
        """
        @param address: the client's IP address.
        @return: C{0.0} when an attempt from it may be checked now, else the
            seconds it must still wait (the attempt is refused unchecked).
        """

    def failed(address: str, what: str) -> None:
        """
        Count a failed login.

        @param address: the client's IP address.
        @param what: what it tried to log in to, for the log.
        """

    def succeeded(address: str) -> None:
        """
        Forget an address's failures after a successful login.

        @param address: the client's IP address.
        """


class IListenerAccess(Interface):
    """
    Who may listen to one mount; see L{txradio.net.access.MountAccess}.  The
    listener port calls L{screen} before any other work for a stream
    request, then L{check}; the web site calls L{checkWeb} for HLS.  None of
    them blocks.
    """

    mount = Attribute("The mount path (L{str}) the checks are for.")

    def screen(request: Any) -> Any:
        """
        The cheap checks: address and user agent.

        @param request: a L{txradio.net.access.AccessRequest}.
        @return: a L{txradio.net.access.Refusal}, or L{None} to go on.
        """

    def check(request: Any) -> Any:
        """
        The rest: token, htpasswd, URL authentication.

        @param request: a screened L{txradio.net.access.AccessRequest}.
        @return: an L{txradio.net.access.Admission} or a
            L{txradio.net.access.Refusal}, or a L{Deferred} firing with one;
            cancelling it abandons the check (the client left).
        """

    def checkWeb(request: Any) -> Any:
        """
        Every check but those that must wait (for HLS requests).

        @param request: a L{txradio.net.access.AccessRequest}.
        @return: a L{txradio.net.access.Refusal}, or L{None} to serve it.
        """


class IRadioSite(Interface):
    """
    The built-in web site as the radio that serves it configures it.  A
    site given to L{txradio.service.RadioService} that does not provide
    this is served as it is.
    """

    webService = Attribute(
        "An L{twisted.application.service.IService} holding what the site "
        "runs (live updates, HLS segmenters, the library indexer), to run "
        "with the radio."
    )

    def setStations(stations: Sequence[IStation]) -> None:
        """
        Serve another set of stations from now on.

        @param stations: the stations, the default first.
        """

    def setAdminPassword(password: str | None) -> None:
        """
        Change the admin password.

        @param password: the new password, or L{None} to turn admin off.
        """

    def setReloader(reloader: IReloader | None) -> None:
        """
        Let the admin API reload the configuration file.

        @param reloader: the radio's L{IReloader}, or L{None}.
        """

    def hlsSessions(station: IStation) -> int | None:
        """
        @param station: one of the stations.
        @return: its HLS listeners (sessions seen recently), or L{None}
            when the site serves no HLS for it.
        """

    def limitEventClients(maxClients: int) -> None:
        """
        Let at most this many pages follow the live updates, from the next
        one that connects on.

        @param maxClients: the most live-update connections at once.
        """

    def setAccess(policy: Any) -> None:
        """
        Check the HLS requests by a listener access policy from now on.

        @param policy: a L{txradio.net.access.AccessPolicy}, or L{None}
            for none.
        """

    def setHLS(station: IStation, served: bool) -> None:
        """
        Start or stop serving one of the stations as HLS.

        @param station: one of the stations.
        @param served: whether to serve it as HLS.
        """

    def reservedPath(path: bytes) -> str | None:
        """
        Tell whether a mount at a path would hide something the site serves
        (its own pages, or another mount's playlists and HLS).

        @param path: a normalized mount path, e.g. C{b"/admin"}.
        @return: why it may not be a mount, or L{None} when it may.
        """


class IAudienceSite(Interface):
    """
    A site that serves the audience reports (C{/api/v1/stats/…},
    C{/admin/reports/…}) from the radio's statistics.
    """

    def setAudience(recorder: object | None) -> None:
        """
        Serve reports from these statistics from now on.

        @param recorder: the radio's
            L{txradio.operations.audience.AudienceRecorder}, or L{None}
            when no statistics are kept (the reports answer 404).
        """


class IReloader(Interface):
    """
    Reads a radio's configuration file again and applies it while the radio
    runs (C{SIGHUP}, C{POST /admin/reload-config}).
    """

    path = Attribute("The configuration file's path (L{str}).")

    def reload():  # type: ignore[no-untyped-def]
        """
        Read the file and apply what changed.

        A file with an error is rejected whole: nothing changes, the error is
        logged, and it is raised.

        @return: the plan that was applied: C{added}, C{removed}, C{rebuilt},
            C{unchanged} and C{restartNeeded} (tuples of mount paths or
            setting names), C{updated} (pairs of a mount path and the
            settings that changed) and a C{describe()} method saying it in
            one line.
        @raise ValueError: when the file has an error or cannot be applied;
            C{str(error)} is one line for an operator (the file, the key,
            what is wrong).
        """
