# -*- test-case-name: tests.test_radio -*-
"""
Assembling a radio from a configuration: the stations, their sources,
fallbacks and pushes, and the service that runs them.
"""

from __future__ import annotations

from twisted.logger import Logger

from txradio.config import RadioConfig
from txradio.icy import StreamInfo
from txradio.push import PushClient
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelaySource
from txradio.sources.tracks import tracksFor
from txradio.station import Station

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


def buildStations(config: RadioConfig, reactor) -> list[Station]:
    """
    Make the stations a configuration describes, with their fallbacks.

    @param config: a validated configuration.
    @param reactor: the reactor (and clock).
    @return: the stations, in the configuration's order.
    """
    stations: dict[str, Station] = {}
    for mount in config.mounts:
        if mount.playlist is not None:
            source = PlaylistSource(tracksFor(mount.playlist, mount.shuffle), clock=reactor, name=mount.path)
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
        )
    for mount in config.mounts:
        if mount.fallback is not None:
            stations[mount.path].setFallback(stations[mount.fallback])
    return list(stations.values())


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
        listen=config.server.listen,
        reactor=reactor,
        publicURL=config.server.publicURL,
        headerTimeout=config.server.headerTimeout,
        adminPassword=config.server.adminPassword,
        sourceTimeout=config.server.sourceTimeout,
        shoutcastSources=shoutcast,
    )
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
