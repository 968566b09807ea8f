# -*- test-case-name: tests.test_yp,tests.test_yp_integration -*-
"""
Listing a mount in a stream directory with Icecast's YP protocol.

A L{YPClient} is a service for one (directory, mount) pair.  It POSTs HTML
forms to the directory's URL and reads the answer's headers:

 - C{action=add} with the mount's stream info (C{sn}, C{genre}, C{desc},
   C{url}, C{listenurl}, C{type}, C{b}, and C{cpswd}/C{stype}, empty, as
   Icecast sends them); the answer says C{YPResponse: 1} with a C{SID} and
   a C{TouchFreq} in seconds, or C{YPResponse: 0} with a C{YPMessage};
 - C{action=touch&sid=…&st=TITLE&listeners=N&max_listeners=M} every
   C{TouchFreq} seconds (the first a few seconds after the add, as Icecast
   does, since the add carries no title); a touch answered C{YPResponse: 0}
   means the directory forgot the listing, which is added again;
 - C{action=remove&sid=…} when the service stops.

Everything is bounded: one request in flight per client; each request,
its body included, limited by a timeout; C{TouchFreq} clamped to
L{YPClient.minInterval} … L{YPClient.maxInterval}; retries after a failure
or a refusal backing off from L{YPClient.retryMin} to L{YPClient.retryMax};
and stopping waits for the remove at most L{YPClient.stopTimeout} seconds.
A failure is logged once per cause, not on every retry.
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import urlencode

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, TimeoutError, succeed
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.client import Agent
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer

from zope.interface import implementer

from txradio._version import __version__

DEFAULT_TIMEOUT = 15.0
"""Seconds one request to a directory may take, by default."""

MAX_BODY = 65536
"""The most bytes of an answer's body read (the protocol's answer is in its
headers; the body is read only to end the request cleanly)."""


@implementer(IBodyProducer)
class FormBody:
    """
    A form, as a request body.

    @ivar body: the encoded form.
    """

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self.body = urlencode(fields).encode("ascii")
        self.length = len(self.body)

    def startProducing(self, consumer) -> Deferred:
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Discard(Protocol):
    """
    Reads an answer's body to its end, dropping it, and gives up past
    L{MAX_BODY} bytes.

    @ivar finished: fires with L{None} when the body has ended.
    """

    def __init__(self) -> None:
        self.received = 0
        self.finished: Deferred[None] = Deferred(lambda _: self._abort())

    def _abort(self) -> None:
        if self.transport is not None:
            # A response body's transport is also its producer
            # (IResponse.deliverBody): stopping it drops the connection.
            cast(IPushProducer, self.transport).stopProducing()

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        if self.received > MAX_BODY:
            self._abort()

    def connectionLost(self, reason=None) -> None:
        if not self.finished.called:
            self.finished.callback(None)


def listenURLFor(publicURL: str | None, listen: tuple[str, ...], mount: str, hostname: str) -> str:
    """
    The URL a directory gives its visitors for a mount.

    @param publicURL: the server's public base URL, or L{None}.
    @param listen: the listener endpoint strings.
    @param mount: the mount's path, e.g. C{"/stream"}.
    @param hostname: the host to name when there is no public URL and the
        first TCP port listens on every interface.
    @return: C{publicURL + mount}, or C{http://HOST:PORT/mount} from the
        first TCP listener port (or port 8000).
    """
    if publicURL:
        return publicURL.rstrip("/") + mount
    host, port = hostname, "8000"
    for description in listen:
        # Endpoint strings escape the colons of IPv6 addresses.
        parts = [part.replace("\\:", ":") for part in re.split(r"(?<!\\):", description)]
        if parts[0] in ("tcp", "tcp6") and len(parts) > 1 and parts[1].removeprefix("port=").isdigit():
            port = parts[1].removeprefix("port=")
            for part in parts[2:]:
                if part.startswith("interface="):
                    interface = part.removeprefix("interface=")
                    if interface not in ("", "0.0.0.0", "::"):
                        host = f"[{interface}]" if ":" in interface else interface
            break
    return f"http://{host}:{port}{mount}"


class YPClient(Service):
    """
    Keeps one mount listed in one YP directory while it runs.

    @ivar url: the directory's URL, e.g. C{"http://dir.xiph.org/cgi-bin/yp-cgi"}.
    @ivar station: the mount's station, read at each request: its
        C{currentInfo} (name, genre, url, description, bitrate),
        C{listenerCount}, C{maxListeners} and C{broadcaster.title}.
    @ivar listenURL: where directory visitors tune in.
    @ivar sid: the listing's id while listed, else L{None}.
    @ivar interval: seconds between touches (the directory's C{TouchFreq},
        clamped).
    @ivar minInterval: the shortest touch interval accepted, in seconds.
    @ivar maxInterval: the longest, in seconds.
    @ivar defaultInterval: the interval when the directory gives none.
    @ivar firstTouch: seconds from an add to the first touch.
    @ivar retryMin: seconds before the first retry after a failure or a
        refusal; each further one waits twice as long, up to L{retryMax}.
    @ivar timeout: seconds one request may take.
    @ivar stopTimeout: the most seconds stopping waits for the remove.
    """

    _log = Logger()

    minInterval = 30.0
    maxInterval = 3600.0
    defaultInterval = 300.0
    firstTouch = 5.0
    retryMin = 60.0
    retryMax = 3600.0
    stopTimeout = 5.0

    def __init__(
        self,
        url: str,
        station,
        listenURL: str,
        reactor: IReactorTime,
        agent=None,
        timeout: float = DEFAULT_TIMEOUT,
        bitrate: int | None = None,
    ) -> None:
        """
        @param url: the directory's URL.
        @param station: the mount's station.
        @param listenURL: where directory visitors tune in.
        @param reactor: the clock (and, without C{agent}, the reactor the
            HTTP client uses).
        @param agent: an L{twisted.web.iweb.IAgent}, or L{None} for an
            L{Agent} on C{reactor} (tests pass a fake).
        @param timeout: seconds one request may take.
        @param bitrate: the bitrate announced (C{b}), in kbps, or L{None}
            for the station info's.
        """
        self.url = url
        self.bitrate = bitrate
        self.station = station
        self.listenURL = listenURL
        self.timeout = timeout
        self._clock = reactor
        self._agent = agent if agent is not None else Agent(reactor, connectTimeout=timeout)
        self.sid: str | None = None
        self.interval = self.defaultInterval
        self._retry = 0.0
        self._call: IDelayedCall | None = None
        self._inFlight: Deferred | None = None
        self._problem: str | None = None
        self.setName(f"yp {station.mount.decode('ascii')} {url}")

    # Fields

    def addFields(self) -> list[tuple[str, str]]:
        """
        @return: the C{action=add} form, in Icecast's order.
        """
        info = self.station.currentInfo
        return [
            ("action", "add"),
            ("sn", info.name),
            ("genre", info.genre),
            ("cpswd", ""),
            ("desc", info.description),
            ("url", info.url),
            ("listenurl", self.listenURL),
            ("type", "audio/mpeg"),
            ("stype", ""),
            ("b", str(self.bitrate or info.bitrate or "")),
        ]

    def touchFields(self) -> list[tuple[str, str]]:
        """
        @return: the C{action=touch} form: the title now, the listeners now,
            and the mount's limit (C{0} for none).
        """
        return [
            ("action", "touch"),
            ("sid", self.sid or ""),
            ("st", self.station.broadcaster.title or ""),
            ("listeners", str(self.station.listenerCount)),
            ("max_listeners", str(self.station.maxListeners or 0)),
            ("stype", ""),
        ]

    # Service

    def startService(self) -> None:
        """
        Add the listing at once.
        """
        Service.startService(self)
        self._schedule(0, self._add)

    def stopService(self) -> Deferred:
        """
        Stop touching and remove the listing.

        @return: a L{Deferred} firing (never failing) once the directory
            answered the remove, or after L{stopTimeout} seconds.
        """
        Service.stopService(self)
        self._cancelCall()
        if self._inFlight is not None:
            self._inFlight.cancel()
        sid, self.sid = self.sid, None
        if sid is None:
            return succeed(None)
        d = self._post([("action", "remove"), ("sid", sid)], min(self.timeout, self.stopTimeout))
        d.addCallback(lambda _: self._log.info("{mount} removed from {url}", mount=self._mount, url=self.url))
        d.addErrback(lambda f: self._log.info("{mount}: removing from {url} failed: {why}", mount=self._mount,
                                              url=self.url, why=_why(f)))
        return d

    # Steps

    @property
    def _mount(self) -> str:
        return self.station.mount.decode("ascii")

    def _schedule(self, delay: float, step) -> None:
        self._cancelCall()
        self._call = self._clock.callLater(delay, self._run, step)

    def _cancelCall(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _run(self, step) -> None:
        self._call = None
        if self.running and self._inFlight is None:
            step()

    def _add(self) -> None:
        d = self._inFlight = self._post(self.addFields(), self.timeout)
        d.addCallbacks(self._added, self._failed, errbackArgs=("add",))

    def _touch(self) -> None:
        d = self._inFlight = self._post(self.touchFields(), self.timeout)
        d.addCallbacks(self._touched, self._failed, errbackArgs=("touch",))

    def _added(self, headers: Headers) -> None:
        self._inFlight = None
        sid = _header(headers, b"sid")
        if _header(headers, b"ypresponse") != "1" or not sid:
            self._refused("add", headers)
            return
        self.sid = sid
        self._useInterval(headers, self.defaultInterval)
        self._log.info(
            "{mount} listed in {url} (touched every {interval:g} s)", mount=self._mount, url=self.url,
            interval=self.interval,
        )
        self._cleared()
        self._schedule(min(self.firstTouch, self.interval), self._touch)

    def _touched(self, headers: Headers) -> None:
        self._inFlight = None
        if _header(headers, b"ypresponse") != "1":
            self._refused("touch", headers)
            return
        # A touch's answer may change the interval; without TouchFreq it
        # stays.
        self._useInterval(headers, self.interval)
        self._cleared()
        self._schedule(self.interval, self._touch)

    def _useInterval(self, headers: Headers, default: float) -> None:
        """
        Take the directory's C{TouchFreq}, clamped.

        @param headers: its answer's headers.
        @param default: the interval when it gives none (or nonsense).
        """
        text = _header(headers, b"touchfreq")
        try:
            seconds = float(text) if text else default
        except ValueError:
            seconds = default
        if not seconds == seconds:  # NaN
            seconds = default
        self.interval = min(max(seconds, self.minInterval), self.maxInterval)

    def _refused(self, action: str, headers: Headers) -> None:
        message = _header(headers, b"ypmessage") or "no YPResponse: 1"
        self._retryLater(f"the directory refused {action}: {message}")

    def _failed(self, failure, action: str) -> None:
        self._inFlight = None
        if failure.check(CancelledError) and not self.running:
            return None
        self._retryLater(f"{action} failed: {_why(failure)}")
        return None

    def _retryLater(self, problem: str) -> None:
        """
        Forget the listing and add it again after a backoff.

        @param problem: what went wrong, logged once while it lasts.
        """
        self.sid = None
        self._retry = min(max(self._retry * 2, self.retryMin), self.retryMax)
        if problem != self._problem:
            self._problem = problem
            self._log.warn(
                "YP {mount} at {url}: {problem}; trying again in {delay:g} s (then backing off)",
                mount=self._mount, url=self.url, problem=problem, delay=self._retry,
            )
        self._schedule(self._retry, self._add)

    def _cleared(self) -> None:
        """
        A request succeeded: the next problem is logged again, and the
        backoff starts over.
        """
        self._problem = None
        self._retry = 0.0

    # HTTP

    def _post(self, fields: list[tuple[str, str]], timeout: float) -> Deferred:
        """
        POST a form and read the answer to its end.

        @param fields: the form.
        @param timeout: the most seconds it may take.
        @return: a L{Deferred} firing with the answer's headers, failing for
            a transport error, a timeout or a status other than 2xx.
        """
        headers = Headers(
            {
                b"content-type": [b"application/x-www-form-urlencoded"],
                b"user-agent": [f"txradio/{__version__}".encode()],
            }
        )
        d = self._agent.request(b"POST", self.url.encode("ascii"), headers, FormBody(fields))

        def answered(response):
            if not 200 <= response.code < 300:
                response.deliverBody(_Discard())
                raise _HTTPError(f"HTTP {response.code}")
            discard = _Discard()
            response.deliverBody(discard)
            return discard.finished.addCallback(lambda _: response.headers)

        d.addCallback(answered)
        d.addTimeout(timeout, self._clock)
        return d


class _HTTPError(Exception):
    """
    The directory answered with a status other than 2xx.
    """


def _header(headers: Headers, name: bytes) -> str | None:
    """
    @return: the first value of an answer's header, stripped, or L{None}.
    """
    values = headers.getRawHeaders(name)
    if not values:
        return None
    return values[0].decode("latin-1").strip()


def _why(failure) -> str:
    """
    @return: a failure said in a few words.
    """
    if failure.check(TimeoutError, CancelledError):
        return "no answer in time"
    return str(failure.value) or failure.type.__name__
