# -*- test-case-name: tests.test_logs -*-
"""
Logs an operator's tools read: the access log, the playlist log, hidden
listener addresses, and the server log as JSON lines.

The access log has one line per request in the combined log format, with
the seconds the client stayed appended as Icecast writes it; a listener's
line is written when it leaves.  The playlist log has one line per title
the stream carries::

    24/Nov/2026:11:00:00 +0000|/stream|3|Artist - Title

Both files are reopened by L{LogFile.reopen} (on C{SIGUSR1}, after
logrotate has moved them), and a file that cannot be written (a full disk)
costs one log message per cause, never the audio.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TextIO

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, jsonFileLogObserver

from txradio.stream.events import Event, ListenerLeft, TitleChanged

ADDRESSES_FULL = "full"
"""Log listener addresses as they are."""

ADDRESSES_TRUNCATE = "truncate"
"""Log only the network: an IPv4 address's first three bytes, an IPv6 one's first 48 bits."""

ADDRESSES_HASH = "hash"
"""Log a keyed hash of the address: the same listener, but not who."""

ADDRESS_POLICIES = (ADDRESSES_FULL, ADDRESSES_TRUNCATE, ADDRESSES_HASH)
"""The ways listener addresses can be shown."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class AddressPolicy:
    """
    How listener addresses appear in logs, status and hooks.

    Only what is shown changes: limits per address still see the real one.

    @ivar mode: one of L{ADDRESS_POLICIES}.
    """

    def __init__(self, mode: str = ADDRESSES_FULL, key: bytes | None = None) -> None:
        """
        @param mode: one of L{ADDRESS_POLICIES}.
        @param key: the secret the hashes are keyed with; a random one for
            this process by default (hashes then match within one run only,
            and cannot be reversed by hashing every IPv4 address).
        @raise ValueError: for an unknown mode.
        """
        if mode not in ADDRESS_POLICIES:
            raise ValueError(f"addresses must be one of {', '.join(ADDRESS_POLICIES)}, not {mode!r}")
        self.mode = mode
        self._key = key if key is not None else os.urandom(16)

    def host(self, host: str) -> str:
        """
        Show a host address.

        @param host: an IPv4 or IPv6 address (or any other text).
        @return: it, its network, or its hash.
        """
        if self.mode == ADDRESSES_FULL:
            return host
        if self.mode == ADDRESSES_HASH:
            return "h-" + hmac.new(self._key, host.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return "-"
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        prefix = 24 if address.version == 4 else 48
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)

    def peer(self, address: object) -> str:
        """
        Show a transport address, with its port only when nothing is hidden.

        @param address: an L{IAddress} provider.
        @return: e.g. C{192.0.2.7:5555}, C{[2001:db8::1]:5555},
            C{192.0.2.0} or C{h-…}.
        """
        host = getattr(address, "host", None)
        if host is None:
            return str(address)
        if self.mode != ADDRESSES_FULL:
            return self.host(host)
        port = getattr(address, "port", None)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def hostOf(peer: str) -> str:
    """
    The host part of an address as L{AddressPolicy.peer} shows it.

    @param peer: e.g. C{192.0.2.7:5555}, C{[::1]:80} or C{h-…}.
    @return: e.g. C{192.0.2.7}, C{::1} or C{h-…}.
    """
    if peer.startswith("["):
        return peer[1 : peer.find("]")] if "]" in peer else peer
    if peer.count(":") == 1:
        return peer.split(":", 1)[0]
    return peer or "-"


def formatTimestamp(when: float) -> str:
    """
    Write a time as the combined log format does, in UTC.

    @param when: seconds since the epoch.
    @return: e.g. C{24/Nov/2026:11:00:00 +0000}.
    """
    t = time.gmtime(when)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def escapeField(value: str | bytes | None) -> str:
    """
    Make a value safe inside a quoted log field: quotes, backslashes and
    control characters are escaped, so no value can forge a field or a line.

    @param value: the value; L{None} or empty is written C{-}.
    @return: the escaped text.
    """
    if not value:
        return "-"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def combinedLine(
    host: str,
    when: float,
    requestLine: str | bytes,
    status: int,
    size: int,
    referer: str | bytes | None,
    userAgent: str | bytes | None,
    seconds: float,
) -> str:
    """
    One access log line: the combined log format and the seconds the client
    stayed.

    @param host: the client's address as shown.
    @param when: when the request arrived, in seconds since the epoch.
    @param requestLine: e.g. C{GET /stream HTTP/1.1}.
    @param status: the status answered.
    @param size: bytes sent in the body.
    @param referer: the C{Referer} header, or L{None}.
    @param userAgent: the C{User-Agent} header, or L{None}.
    @param seconds: how long the client stayed.
    @return: the line, without its line end.
    """
    return (
        f'{escapeField(host).replace(" ", "_")} - - [{formatTimestamp(when)}] "{escapeField(requestLine)}" '
        f'{status} {size if size else "-"} "{escapeField(referer)}" "{escapeField(userAgent)}" {int(seconds)}'
    )


def playlistLine(when: float, mount: str, listeners: int, title: str) -> str:
    """
    One playlist log line.

    @param when: when the title started, in seconds since the epoch.
    @param mount: the mount, e.g. C{/stream}.
    @param listeners: its listeners at that moment.
    @param title: the title (control characters are escaped).
    @return: the line, without its line end.
    """
    clean = "".join(c if ord(c) >= 0x20 and ord(c) != 0x7F else " " for c in title)
    return f"{formatTimestamp(when)}|{mount}|{listeners}|{clean}"


class LogFile:
    """
    A text file that lines are appended to, reopened on request (after
    logrotate moved it), and that never raises: a failed write or open is
    logged once until writing works again, and the line is counted as lost.

    @ivar path: the file's path.
    @ivar lost: lines that could not be written.
    """

    _log = Logger()

    def __init__(self, path: str) -> None:
        """
        Open the file for appending (creating it).

        @param path: the file's path.
        @raise OSError: when it cannot be opened at all: a wrong path is a
            configuration error, told at startup.
        """
        self.path = path
        self.lost = 0
        self._failing: str | None = None
        self._file: TextIO | None = open(path, "a", encoding="utf-8", newline="\n")

    def write(self, line: str) -> None:
        """
        Append a line, and flush it so that tail and log shippers see it.

        @param line: the line, without its line end.
        """
        if self._file is None:
            self.lost += 1
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as error:
            self.lost += 1
            self._failed(f"cannot write: {error.strerror or error}")
            self._discardBuffer()
            return
        if self._failing is not None:
            self._log.info("{path}: writing again ({lost} lines lost)", path=self.path, lost=self.lost)
            self._failing = None

    def _discardBuffer(self) -> None:
        """
        Drop what a failed write left buffered, so it is not retried on
        every later write: reopen the file.
        """
        self._reopen()

    def _reopen(self) -> bool:
        """
        Close the file (ignoring what its buffer could not write) and open
        it again by its path.

        @return: whether it could be opened; if not, the failure is logged
            and lines are lost until it can.
        """
        self.close()
        try:
            self._file = open(self.path, "a", encoding="utf-8", newline="\n")
        except OSError as error:
            self._failed(f"cannot open: {error.strerror or error}")
            return False
        return True

    def _failed(self, cause: str) -> None:
        """
        Log a failure once per cause.

        @param cause: what went wrong.
        """
        if cause != self._failing:
            self._log.error("{path}: {cause}; lines are lost until it works again", path=self.path, cause=cause)
            self._failing = cause

    def reopen(self) -> None:
        """
        Close the file and open it again by its path: after logrotate moved
        it, a new file is created.
        """
        if self._reopen():
            self._log.info("reopened {path}", path=self.path)

    def close(self) -> None:
        """
        Close the file.
        """
        if self._file is not None:
            with suppress(OSError):
                self._file.close()
            self._file = None


class AccessLog:
    """
    Writes an access log line when a listener leaves (an L{EventBus}
    observer) and for each web request (L{logRequest}).

    @ivar file: the L{LogFile} written to.
    """

    def __init__(
        self, file: LogFile, epoch: Callable[[float], float] | None = None, clock: IReactorTime | None = None
    ) -> None:
        """
        @param file: where the lines go.
        @param epoch: turns the radio clock's seconds into seconds since the
            epoch; the identity by default (the reactor's clock is the wall
            clock).
        @param clock: the radio's clock, which a web request ends by (and,
            on the built-in site, starts by); the global reactor by default.
        """
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.file = file
        self._epoch = epoch or (lambda seconds: seconds)
        self._clock: IReactorTime = clock

    def __call__(self, event: Event) -> None:
        """
        Log a listener that left.

        @param event: any station event; only L{ListenerLeft} is logged.
        """
        if type(event) is not ListenerLeft:
            return
        head = event.request
        requestLine = b"%s %s %s" % (head.method, head.target, head.version) if head is not None else b"-"
        self.file.write(
            combinedLine(
                hostOf(event.peer),
                self._epoch(event.requestedAt),
                requestLine,
                200,
                event.listener.bytesSent,
                head.header(b"referer") if head is not None else None,
                head.header(b"user-agent") if head is not None else None,
                event.seconds,
            )
        )

    def logRequest(self, request, host: str) -> None:
        """
        Log a finished web request (a page, a playlist, a segment).

        @param request: the L{twisted.web.server.Request}.
        @param host: the client's address as shown.
        """
        # The built-in site's requests (txradio.web.site.BoundedRequest) know
        # when their head arrived, by the same clock; another site's do not.
        started = getattr(request, "started", None)
        now = self._clock.seconds()
        self.file.write(
            combinedLine(
                host,
                self._epoch(started if started is not None else now),
                b"%s %s %s" % (request.method, request.uri, request.clientproto),
                request.code,
                request.sentLength,
                request.getHeader(b"referer"),
                request.getHeader(b"user-agent"),
                now - started if started is not None else 0,
            )
        )


class PlaylistLog:
    """
    Writes a playlist log line for each title a stream carries (an
    L{EventBus} observer).

    @ivar file: the L{LogFile} written to.
    """

    def __init__(self, file: LogFile, epoch: Callable[[float], float] | None = None) -> None:
        """
        @param file: where the lines go.
        @param epoch: turns the radio clock's seconds into seconds since the
            epoch; the identity by default.
        """
        self.file = file
        self._epoch = epoch or (lambda seconds: seconds)

    def __call__(self, event: Event) -> None:
        """
        Log a title.

        @param event: any station event; only L{TitleChanged} is logged.
        """
        if type(event) is not TitleChanged:
            return
        self.file.write(playlistLine(self._epoch(event.when), event.mount, event.station.listenerCount, event.title))


def jsonToStdout():
    """
    A log observer writing the server log to standard output as JSON lines
    (one object per event), for C{twistd --logger txradio.operations.logs.jsonToStdout}
    (C{twist} has C{--log-format json} for the same).

    @return: the observer.
    """
    return jsonFileLogObserver(sys.stdout)
