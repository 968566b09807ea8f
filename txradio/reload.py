# -*- test-case-name: tests.test_reload -*-
"""
Reloading the configuration file while the radio runs.

L{planReload} compares the running configuration with the new one and says,
mount by mount, what must happen; it is pure, so every decision is tested
without a reactor.  L{Reloader} reads the file, rejects it whole if it has
an error (the running configuration stays), and applies the plan:

 - a mount whose settings did not change is not touched: its listeners
   never notice;
 - a mount whose stream info, limits, source password, playlist, fallback,
   push or HLS changed is updated in place, its listeners staying
   connected;
 - a mount whose audio pipeline changed (relay, format, metadata interval,
   the mount it re-encodes) is rebuilt: its listeners are disconnected and
   reconnect to the new one, as players do;
 - new mounts start, removed mounts end.

Server settings that only apply at startup (the ports, the public URL, the
library, metrics) are reported as needing a restart; the rest (the admin
password, timeouts, logs, address privacy, hooks) apply at once, and the
certificates of C{ssl:} ports are read again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from zope.interface import implementer

from txradio.config import ConfigError, MountConfig, RadioConfig, ServerConfig, loadConfig
from txradio.interfaces import IReloader

IN_PLACE = frozenset(
    {
        "name",
        "genre",
        "url",
        "description",
        "public",
        "live",
        "sourcePassword",
        "sourceUser",
        "fallback",
        "maxListeners",
        "lagLimit",
        "playlist",
        "shuffle",
        "push",
        "hls",
        "icyStatus",
        "maxListenerDuration",
        "intro",
        "allowIp",
        "denyIp",
        "denyUserAgents",
        "htpasswd",
        "tokenSecret",
        "tokenBindAddress",
        "listenerAuthUrl",
        "djQueue",
    }
)
"""Mount settings a running mount takes without disconnecting anyone."""

RESTART_ONLY = ("listen", "publicURL", "shoutcastSourceListen", "library", "metrics", "metricsListen")
"""Server settings that apply only when the server starts."""


@dataclass(frozen=True)
class ReloadPlan:
    """
    What a reload does.

    @ivar added: paths of mounts to start.
    @ivar removed: paths of mounts to end.
    @ivar rebuilt: paths of mounts to rebuild (listeners disconnected).
    @ivar updated: paths of mounts to update in place, with the settings
        that changed.
    @ivar unchanged: paths of mounts left alone.
    @ivar restartNeeded: server settings that changed but apply only at
        the next start.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    rebuilt: tuple[str, ...] = ()
    updated: tuple[tuple[str, frozenset[str]], ...] = ()
    unchanged: tuple[str, ...] = ()
    restartNeeded: tuple[str, ...] = ()

    def describe(self) -> str:
        """
        Say what the plan does, for the log and the admin API.

        @return: one line.
        """
        parts = []
        for label, paths in (("added", self.added), ("removed", self.removed), ("rebuilt", self.rebuilt)):
            if paths:
                parts.append(f"{label} {', '.join(paths)}")
        if self.updated:
            parts.append("updated " + ", ".join(f"{path} ({', '.join(sorted(keys))})" for path, keys in self.updated))
        if self.unchanged:
            parts.append(f"unchanged {', '.join(self.unchanged)}")
        if self.restartNeeded:
            parts.append(f"restart needed for {', '.join(self.restartNeeded)}")
        return "; ".join(parts) or "nothing changed"


def changedFields(old, new) -> frozenset[str]:
    """
    The fields of two dataclass instances that differ.

    @param old: one instance.
    @param new: another of the same class.
    @return: the names of the fields whose values differ.
    """
    return frozenset(f.name for f in fields(old) if getattr(old, f.name) != getattr(new, f.name))


def planReload(old: RadioConfig, new: RadioConfig) -> ReloadPlan:
    """
    Decide what a reload from C{old} to C{new} does.

    @param old: the running configuration.
    @param new: the configuration read now.
    @return: the plan.
    """
    before = {mount.path: mount for mount in old.mounts}
    after = {mount.path: mount for mount in new.mounts}
    rebuilt: set[str] = set()
    updated: dict[str, frozenset[str]] = {}
    for path, mount in after.items():
        if path not in before:
            continue
        changed = changedFields(before[path], mount)
        if not changed:
            continue
        if changed <= IN_PLACE and _playlistSwappable(before[path], mount, changed):
            updated[path] = changed
        else:
            rebuilt.add(path)
    # A mount re-encoding a rebuilt (or replaced) mount follows the old
    # one's broadcaster: it is rebuilt too, and so on down the line.
    growing = True
    while growing:
        growing = False
        for path, mount in after.items():
            if path in before and path not in rebuilt and mount.deriveFrom is not None:
                if mount.deriveFrom in rebuilt or mount.deriveFrom not in before:
                    rebuilt.add(path)
                    updated.pop(path, None)
                    growing = True
    order = [mount.path for mount in new.mounts]
    restart = tuple(name for name in RESTART_ONLY if getattr(old.server, name) != getattr(new.server, name))
    if old.hls != new.hls:
        restart += ("hls",)
    return ReloadPlan(
        added=tuple(path for path in order if path not in before),
        removed=tuple(mount.path for mount in old.mounts if mount.path not in after),
        rebuilt=tuple(path for path in order if path in rebuilt),
        updated=tuple((path, updated[path]) for path in order if path in updated),
        unchanged=tuple(path for path in order if path in before and path not in rebuilt and path not in updated),
        restartNeeded=restart,
    )


def _playlistSwappable(old: MountConfig, new: MountConfig, changed: frozenset[str]) -> bool:
    """
    Tell whether a changed playlist can be swapped in place: only a playlist
    replacing a playlist (a relay or a live-only mount is rebuilt).

    @param old: the mount before.
    @param new: the mount now.
    @param changed: the settings that changed.
    @return: L{True} when nothing about the programme changed, or a
        playlist replaces a playlist.
    """
    if not changed & {"playlist", "shuffle"}:
        return True
    return old.playlist is not None and new.playlist is not None


@implementer(IReloader)
class Reloader:
    """
    Reloads a radio from its configuration file: on C{SIGHUP} and from the
    admin API.

    @ivar radio: the L{txradio.service.RadioService}.
    @ivar path: the configuration file.
    @ivar config: the configuration running now.
    """

    _log = Logger()

    def __init__(self, radio, path: str, config: RadioConfig, reactor, listen: tuple[str, ...] | None = None) -> None:
        """
        @param radio: the running radio, built from C{config}.
        @param path: the file to read again.
        @param config: the configuration it was built from.
        @param reactor: the reactor (clock and process spawner).
        @param listen: listener ports given on the command line, which win
            over the file's, or L{None}.
        """
        self.radio = radio
        self.listen = listen
        self.path = path
        self.config = config
        self._reactor = reactor
        self._pushes: dict[str, object] = {
            push.station.mount.decode("ascii"): push for push in radio.pushClients()
        }
        from txradio.net.yp import YPClient

        self._directories: dict[tuple[str, str], object] = {
            (child.url, child.station.mount.decode("ascii")): child for child in radio if isinstance(child, YPClient)
        }

    def reload(self) -> ReloadPlan:
        """
        Read the file and apply it; a file with an error is rejected whole.

        Mounts that end stop in the background (their encoders may take a
        moment to exit).

        @return: the L{ReloadPlan} applied.
        @raise ConfigError: when the file has an error or cannot be applied;
            the running configuration stays.
        """
        try:
            new = loadConfig(self.path)
            if self.listen is not None:
                new = new.withListen(self.listen)
            plan = planReload(self.config, new)
            stopping = self._apply(new, plan)
        except ConfigError as error:
            self._log.error("not reloading: {error}; the running configuration stays", error=str(error))
            raise
        except Exception as error:
            self._log.failure("not reloading {path}: the running configuration stays", path=self.path)
            raise ConfigError(self.path, f"cannot be applied: {error}") from error
        self.config = new
        self._log.info("reloaded {path}: {plan}", path=self.path, plan=plan.describe())
        for name in plan.restartNeeded:
            self._log.warn("{path}: {name} changed; it applies when the server restarts", path=self.path, name=name)
        stopping.addErrback(lambda failure: self._log.failure("stopping a removed mount", failure))
        return plan

    def _apply(self, new: RadioConfig, plan: ReloadPlan) -> Deferred:
        """
        Apply a plan with the builder's functions (L{txradio.build}): new
        and rebuilt mounts are built as at a start, updated ones are
        reconfigured in place.  Everything that can fail (building
        stations, opening logs) happens before anything running is changed.

        @param new: the new configuration.
        @param plan: what to do.
        @return: a L{Deferred} firing once removed mounts have stopped.
        """
        from txradio.build import (
            buildStations,
            checkEncoder,
            configureIntro,
            linkFallbacks,
            listenerDuration,
            updateStation,
        )
        from txradio.wiring import accessPolicy, configureAccess, configureDJs, configureOperations, runningLimiter

        radio = self.radio
        byPath = {station.mount.decode("ascii"): station for station in radio.stations}
        keep = {path: byPath[path] for path in (*plan.unchanged, *(path for path, _ in plan.updated))}
        encoder = checkEncoder(new) if plan.added or plan.rebuilt else None
        stations = buildStations(new, self._reactor, encoder=encoder, keep=keep, library=radio.library)
        newByPath = {station.mount.decode("ascii"): station for station in stations}
        # The server settings first: a log that cannot be opened stops the
        # reload before any mount changed.
        # The htpasswd files are read before anything changes, too.
        access = accessPolicy(new, self._reactor, radio.logins, runningLimiter(radio))
        self._applyServer(new.server)
        configureOperations(radio, new.server, new.hooks, self._reactor)
        configureAccess(radio, new, self._reactor, access)
        configureDJs(radio, new, self._reactor)
        for path, keys in plan.updated:
            updateStation(byPath[path], new.mount(path), keys, self._reactor, new.server, radio.library)
        for path in plan.unchanged:
            # The server's default listener duration may have changed, and
            # an intro file changed on disk is read again.
            byPath[path].maxListenerDuration = listenerDuration(new.mount(path), new.server)
            configureIntro(byPath[path], new.mount(path), self._reactor)
        linkFallbacks(new, newByPath, only=keep)
        for path in (*plan.removed, *plan.rebuilt):
            old = byPath[path]
            if old.derivedFrom is not None and old in old.derivedFrom.derived:
                old.derivedFrom.derived.remove(old)
        stopped = radio.setStations(stations)
        from txradio.dynamic import configureDynamicMounts
        from txradio.wire.audioformat import findEncoder

        # Mounts sources make from now on follow the new file; those alive
        # stay as they were made.
        configureDynamicMounts(radio, new, self._reactor, encoder or findEncoder("ffmpeg"))
        self._applyHLS(plan, new, newByPath)
        self._applyPushes(new, newByPath, plan)
        self._applyDirectories(new, newByPath, plan)
        radio.reloadCertificates()
        return stopped

    def _applyServer(self, server: ServerConfig) -> None:
        """
        Apply the server settings that can change while running.

        @param server: the new settings.
        """
        radio = self.radio
        if server.adminPassword != self.config.server.adminPassword:
            radio.setAdminPassword(server.adminPassword)
        radio.factory.headerTimeout = server.headerTimeout
        radio.factory.sourceTimeout = server.sourceTimeout

    def _applyHLS(self, plan: ReloadPlan, new: RadioConfig, stations: dict) -> None:
        """
        Start or stop HLS for updated mounts whose C{hls} setting changed.

        @param plan: the plan.
        @param new: the new configuration.
        @param stations: the stations by path.
        """
        site = self.radio.radioSite
        if site is None:
            return
        for path, keys in plan.updated:
            if "hls" in keys:
                site.setHLS(stations[path], new.mount(path).hls)

    def _applyPushes(self, new: RadioConfig, stations: dict, plan: ReloadPlan) -> None:
        """
        Start, stop or restart pushes whose settings or mount changed.

        @param new: the new configuration.
        @param stations: the stations by path.
        @param plan: the plan.
        """
        from txradio.net.push import PushClient

        replaced = set(plan.rebuilt) | set(plan.removed)
        wanted = {mount.path: mount.push for mount in new.mounts if mount.push is not None}
        for path, push in list(self._pushes.items()):
            current = self.config.mount(path).push if _hasMount(self.config, path) else None
            if path in replaced or wanted.get(path) != current or path not in wanted:
                del self._pushes[path]
                push.disownServiceParent()
        for path, settings in wanted.items():
            if path in self._pushes:
                continue
            push = PushClient(
                stations[path], settings.url, password=settings.password, user=settings.user, reactor=self._reactor
            )
            push.setServiceParent(self.radio)
            self._pushes[path] = push


    def _applyDirectories(self, new: RadioConfig, stations: dict, plan: ReloadPlan) -> None:
        """
        Start or stop YP directory listings: for directories added to or
        removed from C{server.yp_urls}, mounts made public or private, and
        listings whose mount was rebuilt or whose announced info changed
        (the old listing is removed, a new one added).

        @param new: the new configuration.
        @param stations: the stations by path.
        @param plan: the plan.
        """
        from txradio.wiring import directoryClients

        replaced = set(plan.rebuilt) | set(plan.removed)
        wanted = {(url, mount.path) for url in new.server.ypURLs for mount in new.mounts if mount.public}
        for pair, client in list(self._directories.items()):
            url, path = pair
            if pair not in wanted or path in replaced or _listing(self.config, path) != _listing(new, path):
                del self._directories[pair]
                client.disownServiceParent()
        missing = wanted - set(self._directories)
        for client in directoryClients(new, stations, self._reactor, only=missing):
            client.setServiceParent(self.radio)
            self._directories[(client.url, client.station.mount.decode("ascii"))] = client


def _listing(config: RadioConfig, path: str) -> tuple | None:
    """
    What a directory listing of a mount announces.

    @param config: a configuration.
    @param path: a mount path.
    @return: the settings the listing is made from, or L{None} when the
        configuration has no such mount.
    """
    if not _hasMount(config, path):
        return None
    mount, server = config.mount(path), config.server
    return (mount.name, mount.genre, mount.url, mount.description, mount.bitrate, server.publicURL, server.listen,
            server.ypTimeout)


def _hasMount(config: RadioConfig, path: str) -> bool:
    """
    @param config: a configuration.
    @param path: a mount path.
    @return: whether the configuration has the mount.
    """
    return any(mount.path == path for mount in config.mounts)

