"""
A fake process reactor for encoder tests: it records C{spawnProcess} calls
and hands back fake process transports that record what is written, so a
test drives the L{ProcessProtocol} by hand (C{childDataReceived},
C{processEnded}).
"""

from __future__ import annotations

from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IProcessTransport, IReactorProcess
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from zope.interface import implementer
from zope.interface.verify import verifyClass


@implementer(IProcessTransport)
class FakeProcessTransport:
    """
    A child process that does nothing on its own.

    @ivar protocol: the L{ProcessProtocol} it was spawned for.
    @ivar written: bytes written to its stdin.
    @ivar stdinClosed: whether its stdin was closed.
    @ivar signals: signals sent to it.
    @ivar producer: the producer registered on its stdin.
    @ivar ended: whether it has exited.
    """

    pid = 4242

    def __init__(self, protocol, args) -> None:
        self.protocol = protocol
        self.args = args
        self.written = b""
        self.stdinClosed = False
        self.signals: list[str] = []
        self.producer = None
        self.streaming = None
        self.ended = False

    def write(self, data: bytes) -> None:
        assert not self.stdinClosed, "write after closeStdin"
        self.written += data

    def writeSequence(self, seq) -> None:
        self.write(b"".join(seq))

    def writeToChild(self, childFD: int, data: bytes) -> None:
        assert childFD == 0
        self.write(data)

    def closeStdin(self) -> None:
        self.stdinClosed = True

    def closeStdout(self) -> None:
        pass

    def closeStderr(self) -> None:
        pass

    def closeChildFD(self, descriptor: int) -> None:
        if descriptor == 0:
            self.stdinClosed = True

    def loseConnection(self) -> None:
        self.stdinClosed = True

    def signalProcess(self, signalID) -> None:
        if self.ended:
            raise ProcessExitedAlready()
        self.signals.append(signalID)

    def registerProducer(self, producer, streaming) -> None:
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        self.producer = None

    def getPeer(self):
        return None

    def getHost(self):
        return None

    def exit(self, code: int = 0, signal: int | None = None) -> None:
        """
        Make the child exit and tell its protocol.

        @param code: the exit status (0 for a clean exit).
        @param signal: the signal that killed it, if any.
        """
        self.ended = True
        if code == 0 and signal is None:
            reason = Failure(ProcessDone(0))
        else:
            reason = Failure(ProcessTerminated(code if signal is None else None, signal))
        self.protocol.processEnded(reason)


@implementer(IReactorProcess)
class FakeProcessReactor(Clock):
    """
    A L{Clock} that also spawns L{FakeProcessTransport}s.

    @ivar spawned: the transports, in the order they were spawned.
    @ivar spawnCalls: the arguments of every C{spawnProcess} call.
    @ivar failSpawn: an exception to raise from the next spawns, or L{None}.
    """

    def __init__(self) -> None:
        Clock.__init__(self)
        self.spawned: list[FakeProcessTransport] = []
        self.spawnCalls: list[dict] = []
        self.failSpawn: Exception | None = None

    def spawnProcess(
        self,
        processProtocol,
        executable,
        args=(),
        env=None,
        path=None,
        uid=None,
        gid=None,
        usePTY=False,
        childFDs=None,
    ):
        self.spawnCalls.append(
            {"executable": executable, "args": list(args), "env": env, "childFDs": childFDs, "path": path}
        )
        if self.failSpawn is not None:
            raise self.failSpawn
        transport = FakeProcessTransport(processProtocol, list(args))
        self.spawned.append(transport)
        processProtocol.makeConnection(transport)
        return transport


verifyClass(IProcessTransport, FakeProcessTransport)
verifyClass(IReactorProcess, FakeProcessReactor)
