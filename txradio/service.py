# -*- test-case-name: tests.test_service -*-
"""
L{RadioService}: a whole radio (stations and the ports listeners connect to)
as one Twisted service, to run under C{twistd} or inside another program.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.interfaces import IAudienceSite, ILoginThrottle, IRadioSite, IReloader
from txradio.net.listenerport import DEFAULT_HEADER_TIMEOUT, DEFAULT_SEND_BUFFER, ListenerFactory
from txradio.net.sourceport import DEFAULT_SOURCE_TIMEOUT, ShoutcastSourceFactory
from txradio.net.throttle import LoginThrottle
from txradio.net.tls import ReloadingContextFactory, reloadableTLSEndpoint
from txradio.operations.audience import AudienceRecorder
from txradio.operations.audiencedb import AudienceDatabase
from txradio.operations.logs import AccessLog, AddressPolicy, LogFile, PlaylistLog
from txradio.operations.metrics import radioRegistry
from txradio.stream.events import EventBus
from txradio.stream.station import Station
from txradio.web.admin import AdminAccess
from txradio.web.metrics import METRICS_ADMIN, METRICS_MODES, METRICS_OFF, MetricsResource, metricsSite
from txradio.web.site import buildSite

_L = TypeVar("_L", AccessLog, PlaylistLog)

DEFAULT_LISTEN = "tcp:8000"
"""Where listeners connect when nothing else is said."""

DEFAULT_BACKLOG = 1024
"""
The listen backlog given to C{tcp:} and C{ssl:} endpoints that do not set
one: Twisted's default of 50 refuses connections in a crowd of new
listeners.
"""


def withBacklog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    Add a listen backlog to a TCP or TLS endpoint description that has none.

    @param description: an endpoint string such as C{"tcp:8000"}.
    @param backlog: the backlog to add.
    @return: the description, with C{:backlog=N} appended where it applies.
    """
    kind = description.split(":", 1)[0].lower()
    if kind in ("tcp", "tcp6", "ssl") and "backlog=" not in description:
        return f"{description}:backlog={backlog}"
    return description


def freezeHeap() -> None:
    """
    Collect once, then move every object alive now out of the cyclic
    garbage collector's generations (C{gc.freeze}): the objects of start-up
    and the library's index are then not walked by every full collection
    (which took 20–120 ms with a large library, on the reactor).  Frozen
    objects are still freed when their last reference goes.
    """
    gc.collect()
    gc.freeze()


DEFAULT_STOP_TIMEOUT = 10.0
"""The most seconds a radio takes to stop by default."""


class RadioService(MultiService):
    """
    A radio: its stations, and one listening port per endpoint, all serving
    the same stations and web site.

    Stop it (C{stopService}) and the ports close first, then every station
    stops its clock and disconnects its listeners.

    @ivar stations: the stations, the default first: the configured ones,
        then the dynamic mounts.
    @ivar dynamicStations: the dynamic mounts, made by source clients (see
        L{txradio.dynamic}) and served until their source leaves.
    @ivar library: the on-demand library (L{txradio.library.index.Library}),
        or L{None}; blocks of the programme clock may query its index.
    @ivar factory: the L{ListenerFactory} every port uses.
    @ivar certificates: the reloadable certificates of the C{ssl:} ports;
        see L{reloadCertificates}.
    @ivar events: an L{EventBus} relaying every station's events (see
        L{txradio.stream.events}): subscribe to it to watch the whole radio.
    @ivar registry: the C{prometheus_client} registry of the radio's
        figures, served at C{/metrics}.
    @ivar hooks: the event hooks (L{txradio.operations.hooks.Hook}s); see L{setHooks}.
    @ivar logins: the radio's L{ILoginThrottle}, on its reactor's clock:
        every password check (admin, metadata updates, C{/metrics}, source
        clients) counts failures here.
    @ivar logFiles: the L{LogFile}s the radio writes (access and playlist
        logs), reopened by L{reopenLogs}.
    @ivar lastTitle: a title sent to every listener as the radio stops (for
        L{goodbyeDelay} seconds before they are disconnected), or L{None}
        to stop at once.
    @ivar goodbyeDelay: seconds of audio listeners still get after the last
        title: enough for it to reach them in a metadata block.
    @ivar radioSite: the site as an L{IRadioSite} (the built-in one), or
        L{None} when it was given a site of its own, served as it is.
    @ivar hookConfigs: the hook settings its hooks were made from (see
        L{txradio.wiring}), or L{None} before any were set.
    @ivar stopTimeout: the most seconds stopping may take; what has not
        finished by then (an encoder that will not die, a push that will not
        close) is abandoned so that the process exits.
    """

    _log = Logger()
    reloader: IReloader | None = None
    """The L{txradio.reload.Reloader} of the radio's configuration file, or L{None}."""
    lastTitle: str | None = None
    goodbyeDelay: float = 2.0
    stopTimeout: float = DEFAULT_STOP_TIMEOUT
    hookConfigs: tuple | None = None

    def __init__(
        self,
        stations: Sequence[Station],
        listen: Sequence[str | IStreamServerEndpoint] = (DEFAULT_LISTEN,),
        reactor=None,
        publicURL: str | None = None,
        headerTimeout: float = DEFAULT_HEADER_TIMEOUT,
        sendBufferSize: int = DEFAULT_SEND_BUFFER,
        site=None,
        adminPassword: str | None = None,
        sourceTimeout: float = DEFAULT_SOURCE_TIMEOUT,
        shoutcastSources: Sequence[tuple[str | IStreamServerEndpoint, Station]] = (),
        library=None,
        hls=None,
        metrics: str = METRICS_ADMIN,
        metricsListen: Sequence[str | IStreamServerEndpoint] = (),
        logins: ILoginThrottle | None = None,
    ) -> None:
        """
        @param stations: the stations; each mount must be different.
        @param listen: endpoint descriptions (C{"tcp:8000"},
            C{"ssl:8443:privateKey=…"}, C{"systemd:domain=INET:index=0"}) or
            endpoint objects.
        @param reactor: the reactor for endpoints and time; the global one by
            default.
        @param publicURL: the base URL clients reach the server by, for
            playlists behind a proxy; by default each request's C{Host}.
        @param headerTimeout: seconds a client has to send its request head.
        @param sendBufferSize: kernel send buffer per listener in bytes.
        @param site: a L{twisted.web.server.Site} to serve non-stream
            requests, replacing the built-in one; the radio configures it
            (stations, admin password, reloader) only if it provides
            L{IRadioSite}.
        @param adminPassword: the admin password (user C{admin}), or L{None}
            to leave admin functions off.
        @param sourceTimeout: seconds a source client may send nothing.
        @param shoutcastSources: C{(endpoint, station)} pairs: ports where
            SHOUTcast v1 encoders broadcast to a station.
        @param library: a L{txradio.library.index.Library} to serve at
            C{/library/}, or L{None} for none (only with the built-in site).
        @param hls: how the built-in site serves HLS, a
            L{txradio.web.hls.HLSSettings}; on with the defaults when
            L{None}, off with C{HLSSettings(enabled=False)}.
        @param metrics: how the built-in site offers C{/metrics}:
            C{"admin"} (behind the admin's credentials, the default),
            C{"public"} or C{"off"}.
        @param metricsListen: endpoints serving only C{/metrics}, without
            credentials (bind them where only the scraper reaches).
        @param logins: the login throttle every password check uses; by
            default a L{LoginThrottle} of the radio's own, on C{reactor}.
        @raise ValueError: if two stations share a mount, or for an unknown
            C{metrics} mode.
        """
        MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        mounts = [station.mount for station in stations]
        if len(set(mounts)) != len(mounts):
            raise ValueError("two stations have the same mount: " + ", ".join(m.decode() for m in mounts))
        if metrics not in METRICS_MODES:
            raise ValueError(f"metrics must be one of {', '.join(METRICS_MODES)}, not {metrics!r}")
        self.stations = list(stations)
        self._configured = list(stations)
        self.dynamicStations: list[Station] = []
        self.events = EventBus()
        for station in self.stations:
            station.events.subscribe(self.events.emit)
        self.registry = radioRegistry(self)
        if library is not None:
            # The heap is largest and settled once the library's caches are warm.
            library.warmObservers.append(freezeHeap)
        self.logFiles: list[LogFile] = []
        self._accessLog: AccessLog | None = None
        self._playlistLog: PlaylistLog | None = None
        self.hooks: list = []
        self.audience: AudienceRecorder | None = None
        self._clock = reactor
        self.library = library
        self._addresses = AddressPolicy()
        self.logins: ILoginThrottle = logins if logins is not None else LoginThrottle(reactor)
        self._metrics: MetricsResource | None = None
        if site is None:
            site = buildSite(
                self.stations,
                clock=reactor,
                publicURL=publicURL,
                adminPassword=adminPassword,
                library=library,
                hls=hls,
                logins=self.logins,
            )
            if metrics != METRICS_OFF:
                access = AdminAccess(adminPassword, logins=self.logins) if metrics == METRICS_ADMIN else None
                self._metrics = MetricsResource(self.registry, access)
                site.resource.putChild(b"metrics", self._metrics)
        self.site = site
        self.radioSite: IRadioSite | None = site if IRadioSite.providedBy(site) else None
        if self.radioSite is not None:
            # The site's live-update hub and library indexer run with the radio.
            self.radioSite.webService.setServiceParent(self)
        self.factory = ListenerFactory(
            {station.mount: station for station in self.stations},
            site=site,
            clock=reactor,
            headerTimeout=headerTimeout,
            sendBufferSize=sendBufferSize,
            sourceTimeout=sourceTimeout,
            logins=self.logins,
        )
        for station in self.stations:
            station.setServiceParent(self)
        self.ports: list[StreamServerEndpointService] = []
        self.certificates: list[ReloadingContextFactory] = []
        for where in listen:
            self._listen(reactor, where, self.factory)
        for where, station in shoutcastSources:
            self._listen(
                reactor, where, ShoutcastSourceFactory(station, clock=reactor, timeout=sourceTimeout, logins=self.logins)
            )
        for where in metricsListen:
            self._listen(reactor, where, metricsSite(self.registry, reactor))

    def _listen(self, reactor, where: str | IStreamServerEndpoint, factory) -> None:
        """
        Add a port service.

        @param reactor: the reactor for endpoint strings.
        @param where: an endpoint string or endpoint.
        @param factory: the protocol factory for it.
        """
        if isinstance(where, str):
            tls = reloadableTLSEndpoint(reactor, where, DEFAULT_BACKLOG)
            if tls is not None:
                endpoint, certificate = tls
                self.certificates.append(certificate)
            else:
                endpoint = serverFromString(reactor, withBacklog(where))
        else:
            endpoint = where
        port = StreamServerEndpointService(endpoint, factory)
        # Fail startService loudly when the port cannot be bound.
        port._raiseSynchronously = True
        port.setServiceParent(self)
        self.ports.append(port)

    def stopService(self) -> Deferred:
        """
        Stop gracefully: close the ports, send the L{lastTitle} if there is
        one, then stop the stations (disconnecting their listeners), pushes
        and encoders, within L{stopTimeout} seconds; then close the logs.

        @return: a L{Deferred} firing when stopped.
        """
        clock = self._clock
        ports = list(self.ports)
        # Removing a running child stops it: the ports close first.
        closed = gatherResults([maybeDeferred(port.disownServiceParent) for port in ports], consumeErrors=True)

        def goodbye(_):
            if self.lastTitle is None:
                return None
            for station in self.stations:
                station.broadcaster.announce(self.lastTitle)
            return deferLater(clock, self.goodbyeDelay, lambda: None)

        def stopRest(_):
            return MultiService.stopService(self)

        # A plain Deferred over the chain, so that the timeout can give up on
        # whatever step the chain waits for.
        stopping: Deferred = Deferred()
        closed.addCallback(goodbye).addCallback(stopRest).chainDeferred(stopping)
        stopping.addTimeout(self.stopTimeout, clock)

        def done(result):
            if isinstance(result, Failure):
                self._log.warn(
                    "stopping took longer than {timeout} s ({why}); exiting anyway",
                    timeout=self.stopTimeout,
                    why=result.getErrorMessage() or result.type.__name__,
                )
            for hook in self.hooks:
                hook.stop()
            for file in self.logFiles:
                file.close()
            self.ports = ports
            for port in ports:
                port.setServiceParent(self)
            # After the stations: their listeners' sessions are recorded.
            return self.audience.stop() if self.audience is not None else None

        return stopping.addBoth(done)

    def logAccess(self, path: str | None) -> LogFile | None:
        """
        Write an access log: one line per web request and per listener
        (when it leaves), in the combined log format with the seconds it
        stayed; see L{txradio.operations.logs}.  It replaces the access log written
        before, if any.

        @param path: the file to append to, or L{None} for no access log.
        @return: the opened file, or L{None}.
        @raise OSError: when it cannot be opened.
        """
        access = self._accessLog = self._replaceLog(self._accessLog, path, lambda file: AccessLog(file, clock=self._clock))
        if self.site is not None:
            if access is None:
                self.site.log = lambda request: None
            else:
                # An IAddress has no common fields: a UNIX socket's has no host.
                self.site.log = lambda request: access.logRequest(
                    request, self._addresses.host(getattr(request.getClientAddress(), "host", "-"))
                )
        return access.file if access is not None else None

    def logPlaylist(self, path: str | None) -> LogFile | None:
        """
        Write a playlist log: one line per title each mount carries.  It
        replaces the playlist log written before, if any.

        @param path: the file to append to, or L{None} for no playlist log.
        @return: the opened file, or L{None}.
        @raise OSError: when it cannot be opened.
        """
        self._playlistLog = self._replaceLog(self._playlistLog, path, PlaylistLog)
        return self._playlistLog.file if self._playlistLog is not None else None

    def _replaceLog(self, old: _L | None, path: str | None, makeLog: Callable[[LogFile], _L]) -> _L | None:
        """
        Stop writing one log and start writing its replacement.

        @param old: the log written until now, or L{None}.
        @param path: the new log's file, or L{None} for none.
        @param makeLog: makes the log (an event observer) writing to a file.
        @return: the new log, observing every station, or L{None}.
        @raise OSError: when the file cannot be opened (the old log is
            then kept).
        """
        file = self._openLog(path) if path is not None else None
        if old is not None:
            self._closeLog(old)
        if file is None:
            return None
        log = makeLog(file)
        self.observe(log)
        return log

    def _closeLog(self, observer) -> None:
        """
        Stop writing a log.

        @param observer: its L{AccessLog} or L{PlaylistLog}.
        """
        self.events.unsubscribe(observer)
        if observer.file in self.logFiles:
            self.logFiles.remove(observer.file)
        observer.file.close()

    def _openLog(self, path: str) -> LogFile:
        """
        Open a log file the radio keeps.

        @param path: its path.
        @return: the L{LogFile}.
        """
        file = LogFile(path)
        self.logFiles.append(file)
        return file

    def keepAudience(
        self, path: str | None, retentionDays: int = 0, runInThread: Callable[..., Deferred] | None = None
    ) -> Deferred | None:
        """
        Keep audience statistics in an SQLite file (see
        L{txradio.operations.audience}), replacing those kept before, and
        serve the reports from them.

        @param path: the file, or L{None} for no statistics.
        @param retentionDays: days rows are kept, or 0 for ever.
        @param runInThread: the worker for the file (tests pass a
            synchronous one); a thread of its own by default.
        @return: a L{Deferred} firing when the previous statistics are
            written and closed, or L{None} when there were none.
        """
        old, self.audience = self.audience, None
        stopping = None
        if old is not None:
            self.events.unsubscribe(old)
            stopping = old.stop()
        if path is not None:
            self.audience = AudienceRecorder(
                AudienceDatabase(path),
                self._clock,
                runInThread,
                retentionDays=retentionDays,
                hosts=lambda host: self._addresses.host(host),
            )
            self.observe(self.audience)
            self.audience.start()
        if IAudienceSite.providedBy(self.site):
            self.site.setAudience(self.audience)
        return stopping

    def reopenLogs(self) -> None:
        """
        Reopen every log file by its path (after logrotate moved them).
        """
        for file in self.logFiles:
            file.reopen()

    @property
    def addressPolicy(self) -> AddressPolicy:
        """
        How listener addresses are shown; see L{hideAddresses}.
        """
        return self._addresses

    @property
    def accessLogPath(self) -> str | None:
        """
        The access log's path, or L{None} when none is written.
        """
        return self._accessLog.file.path if self._accessLog is not None else None

    @property
    def playlistLogPath(self) -> str | None:
        """
        The playlist log's path, or L{None} when none is written.
        """
        return self._playlistLog.file.path if self._playlistLog is not None else None

    def hideAddresses(self, policy: AddressPolicy) -> None:
        """
        Show listener addresses in logs, status and hooks as a policy says
        (truncated or hashed, for privacy).

        @param policy: the L{AddressPolicy}.
        """
        self._addresses = policy
        self.factory.peerFormatter = policy.peer

    def setHooks(self, hooks: Sequence) -> None:
        """
        Replace the radio's event hooks.

        @param hooks: L{txradio.operations.hooks.Hook}s; the previous ones stop (their
            queued events are dropped).
        """
        for hook in self.hooks:
            self.events.unsubscribe(hook)
            hook.stop()
        self.hooks = list(hooks)
        for hook in self.hooks:
            self.observe(hook)

    def setStations(self, stations: Sequence[Station]) -> Deferred:
        """
        Change the radio's configured stations while it runs (a
        configuration reload): stations no longer listed stop (their
        listeners are disconnected), new ones start, and those in both carry
        on untouched.  Dynamic mounts (L{dynamicStations}) stay, but one
        whose path a configured mount now takes ends: its source is dropped
        and the configured mount wins.

        @param stations: the configured stations from now on, the default
            first.
        @return: a L{Deferred} firing once the removed stations stopped.
        @raise ValueError: if two stations share a mount.
        """
        configured = list(stations)
        taken = {station.mount for station in configured}
        evicted = [station for station in self.dynamicStations if station.mount in taken]
        for station in evicted:
            self._log.warn("configured mount {mount} replaces the dynamic mount of that name", mount=station.mount.decode())
            station.killSource()
        dynamic = [station for station in self.dynamicStations if station.mount not in taken]
        stopped = self._applyStations(configured, dynamic)
        return stopped

    def addMount(self, station: Station) -> None:
        """
        Add a dynamic mount (one a source client made): it is served as a
        configured one is, until L{removeMount}.

        @param station: a station, not yet running.
        @raise ValueError: if a station already has its mount.
        """
        self._applyStations(self._configured, [*self.dynamicStations, station])

    def removeMount(self, station: Station) -> Deferred:
        """
        Remove a dynamic mount: its routes, HLS and figures go and it stops
        (disconnecting the listeners it still has).

        @param station: one of L{dynamicStations}; another does nothing.
        @return: a L{Deferred} firing once it stopped.
        """
        if station not in self.dynamicStations:
            from twisted.internet.defer import succeed

            return succeed(None)
        return self._applyStations(self._configured, [s for s in self.dynamicStations if s is not station])

    def _applyStations(self, configured: list[Station], dynamic: list[Station]) -> Deferred:
        """
        Serve a set of stations from now on: the one path by which stations
        are added and removed, for a reload (L{setStations}) and for dynamic
        mounts (L{addMount}, L{removeMount}).

        @param configured: the configured stations, the default first.
        @param dynamic: the dynamic mounts, after them.
        @return: a L{Deferred} firing once the removed stations stopped.
        @raise ValueError: if two stations share a mount.
        """
        stations = configured + dynamic
        mounts = [station.mount for station in stations]
        if len(set(mounts)) != len(mounts):
            raise ValueError("two stations have the same mount: " + ", ".join(m.decode() for m in mounts))
        removed = [station for station in self.stations if station not in stations]
        added = [station for station in stations if station not in self.stations]
        self.stations = stations
        self._configured = configured
        self.dynamicStations = dynamic
        self.factory.stations = {station.mount: station for station in stations}
        if self.radioSite is not None:
            self.radioSite.setStations(stations)
        stopping = []
        for station in removed:
            # Its events stay relayed: the listeners it disconnects leave
            # after it is gone, and the radio's logs and hooks hear of it.
            stopping.append(maybeDeferred(station.disownServiceParent))
        for station in added:
            station.events.subscribe(self.events.emit)
            station.setServiceParent(self)
        return gatherResults(stopping, consumeErrors=True).addCallback(lambda _: None)

    def useReloader(self, reloader: IReloader) -> None:
        """
        Let the admin API reload the configuration file
        (C{POST /admin/reload-config}).

        @param reloader: a L{txradio.reload.Reloader} for this radio.
        """
        self.reloader = reloader
        if self.radioSite is not None:
            self.radioSite.setReloader(reloader)

    def reloadCertificates(self) -> None:
        """
        Read the certificates of the C{ssl:} ports again: new connections
        get a renewed certificate, those made before keep theirs.
        """
        for certificate in self.certificates:
            certificate.reload()

    def setAdminPassword(self, password: str | None) -> None:
        """
        Change the admin password of the built-in site and of C{/metrics}.

        @param password: the new password, or L{None} to turn admin off.
        """
        if self.radioSite is not None:
            self.radioSite.setAdminPassword(password)
        if self._metrics is not None and self._metrics.access is not None:
            self._metrics.access = replace(self._metrics.access, password=password)

    def observe(self, observer) -> None:
        """
        Watch every station's events; see L{txradio.stream.events}.

        @param observer: a callable taking an L{Event}; it must not block.
        """
        self.events.subscribe(observer)

    def pushClients(self) -> list:
        """
        The pushes to other servers this radio runs.

        @return: its L{txradio.net.push.PushClient} children.
        """
        from txradio.net.push import PushClient

        return [child for child in self if isinstance(child, PushClient)]

    def hlsSessions(self, station: Station) -> int | None:
        """
        Count a station's HLS listeners (sessions seen recently).

        @param station: one of the stations.
        @return: the count, or L{None} when the site serves no HLS for it.
        """
        return self.radioSite.hlsSessions(station) if self.radioSite is not None else None

    def whenListening(self) -> Deferred:
        """
        Wait until every port listens (after C{startService}).

        @return: a L{Deferred} firing with the L{IListeningPort}s, in the
            order of C{listen}; useful with C{tcp:0} to learn the port
            numbers.
        """
        return gatherResults([port._waitingForPort for port in self.ports], consumeErrors=True)
