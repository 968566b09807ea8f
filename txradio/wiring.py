# -*- test-case-name: tests.test_access_config,tests.test_yp_wiring,tests.test_reload -*-
"""
Wiring a built radio's surroundings from a configuration, at a start and
again at every reload: logs and hooks, the access checks, the DJ accounts
and the directory listings.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence

from twisted.logger import Logger

from txradio.config import HookConfig, MountConfig, RadioConfig, ServerConfig
from txradio.net.access import AccessPolicy, AuthLimiter, MountAccess, PasswordFile, URLAuthenticator
from txradio.net.yp import YPClient, listenURLFor
from txradio.operations.hooks import hookFromConfig
from txradio.operations.logs import AddressPolicy
from txradio.service import RadioService
from txradio.stream.station import Station
from txradio.wire.access import AddressRules, AgentBans, parseNetworks

_log = Logger()


def configureDJs(service: RadioService, config: RadioConfig, reactor) -> None:
    """
    Give the radio its DJ accounts (C{[[dj]]}), or take new ones on a
    reload; DJs on the air stay.

    @param service: the radio.
    @param config: the configuration.
    @param reactor: the radio's clock.
    """
    from zoneinfo import ZoneInfo

    from txradio.net.djs import DJDesk, accountsFrom

    accounts = accountsFrom(config.djs)
    zone = ZoneInfo(config.server.timezone)
    own = {mount.path.encode("ascii"): mount.djQueue for mount in config.mounts if mount.djQueue is not None}
    desk = service.factory.djs
    if desk is not None:
        desk.configure(accounts, zone, config.server.djQueue, own)
    elif accounts:
        service.factory.djs = DJDesk(accounts, zone, reactor, queue=config.server.djQueue, mountQueues=own)


def directoryClients(config: RadioConfig, stations: Mapping[str, Station], reactor, only=None) -> list[YPClient]:
    """
    The YP directory listings a configuration asks for: one L{YPClient}
    per C{server.yp_urls} entry and mount with C{public = true}.

    @param config: a validated configuration.
    @param stations: every mount's station, by path.
    @param reactor: the reactor.
    @param only: the C{(directory URL, mount path)} pairs to make, or
        L{None} for all (a reload makes only the new ones).
    @return: the clients, not yet started.
    """
    server = config.server
    public = [mount for mount in config.mounts if mount.public]
    if not server.ypURLs or not public:
        return []
    hostname = None
    if server.publicURL is None:
        hostname = socket.getfqdn()
        _log.warn(
            "no public_url: stream directories are told listeners tune in at {url}",
            url=listenURLFor(None, server.listen, public[0].path, hostname),
        )
    return [
        YPClient(
            url,
            stations[mount.path],
            listenURLFor(server.publicURL, server.listen, mount.path, hostname or ""),
            reactor,
            timeout=server.ypTimeout,
            bitrate=mount.bitrate,
        )
        for url in server.ypURLs
        for mount in public
        if only is None or (url, mount.path) in only
    ]


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
    if server.statsDB != (service.audience.path if service.audience is not None else None):
        service.keepAudience(server.statsDB, server.statsRetentionDays)
    elif service.audience is not None:
        service.audience.retentionDays = server.statsRetentionDays
    service.lastTitle = server.lastTitle
    service.stopTimeout = server.stopTimeout
    service.factory.maxPerAddress = server.maxConnectionsPerAddress
    # The built-in site's live-update hub takes the new limit for pages
    # that connect from now on.
    if service.radioSite is not None:
        service.radioSite.limitEventClients(server.maxEventClients)
    hooks = tuple(hooks)
    if hooks != service.hookConfigs:
        service.setHooks([hookFromConfig(hook, reactor) for hook in hooks])
        service.hookConfigs = hooks


def mountAccess(
    mount: MountConfig | None, server: ServerConfig, reactor, logins, limiter: AuthLimiter, agent=None
) -> MountAccess | None:
    """
    Decide who may listen to one mount: its access settings, each one
    overriding the server's.

    @param mount: the mount, or L{None} for a mount with no settings of its
        own (the server's apply).
    @param server: the server settings.
    @param reactor: the reactor (clock, and the authentication agent's).
    @param logins: the radio's login throttle.
    @param limiter: the server's count of authentication POSTs in flight.
    @param agent: an C{IAgent} for URL authentication; a new one by default.
    @return: the checks, or L{None} when the mount is open to everyone.
    @raise OSError: when the htpasswd file cannot be read.
    """

    def pick(name: str):
        own = getattr(mount, name) if mount is not None else None
        return own if own is not None else getattr(server, name)

    allow, deny, bans = pick("allowIp"), pick("denyIp"), pick("denyUserAgents")
    htpasswd, url = pick("htpasswd"), pick("listenerAuthUrl")
    secret = mount.tokenSecret if mount is not None else None
    if not (allow or deny or bans or htpasswd or url or secret):
        return None
    path = mount.path if mount is not None else "/"
    return MountAccess(
        path,
        reactor,
        rules=AddressRules(parseNetworks(allow), parseNetworks(deny)),
        bans=AgentBans(tuple(bans)),
        tokenSecret=secret,
        tokenBindsAddress=bool(mount is not None and mount.tokenBindAddress),
        passwords=PasswordFile(htpasswd) if htpasswd else None,
        authenticator=(
            URLAuthenticator(
                url, reactor, agent=agent, limiter=limiter, timeout=server.listenerAuthTimeout,
                onError=server.listenerAuthOnError,
            )
            if url
            else None
        ),
        logins=logins,
    )


def accessPolicy(config: RadioConfig, reactor, logins, limiter: AuthLimiter | None = None, agent=None) -> AccessPolicy | None:
    """
    Decide who may listen to every mount: the one place access settings
    become checks, at a start and at every reload (which reads htpasswd
    files again).

    @param config: a validated configuration.
    @param reactor: the reactor.
    @param logins: the radio's login throttle.
    @param limiter: the running radio's L{AuthLimiter}, kept across reloads;
        a new one by default.
    @param agent: an C{IAgent} for URL authentication; a new one by default.
    @return: the policy, or L{None} when every mount is open.
    @raise OSError: when an htpasswd file cannot be read.
    """
    if limiter is None:
        limiter = AuthLimiter(config.server.maxAuthRequests)
    limiter.limit = config.server.maxAuthRequests
    mounts = {}
    for mount in config.mounts:
        access = mountAccess(mount, config.server, reactor, logins, limiter, agent)
        if access is not None:
            mounts[mount.path] = access
    default = mountAccess(None, config.server, reactor, logins, limiter, agent)
    if not mounts and default is None:
        return None
    return AccessPolicy(mounts, default, limiter)


def runningLimiter(service: RadioService) -> AuthLimiter | None:
    """
    @param service: a radio.
    @return: the count of authentication POSTs in flight it has, to keep
        across a reload, or L{None}.
    """
    running = service.factory.access
    return running.limiter if running is not None else None


def configureAccess(service: RadioService, config: RadioConfig, reactor, policy: AccessPolicy | bool | None = True) -> None:
    """
    Give a radio's listener port and web site (HLS) the access policy a
    configuration describes; called again on every reload.

    @param service: the radio.
    @param config: the configuration.
    @param reactor: the reactor.
    @param policy: the policy, when already made with L{accessPolicy} (a
        reload makes it before changing anything); L{True} to make it here.
    @raise OSError: when an htpasswd file cannot be read.
    """
    if policy is True:
        policy = accessPolicy(config, reactor, service.logins, runningLimiter(service))
    service.factory.access = policy
    if service.radioSite is not None:
        service.radioSite.setAccess(policy)
