# -*- test-case-name: tests.test_broadcast,tests.test_listener -*-
"""
Helpers for testing code that embeds txradio: synthetic MP3 frames, a frame
source that needs no files, and a way to connect a listener to a station in
memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.testing import StringTransport

from zope.interface import implementer

from txradio.interfaces import IFrameSource, IProgramme
from txradio.wire.mp3 import Frame, parseHeader
from txradio.wire.programme import TitleChange

SILENT_FRAME_HEADER = b"\xff\xfb\x90\x64"
"""An MPEG-1 Layer III header: 128 kbps, 44100 Hz, joint stereo, no CRC."""


def syntheticFrame(marker: int = 0, header: bytes = SILENT_FRAME_HEADER) -> Frame:
    """
    Make a well-formed MP3 frame whose audio is silence.

    @param marker: a byte value (0-255) repeated in the frame's last bytes,
        so tests can tell frames apart in a stream; 0 keeps the frame a
        valid silent frame.
    @param header: the 4-byte header to use.
    @return: a L{Frame} with an all-zero side info and payload.
    """
    parsed = parseHeader(header)
    body = bytearray(parsed.length - 4)
    if marker:
        body[-8:] = bytes([marker]) * 8
    return Frame(parsed, header + bytes(body))


@implementer(IFrameSource)
class FakeFrameSource:
    """
    An endless source of synthetic frames, with a title change every
    C{framesPerTrack} frames; it never runs dry.

    Each frame carries its sequence number (modulo 255, plus one) as a
    marker, so a test can check that a listener got consecutive frames.

    @ivar title: the title of the track most recently returned.
    @ivar framesReturned: frames returned so far.
    @ivar closed: whether L{close} was called.
    """

    def __init__(self, titles: Sequence[str] = ("Track 1",), framesPerTrack: int = 1000) -> None:
        """
        @param titles: the titles to cycle through.
        @param framesPerTrack: frames of each track.
        """
        self.titles = list(titles)
        self.framesPerTrack = framesPerTrack
        self.title: str | None = None
        self.framesReturned = 0
        self.closed = False
        self._frames = [syntheticFrame(marker) for marker in range(1, 256)]

    @property
    def onAir(self) -> bool:
        """
        On air until closed.
        """
        return not self.closed

    def pull(self, duration: float) -> list:
        """
        Return frames for C{duration} seconds; see L{IFrameSource.pull}.

        @param duration: seconds wanted.
        @return: frames and title marks.
        """
        if self.closed:
            return []
        out: list = []
        got = 0.0
        while got < duration:
            number = self.framesReturned
            if number % self.framesPerTrack == 0:
                self.title = self.titles[(number // self.framesPerTrack) % len(self.titles)]
                out.append(TitleChange(self.title))
            frame = self._frames[number % 255]
            out.append(frame)
            got += frame.header.duration
            self.framesReturned += 1
        return out

    def close(self) -> None:
        """
        Stop returning frames.
        """
        self.closed = True


@implementer(IProgramme)
class FakeProgramme(FakeFrameSource):
    """
    A L{FakeFrameSource} that is also an L{IProgramme}: it has no files and
    takes no requests unless a test gives it some, skips and reloads
    nothing, and foresees nothing.

    @ivar trackPath: the file the test says is playing, or L{None}.
    @ivar requests: a request queue the test gives it, or L{None}.
    """

    trackPath: str | None = None
    requests = None

    def skip(self) -> None:
        """
        Nothing to skip.
        """

    def reload(self) -> None:
        """
        Nothing to read again.
        """

    def upcoming(self) -> str | None:
        """
        @return: L{None}: nothing known to come next.
        """
        return None


def connectInMemory(station, wantsMetadata: bool = False, peer: str = "test") -> tuple:
    """
    Attach a listener to a station over an in-memory transport, as if a
    player had connected and sent its request.

    @param station: a L{txradio.stream.station.Station}.
    @param wantsMetadata: whether the listener asked for ICY metadata.
    @param peer: the listener's address for logs.
    @return: C{(listener, transport)}: the L{txradio.stream.listener.Listener} and
        the L{StringTransport} collecting what it is sent (the response head
        included).
    """
    transport = StringTransport()
    transport.write(station.responseHead(wantsMetadata))
    listener = station.connectListener(transport, wantsMetadata, peer, "txradio.testing")
    return listener, transport
