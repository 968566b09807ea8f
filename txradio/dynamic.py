# -*- test-case-name: tests.test_dynamic -*-
"""
Dynamic mounts: a source client that logs in with the global source
password (C{[server] source_password}, or C{[mount_template]}'s own) may
broadcast on any mount name that is not configured, as at Icecast.  The
mount is built from C{[mount_template]} by the one builder
(L{txradio.build.buildStation}), served like a configured mount (stream,
playlists, HLS, status, admin, page) through the radio's one registration
path (L{txradio.service.RadioService.addMount}), and goes when its source
leaves: its listeners move to the template's fallback mount at a frame
boundary, or are disconnected (C{source_left}).

Part of the composition root: the listener port reaches it only through
L{txradio.interfaces.IMountMaker}.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.logger import Logger

from zope.interface import implementer

from txradio.build import buildStation
from txradio.config import RadioConfig
from txradio.interfaces import IMountMaker, IRadioSite, IStation
from txradio.net.sourceport import infoFromHeaders
from txradio.stream.station import Station, normalizeMount
from txradio.wire.passwordhash import PasswordHash
from txradio.wire.request import RequestError, RequestHead

MAX_MOUNT_NAME = 128
"""The longest path a dynamic mount may have, in bytes (its leading slash included)."""

RESERVED = (
    b"admin",
    b"admin.cgi",
    b"api",
    b"currentsong",
    b"events",
    b"library",
    b"listen",
    b"metrics",
    b"nextsong",
    b"played.html",
    b"static",
    b"stats",
    b"status-json.xsl",
    b"status.xsl",
    b"7.html",
)
"""
First path segments no dynamic mount may have, whatever the site serves
now: the built-in site's own addresses (a library or metrics turned on by
a reload must not find a mount in their place).
"""


@implementer(IMountMaker)
class DynamicMounts:
    """
    Makes and ends a radio's dynamic mounts.

    @ivar radio: the L{txradio.service.RadioService}; its
        C{dynamicStations} are the mounts made here.
    @ivar config: the configuration running now (its C{[server]} passwords,
        switch and cap, and its template).
    """

    _log = Logger()

    def __init__(self, radio, config: RadioConfig, reactor, encoder: str | None) -> None:
        """
        @param radio: the running radio.
        @param config: its configuration.
        @param reactor: the reactor (clock and process spawner).
        @param encoder: the encoder program's path, or L{None} when missing.
        """
        self.radio = radio
        self.config = config
        self._reactor = reactor
        self._encoder = encoder

    def configure(self, config: RadioConfig, encoder: str | None) -> None:
        """
        Take a reloaded configuration: mounts made from now on follow it;
        those alive keep what they were made with.

        @param config: the new configuration.
        @param encoder: the encoder program's path, or L{None}.
        """
        self.config = config
        self._encoder = encoder

    def accounts(self) -> Sequence[tuple[str, str | PasswordHash]]:
        """
        @return: the one C{(user, password)} pair that may make mounts (the
            template's, else the global), or none when they are off.
        """
        config = self.config
        if not config.dynamicMounts:
            return []
        template, server = config.template, config.server
        password = template.sourcePassword or server.sourcePassword
        if password is None:
            return []
        return [(template.sourceUser or server.sourceUser, password)]

    def refusal(self, mount: bytes) -> RequestError | None:
        """
        Check a dynamic mount's name and the cap.

        @param mount: the normalized path.
        @return: why it may not be made, or L{None}.
        """
        name = mount.decode("ascii")
        if len(mount) > MAX_MOUNT_NAME:
            return RequestError(403, f"a new mount's name may have at most {MAX_MOUNT_NAME} bytes")
        first = mount.split(b"/")[1]
        if first.lower() in RESERVED:
            return RequestError(403, f"{name} is an address of the server's own; choose another mount name")
        site = self.radio.site
        if IRadioSite.providedBy(site):
            reason = site.reservedPath(mount)
            if reason is not None:
                return RequestError(409, reason)
        if mount in self.radio.factory.stations:
            return RequestError(409, f"{name} already exists")
        limit = self.config.server.maxDynamicMounts
        if len(self.radio.dynamicStations) >= limit:
            return RequestError(403, f"the server has {limit} mounts made by sources, the most it allows")
        return None

    def make(self, path: bytes, head: RequestHead) -> Station:
        """
        Make and register a mount for a source; see L{IMountMaker.make}.

        @param path: the path the source asked for.
        @param head: its request.
        @return: the new station.
        @raise RequestError: when the name is refused or at the cap.
        """
        try:
            mount = normalizeMount(path)
        except ValueError as error:
            raise RequestError(403, f"not a mount name: {error}") from None
        refused = self.refusal(mount)
        if refused is not None:
            raise refused
        ((user, password),) = self.accounts()
        config = self.config
        settings = config.template.mountFor(mount.decode("ascii"), password, user)
        station = buildStation(settings, config.server, self._reactor, self._encoder)
        # What the source says of itself (cleaned as titles are) is the
        # mount's own info: it has no other.
        station.info = infoFromHeaders(head, station.info)
        fallback = self._configuredStation(settings.fallback)
        if fallback is not None:
            station.setFallback(fallback)
        self.radio.addMount(station)
        self._log.info(
            "made mount {mount} for a source ({count} of {limit} dynamic mounts)",
            mount=mount.decode("ascii"),
            count=len(self.radio.dynamicStations),
            limit=config.server.maxDynamicMounts,
        )
        return station

    def _configuredStation(self, path: str | None) -> Station | None:
        """
        @param path: a configured mount's path, or L{None}.
        @return: its running station, or L{None}.
        """
        if path is None:
            return None
        station = self.radio.factory.stations.get(path.encode("ascii"))
        return None if station is None or station in self.radio.dynamicStations else station

    def release(self, station: IStation) -> None:
        """
        End a dynamic mount whose source left; see L{IMountMaker.release}.

        @param station: the mount.
        """
        radio = self.radio
        if station not in radio.dynamicStations:
            return
        fallback = station.fallback
        moved = 0
        if fallback is not None and fallback in radio.stations:
            moved = station.moveListeners(fallback)
        station.setFallback(None)
        stopped = radio.removeMount(station)
        stopped.addErrback(lambda failure: self._log.failure("stopping dynamic mount {mount}", failure, mount=station.mount))
        self._log.info(
            "dynamic mount {mount} ended with its source{moved}",
            mount=station.mount.decode("ascii"),
            moved=f"; {moved} listener(s) moved to {fallback.mount.decode('ascii')}" if moved and fallback else "",
        )


def configureDynamicMounts(radio, config: RadioConfig, reactor, encoder: str | None) -> DynamicMounts:
    """
    Let sources make mounts on a radio as a configuration says: at start,
    and again on reload (the same L{DynamicMounts} takes the new settings).

    @param radio: the L{txradio.service.RadioService}.
    @param config: the configuration.
    @param reactor: the reactor.
    @param encoder: the encoder program's path, or L{None}.
    @return: the radio's L{DynamicMounts}, also its factory's C{mountMaker}.
    """
    maker = radio.factory.mountMaker
    if isinstance(maker, DynamicMounts):
        maker.configure(config, encoder)
        return maker
    maker = DynamicMounts(radio, config, reactor, encoder)
    radio.factory.mountMaker = maker
    return maker
