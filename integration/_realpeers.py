"""
Real peers for the integration tests: child processes (players, encoders,
C{twistd}) with hard timeouts, raw TCP clients that see the exact bytes a
radio sends, and short test tracks made with ffmpeg.

Everything here waits on events (bytes arriving, a connection closing, a
process ending), each wait bounded by a timeout, so that a test fails with a
clear message instead of hanging, and never sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
from collections.abc import Callable, Sequence

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest

from txradio.service import RadioService

LOCAL_ENDPOINT = "tcp:0:interface=127.0.0.1"
"""Where test radios listen: a free port on the loopback interface."""

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The root of the txradio checkout these tests belong to."""


def requireProgram(name: str) -> str:
    """
    Find a program on C{PATH}, or skip the test.

    @param name: e.g. C{"mpg123"}.
    @return: the program's full path.
    @raise SkipTest: when it is not installed.
    """
    path = shutil.which(name)
    if path is None:
        raise SkipTest(f"{name} is not installed (CI installs it: see .ci/run)")
    return path


class Timeout(Exception):
    """
    Something a test waited for did not happen in time.
    """


def withTimeout(d: Deferred, seconds: float, what: str) -> Deferred:
    """
    Fail a L{Deferred} with L{Timeout} if it has not fired in time.

    @param d: the L{Deferred} to bound.
    @param seconds: the time allowed.
    @param what: what was awaited, for the failure message.
    @return: C{d}.
    """

    def timedOut(result, timeout):
        return Failure(Timeout(f"{what}: nothing after {seconds} s"))

    return d.addTimeout(seconds, reactor, onTimeoutCancel=timedOut)


class _Waiters:
    """
    Deferreds waiting for a condition on some growing state.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[], object], Deferred]] = []

    def wait(self, condition: Callable[[], object], seconds: float, what: str) -> Deferred:
        """
        Wait until C{condition()} returns something true.

        @param condition: checked now and after every L{check}.
        @param seconds: the time allowed.
        @param what: what is awaited, for the failure message.
        @return: a L{Deferred} firing with the condition's first true value.
        """
        value = condition()
        if value:
            return succeed(value)
        d = Deferred(lambda d: self._forget(d))
        self._waiting.append((condition, d))
        return withTimeout(d, seconds, what)

    def check(self) -> None:
        """
        Fire the waiters whose condition now holds.
        """
        for condition, d in list(self._waiting):
            value = condition()
            if value:
                self._forget(d)
                d.callback(value)

    def fail(self, reason: Exception) -> None:
        """
        Fail every waiter: what they wait for cannot happen any more.

        @param reason: the error to give them.
        """
        waiting, self._waiting = self._waiting, []
        for _, d in waiting:
            d.errback(reason)

    def _forget(self, d: Deferred) -> None:
        self._waiting = [(c, w) for c, w in self._waiting if w is not d]


class ChildProcess(ProcessProtocol):
    """
    A child process whose output is collected, killed if it outlives its
    time limit.

    @ivar args: the command line.
    @ivar out: everything written to standard output so far.
    @ivar err: everything written to standard error so far.
    @ivar running: whether the process runs now.
    @ivar ended: whether it has exited and its pipes are closed.
    @ivar exitCode: the exit status, or L{None} if killed by a signal.
    @ivar signal: the signal that ended it, or L{None}.
    @ivar timedOut: whether it was killed for running too long.
    """

    def __init__(self, args: Sequence[str], timeout: float) -> None:
        self.args = list(args)
        self.out = b""
        self.err = b""
        self.ended = False
        self._endWaiters: list[Deferred] = []
        self.exitCode: int | None = None
        self.signal: int | None = None
        self.timedOut = False
        self.running = False
        self._waiters = _Waiters()
        self._killer = reactor.callLater(timeout, self._timeUp)

    def connectionMade(self) -> None:
        self.running = True
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.out += data
        self._waiters.check()

    def errReceived(self, data: bytes) -> None:
        self.err += data
        self._waiters.check()

    def processEnded(self, reason: Failure) -> None:
        self.running = False
        if self._killer.active():
            self._killer.cancel()
        if reason.check(ProcessDone):
            self.exitCode = 0
        else:
            self.exitCode = reason.value.exitCode
            self.signal = reason.value.signal
        self.ended = True
        self._waiters.fail(Timeout(f"{self.describe()} ended first"))
        waiting, self._endWaiters = self._endWaiters, []
        for d in waiting:
            d.callback(self)

    def whenEnded(self) -> Deferred:
        """
        Wait for the process to exit (and its pipes to close).

        @return: a new L{Deferred} firing with this object.
        """
        if self.ended:
            return succeed(self)
        d: Deferred = Deferred()
        self._endWaiters.append(d)
        return d

    @property
    def output(self) -> str:
        """
        Standard output and standard error, decoded, one after the other.
        """
        return (self.out + self.err).decode("utf-8", "replace")

    @property
    def httpStatuses(self) -> list[int]:
        """
        The HTTP status codes ffmpeg reported refusing it (C{Server returned
        401 Unauthorized}, C{HTTP error 404 Not Found}), in order; read from
        those phrases only, so that a port number such as C{40433} in a URL
        is never taken for a status.
        """
        found = re.findall(r"(?:Server returned|HTTP error) (\d{3})\b", self.output)
        return [int(code) for code in found]

    def describe(self) -> str:
        """
        @return: the command and how it ended, with its output, for messages.
        """
        how = "running"
        if self.timedOut:
            how = "killed after its time limit"
        elif self.signal is not None:
            how = f"killed by signal {self.signal}"
        elif self.exitCode is not None:
            how = f"exit status {self.exitCode}"
        return f"{' '.join(self.args)!r} ({how}); output:\n{self.output[-3000:]}"

    def waitForOutput(self, pattern: str, seconds: float) -> Deferred:
        """
        Wait until standard output or error matches a regular expression.

        @param pattern: the expression, searched in the decoded output.
        @param seconds: the time allowed.
        @return: a L{Deferred} firing with the L{re.Match}.
        """
        expression = re.compile(pattern)
        return self._waiters.wait(
            lambda: expression.search(self.output),
            seconds,
            f"{pattern!r} in the output of {' '.join(self.args)!r}",
        )

    def kill(self, signalName: str = "KILL") -> None:
        """
        Send a signal if the process still runs.

        @param signalName: e.g. C{"TERM"}.
        """
        if self.running:
            try:
                self.transport.signalProcess(signalName)
            except OSError:
                pass

    def stop(self) -> Deferred:
        """
        Kill the process if it still runs, for test cleanup.

        @return: a L{Deferred} firing once it has exited.
        """
        self.kill()
        return self.whenEnded()

    def _timeUp(self) -> None:
        self.timedOut = True
        self.kill()


def spawn(
    testCase,
    args: Sequence[str],
    timeout: float,
    path: str | None = None,
    env: dict[str, str] | None = None,
) -> ChildProcess:
    """
    Start a child process that is killed after C{timeout} seconds and, at
    the latest, when the test ends.

    @param testCase: the running test, for cleanup.
    @param args: the command line; C{args[0]} must be a path or on C{PATH}.
    @param timeout: seconds before it is killed.
    @param path: its working directory.
    @param env: its environment; ours by default.
    @return: the L{ChildProcess}.
    """
    executable = args[0] if os.path.isabs(args[0]) else requireProgram(args[0])
    child = ChildProcess(args, timeout)
    environment = dict(os.environ if env is None else env)
    environment.setdefault("LC_ALL", "C.UTF-8")
    try:
        reactor.spawnProcess(child, executable, list(args), env=environment, path=path)
    except BaseException:
        child._killer.cancel()
        raise
    testCase.addCleanup(child.stop)
    return child


def run(testCase, args: Sequence[str], timeout: float, **kwargs) -> Deferred:
    """
    Run a child process to its end.

    @param testCase: the running test.
    @param args: the command line.
    @param timeout: seconds allowed; the test fails if it runs longer.
    @param kwargs: passed to L{spawn}.
    @return: a L{Deferred} firing with the ended L{ChildProcess}, or failing
        with L{Timeout} if it was killed for running too long.
    """

    def ended(child: ChildProcess):
        if child.timedOut:
            raise Timeout(child.describe())
        return child

    return spawn(testCase, args, timeout, **kwargs).whenEnded().addCallback(ended)


def makeTrack(
    testCase,
    path: str,
    title: str,
    artist: str,
    frequency: int,
    seconds: float,
    bitrate: int = 128,
) -> Deferred:
    """
    Encode a sine tone as a tagged MP3 file with ffmpeg.

    @param testCase: the running test.
    @param path: the file to write.
    @param title: its ID3 title.
    @param artist: its ID3 artist.
    @param frequency: the tone, in Hz, so tracks differ in their bytes.
    @param seconds: its length.
    @param bitrate: in kbps; 44100 Hz stereo CBR.
    @return: a L{Deferred} firing with C{path}.
    """
    args = [
        "ffmpeg", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}:sample_rate=44100",
        "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", f"{bitrate}k",
        "-metadata", f"title={title}", "-metadata", f"artist={artist}",
        path,
    ]  # fmt: skip

    def check(child: ChildProcess) -> str:
        if child.exitCode != 0 or not os.path.exists(path):
            raise AssertionError("ffmpeg could not make a test track: " + child.describe())
        return path

    return run(testCase, args, 30).addCallback(check)


def makeTracks(testCase, folder: str, tracks: Sequence[tuple[str, str, int, float]], bitrate: int = 128) -> Deferred:
    """
    Make a folder of test tracks, in playlist order.

    @param testCase: the running test.
    @param folder: the folder, created if needed.
    @param tracks: C{(artist, title, frequency, seconds)} for each track.
    @param bitrate: in kbps.
    @return: a L{Deferred} firing with the C{"Artist - Title"} strings, in
        the order the playlist plays them.
    """
    requireProgram("ffmpeg")
    # Absolute: trial's mktemp() paths are relative to its working
    # directory, which child processes may not share.
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    made = [
        makeTrack(testCase, os.path.join(folder, f"{number:02d}.mp3"), title, artist, frequency, seconds, bitrate)
        for number, (artist, title, frequency, seconds) in enumerate(tracks, 1)
    ]
    d = DeferredList(made, fireOnOneErrback=True, consumeErrors=True)
    d.addErrback(lambda failure: failure.value.subFailure)
    return d.addCallback(lambda _: [f"{artist} - {title}" for artist, title, _, _ in tracks])


def startRadio(testCase, stations, **kwargs) -> Deferred:
    """
    Start a L{RadioService} on a free loopback port, stopped when the test
    ends.

    @param testCase: the running test.
    @param stations: the stations.
    @param kwargs: more arguments for L{RadioService}.
    @return: a L{Deferred} firing with the port number.
    """
    service = RadioService(stations, listen=[LOCAL_ENDPOINT], **kwargs)
    service.startService()
    testCase.addCleanup(service.stopService)
    return withTimeout(service.whenListening(), 10, "the radio's port").addCallback(
        lambda ports: ports[0].getHost().port
    )


def startTap(testCase, arguments: Sequence[str]) -> Deferred:
    """
    Start the radio C{twistd txradio} would run with these arguments (the
    plugin's L{txradio.tap.makeService}), stopped when the test ends.

    @param testCase: the running test.
    @param arguments: its command line, with C{--listen} on a free loopback
        port (L{LOCAL_ENDPOINT}).
    @return: a L{Deferred} firing with the port number.
    """
    from txradio.tap import Options, makeService

    options = Options()
    options.parseOptions(list(arguments))
    service = makeService(options)
    service.startService()
    testCase.addCleanup(service.stopService)
    return withTimeout(service.whenListening(), 10, "the radio's port").addCallback(
        lambda ports: ports[0].getHost().port
    )


class RawClient(Protocol):
    """
    A TCP client that sends exact bytes and keeps every byte it receives.

    @ivar data: the bytes received so far.
    @ivar lost: the exception saying why the connection was lost, or
        L{None} while it is open.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.lost: BaseException | None = None
        self._closeWaiters: list[Deferred] = []
        self._waiters = _Waiters()

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._waiters.check()

    def connectionLost(self, reason: Failure) -> None:
        self.lost = reason.value
        self._waiters.check()
        self._waiters.fail(Timeout(f"connection closed after {len(self.data)} bytes: {reason.value}"))
        waiting, self._closeWaiters = self._closeWaiters, []
        for d in waiting:
            d.callback(bytes(self.data))

    def whenClosed(self) -> Deferred:
        """
        Wait for the connection to be lost, however it happens.

        @return: a new L{Deferred} firing with L{data}.
        """
        if self.lost is not None:
            return succeed(bytes(self.data))
        d: Deferred = Deferred()
        self._closeWaiters.append(d)
        return d

    def waitFor(self, condition: Callable[[], object], seconds: float, what: str) -> Deferred:
        """
        Wait until a condition on the received bytes holds.

        @param condition: checked after every read.
        @param seconds: the time allowed.
        @param what: what is awaited, for the failure message.
        @return: a L{Deferred} firing with the condition's value; it fails
            if the connection closes first.
        """
        return self._waiters.wait(condition, seconds, what)

    def waitForBytes(self, count: int, seconds: float) -> Deferred:
        """
        Wait until at least C{count} bytes have arrived.

        @param count: the number of bytes.
        @param seconds: the time allowed.
        @return: a L{Deferred} firing with L{data}.
        """
        return self.waitFor(lambda: len(self.data) >= count and self.data, seconds, f"{count} bytes")

    def waitForHead(self, seconds: float) -> Deferred:
        """
        Wait for a whole response head.

        @param seconds: the time allowed.
        @return: a L{Deferred} firing with the number of bytes of the head,
            blank line included.
        """

        def headEnd():
            end = self.data.find(b"\r\n\r\n")
            return end + 4 if end >= 0 else 0

        return self.waitFor(headEnd, seconds, "a response head")

    def waitForClose(self, seconds: float) -> Deferred:
        """
        Wait until the server closes the connection.

        @param seconds: the time allowed.
        @return: a L{Deferred} firing with L{data}.
        """
        return withTimeout(
            self.whenClosed(), seconds, f"the server to close the connection (got {len(self.data)} bytes)"
        )

    def close(self) -> Deferred:
        """
        Drop the connection, for cleanup.

        @return: a L{Deferred} firing once it is gone.
        """
        if self.lost is None and self.transport is not None:
            self.transport.abortConnection()
        return withTimeout(self.whenClosed(), 10, "the client connection to close")


def connectRaw(testCase, port: int, request: bytes = b"", client: RawClient | None = None) -> Deferred:
    """
    Connect a L{RawClient} to 127.0.0.1 and send it some bytes.

    @param testCase: the running test; the connection is closed at its end.
    @param port: the server's port.
    @param request: bytes to send at once.
    @param client: the protocol to use; a new L{RawClient} by default.
    @return: a L{Deferred} firing with the connected client.
    """
    client = client if client is not None else RawClient()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10)

    def connected(protocol: RawClient) -> RawClient:
        testCase.addCleanup(protocol.close)
        if request:
            protocol.transport.write(request)
        return protocol

    return connectProtocol(endpoint, client).addCallback(connected)


def fetch(testCase, port: int, request: bytes, seconds: float = 10) -> Deferred:
    """
    Send a request and read until the server closes the connection.

    @param testCase: the running test.
    @param port: the server's port.
    @param request: the whole request.
    @param seconds: the time allowed.
    @return: a L{Deferred} firing with every byte of the reply.
    """
    return connectRaw(testCase, port, request).addCallback(lambda client: client.waitForClose(seconds))


def adoptSocket(testCase, port: int, request: bytes, receiveBuffer: int) -> RawClient:
    """
    Connect a L{RawClient} through a socket whose receive buffer is set
    before it connects (so the TCP window is small from the first packet),
    then hand the socket to the reactor.

    @param testCase: the running test.
    @param port: the server's port on 127.0.0.1.
    @param request: bytes to send at once.
    @param receiveBuffer: C{SO_RCVBUF} in bytes.
    @return: the connected client.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        sock.settimeout(10)
        # A loopback connect to a listening port completes in the kernel
        # at once, before the server accepts it.
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        client = RawClient()
        reactor.adoptStreamConnection(sock.fileno(), socket.AF_INET, Factory.forProtocol(lambda: client))
    finally:
        sock.close()  # the reactor holds its own duplicate
    testCase.addCleanup(client.close)
    client.transport.write(request)
    return client


def parseResponse(data: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """
    Split a response into its status line, headers and body.

    @param data: the bytes received.
    @return: C{(statusLine, headers, body)}; header names are lower case;
        ICY-style C{name:value} headers without a space are understood.
    @raise AssertionError: when there is no complete head.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise AssertionError(f"no complete response head in {bytes(data[:300])!r}")
    lines = bytes(data[:end]).split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, bytes(data[end + 4 :])


def titlesInOrder(titles: Sequence[str]) -> list[str]:
    """
    Collapse repeats: the titles as a listener heard them change.

    @param titles: titles in the order they were reported.
    @return: each run of equal titles as one entry.
    """
    changes: list[str] = []
    for title in titles:
        if not changes or changes[-1] != title:
            changes.append(title)
    return changes


def childSignal(name: str) -> int:
    """
    @param name: e.g. C{"TERM"}.
    @return: the signal's number.
    """
    return int(getattr(signal, "SIG" + name))
