"""
Faults with real programs over 127.0.0.1, each with a test: a live source
(ffmpeg) killed with SIGKILL, also in the middle of a frame; the encoder
(ffmpeg) of a derived mount killed with SIGKILL; and the server log on a
full disk.

Each test measures how long the listeners went without audio, checks that
they were never disconnected and that every byte they got is in whole MP3
frames, and has mpg123 and ffmpeg decode it.  At a switch between two
streams the first frames of the new one may borrow audio data (the bit
reservoir) from frames the listener never got; L{SwitchSpliceTests} shows
it (an expected failure until the switch silences those frames), and the
live-source tests check that silencing them is all it takes for ffmpeg, at
its most pedantic, to decode the capture without a complaint.

The times (fallback latency, gaps, restarts, answers) are recorded as
figures by L{integration._figures.recordFigure}, not asserted: the tests
assert what must hold at any speed (no disconnect, whole frames, clean
decoding), and docs/security.md quotes the recorded figures.

Every wait is on an event (bytes on a socket, output of a child, a process's
end) bounded by a timeout; a test is skipped when a program it needs is
missing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from zope.interface import implementer
from zope.interface.verify import verifyClass

from integration._figures import recordFigure
from integration._realpeers import (
    CHECKOUT,
    RawClient,
    Timeout,
    connectRaw,
    makeTrack,
    makeTracks,
    requireProgram,
    run,
    spawn,
    withTimeout,
)
from integration.test_live_integration import (
    LIVE_HZ,
    PASSWORD,
    PLAYLIST_HZ,
    freePort,
    listen,
    playlistStation,
    pollUntil,
    startService,
)
from txradio.build import derivedStation
from txradio.interfaces import IFrameSource
from txradio.sources.live import LiveSource
from txradio.stream.station import Station
from txradio.testing import connectInMemory
from txradio.wire.audioformat import AudioFormat
from txradio.wire.mp3 import Framer, parseHeader

_log = Logger()

LIVE_KBPS = 128
"""The bitrate ffmpeg sends as a live source."""

PLAYLIST_KBPS = 96
"""The bitrate of the playlists in these tests, so that each frame's
header says whether it came from the live source."""

MPG123_COMPLAINTS = re.compile(r"(?i)error|illegal|warning|can't|cannot|resync|big_values|part2_3|bad|junk|skipping")
"""What mpg123 says about a stream it could not decode cleanly."""


class TimedClient(RawClient):
    """
    A L{RawClient} that notes when each read arrived.

    @ivar arrivals: C{(monotonic time, total bytes received after it)} for
        each read.
    """

    def __init__(self) -> None:
        RawClient.__init__(self)
        self.arrivals: list[tuple[float, int]] = []

    def dataReceived(self, data: bytes) -> None:
        self.arrivals.append((time.monotonic(), len(self.data) + len(data)))
        RawClient.dataReceived(self, data)

    def arrivalOf(self, offset: int) -> float:
        """
        @param offset: a byte offset in L{data}.
        @return: when the read holding that byte arrived.
        """
        for when, total in self.arrivals:
            if total > offset:
                return when
        raise ValueError(f"byte {offset} has not arrived ({len(self.data)} bytes so far)")

    def longestGap(self, start: float, end: float) -> float:
        """
        @param start: a monotonic time.
        @param end: a later one.
        @return: the longest time in C{[start, end]} without a read.
        """
        times = [start] + [when for when, _ in self.arrivals if start < when < end] + [end]
        return max(b - a for a, b in zip(times, times[1:]))

    def firstAfterGap(self, start: float, end: float) -> float:
        """
        @param start: a monotonic time.
        @param end: a later one.
        @return: seconds from C{start} to the read that ended the longest
            time without a read in C{[start, end]}.
        """
        times = [start] + [when for when, _ in self.arrivals if start < when < end] + [end]
        gaps = [(b - a, b) for a, b in zip(times, times[1:])]
        return max(gaps)[1] - start

    def frames(self) -> tuple[list[tuple[int, object]], Framer]:
        """
        Walk the body received so far (a stream without metadata).

        @return: C{(offset in data, frame)} for each whole frame, and the
            framer (its C{skippedBytes} count bytes that were not in a
            whole frame).
        """
        start = self.data.find(b"\r\n\r\n") + 4
        framer = Framer()
        offset = start
        found = []
        for frame in framer.feed(bytes(self.data[start:])):
            found.append((offset, frame))
            offset += len(frame.data)
        return found, framer


def decodeErrors(testCase, data: bytes, pedantic: bool = False) -> object:
    """
    Decode MP3 bytes with ffmpeg.

    @param testCase: the running test.
    @param data: the stream.
    @param pedantic: also report frames whose audio data does not add up
        (C{-err_detect buffer}: C{bits_left=…}), which is what decoding
        another stream's bytes from the bit reservoir looks like.
    @return: a L{Deferred} firing with ffmpeg's complaints (empty when the
        stream decodes cleanly).
    """
    path = os.path.join(testCase.mktemp() + ".mp3")
    with open(path, "wb") as f:
        f.write(data)
    detect = ["-err_detect", "crccheck+bitstream+buffer"] if pedantic else []
    args = ["ffmpeg", "-nostdin", "-v", "error", *detect, "-f", "mp3", "-i", path, "-f", "null", "-"]
    return run(testCase, args, 30).addCallback(lambda child: child.err.decode("utf-8", "replace").strip())


def complaints(text: str) -> list[str]:
    """
    @param text: mpg123's kept output lines.
    @return: those that say something went wrong.
    """
    return [line for line in text.splitlines() if MPG123_COMPLAINTS.search(line)]


def audioSeconds(frames) -> float:
    """
    @param frames: C{(offset, frame)} pairs.
    @return: their total duration in seconds.
    """
    return sum(frame.duration for _, frame in frames)


def mainDataBegin(frame) -> int:
    """
    @param frame: an MPEG-1 Layer III frame.
    @return: its C{main_data_begin}: how many bytes of its audio data lie in
        the frames before it (the bit reservoir).
    """
    offset = 4 if not frame.header.protected else 6
    return (frame.data[offset] << 1) | (frame.data[offset + 1] >> 7)


def mainDataSize(frame) -> int:
    """
    @param frame: an MPEG-1 Layer III frame.
    @return: the bytes of audio data it carries (after header, CRC and side
        information), which later frames may borrow.
    """
    sideInfo = 17 if frame.header.channels == 1 else 32
    return frame.header.length - 4 - (2 if frame.header.protected else 0) - sideInfo


def borrowingFrames(frames, atStart: bool = False) -> list[int]:
    """
    Find the frames that borrow audio data from frames the listener never
    got: at a switch between two streams (told apart here by their
    bitrates), the first frames of the new one may point back
    (C{main_data_begin}) into frames of it that were not sent, and a decoder
    then decodes the other stream's bytes for them: a short burst of noise,
    and sometimes an error from mpg123 (C{dequantization failed}).

    @param frames: the frames, in order.
    @param atStart: count the frames at the start of the stream too (a
        listener's burst may start at a frame that borrows; a new decoder
        skips it quietly).
    @return: the indexes of the frames that point further back than the
        audio data sent since the last switch.
    """
    found = []
    available = 0 if atStart else 1 << 20
    previous = None
    for index, frame in enumerate(frames):
        if previous is not None and frame.header.bitrate != previous:
            available = 0
        if mainDataBegin(frame) > available:
            found.append(index)
        available += mainDataSize(frame)
        previous = frame.header.bitrate
    return found


def silenced(frames, indexes) -> bytes:
    """
    The remedy for L{borrowingFrames}: make those frames silent by zeroing
    their side information (C{main_data_begin} and every granule's lengths)
    while keeping their bytes, which the frames after them borrow.

    @param frames: the frames, in order.
    @param indexes: which to silence.
    @return: the stream.
    """
    out = []
    for index, frame in enumerate(frames):
        data = frame.data
        if index in indexes:
            offset = 4 if not frame.header.protected else 6
            side = 17 if frame.header.channels == 1 else 32
            data = data[:offset] + bytes(side) + data[offset + side :]
        out.append(data)
    return b"".join(out)


def partialFrame(buffer: bytes) -> int:
    """
    @param buffer: what a framer held when its input ended: whole frames
        waiting for the next header, then perhaps the start of one.
    @return: the bytes of that last, cut frame (0 when the input ended
        between frames).
    """
    position = 0
    while position + 4 <= len(buffer):
        try:
            length = parseHeader(buffer[position : position + 4]).length
        except ValueError:
            return len(buffer) - position
        if position + length > len(buffer):
            break
        position += length
    return len(buffer) - position


def cuttingSource(testCase, port: int, mount: str, cutting: bool = True):
    """
    Start ffmpeg broadcasting a 1000 Hz tone in real time to a mount.

    @param testCase: the running test; ffmpeg is killed at its end.
    @param port: the radio's port.
    @param mount: the mount.
    @param cutting: write the output buffer whole (C{-flush_packets 0}:
        32 KiB at a time, cut anywhere) rather than frame by frame, as many
        source clients do: a SIGKILL then leaves the radio with the start
        of a frame.
    @return: the child process.
    """
    args = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "warning", "-re",
        "-f", "lavfi", "-i", f"sine=frequency={LIVE_HZ}:sample_rate=44100",
        "-c:a", "libmp3lame", "-b:a", f"{LIVE_KBPS}k", "-ar", "44100", "-ac", "2",
        "-content_type", "audio/mpeg", "-ice_name", "Live Show", "-flush_packets", "0" if cutting else "1",
        "-f", "mp3", f"icecast://source:{PASSWORD}@127.0.0.1:{port}{mount}",
    ]  # fmt: skip
    return spawn(testCase, args, 50)


class LiveSourceKilledTests(TestCase):
    """
    ffmpeg broadcasting to a mount is killed with SIGKILL, most likely in the
    middle of a frame (it writes whole packets, but the socket is cut
    wherever its buffer stands).
    """

    timeout = 60

    @inlineCallbacks
    def killSource(self, name: str, withFallbackMount: bool, cutting: bool):
        """
        mpg123 and a raw client listen to a mount; ffmpeg goes live on it
        and is killed; measure and check what the listeners got.

        @param name: the figure's name.
        @param withFallbackMount: whether the mount is live-only with
            another mount's playlist as its fallback (else the mount's own
            playlist takes over).
        @param cutting: whether ffmpeg writes 32 KiB buffers cut anywhere
            (L{cuttingSource}) rather than a frame at a time.
        @return: a L{Deferred} firing with the recorded figures.
        """
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [("Fallback Artist", "Fallback Tone", PLAYLIST_HZ, 30)], bitrate=PLAYLIST_KBPS)
        if withFallbackMount:
            fallback = playlistStation(folder, mount="/stream")
            station = Station(None, mount="/live", sourcePassword=PASSWORD)
            station.setFallback(fallback)
            stations = [station, fallback]
        else:
            station = playlistStation(folder, mount="/live", sourcePassword=PASSWORD)
            stations = [station]
        _, (port,) = yield startService(self, stations)

        player = listen(self, f"http://127.0.0.1:{port}/live", timeout=55)
        raw = yield connectRaw(self, port, b"GET /live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", TimedClient())
        before = yield player.waitForTone(PLAYLIST_HZ, 15)
        source = cuttingSource(self, port, "/live", cutting)
        during = yield player.waitForTone(LIVE_HZ, 20, start=before, length=20)

        def bitrates():
            return [frame.header.bitrate for _, frame in raw.frames()[0]]

        yield raw.waitFor(lambda: LIVE_KBPS in bitrates(), 10, "live frames on the raw listener")
        liveSource = station.liveSource
        sourceFramer = liveSource._framer
        if cutting:
            # Kill between two of ffmpeg's 32 KiB writes (about 2 s apart),
            # once the radio holds the start of a frame: a write ends on a
            # frame boundary about once in 400, and one may be in flight.
            seen = [-1]

            def midFrame():
                settled = liveSource.bytesReceived == seen[0]
                seen[0] = liveSource.bytesReceived
                return settled and partialFrame(sourceFramer._buffer) > 0

            yield pollUntil(midFrame, 15, "the source to have sent the start of a frame", 0.05)
        received = len(raw.data)
        killed = time.monotonic()
        source.kill("KILL")
        yield withTimeout(source.whenEnded(), 10, "ffmpeg to die")
        yield pollUntil(lambda: not liveSource.connected, 5, "the source's connection to be lost", 0.05)
        cut = partialFrame(sourceFramer._buffer)

        def firstFallback():
            seenLive = False
            for offset, frame in raw.frames()[0]:
                if frame.header.bitrate == LIVE_KBPS:
                    seenLive = True
                elif seenLive:
                    return offset + 1
            return None

        offset = yield raw.waitFor(firstFallback, 10, "playlist frames after the live ones")
        latency = raw.arrivalOf(offset - 1) - killed
        yield player.waitForTone(PLAYLIST_HZ, 20, start=during)
        # A few more seconds of the playlist, then judge the whole capture.
        yield raw.waitForBytes(len(raw.data) + 24000, 10)
        now = time.monotonic()
        gap = raw.longestGap(killed, now)
        frames, framer = raw.frames()
        lost = (now - killed) - audioSeconds([(o, f) for o, f in frames if o >= received])
        body = bytes(raw.data[raw.data.find(b"\r\n\r\n") + 4 :])
        ffmpegSays = yield decodeErrors(self, body)
        pedantic = yield decodeErrors(self, body, pedantic=True)
        mpg123Says = complaints(player.err.decode("utf-8", "replace"))
        borrowing = borrowingFrames([frame for _, frame in frames])
        everyFrame = [frame for _, frame in frames]
        repaired = yield decodeErrors(self, silenced(everyFrame, borrowingFrames(everyFrame, atStart=True)), pedantic=True)
        figures = dict(
            fallbackFirstByte=round(latency, 3),
            longestGapAfterKill=round(gap, 3),
            audioLostSeconds=round(lost, 3),
            sourceBytes=liveSource.bytesReceived,
            # The bytes of the frame the kill cut, which the radio dropped.
            partialFrameAtKill=cut,
            partialFrameBytes=framer.skippedBytes,
            borrowingFrames=len(borrowing),
            mpg123Complaints=mpg123Says,
            ffmpegComplaints=ffmpegSays,
            ffmpegPedanticComplaints=len(pedantic.splitlines()),
        )
        recordFigure(name, **figures)
        self.assertEqual((framer.skippedBytes, framer.infoFrames), (0, 0))
        self.assertIsNone(raw.lost)
        self.assertTrue(player.running, player.describe())
        self.assertEqual((station.totalListeners, station.listenerCount), (2, 2))
        # mpg123 complains, if at all, about the frames decoded with the
        # other stream's bytes (see SwitchSpliceTests), and silencing those
        # makes the stream decode cleanly even for ffmpeg at its most
        # pedantic.
        self.assertLessEqual(len(mpg123Says), len(borrowing), player.describe())
        self.assertEqual(repaired, "")
        return figures

    def test_fallbackMount(self):
        """
        On a live-only mount with a fallback mount, the listeners get the
        fallback's audio after the SIGKILL (how soon is a recorded figure;
        the aim is 1 s), none is disconnected, every byte they got
        is in whole frames, and mpg123 and ffmpeg decode it without a
        complaint.
        """
        return self.killSource("live source SIGKILL, fallback mount", withFallbackMount=True, cutting=False)

    def test_ownPlaylist(self):
        """
        The same on a mount whose own playlist plays when no source is
        live.
        """
        return self.killSource("live source SIGKILL, own playlist", withFallbackMount=False, cutting=False)

    @inlineCallbacks
    def test_cutMidFrame(self):
        """
        A source whose writes cut frames anywhere is killed with the start
        of a frame sent: the radio drops that partial frame, and the
        listeners get only whole frames, the source's queued audio, then
        the fallback's, without a disconnect or a decoder complaint.
        """
        figures = yield self.killSource("live source SIGKILL mid-frame", withFallbackMount=True, cutting=True)
        # The kill did cut a frame (killSource waited for that), and the
        # listeners got none of it: killSource checked that every byte they
        # got is in whole frames.
        self.assertGreater(figures["partialFrameAtKill"], 0, figures)
        self.assertEqual(figures["partialFrameBytes"], 0, figures)


class EncoderKilledTests(TestCase):
    """
    The encoder of a derived mount (ffmpeg re-encoding the parent mount at
    64 kbps) is killed with SIGKILL while mpg123 decodes the derived mount.
    """

    timeout = 60

    @inlineCallbacks
    def test_encoderKilled(self):
        """
        The derived mount's listeners stay connected; a new encoder starts
        after the backoff (1 s) and its audio reaches them; what they got is
        whole frames that mpg123 and ffmpeg decode without a complaint.  The
        time from the kill to the first byte of new audio, the longest time
        without a byte, and the audio lost are recorded.
        """
        requireProgram("mpg123")
        encoder = requireProgram("ffmpeg")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [("Parent Artist", "Parent Tone", PLAYLIST_HZ, 60)])
        parent = playlistStation(folder, mount="/stream")
        derived = derivedStation(parent, "/stream-64", AudioFormat(44100, 2, 64), reactor, encoder)
        _, (port,) = yield startService(self, [parent, derived])
        transcoder = derived.programme

        player = listen(self, f"http://127.0.0.1:{port}/stream-64", timeout=55)
        raw = yield connectRaw(self, port, b"GET /stream-64 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", TimedClient())
        yield player.waitForTone(PLAYLIST_HZ, 20)
        # Let the listener's burst be behind it: the measurement is of the
        # steady stream.
        yield raw.waitForBytes(len(raw.data) + 8000, 10)
        (process,) = transcoder.processes
        received = len(raw.data)
        killed = time.monotonic()
        os.kill(process.transport.pid, signal.SIGKILL)
        yield pollUntil(lambda: transcoder.runs >= 2 and transcoder.encoding, 15, "a new encoder", 0.05)
        restarted = time.monotonic() - killed
        heardFrom = len(player.tones)
        yield player.waitForTone(PLAYLIST_HZ, 20, start=heardFrom)
        yield raw.waitForBytes(len(raw.data) + 16000, 10)
        now = time.monotonic()
        gap = raw.longestGap(killed, now)
        resumed = raw.firstAfterGap(killed, now)
        frames, framer = raw.frames()
        after = [(offset, frame) for offset, frame in frames if offset >= received]
        lost = (now - killed) - audioSeconds(after)
        body = bytes(raw.data[raw.data.find(b"\r\n\r\n") + 4 :])
        ffmpegSays = yield decodeErrors(self, body)
        pedantic = yield decodeErrors(self, body, pedantic=True)
        mpg123Says = complaints(player.err.decode("utf-8", "replace"))
        recordFigure(
            "encoder SIGKILL",
            newEncoderAfter=round(restarted, 3),
            firstByteAfterGap=round(resumed, 3),
            longestGapAfterKill=round(gap, 3),
            audioLostSeconds=round(lost, 3),
            partialFrameBytes=framer.skippedBytes,
            mpg123Complaints=mpg123Says,
            ffmpegComplaints=ffmpegSays,
            ffmpegPedanticComplaints=len(pedantic.splitlines()),
        )
        self.assertEqual(transcoder.restarts, 1)
        self.assertEqual((framer.skippedBytes, framer.infoFrames), (0, 0))
        self.assertEqual({frame.header.bitrate for _, frame in frames}, {64})
        self.assertIsNone(raw.lost)
        self.assertTrue(player.running, player.describe())
        self.assertEqual((derived.totalListeners, derived.listenerCount), (2, 2))
        self.assertEqual(mpg123Says, [], player.describe())
        self.assertEqual(ffmpegSays, "")


@implementer(IFrameSource)
class _FrameList:
    """
    An L{IFrameSource} over a list of frames, for L{SwitchSpliceTests}.
    """

    title = None

    def __init__(self, frames) -> None:
        self._frames = list(frames)

    @property
    def onAir(self) -> bool:
        """
        Whether frames are left.
        """
        return bool(self._frames)

    def pull(self, duration: float) -> list:
        """
        The next frames, about C{duration} seconds of them.
        """
        out = []
        while self._frames and sum(f.duration for f in out) < duration:
            out.append(self._frames.pop(0))
        return out

    def close(self) -> None:
        """
        Forget the frames.
        """
        self._frames = []


verifyClass(IFrameSource, _FrameList)


class SwitchSpliceTests(TestCase):
    """
    What a listener gets across a switch between two MP3 streams.
    """

    timeout = 30

    @inlineCallbacks
    def test_noBorrowedAudioAcrossSwitch(self):
        """
        A live source (LAME, 128 kbps) goes live over a playlist (LAME,
        96 kbps) and leaves again: no frame the listener gets borrows
        audio data from frames it did not get.
        """
        requireProgram("ffmpeg")
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        playlist = yield makeTrack(self, os.path.join(folder, "a.mp3"), "A", "A", PLAYLIST_HZ, 8, PLAYLIST_KBPS)
        live = yield makeTrack(self, os.path.join(folder, "b.mp3"), "B", "B", LIVE_HZ, 3, LIVE_KBPS)
        framer = Framer()
        with open(playlist, "rb") as f:
            playlistFrames = framer.feed(f.read()) + framer.flush()
        clock = Clock()
        station = Station(_FrameList(playlistFrames), clock=clock, sourcePassword=PASSWORD)
        station.startService()
        self.addCleanup(station.stopService)
        _, transport = connectInMemory(station)
        clock.pump([0.5] * 4)
        source = LiveSource()
        station.attachLive(source)
        with open(live, "rb") as f:
            source.feed(f.read())
        clock.pump([0.5] * 4)
        source.end()
        station.detachLive(source)
        clock.pump([0.5] * 10)
        data = transport.value()
        framer = Framer()
        frames = framer.feed(data[data.find(b"\r\n\r\n") + 4 :])
        self.assertEqual({f.header.bitrate for f in frames}, {PLAYLIST_KBPS, LIVE_KBPS})
        self.assertEqual(borrowingFrames(frames), [])


def residentKiB(pid: int) -> int:
    """
    @param pid: a process.
    @return: its resident memory in KiB.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class FullDiskTests(TestCase):
    """
    The radio, run by Twisted's runners from the checkout, logs to a file on
    a full disk: it goes on playing, answering and stopping as usual.  (The
    server log is the only file txradio writes; it has no dump or record
    feature.)
    """

    timeout = 60

    def fullDisk(self, free: int) -> str:
        """
        Mount a 64 KiB tmpfs and fill it, or skip the test when that is not
        allowed (not root, no mount in a container).

        @param free: bytes to leave free, so that the disk fills while the
            radio runs.
        @return: the folder.
        """
        if os.getuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        folder = tempfile.mkdtemp(prefix="txradio-full-")
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", folder], capture_output=True, timeout=10
        )
        if mounted.returncode != 0:
            os.rmdir(folder)
            self.skipTest(f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
        self.addCleanup(os.rmdir, folder)
        self.addCleanup(subprocess.run, ["umount", "-l", folder], capture_output=True, timeout=10)
        with open(os.path.join(folder, "filler"), "wb", buffering=0) as f:
            try:
                for _ in range(1000):
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        os.truncate(os.path.join(folder, "filler"), max(0, os.path.getsize(os.path.join(folder, "filler")) - free))
        return folder

    @inlineCallbacks
    def playWithLog(self, name: str, args: list[str], logPath: str):
        """
        Run the radio with its log on a full disk, play it with mpg123 while
        hundreds of requests (each logged) come and go, and stop it.

        @param name: the figures' name.
        @param args: the runner's command line, without C{--listen}.
        @param logPath: where it logs.
        @return: a L{Deferred} firing with the figures.
        """
        requireProgram("mpg123")
        port = freePort()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        child = spawn(self, [*args, "--listen", f"tcp:{port}:interface=127.0.0.1"], 50, path=CHECKOUT, env=env)

        def accepting():
            if child.ended:
                raise Timeout(f"the radio exited: {child.describe()}")
            return connectRaw(self, port).addCallback(lambda client: client.close().addCallback(lambda _: True))

        yield pollUntil(accepting, 20, "the radio's port", 0.1)
        started = residentKiB(child.transport.pid)
        player = spawn(
            self, ["mpg123", "-v", "--no-control", "-n", "150", "-w", "/dev/null", f"http://127.0.0.1:{port}/stream"], 40
        )
        # Listeners coming and going: each is logged.
        for _ in range(5):
            clients = yield gatherResults(
                [connectRaw(self, port, b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n") for _ in range(40)]
            )
            yield gatherResults([client.waitForHead(10) for client in clients])
            yield gatherResults([client.close() for client in clients])
        asked = time.monotonic()
        newcomer = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        head = yield newcomer.waitForHead(10)
        yield newcomer.waitForBytes(head + 1, 10)
        answered = time.monotonic() - asked
        yield newcomer.close()
        yield withTimeout(player.whenEnded(), 30, "mpg123 to decode 150 frames")
        grown = residentKiB(child.transport.pid) - started
        folder = os.path.dirname(logPath)
        full = os.statvfs(folder).f_bavail == 0 if folder != "/dev" else True
        child.kill("TERM")
        yield withTimeout(child.whenEnded(), 15, "the radio to stop after SIGTERM")
        figures = dict(
            newListenerAnswered=round(answered, 3),
            mpg123Exit=player.exitCode,
            mpg123Complaints=complaints(player.err.decode("utf-8", "replace")),
            rssGrowthKiB=grown,
            logBytes=os.path.getsize(logPath) if os.path.isfile(logPath) else None,
            diskFull=full,
            radioExit=child.exitCode,
            radioSignal=child.signal,
            radioOutput=child.output[-500:],
        )
        recordFigure(name, **figures)
        self.assertEqual(player.exitCode, 0, player.describe())
        self.assertEqual(figures["mpg123Complaints"], [], player.describe())
        self.assertTrue(full)
        # A correctness bound, not a speed: log events that cannot be
        # written must not pile up in memory.  Two hundred requests' worth
        # is a few hundred KiB at most; 20 MiB leaves a wide margin for the
        # interpreter's own growth on a loaded machine.
        self.assertLess(grown, 20 * 1024)
        self.assertTrue(child.exitCode == 0 or child.signal == signal.SIGTERM, child.describe())
        self.assertNotIn("Traceback", child.output, child.describe())
        return figures

    @inlineCallbacks
    def test_twistdLogFills(self):
        """
        C{twistd --logfile} on a 64 KiB disk with 4 KiB free: the log fills
        it while the radio runs (listeners coming and going are logged); the radio plays on, answers, and stops on
        SIGTERM as usual.
        """
        folder = self.fullDisk(4096)
        log = os.path.join(folder, "txradio.log")
        twistd = [sys.executable, "-c", "import sys; sys.argv[0] = 'twistd'; from twisted.scripts.twistd import run; run()"]
        figures = yield self.playWithLog(
            "server log on a full disk (twistd)", [*twistd, "-n", "--pidfile=", "--logfile", log, "txradio"], log
        )
        self.assertTrue(0 < figures["logBytes"] <= 4096, figures)

    @inlineCallbacks
    def test_devFull(self):
        """
        The same with C{python -m twisted --log-file=/dev/full}, where every
        write fails (no root needed).
        """
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        yield self.playWithLog(
            "server log on /dev/full (twist)",
            [sys.executable, "-m", "twisted", "--log-file=/dev/full", "--log-format=text", "txradio"], "/dev/full"
        )
