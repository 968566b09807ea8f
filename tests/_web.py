"""
Helpers for the web tests: drive a L{twisted.web.server.Site} (or the
listener port's factory) over an in-memory transport, parse what it
answers, and run "threads" synchronously.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import _producer_helpers
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock, Cooperator
from twisted.internet.testing import StringTransport

CLIENT = IPv4Address("TCP", "192.0.2.9", 40000)
SERVER = IPv4Address("TCP", "127.0.0.1", 8000)

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")
"""The folder of the demo MP3 files shipped with txradio (tagged, 20 s each)."""


def runNow(function: Any, *args: Any) -> Deferred:
    """
    Run a "thread" job at once, in this thread (for synchronous tests).

    @param function: the job.
    @param args: its arguments.
    @return: a fired L{Deferred}.
    """
    return maybeDeferred(function, *args)


class HeldJobs:
    """
    A C{runInThread} that holds every job until the test releases it, to
    show that nothing is answered (and nothing blocks) while a job runs.

    @ivar jobs: the held C{(function, args, deferred)} triples.
    """

    def __init__(self) -> None:
        self.jobs: list[tuple[Any, tuple, Deferred]] = []

    def __call__(self, function: Any, *args: Any) -> Deferred:
        """
        Hold a job.

        @return: a L{Deferred} that fires when the job is released.
        """
        waiting: Deferred = Deferred()
        self.jobs.append((function, args, waiting))
        return waiting

    def release(self) -> None:
        """
        Run the held jobs and fire their L{Deferred}s.
        """
        jobs, self.jobs = self.jobs, []
        for function, args, waiting in jobs:
            maybeDeferred(function, *args).chainDeferred(waiting)


@dataclass
class Response:
    """
    A parsed HTTP response.

    @ivar status: the status code.
    @ivar headers: lower-case names to their values.
    @ivar body: the body, de-chunked.
    @ivar raw: everything the server wrote.
    """

    status: int
    headers: dict[str, list[str]]
    body: bytes
    raw: bytes
    transport: Any = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """
        @param name: a header's name.
        @return: its first value, or L{None}.
        """
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        """
        @return: the body decoded as JSON.
        """
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """
        @return: the body as UTF-8 text.
        """
        return self.body.decode("utf-8")


def parseResponse(raw: bytes, head: bool = False) -> Response:
    """
    Parse one HTTP/1.x response.

    @param raw: the bytes written by the server.
    @param head: whether it answers a C{HEAD} (no body).
    @return: the response.
    """
    top, _, rest = raw.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    body = b"" if head else rest
    if not head and headers.get("transfer-encoding", [""])[0].lower() == "chunked":
        body = _dechunk(rest)
    elif not head and "content-length" in headers:
        body = rest[: int(headers["content-length"][0])]
    return Response(status, headers, body, raw)


def _dechunk(data: bytes) -> bytes:
    """
    Decode a chunked body (as far as it has arrived).

    @param data: the chunked bytes.
    @return: the body.
    """
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        length = int(size.split(b";")[0], 16)
        if length == 0:
            break
        out += data[:length]
        data = data[length + 2 :]
    return out


def requestBytes(
    path: str | bytes,
    method: bytes = b"GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """
    Serialize a request.

    @param path: the request target, sent as it is.
    @param method: the method.
    @param headers: extra headers (C{Host} defaults to C{radio.example:8000}).
    @param body: the body.
    @param version: the HTTP version.
    @return: the request's bytes.
    """
    if isinstance(path, str):
        path = path.encode("latin-1")
    fields = {"Host": "radio.example:8000", "Connection": "close"}
    fields.update(headers or {})
    if body or method == b"POST":
        fields["Content-Length"] = str(len(body))
    head = [b"%s %s %s" % (method, path, version)]
    head += [f"{k}: {v}".encode("latin-1") for k, v in fields.items()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def basicAuth(user: str, password: str) -> str:
    """
    @param user: a user name.
    @param password: a password.
    @return: the C{Authorization} header's value.
    """
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class SiteClient:
    """
    Sends requests to a site over in-memory transports, running pull
    producers (L{twisted.web.static.File}) on a fake clock.

    @ivar clock: the clock the producers' cooperator runs on.
    """

    def __init__(self, testCase: Any, site: Any, clock: Clock | None = None) -> None:
        """
        @param testCase: the test, for patching the cooperator.
        @param site: a L{twisted.web.server.Site} or the listener port's
            factory.
        @param clock: the clock to pump; a new one by default.
        """
        self.site = site
        self.clock = clock or Clock()
        cooperator = Cooperator(scheduler=lambda work: self.clock.callLater(0, work))
        # static.File's pull producers are turned into push producers by a
        # cooperator on the global reactor; run them on our clock instead.
        testCase.patch(_producer_helpers, "cooperate", cooperator.cooperate)

    def connect(self) -> tuple[Any, StringTransport]:
        """
        Open a connection.

        @return: the protocol and its transport.
        """
        protocol = self.site.buildProtocol(CLIENT)
        transport = StringTransport(hostAddress=SERVER, peerAddress=CLIENT)
        protocol.makeConnection(transport)
        return protocol, transport

    def pump(self) -> None:
        """
        Run pending producer work.
        """
        for _ in range(100000):
            calls = [c for c in self.clock.getDelayedCalls() if c.getTime() <= self.clock.seconds()]
            if not calls:
                return
            self.clock.advance(0)

    def request(
        self,
        path: str | bytes,
        method: bytes = b"GET",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        version: bytes = b"HTTP/1.1",
    ) -> Response:
        """
        Send one request and read the response.

        @param path: the request target.
        @param method: the method.
        @param headers: extra headers.
        @param body: the body.
        @param version: the HTTP version.
        @return: the parsed response.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(requestBytes(path, method, headers, body, version))
        self.pump()
        response = parseResponse(transport.value(), head=method == b"HEAD")
        response.transport = transport
        return response


class MusicFolder:
    """
    A temporary music folder laid out for the library tests, next to a
    secret file outside it.

    @ivar root: the music folder.
    @ivar outside: a folder beside it holding C{secret.mp3}.
    """

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="txradio-library-")
        self.root = os.path.join(self.base, "music")
        self.outside = os.path.join(self.base, "outside")
        os.makedirs(os.path.join(self.root, "Jazz", "Bop"))
        os.makedirs(os.path.join(self.root, "Rock"))
        os.makedirs(os.path.join(self.root, ".hidden"))
        os.makedirs(self.outside)
        demo = sorted(os.listdir(DEMO))
        shutil.copy(os.path.join(DEMO, demo[0]), os.path.join(self.root, "Jazz", "02 Morning.mp3"))
        shutil.copy(os.path.join(DEMO, demo[1]), os.path.join(self.root, "Jazz", "10 Bass.mp3"))
        shutil.copy(os.path.join(DEMO, demo[2]), os.path.join(self.root, "Jazz", "Bop", "Chimes.mp3"))
        shutil.copy(os.path.join(DEMO, demo[2]), os.path.join(self.root, "Rock", "Ünïcode ☃ song.mp3"))
        self.write("top.mp3", bytes(range(256)) * 40)
        self.write("notes.txt", b"not a song")
        self.write(".hidden/secret.mp3", b"hidden")
        self.write(".dotfile.mp3", b"hidden")
        with open(os.path.join(self.outside, "secret.mp3"), "wb") as f:
            f.write(b"outside the music folder")
        os.symlink(os.path.join(self.outside, "secret.mp3"), os.path.join(self.root, "escape.mp3"))
        os.symlink(self.outside, os.path.join(self.root, "outside-link"))
        os.symlink("/etc", os.path.join(self.root, "etc"))
        os.symlink(os.path.join(self.root, ".hidden"), os.path.join(self.root, "hidden-link"))
        os.symlink(os.path.join(self.root, "Jazz"), os.path.join(self.root, "Jazz-link"))

    def write(self, relative: str, data: bytes) -> str:
        """
        Write a file in the folder.

        @param relative: its path in the folder.
        @param data: its content.
        @return: its full path.
        """
        path = os.path.join(self.root, relative)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def remove(self) -> None:
        """
        Delete everything.
        """
        shutil.rmtree(self.base, ignore_errors=True)
