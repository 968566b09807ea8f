# -*- test-case-name: tests.test_radio -*-
"""
Assembling a radio from a configuration: the stations, their sources,
fallbacks and pushes, and the service that runs them.
"""

from __future__ import annotations

import os

from twisted.logger import Logger

from txradio.wire.audioformat import SKIP, TRANSCODE, AudioFormat, findEncoder, refuser
from collections.abc import Mapping, Sequence

from txradio.config import HookConfig, MountConfig, RadioConfig, ServerConfig
from txradio.operations.hooks import hookFromConfig
from txradio.operations.logs import AddressPolicy
from txradio.wire.icy import StreamInfo
from txradio.net.push import PushClient
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelaySource
from txradio.stream.switcher import MountFollower
from txradio.sources.tracks import tracksFor
from txradio.sources.transcode import ALWAYS, TranscodingSource
from txradio.stream.station import Station
from txradio.web.hls import HLSSettings

_log = Logger()


def shoutcastEndpointFor(description: str) -> str | None:
    """
    The SHOUTcast v1 source port that goes with a listener endpoint: the
    next port, on the same interface.

    @param description: a listener endpoint string, e.g. C{"tcp:8000"}.
    @return: e.g. C{"tcp:8001"}, or L{None} when the description is not a
        TCP port with a number.
    """
    parts = description.split(":")
    if parts[0] not in ("tcp", "tcp6") or len(parts) < 2:
        return None
    port = parts[1]
    if port.startswith("port="):
        port = port[len("port=") :]
    if not port.isdigit() or int(port) in (0, 65535):
        return None
    options = [p for p in parts[2:] if p.startswith("interface=")]
    return ":".join([parts[0], str(int(port) + 1), *options])


class EncoderMissing(ValueError):
    """
    Some mounts need the encoder program and it cannot be found.

    @ivar mounts: the paths of the mounts that need it.
    @ivar executable: the program looked for.
    """

    def __init__(self, mounts: list[str], executable: str) -> None:
        self.mounts = mounts
        self.executable = executable
        ValueError.__init__(
            self,
            f"mount{'s' if len(mounts) > 1 else ''} {', '.join(mounts)} need{'' if len(mounts) > 1 else 's'} "
            f"the encoder {executable!r}, which is not installed or not on PATH "
            "(on Debian: apt install ffmpeg); derived mounts and format_policy = \"transcode\" re-encode audio",
        )


def needsEncoder(mount: MountConfig) -> bool:
    """
    Tell whether a mount cannot run without the encoder program.

    @param mount: a mount.
    @return: L{True} for a derived mount or one whose policy is explicitly
        C{"transcode"}; a mount with the default policy skips what it cannot
        transcode instead.
    """
    return mount.deriveFrom is not None or mount.formatPolicy == TRANSCODE


def checkEncoder(config: RadioConfig, executable: str = "ffmpeg") -> str | None:
    """
    Find the encoder program, and fail clearly if a mount needs it and it
    is missing.

    @param config: a validated configuration.
    @param executable: the program.
    @return: its full path, or L{None} when it is missing and no mount
        needs it.
    @raise EncoderMissing: when it is missing and some mount needs it.
    """
    found = findEncoder(executable)
    if found is None:
        needing = [mount.path for mount in config.mounts if needsEncoder(mount)]
        if needing:
            raise EncoderMissing(needing, executable)
    return found


def conformer(
    audioFormat: AudioFormat, policy: str | None, reactor, encoder: str | None, name: str
):
    """
    Make what keeps a mount's format, for L{Station}'s C{conform}.

    @param audioFormat: the mount's format.
    @param policy: C{"transcode"}, C{"skip"}, or L{None} for transcode
        when an encoder exists.
    @param reactor: the reactor encoders are spawned with.
    @param encoder: the encoder program's path, or L{None} when missing.
    @param name: the mount, for logs.
    @return: a callable wrapping a source in a L{TranscodingSource}.
    """
    if policy is None:
        policy = TRANSCODE if encoder is not None else SKIP
    return lambda switcher: TranscodingSource(
        switcher,
        audioFormat,
        policy,
        reactor=reactor,
        executable=encoder or "ffmpeg",
        encoderAvailable=encoder is not None,
        name=name,
    )


def derivedStation(parent: Station, mount: str, audioFormat: AudioFormat, reactor, encoder: str, **kwargs) -> Station:
    """
    Make a mount that re-encodes another: its programme follows the parent
    mount's stream (whatever the parent plays: programme, live source or
    fallback) through an encoder.

    @param parent: the mount to follow.
    @param mount: the new mount's path.
    @param audioFormat: its format (a bitrate set).
    @param reactor: the reactor (clock and process spawner).
    @param encoder: the encoder program.
    @param kwargs: more L{Station} arguments.
    @return: the station, recorded in C{parent.derived}.
    """
    follower = MountFollower(parent, name=mount)
    follower.peer = f"derived mount {mount}"
    # Not a listener of the parent: it takes no listener slot there.
    follower.internal = True
    source = TranscodingSource(follower, audioFormat, ALWAYS, reactor=reactor, executable=encoder, name=mount)
    station = Station(source, mount=mount, clock=reactor, **kwargs)
    station.derivedFrom = parent
    parent.derived.append(station)
    return station


def buildStations(
    config: RadioConfig, reactor, encoder: str | None | bool = True, keep: Mapping[str, Station] | None = None
) -> list[Station]:
    """
    Make the stations a configuration describes, with their fallbacks.

    @param config: a validated configuration.
    @param reactor: the reactor (and clock).
    @param encoder: the encoder program's path, L{None} when it is
        missing, or L{True} to look for C{ffmpeg} on C{PATH}.
    @param keep: stations already running, by mount path, to use as they
        are instead of building them (a configuration reload); their
        fallbacks are left alone.
    @return: the stations, in the configuration's order.
    @raise EncoderMissing: when a mount needs the encoder and it is missing.
    """
    if encoder is True:
        encoder = checkEncoder(config)
    elif encoder is None and any(needsEncoder(mount) for mount in config.mounts):
        raise EncoderMissing([m.path for m in config.mounts if needsEncoder(m)], "ffmpeg")
    keep = dict(keep or {})
    stations: dict[str, Station] = dict(keep)
    for mount in config.mounts:
        if mount.deriveFrom is not None or mount.path in keep:
            continue
        policy = mount.formatPolicy or (TRANSCODE if encoder else SKIP)
        refuse = refuser(mount.audioFormat) if policy == SKIP else None
        if mount.playlist is not None:
            source = PlaylistSource(
                tracksFor(mount.playlist, mount.shuffle), clock=reactor, name=mount.path, refuse=refuse
            )
        elif mount.relay is not None:
            source = RelaySource(mount.relay, reactor=reactor, name=mount.path, timeout=config.server.sourceTimeout)
        else:
            source = None
        stations[mount.path] = Station(
            source,
            mount=mount.path,
            info=StreamInfo(
                name=mount.name,
                genre=mount.genre,
                url=mount.url,
                description=mount.description,
                public=mount.public,
            ),
            clock=reactor,
            metaint=mount.metaint,
            burstSize=mount.burstSize,
            maxListeners=mount.maxListeners,
            lagLimit=mount.lagLimit,
            sourcePassword=mount.sourcePassword if mount.live else None,
            sourceUser=mount.sourceUser,
            conform=conformer(mount.audioFormat, mount.formatPolicy, reactor, encoder, mount.path),
        )
    for mount in config.mounts:
        if mount.deriveFrom is None or mount.path in keep:
            continue
        assert isinstance(encoder, str)
        stations[mount.path] = derivedStation(
            stations[mount.deriveFrom],
            mount.path,
            mount.audioFormat,
            reactor,
            encoder,
            info=StreamInfo(
                name=mount.name,
                genre=mount.genre,
                url=mount.url,
                description=mount.description,
                public=mount.public,
                bitrate=mount.bitrate,
            ),
            metaint=mount.metaint,
            burstSize=mount.burstSize,
            maxListeners=mount.maxListeners,
            lagLimit=mount.lagLimit,
        )
    stations = {mount.path: stations[mount.path] for mount in config.mounts}
    for mount in config.mounts:
        if mount.path in keep:
            continue
        if mount.fallback is not None:
            stations[mount.path].setFallback(stations[mount.fallback])
        if not mount.hls:
            # The site serves no HLS for a station whose hls is false.
            stations[mount.path].hls = False
    return list(stations.values())


def hlsSettings(config) -> HLSSettings:
    """
    How the site serves HLS, from the C{[hls]} table.

    @param config: the checked table, a L{txradio.config.HLSConfig}.
    @return: the settings for L{RadioService}.
    """
    return HLSSettings(enabled=config.enabled, targetDuration=config.segment, windowSegments=config.window)


def libraryFor(config: RadioConfig, reactor):
    """
    The on-demand library a configuration asks for.

    @param config: a validated configuration.
    @param reactor: the reactor.
    @return: a L{txradio.library.index.Library} for C{server.library}, or,
        when that is left out, for the first mount whose playlist is a
        folder; L{None} when it is C{false} or there is no such folder.
    """
    from txradio.library.index import Library

    folder = config.server.library
    if folder is False:
        return None
    if folder is None:
        folder = next(
            (m.playlist for m in config.mounts if m.playlist is not None and os.path.isdir(m.playlist)), None
        )
    return Library(folder, clock=reactor) if folder else None


def serviceFromConfig(config: RadioConfig, reactor=None) -> RadioService:
    """
    Build the whole radio a configuration describes.

    @param config: a validated configuration.
    @param reactor: the reactor; the global one by default.
    @return: the L{RadioService}, not yet started.
    """
    if reactor is None:
        from twisted.internet import reactor
    stations = buildStations(config, reactor)
    byPath = {station.mount.decode(): station for station in stations}
    live = [station for station in stations if station.acceptsSources]
    shoutcast = [(endpoint, live[0]) for endpoint in config.server.shoutcastSourceListen] if live else []
    service = RadioService(
        stations,
        library=libraryFor(config, reactor),
        listen=config.server.listen,
        reactor=reactor,
        publicURL=config.server.publicURL,
        headerTimeout=config.server.headerTimeout,
        adminPassword=config.server.adminPassword,
        sourceTimeout=config.server.sourceTimeout,
        shoutcastSources=shoutcast,
        hls=hlsSettings(config.hls),
        metrics=config.server.metrics,
        metricsListen=config.server.metricsListen,
    )
    configureOperations(service, config.server, config.hooks, reactor)
    for mount in config.mounts:
        if mount.push is not None:
            PushClient(
                byPath[mount.path],
                mount.push.url,
                password=mount.push.password,
                user=mount.push.user,
                reactor=reactor,
            ).setServiceParent(service)
    return service


def configureOperations(service: RadioService, server: ServerConfig, hooks: Sequence[HookConfig], reactor) -> None:
    """
    Set up what an operator configures around the stations: logs, hidden
    addresses, the last title, the stop timeout, the per-address
    connection cap and the event hooks.  Called again with new settings
    (a reload), it changes only what changed: a log whose path is the
    same stays open.

    @param service: the radio.
    @param server: the server settings.
    @param hooks: the event hooks.
    @param reactor: the reactor the hooks run with.
    @raise OSError: when a log file cannot be opened.
    """
    if server.logAddresses != service.addressPolicy.mode:
        service.hideAddresses(AddressPolicy(server.logAddresses))
    if server.accessLog != service.accessLogPath:
        service.logAccess(server.accessLog)
    if server.playlistLog != service.playlistLogPath:
        service.logPlaylist(server.playlistLog)
    service.lastTitle = server.lastTitle
    service.stopTimeout = server.stopTimeout
    service.factory.maxPerAddress = server.maxConnectionsPerAddress
    hooks = tuple(hooks)
    if hooks != getattr(service, "hookConfigs", None):
        service.setHooks([hookFromConfig(hook, reactor) for hook in hooks])
        service.hookConfigs = hooks
