# -*- test-case-name: tests.test_config -*-
"""
The configuration file: a TOML document describing the server and its
mounts, parsed and checked into frozen values.

This module only reads and checks.  It opens no sockets and builds no
services; L{txradio.build} turns a L{RadioConfig} into a running radio.  A
file is either entirely valid, and L{parseConfig} returns a complete
L{RadioConfig}, or it is not, and L{ConfigError} names the file, the line
(for TOML syntax errors) or the key (for everything else, e.g.
C{mount[2].metaint}, counting C{[[mount]]} tables from 1) and what is
expected.  Nothing is ever half-configured.

Keys are written in C{snake_case} in the file and appear in C{camelCase} on
the values (C{source_password} is L{MountConfig.sourcePassword}).  See
C{docs/config.md} for the file format.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from dataclasses import replace as _replace
from typing import Any
from urllib.parse import urlsplit

from txradio.wire.audioformat import BITRATES, POLICIES, SAMPLE_RATES, AudioFormat
from txradio.stream.broadcast import DEFAULT_BURST
from txradio.wire.upstream import parseUpstream
from txradio.wire.icy import DEFAULT_METAINT, MAX_METAINT
from txradio.stream.listener import DEFAULT_LAG_LIMIT
from txradio.net.listenerport import DEFAULT_HEADER_TIMEOUT
from txradio.stream.segmenter import DEFAULT_TARGET_DURATION, DEFAULT_WINDOW, MAX_TARGET_DURATION, MAX_WINDOW, MIN_WINDOW
from txradio.net.sourceport import DEFAULT_SOURCE_TIMEOUT
from txradio.stream.station import normalizeMount

DEFAULT_LISTEN = ("tcp:8000",)
"""Where the server listens when C{[server]} has no C{listen}."""

MAX_BURST = 16 << 20
"""The largest C{burst_size} accepted, in bytes (16 MiB)."""

MIN_LAG_LIMIT = 16384
"""The smallest C{lag_limit} accepted, in bytes."""

MAX_TIMEOUT = 3600.0
"""The longest C{header_timeout} or C{source_timeout} accepted, in seconds."""

MAX_TEXT = 1024
"""The most characters accepted in one text setting (names, passwords…)."""

MAX_FILE_SIZE = 1 << 20
"""The largest configuration file L{loadConfig} reads, in bytes."""

PLAYLIST_EXTENSIONS = (".m3u", ".m3u8")
"""The playlist files a mount can play (anything else must be a folder)."""

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BARE_KEY = re.compile("[A-Za-z0-9_-]+")


class ConfigError(ValueError):
    """
    A bad configuration.

    C{str(error)} is one line an operator can act on: the file, then the
    key path (C{server.listen}, C{mount[2].push.password}; C{[[mount]]}
    tables count from 1) or, for a TOML syntax error, tomllib's message with
    its line and column, then what is wrong and what is expected.

    @ivar file: the configuration file's path, or C{"<config>"} for text
        that did not come from a file.
    @ivar key: the key path the problem is at, or L{None} when it is not
        about one key (a syntax error, an unreadable file).
    @ivar problem: what is wrong, without the file and key.
    """

    def __init__(self, file: str, problem: str, key: str | None = None) -> None:
        """
        @param file: the configuration file's path.
        @param problem: what is wrong and what is expected.
        @param key: the key path, if the problem is at one key.
        """
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}: " if key is not None else f"{file}: "
        # One line, whatever the pieces held.
        ValueError.__init__(self, " ".join((where + problem).splitlines()))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """
    Settings for the whole server: the C{[server]} table.

    @ivar listen: endpoint strings to accept listeners (and Icecast source
        clients) on, e.g. C{("tcp:8000",)}; never empty.
    @ivar publicURL: the base URL clients reach the server by (behind a
        proxy), or L{None} to use the request's C{Host}.
    @ivar adminPassword: the password of the C{admin} user, or L{None} to
        turn the admin functions off.
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
    @ivar metrics: how C{/metrics} is offered on the public port:
        C{"admin"}, C{"public"} or C{"off"}.
    @ivar metricsListen: endpoint strings serving only C{/metrics}.
    @ivar lastTitle: the title listeners are sent as the server stops, or
        L{None}.
    @ivar stopTimeout: the most seconds stopping may take.
    @ivar maxConnectionsPerAddress: the most connections one address may
        hold, or 0 for no limit.
    """

    listen: tuple[str, ...] = DEFAULT_LISTEN
    publicURL: str | None = None
    adminPassword: str | None = None
    shoutcastSourceListen: tuple[str, ...] = ()
    headerTimeout: float = DEFAULT_HEADER_TIMEOUT
    sourceTimeout: float = DEFAULT_SOURCE_TIMEOUT
    library: str | bool | None = None
    accessLog: str | None = None
    playlistLog: str | None = None
    logAddresses: str = "full"
    metrics: str = "admin"
    metricsListen: tuple[str, ...] = ()
    lastTitle: str | None = None
    stopTimeout: float = 10.0
    maxConnectionsPerAddress: int = 0


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

    events: tuple[str, ...]
    command: tuple[str, ...] | None = None
    url: str | None = None
    mounts: tuple[str, ...] = ()
    thresholds: tuple[int, ...] = ()
    timeout: float = 10.0
    retries: int = 3


@dataclass(frozen=True, slots=True)
class PushConfig:
    """
    Where a mount is pushed as a source client: a mount's C{push} table.

    @ivar url: the upstream Icecast mount, C{http://host:port/mount} or
        C{https://…}, without credentials.
    @ivar user: the source user there.
    @ivar password: the source password there; never empty.
    """

    url: str
    user: str = "source"
    password: str = ""

    @property
    def mount(self) -> str:
        """
        The upstream mount the URL names.

        @return: its path, e.g. C{"/relay"} for
            C{http://icecast.example:8000/relay}.
        """
        return urlsplit(self.url).path or "/"


@dataclass(frozen=True, slots=True)
class MountConfig:
    """
    One mount: a C{[[mount]]} table.

    At most one of L{playlist} and L{relay} is set; a mount with neither is
    live-only and has L{live} set.  A mount with L{live} set has a
    L{sourcePassword}.

    @ivar path: the mount path, normalized, e.g. C{"/stream"}.
    @ivar name: the station's name (C{icy-name}).
    @ivar genre: its genre (C{icy-genre}).
    @ivar url: its home page (C{icy-url}).
    @ivar description: a sentence about it (C{icy-description}).
    @ivar public: whether directories may list it (C{icy-pub}).
    @ivar playlist: the absolute path of a music folder or a C{.m3u} or
        C{.m3u8} file to play, or L{None}.
    @ivar shuffle: whether the playlist plays in a random order.
    @ivar relay: the upstream URL to relay, or L{None}.
    @ivar live: whether live source clients may broadcast to the mount.
    @ivar sourcePassword: the password they log in with, or L{None} when
        L{live} is not set.
    @ivar sourceUser: the user name they log in with.
    @ivar fallback: the path of the mount listeners hear when this one has
        nothing to play, or L{None}.
    @ivar maxListeners: the most listeners at once, or L{None} for no limit.
    @ivar metaint: audio bytes between metadata blocks.
    @ivar burstSize: bytes of recent audio a new listener receives at once.
    @ivar lagLimit: bytes a stalled listener may fall behind before it is
        dropped.
    @ivar push: where the mount is also pushed as a source, or L{None}.
    @ivar sampleRate: the sample rate listeners get, in Hz, or L{None} for
        the default (44100, or a derived mount's parent's).
    @ivar channels: the channels listeners get (1 or 2), or L{None} for the
        default (2, or a derived mount's parent's).
    @ivar bitrate: the bitrate listeners get, in kbps, or L{None} for any
        (a derived mount always sets one).
    @ivar formatPolicy: what happens to audio of another format:
        C{"transcode"}, C{"skip"}, or L{None} for the default (transcode when
        ffmpeg can be found, else skip).
    @ivar deriveFrom: the path of the mount this one re-encodes at
        L{bitrate}, or L{None}.
    @ivar hls: whether the mount is also served as HLS (when L{HLSConfig}
        has it on).
    """

    path: str
    name: str = "txradio"
    genre: str = ""
    url: str = ""
    description: str = ""
    public: bool = False
    playlist: str | None = None
    shuffle: bool = False
    relay: str | None = None
    live: bool = False
    sourcePassword: str | None = None
    sourceUser: str = "source"
    fallback: str | None = None
    maxListeners: int | None = None
    metaint: int = DEFAULT_METAINT
    burstSize: int = DEFAULT_BURST
    lagLimit: int = DEFAULT_LAG_LIMIT
    push: PushConfig | None = None
    sampleRate: int | None = None
    channels: int | None = None
    bitrate: int | None = None
    formatPolicy: str | None = None
    deriveFrom: str | None = None
    hls: bool = True

    @property
    def audioFormat(self) -> AudioFormat:
        """
        The format the mount's listeners get, defaults filled in (a derived
        mount's parent's sample rate and channels are filled in by
        L{parseConfig}).

        @return: the format.
        """
        return AudioFormat(self.sampleRate or 44100, self.channels or 2, self.bitrate)

    @property
    def kind(self) -> str:
        """
        What the mount plays of its own.

        @return: C{"playlist"}, C{"relay"}, C{"derived"} for a mount that
            re-encodes another, or C{"live"} for a live-only mount.  A mount
            with a playlist or relay may also take live sources (L{live});
            its kind still names the programme.
        """
        if self.deriveFrom is not None:
            return "derived"
        if self.playlist is not None:
            return "playlist"
        if self.relay is not None:
            return "relay"
        return "live"


@dataclass(frozen=True, slots=True)
class HLSConfig:
    """
    How mounts are also served as HLS: the C{[hls]} table.

    @ivar enabled: whether HLS is served at all (a mount opts out with
        C{hls = false}).
    @ivar segment: seconds of audio a segment holds.
    @ivar window: segments a live playlist lists.
    """

    enabled: bool = True
    segment: int = DEFAULT_TARGET_DURATION
    window: int = DEFAULT_WINDOW


@dataclass(frozen=True, slots=True)
class RadioConfig:
    """
    A whole, valid configuration.

    @ivar server: the server settings.
    @ivar mounts: the mounts in file order; the first is the default mount.
    @ivar hooks: the event hooks.
    @ivar hls: the HLS settings.
    """

    server: ServerConfig
    mounts: tuple[MountConfig, ...]
    hooks: tuple[HookConfig, ...] = ()
    hls: HLSConfig = HLSConfig()

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


_TOP_KEYS = ("hls", "hook", "mount", "server")

_SERVER_KEYS = (
    "access_log",
    "admin_password",
    "header_timeout",
    "last_title",
    "library",
    "listen",
    "log_addresses",
    "max_connections_per_address",
    "metrics",
    "metrics_listen",
    "playlist_log",
    "public_url",
    "shoutcast_source_listen",
    "source_timeout",
    "stop_timeout",
)

_HOOK_KEYS = ("command", "mounts", "on", "retries", "thresholds", "timeout", "url")

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
METRICS_MODES = ("admin", "public", "off")

_MOUNT_KEYS = (
    "bitrate",
    "burst_size",
    "channels",
    "derive_from",
    "description",
    "fallback",
    "format_policy",
    "genre",
    "hls",
    "lag_limit",
    "live",
    "max_listeners",
    "metaint",
    "name",
    "path",
    "playlist",
    "public",
    "push",
    "relay",
    "sample_rate",
    "shuffle",
    "source_password",
    "source_user",
    "url",
)

_PUSH_KEYS = ("password", "url", "user")

_HLS_KEYS = ("enabled", "segment", "window")

_MISSING: Any = object()


def _typeName(value: object) -> str:
    """
    Name a TOML value's type the way the file spells it.

    @param value: a value tomllib produced.
    @return: e.g. C{"a boolean"}.
    """
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _show(value: object) -> str:
    """
    Show a value from the file in a message: short, on one line, and safe
    for huge integers (which C{str} refuses to convert).

    @param value: the value.
    @return: its text.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large number"
    if isinstance(value, str):
        text = repr(value[:60])
        return text if len(value) <= 60 else text[:-1] + "…" + text[-1]
    if isinstance(value, float):
        return repr(value)
    return _typeName(value)


def _keyText(key: str) -> str:
    """
    Write a key for a key path, quoting it when TOML would.

    @param key: the key.
    @return: e.g. C{metaint} or C{"odd key"}.
    """
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


class _Table:
    """
    One table of the file being checked, with its key path, handing out
    checked values.

    @ivar file: the file's path, for errors.
    @ivar prefix: the table's key path, e.g. C{"mount[2]"}, or C{""} for the
        top level.
    @ivar data: the table.
    """

    def __init__(self, file: str, prefix: str, data: dict[str, Any], known: tuple[str, ...]) -> None:
        """
        @param file: the file's path.
        @param prefix: the table's key path.
        @param data: the table as tomllib gave it.
        @param known: the keys it may have.
        @raise ConfigError: for a key it may not have.
        """
        self.file = file
        self.prefix = prefix
        self.data = data
        # Unknown keys first: a misspelt key is the likeliest cause of any
        # other complaint ("live but no source_password").
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                self.fail(key, f"unknown key; {hint}known keys: {', '.join(known)}")

    def path(self, key: str | None = None, index: int | None = None) -> str | None:
        """
        @param key: a key of this table, or L{None} for the table itself.
        @param index: the position (from 1) of an item of the key's array,
            or L{None} for the whole value.
        @return: its key path, or L{None} for the top level itself.
        """
        if key is None:
            return self.prefix or None
        path = f"{self.prefix}.{_keyText(key)}" if self.prefix else _keyText(key)
        return path if index is None else f"{path}[{index}]"

    def fail(self, key: str | None, problem: str, index: int | None = None) -> None:
        """
        Reject a setting.

        @param key: the key, or L{None} for the whole table.
        @param problem: what is wrong and what is expected.
        @param index: the position (from 1) of the item at fault in the
            key's array, or L{None}.
        @raise ConfigError: always.
        """
        raise ConfigError(self.file, problem, self.path(key, index))

    def itemIndex(self, key: str, index: int) -> int | None:
        """
        How to name an item of a value that may be one string or an array.

        @param key: the key.
        @param index: the item's position, from 1.
        @return: C{index} when the file wrote an array, L{None} when it wrote
            a single value.
        """
        return index if isinstance(self.data.get(key), list) else None

    def has(self, key: str) -> bool:
        """
        @param key: a key.
        @return: whether the table sets it.
        """
        return key in self.data

    def text(
        self,
        key: str,
        default: Any = _MISSING,
        allowEmpty: bool = True,
        emptyHint: str = "",
    ) -> Any:
        """
        A string setting, without control characters.

        @param key: the key.
        @param default: the value when it is absent; required without one.
        @param allowEmpty: whether C{""} (or only spaces) is allowed.
        @param emptyHint: what to say after "must not be empty".
        @return: the string, or C{default}.
        @raise ConfigError: when it is missing, not a string, empty when it
            may not be, too long or holds control characters.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {_typeName(value)} ({_show(value)})")
        if not allowEmpty and not value.strip():
            self.fail(key, "must not be empty" + (f"; {emptyHint}" if emptyHint else ""))
        if len(value) > MAX_TEXT:
            self.fail(key, f"is {len(value)} characters long; the most allowed is {MAX_TEXT}")
        if _CONTROL.search(value):
            self.fail(key, f"must not contain control characters or line breaks: {_show(value)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        """
        A boolean setting.

        @param key: the key.
        @param default: the value when it is absent.
        @return: the boolean.
        @raise ConfigError: when it is not C{true} or C{false}.
        """
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {_typeName(value)} ({_show(value)})")
        return value

    def integer(self, key: str, default: Any, minimum: int, maximum: int | None = None, unit: str = "") -> Any:
        """
        A whole-number setting in a range.

        @param key: the key.
        @param default: the value when it is absent.
        @param minimum: the smallest value allowed.
        @param maximum: the largest value allowed, or L{None} for no limit.
        @param unit: what it counts, for the message (e.g. C{"bytes"}).
        @return: the number, or C{default}.
        @raise ConfigError: when it is not an integer (booleans and floats are
            not) or out of range.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return default
        units = f" {unit}" if unit else ""
        expected = (
            f"a whole number from {minimum} to {maximum}{units}"
            if maximum is not None
            else f"a whole number of at least {minimum}{units}"
        )
        # bool is a subclass of int: true must not pass for 1.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be {expected}, not {_typeName(value)} ({_show(value)})")
        if value < minimum or (maximum is not None and value > maximum):
            self.fail(key, f"must be {expected}, not {_show(value)}")
        return value

    def seconds(self, key: str, default: float) -> float:
        """
        A duration in seconds: an integer or a float, more than 0 and at most
        L{MAX_TIMEOUT}.

        @param key: the key.
        @param default: the value when it is absent.
        @return: the duration.
        @raise ConfigError: when it is not a number or out of range.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return default
        expected = f"a number of seconds more than 0 and at most {MAX_TIMEOUT:g}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be {expected}, not {_typeName(value)} ({_show(value)})")
        if isinstance(value, int) and value.bit_length() > 64:
            self.fail(key, f"must be {expected}, not {_show(value)}")
        seconds = float(value)
        if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
            self.fail(key, f"must be {expected}, not {_show(value)}")
        return seconds

    def endpoints(self, key: str, default: tuple[str, ...], allowEmpty: bool) -> tuple[str, ...]:
        """
        Endpoint strings: one string or an array of strings.

        Only basic checks are made here; the reactor parses the syntax when
        the server starts.

        @param key: the key.
        @param default: the value when it is absent.
        @param allowEmpty: whether an empty array is allowed.
        @return: the endpoint strings.
        @raise ConfigError: for another type, an empty string, control
            characters, an empty array when not allowed, or a repeat.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return default
        example = 'e.g. "tcp:8000" or ["tcp:8000", "tcp6:8000"]'
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, f"must be an endpoint string or an array of them ({example}), not {_typeName(value)}")
        if not value and not allowEmpty:
            self.fail(key, f"must name at least one endpoint ({example})")
        seen: list[str] = []
        for index, item in enumerate(value, 1):
            where = self.itemIndex(key, index)
            if not isinstance(item, str):
                self.fail(key, f"must be an endpoint string ({example}), not {_typeName(item)} ({_show(item)})", where)
            description = item.strip()
            if not description:
                self.fail(key, f"must not be empty ({example})", where)
            if _CONTROL.search(item) or len(item) > MAX_TEXT:
                self.fail(key, f"is not an endpoint string: {_show(item)}", where)
            if description in seen:
                self.fail(key, f"{_show(description)} is listed twice", where)
            seen.append(description)
        return tuple(seen)

    def table(self, key: str, known: tuple[str, ...], example: str) -> _Table | None:
        """
        A sub-table.

        @param key: the key.
        @param known: the keys it may have.
        @param example: how to write it, for the message.
        @return: the checked table, or L{None} when it is absent.
        @raise ConfigError: when it is not a table.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"must be a table ({example}), not {_typeName(value)}")
        return _Table(self.file, self.path(key) or key, value, known)


def _upstreamURL(table: _Table, key: str, needsMount: bool) -> str:
    """
    Check an upstream URL: C{http} or C{https}, a host, a valid port, no
    credentials, no fragment.

    @param table: the table it is in.
    @param key: its key.
    @param needsMount: whether it must name a mount (a path other than
        C{/}) and have no query, as a push target must.
    @return: the URL.
    @raise ConfigError: when it is not such a URL.
    """
    url = table.text(key, allowEmpty=False, emptyHint="give a URL such as http://host:8000/stream").strip()
    if any(c.isspace() for c in url):
        table.fail(key, f"must not contain spaces (percent-encode them): {_show(url)}")
    try:
        parseUpstream(url)
        parts = urlsplit(url)
        hasCredentials = parts.username is not None or parts.password is not None
    except ValueError as error:
        problem: str | None = str(error)
    else:
        problem = None
    if problem is not None:
        table.fail(key, f"is not usable: {problem}; expected http://host[:port]/path or https://…")
    if hasCredentials:
        table.fail(
            key,
            "must not hold credentials; give them as user and password"
            if needsMount
            else "must not hold credentials (relays connect without them)",
        )
    if parts.fragment:
        table.fail(key, f"must not have a #fragment: {_show(url)}")
    if needsMount and (parts.path in ("", "/") or parts.query):
        table.fail(key, f"must name the upstream mount, e.g. http://icecast.example:8000/live, not {_show(url)}")
    return url


def _publicURL(table: _Table) -> str | None:
    """
    Check the server's public URL.

    @param table: the C{[server]} table.
    @return: the URL, or L{None} when it is absent.
    @raise ConfigError: when it is not an C{http(s)} URL with a host.
    """
    url = table.text("public_url", None, allowEmpty=False, emptyHint="leave it out to use the Host header")
    if url is None:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        table.fail("public_url", f"must be an http:// or https:// URL with a host, not {_show(url)}")
    if parts.query or parts.fragment or parts.username is not None:
        table.fail("public_url", f"must be a base URL without credentials, query or fragment, not {_show(url)}")
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in url):
        table.fail("public_url", f"must be ASCII without spaces (percent-encode the rest), not {_show(url)}")
    return url


def _library(table: _Table, data: dict, base: str) -> str | bool | None:
    """
    Check the C{library} setting: a folder, or C{false}.

    @param table: the C{[server]} table.
    @param data: its raw values.
    @param base: the folder relative paths are resolved against.
    @return: the folder's absolute path, L{False}, or L{None} when left out.
    @raise ConfigError: for another value or a folder that does not exist.
    """
    value = data.get("library")
    if value is None or value is False:
        return value
    if not isinstance(value, str) or not value.strip():
        table.fail("library", f"must be a folder, or false for no library, not {_show(value)}")
    path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    if not os.path.isdir(path):
        table.fail("library", f"{_show(value)} is not a folder")
    return path


def _server(file: str, data: Any, base: str = ".") -> ServerConfig:
    """
    Check the C{[server]} table.

    @param file: the file's path.
    @param data: the table, or L{None} when the file has none.
    @return: the server settings.
    @raise ConfigError: for a bad setting.
    """
    if data is None:
        return ServerConfig()
    if not isinstance(data, dict):
        raise ConfigError(file, f"must be a table ([server]), not {_typeName(data)}", "server")
    table = _Table(file, "server", data, _SERVER_KEYS)
    adminPassword = table.text(
        "admin_password", None, allowEmpty=False, emptyHint="leave it out to turn the admin functions off"
    )
    listen = table.endpoints("listen", DEFAULT_LISTEN, allowEmpty=False)
    shoutcast = table.endpoints("shoutcast_source_listen", (), allowEmpty=True)
    for index, description in enumerate(shoutcast, 1):
        if description in listen:
            table.fail(
                "shoutcast_source_listen",
                f"{_show(description)} is also in listen; SHOUTcast sources need a port of their own",
                table.itemIndex("shoutcast_source_listen", index),
            )
    return ServerConfig(
        listen=listen,
        publicURL=_publicURL(table),
        adminPassword=adminPassword,
        shoutcastSourceListen=shoutcast,
        headerTimeout=table.seconds("header_timeout", DEFAULT_HEADER_TIMEOUT),
        sourceTimeout=table.seconds("source_timeout", DEFAULT_SOURCE_TIMEOUT),
        library=_library(table, data, base),
        accessLog=_logPath(table, "access_log", base),
        playlistLog=_logPath(table, "playlist_log", base),
        logAddresses=_choice(table, "log_addresses", LOG_ADDRESSES, "full"),
        metrics=_choice(table, "metrics", METRICS_MODES, "admin"),
        metricsListen=table.endpoints("metrics_listen", (), allowEmpty=True),
        lastTitle=table.text("last_title", None),
        stopTimeout=table.seconds("stop_timeout", 10.0),
        maxConnectionsPerAddress=table.integer("max_connections_per_address", 0, 0, 1_000_000, "connections"),
    )


def _choice(table: _Table, key: str, choices: tuple[str, ...], default: str) -> str:
    """
    A setting that is one of a few words.

    @param table: the table it is in.
    @param key: its key.
    @param choices: the words allowed.
    @param default: the value when it is absent.
    @return: the word.
    @raise ConfigError: for anything else.
    """
    value = table.text(key, default)
    if value not in choices:
        table.fail(key, f"must be one of {', '.join(_show(c) for c in choices)}, not {_show(value)}")
    return value


def _logPath(table: _Table, key: str, base: str) -> str | None:
    """
    A log file's path, whose folder must exist.

    @param table: the table it is in.
    @param key: its key.
    @param base: the folder relative paths are resolved against.
    @return: the absolute path, or L{None} when it is absent.
    @raise ConfigError: when it is empty, a folder, or in no folder.
    """
    value = table.text(key, None, allowEmpty=False, emptyHint="leave it out for no log")
    if value is None:
        return None
    path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    if os.path.isdir(path):
        table.fail(key, f"{_show(path)} is a folder; give a file name in it")
    if not os.path.isdir(os.path.dirname(path)):
        table.fail(key, f"the folder of {_show(path)} does not exist")
    return path


def _hooks(file: str, data: Any) -> tuple[HookConfig, ...]:
    """
    Check the C{[[hook]]} tables.

    @param file: the file's path.
    @param data: the C{hook} value, or L{None} when there is none.
    @return: the hooks in file order.
    @raise ConfigError: for a bad hook.
    """
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(file, "must be an array of tables: write [[hook]]", "hook")
    hooks = []
    for index, item in enumerate(data, 1):
        prefix = f"hook[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(file, f"must be a table ([[hook]]), not {_typeName(item)}", prefix)
        table = _Table(file, prefix, item, _HOOK_KEYS)
        events = _words(table, "on", HOOK_EVENTS, required=True)
        command = _strings(table, "command")
        url = table.text("url", None, allowEmpty=False)
        if (command is None) == (url is None):
            table.fail(None, "needs exactly one of command (a program and its arguments) or url")
        if command is not None and not command:
            table.fail("command", "must name a program, e.g. [\"/usr/local/bin/notify\", \"--quiet\"]")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            table.fail("url", f"must be an http:// or https:// URL, not {_show(url)}")
        mounts = tuple(normalizeMount(m).decode("ascii") for m in (_strings(table, "mounts") or ()))
        thresholds = _integers(table, "thresholds")
        if thresholds and "listener-threshold" not in events:
            table.fail("thresholds", 'is set but on does not include "listener-threshold"')
        if "listener-threshold" in events and not thresholds:
            table.fail("thresholds", 'is required for "listener-threshold": the listener counts to watch, e.g. [100, 500]')
        hooks.append(
            HookConfig(
                events=events,
                command=command,
                url=url,
                mounts=mounts,
                thresholds=thresholds,
                timeout=table.seconds("timeout", 10.0),
                retries=table.integer("retries", 3, 0, 10),
            )
        )
    return tuple(hooks)


def _strings(table: _Table, key: str) -> tuple[str, ...] | None:
    """
    An array of strings without control characters.

    @param table: the table it is in.
    @param key: its key.
    @return: the strings, or L{None} when it is absent.
    @raise ConfigError: for another type.
    """
    value = table.data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        table.fail(key, f"must be an array of strings, not {_show(value)}")
    for item in value:
        if _CONTROL.search(item) or len(item) > MAX_TEXT:
            table.fail(key, f"holds control characters or is too long: {_show(item)}")
    return tuple(value)


def _words(table: _Table, key: str, choices: tuple[str, ...], required: bool = False) -> tuple[str, ...]:
    """
    An array of words from a list (or one word).

    @param table: the table it is in.
    @param key: its key.
    @param choices: the words allowed.
    @param required: whether it must be given.
    @return: the words.
    @raise ConfigError: for an unknown word, or a missing required key.
    """
    value = table.data.get(key)
    if isinstance(value, str):
        value = [value]
    if value is None or value == []:
        if required:
            table.fail(key, f"is required: some of {', '.join(choices)}")
        return ()
    words = _strings(table, key) if isinstance(table.data.get(key), list) else tuple(value)
    for word in words or ():
        if word not in choices:
            table.fail(key, f"{_show(word)} is not one of {', '.join(choices)}")
    return tuple(words or ())


def _integers(table: _Table, key: str) -> tuple[int, ...]:
    """
    An array of positive whole numbers.

    @param table: the table it is in.
    @param key: its key.
    @return: the numbers, sorted, or C{()} when absent.
    @raise ConfigError: for anything else.
    """
    value = table.data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and 0 < item <= 1_000_000 for item in value
    ):
        table.fail(key, f"must be an array of whole numbers from 1 to 1000000, not {_show(value)}")
    return tuple(sorted(set(value)))


def _mountPath(table: _Table, key: str) -> str:
    """
    Check a mount path with L{normalizeMount}'s rules.

    @param table: the table it is in.
    @param key: its key.
    @return: the normalized path, e.g. C{"/stream"}.
    @raise ConfigError: when it is not a valid mount path.
    """
    text = table.text(key, allowEmpty=False, emptyHint="give a path such as /stream")
    try:
        return normalizeMount(text).decode("ascii")
    except ValueError as error:
        problem = str(error)
    table.fail(key, problem)
    raise AssertionError("unreachable")  # pragma: no cover


def _playlist(table: _Table, base: str) -> str | None:
    """
    Check a playlist setting: a folder, or a readable C{.m3u}/C{.m3u8} file,
    that exists now.

    @param table: the mount's table.
    @param base: the folder relative paths are resolved against.
    @return: the absolute path, or L{None} when it is absent.
    @raise ConfigError: when it does not exist or is not usable.
    """
    value = table.text("playlist", None, allowEmpty=False, emptyHint="give a music folder or an .m3u file")
    if value is None:
        return None
    path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    try:
        isFolder = os.path.isdir(path)
        isFile = os.path.isfile(path)
        readable = os.access(path, os.R_OK | (os.X_OK if isFolder else 0))
    except ValueError:
        # Some names cannot be passed to the system at all (e.g. ones that
        # cannot be encoded); they name nothing that exists.
        isFolder = isFile = readable = False
    if isFolder:
        if not readable:
            table.fail("playlist", f"folder {path!r} cannot be read")
    elif isFile:
        if not path.lower().endswith(PLAYLIST_EXTENSIONS):
            table.fail("playlist", f"{path!r} is a file but not an .m3u or .m3u8 playlist; give one, or a folder")
        if not readable:
            table.fail("playlist", f"playlist file {path!r} cannot be read")
    else:
        table.fail("playlist", f"{path!r} does not exist; give a music folder or an .m3u/.m3u8 file")
    return path


def _push(table: _Table) -> PushConfig | None:
    """
    Check a mount's C{push} table.

    @param table: the mount's table.
    @return: the push settings, or L{None} when it is absent.
    @raise ConfigError: for a bad setting.
    """
    push = table.table("push", _PUSH_KEYS, 'push = { url = "http://host:8000/mount", password = "…" }')
    if push is None:
        return None
    url = _upstreamURL(push, "url", needsMount=True)
    user = push.text("user", "source", allowEmpty=False)
    if ":" in user:
        push.fail("user", f"must not contain ':' (HTTP Basic authentication cannot carry it): {_show(user)}")
    password = push.text("password", allowEmpty=False, emptyHint="the upstream's source password is required")
    return PushConfig(url=url, user=user, password=password)


def _mount(table: _Table, base: str) -> MountConfig:
    """
    Check one C{[[mount]]} table on its own (fallbacks are checked across
    mounts later).

    @param table: the table.
    @param base: the folder relative playlist paths are resolved against.
    @return: the mount.
    @raise ConfigError: for a bad setting.
    """
    path = _mountPath(table, "path")
    name = table.text("name", "txradio")
    genre = table.text("genre", "")
    url = table.text("url", "")
    description = table.text("description", "")
    public = table.flag("public", False)
    live = table.flag("live", False)
    shuffle = table.flag("shuffle", False)
    if table.has("playlist") and table.has("relay"):
        table.fail("relay", f"mount {path} has both a playlist and a relay; a mount plays one of them")
    playlist = _playlist(table, base)
    relay = _upstreamURL(table, "relay", needsMount=False) if table.has("relay") else None
    if shuffle and playlist is None:
        table.fail("shuffle", f"mount {path} has no playlist to shuffle")
    sourcePassword = table.text("source_password", None, allowEmpty=False, emptyHint="there is no default")
    sourceUser = table.text("source_user", "source", allowEmpty=False)
    if ":" in sourceUser:
        table.fail(
            "source_user", f"must not contain ':' (HTTP Basic authentication cannot carry it): {_show(sourceUser)}"
        )
    if live and sourcePassword is None:
        table.fail(
            "source_password", f"mount {path} accepts live sources but has no source_password; there is no default"
        )
    if not live:
        for key in ("source_password", "source_user"):
            if table.has(key):
                table.fail(key, f"is set but live is not true; add live = true to mount {path} to accept sources")
    deriveFrom = _mountPath(table, "derive_from") if table.has("derive_from") else None
    sampleRate, channels, bitrate, formatPolicy = _format(table, path, deriveFrom)
    if deriveFrom is not None:
        if deriveFrom == path:
            table.fail("derive_from", f"mount {path} cannot be derived from itself")
        for key in ("playlist", "relay", "live"):
            if table.has(key):
                table.fail(
                    key,
                    f"mount {path} is derived from {deriveFrom} and plays its programme; "
                    f"it cannot also have {key}",
                )
    elif playlist is None and relay is None and not live:
        table.fail(
            None,
            f"mount {path} has nothing to play: give it a playlist or a relay, "
            "or live = true and a source_password",
        )
    fallback = _mountPath(table, "fallback") if table.has("fallback") else None
    if fallback == path:
        table.fail("fallback", f"mount {path} cannot fall back to itself")
    return MountConfig(
        path=path,
        name=name,
        genre=genre,
        url=url,
        description=description,
        public=public,
        playlist=playlist,
        shuffle=shuffle,
        relay=relay,
        live=live,
        sourcePassword=sourcePassword,
        sourceUser=sourceUser,
        fallback=fallback,
        maxListeners=table.integer("max_listeners", None, 1, None, "listeners"),
        metaint=table.integer("metaint", DEFAULT_METAINT, 1, MAX_METAINT, "bytes"),
        burstSize=table.integer("burst_size", DEFAULT_BURST, 0, MAX_BURST, "bytes"),
        lagLimit=table.integer("lag_limit", DEFAULT_LAG_LIMIT, MIN_LAG_LIMIT, None, "bytes"),
        push=_push(table),
        sampleRate=sampleRate,
        channels=channels,
        bitrate=bitrate,
        formatPolicy=formatPolicy,
        deriveFrom=deriveFrom,
        hls=table.flag("hls", True),
    )


def _format(table: _Table, path: str, deriveFrom: str | None) -> tuple[int | None, int | None, int | None, str | None]:
    """
    Check a mount's format settings: C{sample_rate}, C{channels},
    C{bitrate} and C{format_policy}.

    @param table: the mount's table.
    @param path: the mount's path, for messages.
    @param deriveFrom: the mount it is derived from, or L{None}.
    @return: C{(sampleRate, channels, bitrate, formatPolicy)}, L{None} for
        each one not set.
    @raise ConfigError: for a value MP3 cannot carry, a derived mount
        without a bitrate, or a policy on a derived mount.
    """
    sampleRate = table.data.get("sample_rate")
    if sampleRate is not None and (isinstance(sampleRate, bool) or sampleRate not in SAMPLE_RATES):
        table.fail(
            "sample_rate",
            f"must be one of {', '.join(map(str, SAMPLE_RATES))} (Hz), not {_show(sampleRate)}",
        )
    channels = table.data.get("channels")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 2)):
        table.fail("channels", f"must be 1 (mono) or 2 (stereo), not {_show(channels)}")
    bitrate = table.data.get("bitrate")
    if bitrate is not None and (isinstance(bitrate, bool) or bitrate not in BITRATES):
        table.fail("bitrate", f"must be one of {', '.join(map(str, BITRATES))} (kbps), not {_show(bitrate)}")
    policy = table.text("format_policy", None)
    if policy is not None and policy not in POLICIES:
        table.fail("format_policy", f"must be one of {', '.join(POLICIES)}, not {_show(policy)}")
    if deriveFrom is not None:
        if bitrate is None:
            table.fail(None, f"mount {path} is derived from {deriveFrom} and needs a bitrate, e.g. bitrate = 64")
        if policy is not None:
            table.fail("format_policy", f"mount {path} is derived: everything it plays is re-encoded")
    return sampleRate, channels, bitrate, policy


def _hls(file: str, data: Any) -> HLSConfig:
    """
    Check the C{[hls]} table.

    @param file: the file's path.
    @param data: the table, or L{None} when the file has none.
    @return: the HLS settings.
    @raise ConfigError: for a bad setting.
    """
    if data is None:
        return HLSConfig()
    if not isinstance(data, dict):
        raise ConfigError(file, f"must be a table ([hls]), not {_typeName(data)}", "hls")
    table = _Table(file, "hls", data, _HLS_KEYS)
    return HLSConfig(
        enabled=table.flag("enabled", True),
        segment=table.integer("segment", DEFAULT_TARGET_DURATION, 1, MAX_TARGET_DURATION, "seconds"),
        window=table.integer("window", DEFAULT_WINDOW, MIN_WINDOW, MAX_WINDOW, "segments"),
    )


def _mounts(file: str, data: Any, base: str) -> tuple[MountConfig, ...]:
    """
    Check the C{[[mount]]} tables and how they refer to each other.

    @param file: the file's path.
    @param data: the C{mount} value, or L{None} when there is none.
    @param base: the folder relative playlist paths are resolved against.
    @return: the mounts in file order.
    @raise ConfigError: for a bad mount, none at all, a repeated path, or a
        fallback to a missing mount or in a cycle.
    """
    if data is None or data == []:
        raise ConfigError(file, 'there are no mounts; add a [[mount]] table with a path, e.g. path = "/stream"')
    if isinstance(data, dict):
        raise ConfigError(file, "must be an array of tables: write [[mount]], not [mount]", "mount")
    if not isinstance(data, list):
        raise ConfigError(file, f"must be an array of tables ([[mount]]), not {_typeName(data)}", "mount")
    mounts: list[MountConfig] = []
    where: dict[str, str] = {}
    for index, item in enumerate(data, 1):
        prefix = f"mount[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(file, f"must be a table ([[mount]]), not {_typeName(item)}", prefix)
        table = _Table(file, prefix, item, _MOUNT_KEYS)
        mount = _mount(table, base)
        if mount.path in where:
            table.fail("path", f"{mount.path} is already the path of {where[mount.path]}")
        where[mount.path] = prefix
        mounts.append(mount)
    byPath = {mount.path: mount for mount in mounts}
    for position, mount in enumerate(mounts):
        if mount.deriveFrom is None:
            continue
        parent = byPath.get(mount.deriveFrom)
        key = f"{where[mount.path]}.derive_from"
        if parent is None:
            raise ConfigError(
                file,
                f"mount {mount.path} is derived from {mount.deriveFrom}, which is not a mount here; "
                f"mounts: {', '.join(byPath)}",
                key,
            )
        if parent.deriveFrom is not None:
            raise ConfigError(
                file,
                f"{mount.deriveFrom} is itself derived from {parent.deriveFrom}; derive from {parent.deriveFrom}",
                key,
            )
        # Same programme, same sample rate and channels unless set.
        mounts[position] = mount = _replace(
            mount,
            sampleRate=mount.sampleRate or parent.audioFormat.sampleRate,
            channels=mount.channels or parent.audioFormat.channels,
        )
        byPath[mount.path] = mount
    for mount in mounts:
        if mount.fallback is None:
            continue
        if mount.fallback not in byPath:
            known = ", ".join(byPath)
            raise ConfigError(
                file,
                f"mount {mount.path} falls back to {mount.fallback}, which is not a mount here; mounts: {known}",
                f"{where[mount.path]}.fallback",
            )
        chain = [mount.path]
        step = byPath[mount.fallback]
        while step.fallback is not None and step.path not in chain:
            chain.append(step.path)
            step = byPath[step.fallback]
        if step.path in chain:
            cycle = " -> ".join(chain[chain.index(step.path) :] + [step.path])
            if step.path == mount.path:
                raise ConfigError(
                    file,
                    f"fallbacks go round in a cycle ({cycle}); one mount of it must have no fallback",
                    f"{where[mount.path]}.fallback",
                )
    return tuple(mounts)


def parseConfig(text: str, path: str = "<config>") -> RadioConfig:
    """
    Parse and check a configuration.

    @param text: the TOML document.
    @param path: the file it came from, for messages; relative playlist
        paths are resolved against its folder (the current folder for the
        default C{"<config>"}).
    @return: the whole configuration.
    @raise ConfigError: for a TOML syntax error or any bad setting; nothing
        is returned half-checked.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        if "at line" not in message:
            message += f" (line {text.count(chr(10)) + 1})"
        raise ConfigError(path, f"not valid TOML: {message}") from None
    except ValueError:
        # Python refuses to convert integers of thousands of digits.
        raise ConfigError(path, "not valid TOML: a number has too many digits") from None
    except RecursionError:
        raise ConfigError(path, "not valid TOML: arrays or tables are nested too deeply") from None
    _Table(path, "", data, _TOP_KEYS)
    base = os.path.dirname(os.path.abspath(path))
    server = _server(path, data.get("server"), base)
    mounts = _mounts(path, data.get("mount"), base)
    if server.shoutcastSourceListen and not any(mount.live for mount in mounts):
        raise ConfigError(
            path,
            "is set but no mount has live = true; SHOUTcast v1 sources need a live mount to feed",
            "server.shoutcast_source_listen",
        )
    hooks = _hooks(path, data.get("hook"))
    return RadioConfig(server=server, mounts=mounts, hooks=hooks, hls=_hls(path, data.get("hls")))


def loadConfig(path: str) -> RadioConfig:
    """
    Read, parse and check a configuration file.

    @param path: the file, UTF-8 encoded (a byte order mark is allowed).
    @return: the whole configuration.
    @raise ConfigError: when the file cannot be read, is too large, is not
        UTF-8, or L{parseConfig} rejects it.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_SIZE + 1)
    except OSError as error:
        raise ConfigError(path, f"cannot read the configuration: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(path, f"is larger than {MAX_FILE_SIZE} bytes; is it the configuration file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(path, f"not UTF-8 text: undecodable byte at line {line}; save the file as UTF-8") from None
    return parseConfig(text, path)
