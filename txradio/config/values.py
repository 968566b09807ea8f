# -*- test-case-name: tests.test_config -*-
"""
The configuration's values, each field declaring one setting: the server,
HLS, hooks and the whole radio (the mounts are in L{txradio.config.mount}).

Every field of L{ServerConfig}, L{MountConfig}, L{PushConfig},
L{HLSConfig} and L{HookConfig} is made by L{setting}: its default, its kind
(how the file writes it and how it is checked), what it does, and the
command-line option that sets it.  The file's keys, the generic checks,
C{twistd txradio}'s options and the reference tables of C{docs/config.md}
all come from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from txradio.config._check import setting
from txradio.config.access import AgentPatterns, Networks, PasswordPath
from txradio.config.djs import DJConfig
from txradio.config.kinds import (
    Choice,
    Counts,
    Endpoints,
    Flag,
    Integer,
    Seconds,
    Strings,
    SubTable,
    Text,
    User,
    Words,
)
from txradio.config.mount import MAX_LISTENER_DURATION, MAX_TIMEOUT, MountConfig, MountTemplate
from txradio.config.places import DirectoryURLs, Folder, HookURL, Library, LogPath, MountPaths, PublicURL
from txradio.config.requests import RequestsConfig
from txradio.config.schedule import RotationConfig, TimeZone
from txradio.config.secrets import Secret
from txradio.net.access import DEFAULT_AUTH_TIMEOUT, DEFAULT_MAX_AUTH_REQUESTS, ON_ERROR
from txradio.net.listenerport import DEFAULT_HEADER_TIMEOUT
from txradio.net.sourceport import DEFAULT_SOURCE_TIMEOUT
from txradio.stream.segmenter import (
    DEFAULT_TARGET_DURATION,
    DEFAULT_WINDOW,
    MAX_TARGET_DURATION,
    MAX_WINDOW,
    MIN_WINDOW,
)
from txradio.stream.station import normalizeMount
from txradio.wire.passwordhash import PasswordHash

DEFAULT_LISTEN = ("tcp:8000",)
"""Where the server listens when C{[server]} has no C{listen}."""

HOOK_EVENTS = (
    "listener-joined",
    "listener-left",
    "listener-refused",
    "listener-threshold",
    "metadata-updated",
    "source-connected",
    "source-disconnected",
    "title-changed",
)
"""The events a hook can run on."""

LOG_ADDRESSES = ("full", "truncate", "hash")
"""How listener addresses may be shown: as they are, their network, or a keyed hash."""

DEFAULT_YP_TIMEOUT = 15.0
"""Seconds one request to a YP directory may take, by default (the same as
L{txradio.net.yp.DEFAULT_TIMEOUT}, not imported: that module loads
twisted.web, which the configuration must not)."""

METRICS_MODES = ("admin", "public", "off")
"""How C{/metrics} may be served on the listener ports."""

MAX_EVENT_CLIENTS = 10000
"""The largest C{max_event_clients} accepted: each page holds a connection
and up to 64 KiB of buffered events."""
DEFAULT_MAX_DYNAMIC_MOUNTS = 16
"""How many mounts made by source clients may exist at once by default."""

MAX_DYNAMIC_MOUNTS = 1000
"""The largest C{max_dynamic_mounts} accepted."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """
    Settings for the whole server: the C{[server]} table.

    @ivar listen: endpoint strings to accept listeners (and Icecast source
        clients) on, e.g. C{("tcp:8000",)}; never empty.
    @ivar publicURL: the base URL clients reach the server by (behind a
        proxy), or L{None} to use the request's C{Host}.
    @ivar adminPassword: the password of the C{admin} user (or its
        L{PasswordHash}), or L{None} to turn the admin functions off.
    @ivar shoutcastSourceListen: endpoint strings where SHOUTcast v1 source
        clients connect; empty for none.
    @ivar headerTimeout: seconds a client has to send its request head.
    @ivar sourceTimeout: seconds a source (live client or relay upstream)
        may send nothing before it is dropped.
    @ivar library: the folder offered as the on-demand library at
        C{/library/}; L{None} (the key left out) for the first mount's
        playlist folder, L{False} for no library.
    @ivar accessLog: the access log's path, or L{None} for none.
    @ivar playlistLog: the playlist log's path, or L{None} for none.
    @ivar logAddresses: how listener addresses are shown: C{"full"},
        C{"truncate"} or C{"hash"}.
    @ivar statsDB: the audience statistics' SQLite file, or L{None} for
        none.
    @ivar statsRetentionDays: days the statistics keep a row, or 0 for
        ever.
    @ivar metrics: how C{/metrics} is offered on the public port:
        C{"admin"}, C{"public"} or C{"off"}.
    @ivar metricsListen: endpoint strings serving only C{/metrics}.
    @ivar lastTitle: the title listeners are sent as the server stops, or
        L{None}.
    @ivar stopTimeout: the most seconds stopping may take.
    @ivar maxConnectionsPerAddress: the most connections one address may
        hold, or 0 for no limit.
    @ivar ypURLs: the YP directories that list the mounts with C{public =
        true}; empty for none.
    @ivar ypTimeout: seconds one request to a directory may take.
    @ivar maxListenerDuration: seconds a listener may stay on a mount that
        does not set its own limit, or 0 for no limit.
    @ivar maxEventClients: the most pages following C{/events} at once.
    @ivar sourcePassword: the global source password (Icecast's
        C{<source-password>}): with it a source client may broadcast on a
        mount that is not configured, which then exists while it is
        connected; L{None} for none.
    @ivar sourceUser: the user name that goes with it.
    @ivar dynamicMounts: whether sources may make mounts: L{True},
        L{False}, or L{None} for "when they have a password".
    @ivar maxDynamicMounts: the most such mounts at once.
    @ivar timezone: the station's time zone, for DJs' windows.
    @ivar djQueue: whether a second DJ is held and handed the mount over.
    @ivar recordingsDir: the folder of the recorded shows of mounts with
        C{record = true}, or L{None}.
    @ivar recordingsMinFree: free MiB below which recordings stop.
    """

    listen: tuple[str, ...] = setting(
        DEFAULT_LISTEN,
        kind=Endpoints(allowEmpty=False),
        help="Where listeners (and Icecast source clients) connect, as Twisted endpoint strings.",
        doc='For example `"tcp:8000:interface=127.0.0.1"`, `"tcp6:8000"`, `"ssl:8443:privateKey=key.pem"`, '
        '`"systemd:domain=INET:index=0"`. Entries cannot be empty or repeated. Twisted checks the endpoint '
        "syntax when the server starts; TCP ports get a listen backlog of 1024 unless one is given.",
        option="listen",
        short="l",
    )
    publicURL: str | None = setting(
        None,
        kind=PublicURL(),
        help="The base URL clients reach the server by, for playlists behind a proxy.",
        doc='Such as `"https://radio.example.org"`. Playlists and the status page link to this address. It can '
        "have a path, but not credentials, a query or a fragment. Left out, txradio uses the request's `Host` "
        "header.",
        option="public-url",
    )
    adminPassword: str | PasswordHash | None = setting(
        None,
        kind=Secret(hashable=True, emptyHint="leave it out to turn the admin functions off"),
        help="The password of user 'admin', for the admin pages and metadata updates; admin is off without one.",
        doc='Instead of the password itself, `{ file = "/run/secrets/admin" }` (its first line), '
        '`{ env = "NAME" }` or `{ hash = "scrypt$…" }` (from `txradio hash-password`); see "Secrets" below.',
        option="admin-password",
    )
    shoutcastSourceListen: tuple[str, ...] = setting(
        (),
        kind=Endpoints(allowEmpty=True),
        help="Endpoints where SHOUTcast v1 encoders connect, such as `\"tcp:8001\"`.",
        doc="By convention this is the port after the listener port. An entry cannot also be in `listen`. This "
        "needs at least one mount with `live = true`, and the first such mount receives the SHOUTcast v1 sources.",
        shown="none",
    )
    headerTimeout: float = setting(
        DEFAULT_HEADER_TIMEOUT,
        kind=Seconds(MAX_TIMEOUT),
        help="How long a client has to send its request head.",
    )
    sourceTimeout: float = setting(
        DEFAULT_SOURCE_TIMEOUT,
        kind=Seconds(MAX_TIMEOUT),
        help="How long a live source client, or a relay's upstream server, can send nothing before it is dropped.",
    )
    library: str | bool | None = setting(
        None,
        kind=Library(),
        help="The folder offered as the on-demand library at /library/ (browse, search, play with seeking).",
        doc="A relative path is taken from the configuration file's folder; `false` turns the library off.",
        shown="the first mount's playlist folder",
    )
    accessLog: str | None = setting(
        None,
        kind=LogPath(),
        help="Append an access log (combined format plus seconds listened) to this file.",
        doc="One line per web request, and one per listener when it leaves, as Icecast writes it. The folder "
        "must exist. Reopened on `SIGUSR1`.",
        option="access-log",
    )
    playlistLog: str | None = setting(
        None,
        kind=LogPath(),
        help="Append a playlist log (time|mount|listeners|title) to this file.",
        doc="One line per title a mount plays, `24/Nov/2026:11:00:00 +0000|/stream|3|Artist - Title`. "
        "Reopened on `SIGUSR1`.",
        option="playlist-log",
    )
    logAddresses: str = setting(
        "full",
        kind=Choice(LOG_ADDRESSES),
        help="How listener addresses appear in logs, status, the admin API and hooks.",
        doc="As they are; only the network (an IPv4 address's first three bytes, an IPv6 address's first 48 "
        "bits); or a keyed hash that tells listeners apart without telling who they are (the key is random per "
        "run). Limits per address still use the real address.",
        option="log-addresses",
    )
    statsDB: str | None = setting(
        None,
        kind=LogPath(),
        help="Keep audience statistics (sessions and tracks aired) in this SQLite file.",
        doc="For the reports under `/api/v1/stats/` and `/admin/reports/` (see docs/operations.md, "
        "\"Audience statistics\"), e.g. `/var/lib/txradio/audience.sqlite`. Addresses are stored as "
        "`log_addresses` shows them. The folder must exist.",
        option="stats-db",
    )
    statsRetentionDays: int = setting(
        0,
        kind=Integer(0, 36500, "days"),
        help="Days the audience statistics keep a session or a track (0: for ever).",
        doc="Older rows are deleted once an hour.",
    )
    metrics: str = setting(
        "admin",
        kind=Choice(METRICS_MODES),
        help="How /metrics (Prometheus) is served on the listener ports.",
        doc="Behind the admin password (off while there is none), to anyone, or not at all.",
        option="metrics",
    )
    metricsListen: tuple[str, ...] = setting(
        (),
        kind=Endpoints(allowEmpty=True),
        help="Endpoints serving only /metrics, without a password, for a scraper.",
        doc='For example `"tcp:9100:interface=127.0.0.1"`.',
        option="metrics-listen",
        shown="none",
    )
    lastTitle: str | None = setting(
        None,
        kind=Text(),
        help="A title sent to listeners as the server stops.",
        doc='For two seconds before they are disconnected, e.g. `"Off the air: back tomorrow"`.',
        option="last-title",
    )
    stopTimeout: float = setting(
        10.0,
        kind=Seconds(MAX_TIMEOUT),
        help="The most time stopping may take.",
        doc="Whatever has not stopped by then (an encoder that will not exit, an upstream that will not close) "
        "is abandoned and the process exits.",
    )
    maxConnectionsPerAddress: int = setting(
        0,
        kind=Integer(0, 1_000_000, "connections"),
        help="The most connections one client address may hold (0: no limit).",
        doc="Further ones are closed at once. No limit is the default because many listeners can share one "
        "address behind a NAT.",
        option="max-connections-per-address",
    )
    ypURLs: tuple[str, ...] = setting(
        (),
        kind=DirectoryURLs(),
        help="Stream directories (Icecast's YP protocol) that list the mounts with `public = true`.",
        doc='Such as `["http://dir.xiph.org/cgi-bin/yp-cgi"]`. Each public mount is added when the server starts, '
        "touched with its title and listener count as often as the directory asks (30 s to 1 h), and removed when "
        "it stops. Set `public_url`, or the listing names this host's name and first TCP port. Off by default.",
        option="yp-url",
        shown="none",
    )
    ypTimeout: float = setting(
        DEFAULT_YP_TIMEOUT,
        kind=Seconds(MAX_TIMEOUT),
        help="How long one request to a stream directory may take.",
    )
    maxListenerDuration: int = setting(
        0,
        kind=Integer(0, MAX_LISTENER_DURATION, "seconds"),
        help="Seconds a listener may stay before it is disconnected, for mounts that set none (0: no limit).",
        doc="Icecast's `<max-listener-duration>`. Each mount can set its own `max_listener_duration`. The "
        "listener leaves with the reason `duration_limit` (metrics, hooks).",
    )
    maxEventClients: int = setting(
        256,
        kind=Integer(1, MAX_EVENT_CLIENTS, "pages"),
        help="The most pages following live updates (/events) at once.",
        doc="A page over the limit is told to try again in 20 to 40 seconds, and its browser does (see "
        "docs/web.md). A reload applies it to pages that connect after it.",
    )
    sourcePassword: str | PasswordHash | None = setting(
        None,
        kind=Secret(hashable=True, emptyHint="leave it out for no global source password"),
        help="The global source password: a source client giving it may broadcast on any mount that is not "
        "configured, which exists while it is connected (dynamic mounts).",
        doc="Icecast's `<source-password>`. A configured mount takes only its own `source_password`; "
        "`[mount_template]` can give dynamic mounts a password of their own instead. On the command line "
        "`--source-password` sets both this and the mount's password.",
    )
    sourceUser: str = setting(
        "source",
        kind=User(),
        help="The user name that goes with the global source password.",
    )
    dynamicMounts: bool | None = setting(
        None,
        kind=Flag(),
        help="Let source clients make mounts that are not configured.",
        doc="`false` turns dynamic mounts off; `true` needs `source_password` here or in `[mount_template]`.",
        shown="on when `source_password` (here or in `[mount_template]`) is set",
    )
    maxDynamicMounts: int = setting(
        DEFAULT_MAX_DYNAMIC_MOUNTS,
        kind=Integer(1, MAX_DYNAMIC_MOUNTS, "mounts"),
        help="The most dynamic mounts at once; a source asking for one more gets 403.",
        option="max-dynamic-mounts",
    )
    allowIp: tuple[str, ...] = setting(
        (),
        kind=Networks(),
        help="Only these addresses and networks may listen, on every mount without its own list (403 for others).",
        doc='IPv4 and IPv6, e.g. `["10.0.0.0/8", "2001:db8::/32"]`; an IPv4 client on an IPv6 socket matches '
        "its IPv4 address. Empty allows everyone.",
        shown="everyone",
    )
    denyIp: tuple[str, ...] = setting(
        (), kind=Networks(), help="These addresses and networks may not listen (403); deny wins.", shown="none"
    )
    denyUserAgents: tuple[str, ...] = setting(
        (),
        kind=AgentPatterns(),
        help="Players that may not listen (403): case-insensitive substrings, or `re:` regular expressions.",
        doc="At most 100, each at most 200 characters.",
        shown="none",
    )
    htpasswd: str | None = setting(
        None,
        kind=PasswordPath(),
        help="An htpasswd file listeners of every mount without its own log in with (HTTP Basic).",
    )
    listenerAuthUrl: str | None = setting(
        None,
        kind=HookURL(),
        help="Icecast's URL authentication for every mount without its own.",
    )
    listenerAuthTimeout: float = setting(
        DEFAULT_AUTH_TIMEOUT,
        kind=Seconds(60.0),
        help="How long a listener_add POST may take.",
    )
    listenerAuthOnError: str = setting(
        "refuse",
        kind=Choice(ON_ERROR),
        help="When the authentication server fails or times out: refuse the listener (503), as Icecast does, "
        "or admit it.",
    )
    maxAuthRequests: int = setting(
        DEFAULT_MAX_AUTH_REQUESTS,
        kind=Integer(1, 10000, "requests"),
        help="listener_add POSTs in flight at most; further listeners get 503.",
    )
    recordingsDir: str | None = setting(
        None,
        kind=Folder(),
        help="The folder of the recorded live shows of mounts with record = true (one subfolder per mount).",
        doc="It must exist. A mount's own `recordings_dir` wins. See docs/shows.md.",
        shown="none",
    )
    recordingsMinFree: int = setting(
        256,
        kind=Integer(0, None, "MiB"),
        help="Free space (MiB) the recordings' disk must keep: below it a recording does not start, or stops.",
        doc="Checked before a recording starts and every 30 s while it runs; listeners never notice.",
    )
    timezone: str = setting(
        "UTC",
        kind=TimeZone(),
        help="The station's time zone (IANA name, e.g. `Europe/Paris`): the programme clock's days and hours, "
        "and DJs' `windows`, are in its local time.",
        doc="Daylight saving changes apply: a block or window keeps its wall-clock times. See docs/programming.md "
        "and docs/shows.md.",
    )
    rotation: RotationConfig = setting(  # noqa: RUF009 - a field, like the others
        RotationConfig(),
        kind=SubTable(RotationConfig, "rotation = { artist_minutes = 60, title_tracks = 20 }"),
        help="Rotation rules for every playlist on the programme clock; see rotation below.",
        shown="none",
    )
    requests: RequestsConfig = setting(  # noqa: RUF009 - a field, like the others
        RequestsConfig(),
        kind=SubTable(RequestsConfig, "requests = { queue = 20, address_minutes = 5 }"),
        help="Listener requests' queue and cool-downs, for the mounts with `requests = true`; see requests below.",
        shown="see below",
    )
    djQueue: bool = setting(
        False,
        kind=Flag(),
        help="Hold a DJ who logs in while another is on air, and hand the mount over when the first leaves.",
        doc="At most one DJ waits per mount (others get 403), with at most 4 s of its audio kept. See "
        "docs/shows.md, Hand-over.",
    )


@dataclass(frozen=True, slots=True)
class HLSConfig:
    """
    How mounts are also served as HLS: the C{[hls]} table.

    @ivar enabled: whether HLS is served at all (a mount opts out with
        C{hls = false}).
    @ivar segment: seconds of audio a segment holds.
    @ivar window: segments a live playlist lists.
    """

    enabled: bool = setting(True, kind=Flag(), help="Serve HLS at all; `false` serves no HLS for any mount.")
    segment: int = setting(
        DEFAULT_TARGET_DURATION,
        kind=Integer(1, MAX_TARGET_DURATION, "seconds"),
        help="Seconds of audio in an HLS segment (EXT-X-TARGETDURATION).",
        doc="Shorter segments start and follow titles sooner (a player stays about three segments behind the "
        "live edge); longer ones cost fewer requests.",
        option="hls-segment",
    )
    window: int = setting(
        DEFAULT_WINDOW,
        kind=Integer(MIN_WINDOW, MAX_WINDOW, "segments"),
        help="Segments a live HLS playlist lists.",
        doc="A mount keeps up to `3 × window + 6` segments in memory, about `segment × bitrate / 8` bytes each "
        "(6 s at 128 kbps: 96 kB).",
        option="hls-window",
    )


@dataclass(frozen=True, slots=True)
class HookConfig:
    """
    An event hook: a C{[[hook]]} table.

    Exactly one of L{command} and L{url} is set.

    @ivar events: the event names it runs on, e.g. C{("source-connected",)}.
    @ivar command: the program and its arguments, run with the event as
        JSON on its standard input (never through a shell), or L{None}.
    @ivar url: where the event is POSTed as JSON, or L{None}.
    @ivar mounts: the mounts it runs for; empty for every mount.
    @ivar thresholds: listener counts whose crossing is a
        C{listener-threshold} event.
    @ivar timeout: seconds one attempt may take.
    @ivar retries: further attempts after a failed one.
    """

    events: tuple[str, ...] = setting(
        kind=Words(HOOK_EVENTS),
        key="on",
        help="The events: " + ", ".join(f"`{event}`" for event in HOOK_EVENTS) + ".",
        doc="`title-changed` is a new track, or an update reaching the stream; `metadata-updated` an update "
        "received.",
    )
    command: tuple[str, ...] | None = setting(
        None,
        kind=Strings(),
        help="The program and its arguments, started directly, never through a shell.",
        doc="It gets the event as one JSON object on its standard input, and `TXRADIO_EVENT`, `TXRADIO_MOUNT` "
        "and (for titles) `TXRADIO_TITLE` in its environment. Exit status 0 is success.",
    )
    url: str | None = setting(
        None,
        kind=HookURL(),
        help="A URL the event is POSTed to as JSON; a 2xx answer is success.",
        doc="Exactly one of `command` and `url`.",
    )
    mounts: tuple[str, ...] = setting(
        (), kind=MountPaths(), help="Only events of these mounts.", shown="every mount"
    )
    thresholds: tuple[int, ...] = setting(
        (),
        kind=Counts(),
        help="For listener-threshold: listener counts whose crossing, up or down, is an event.",
        doc='The event says `"direction": "up"` or `"down"`.',
        shown="none",
    )
    timeout: float = setting(
        10.0,
        kind=Seconds(MAX_TIMEOUT),
        help="How long one attempt may take; a program still running then is killed.",
    )
    retries: int = setting(3, kind=Integer(0, 10), help="Further attempts after a failed one.")


@dataclass(frozen=True, slots=True)
class RadioConfig:
    """
    A whole, valid configuration.

    @ivar server: the server settings.
    @ivar mounts: the mounts in file order; the first is the default mount.
    @ivar hooks: the event hooks.
    @ivar hls: the HLS settings.
    @ivar template: what mounts made by source clients get (the
        C{[mount_template]} table).
    @ivar djs: the DJ accounts (C{[[dj]]} tables).
    """

    server: ServerConfig
    mounts: tuple[MountConfig, ...]
    hooks: tuple[HookConfig, ...] = ()
    hls: HLSConfig = HLSConfig()
    template: MountTemplate = MountTemplate()
    djs: tuple[DJConfig, ...] = ()

    @property
    def dynamicMounts(self) -> bool:
        """
        Whether source clients may make mounts: as C{[server]
        dynamic_mounts} says, by default when they have a password (the
        global one or the template's).

        @return: L{True} when they may.
        """
        hasPassword = self.server.sourcePassword is not None or self.template.sourcePassword is not None
        if self.server.dynamicMounts is None:
            return hasPassword
        return self.server.dynamicMounts

    def mount(self, path: str | bytes) -> MountConfig:
        """
        Find a mount.

        @param path: its path, e.g. C{"/live"} (or C{"live"}, or bytes).
        @return: the mount.
        @raise KeyError: when there is no such mount.
        """
        try:
            wanted = normalizeMount(path).decode("ascii")
        except ValueError:
            raise KeyError(path) from None
        for mount in self.mounts:
            if mount.path == wanted:
                return mount
        raise KeyError(path)

    def withListen(self, listen: tuple[str, ...]) -> RadioConfig:
        """
        The same configuration on other listener ports (C{--listen} given
        with C{--config} wins over the file's ports).

        @param listen: endpoint strings.
        @return: a copy whose C{server.listen} is C{listen}.
        """
        return replace(self, server=replace(self.server, listen=listen))
