"""
Tests for the listener limits: a mount's maximum listening duration, its
intro (L{txradio.stream.intro}, L{txradio.sources.intro}, the builder's
L{txradio.build.configureIntro}) and the reservoir guard at the join.
"""

from __future__ import annotations

import os
import tempfile

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.build import buildStation, checkIntros, configureIntro
from txradio.config import MountConfig, ServerConfig, parseConfig
from txradio.reload import IN_PLACE
from txradio.sources.intro import IntroError, converterArguments, fitsFormat, readIntro
from txradio.stream.broadcast import Chunk
from txradio.stream.events import DURATION_LIMIT, ListenerLeft, reasonLabel
from txradio.stream.intro import MAX_INTRO_BYTES, MAX_INTRO_SECONDS, afterIntro, boundIntro, introChunk
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.wire.audioformat import AudioFormat
from txradio.wire.icy import MetadataDemuxer
from txradio.wire.mp3 import Frame, Framer, mainDataBegin, parseHeader, silentFrame

INTRO_HEADER = b"\xff\xfb\xa0\x64"
"""MPEG-1 Layer III at 160 kbps, 44.1 kHz: intro frames are told apart from
the stream's (128 kbps) by their bitrate."""


def introFrames(count: int) -> list[Frame]:
    """
    Make intro frames (silent, 160 kbps).

    @param count: how many.
    """
    return [syntheticFrame(0, INTRO_HEADER) for _ in range(count)]


def borrowing(frame: Frame, amount: int) -> Frame:
    """
    A copy of a Layer III frame (MPEG-1, no CRC) whose C{main_data_begin}
    is C{amount}: it borrows that many bytes from the frames before it.
    """
    data = bytearray(frame.data)
    data[4] = amount >> 1
    data[5] = (data[5] & 0x7F) | ((amount & 1) << 7)
    return Frame(frame.header, bytes(data))


def makeStation(**kwargs) -> tuple[Station, Clock]:
    """
    A started station on a fake clock with a synthetic source.
    """
    clock = Clock()
    source = FakeFrameSource(titles=["Song A", "Song B"], framesPerTrack=500)
    station = Station(source, clock=clock, **kwargs)
    station.startService()
    return station, clock


def body(raw: bytes) -> bytes:
    """
    The body of a listener's response.
    """
    return raw.partition(b"\r\n\r\n")[2]


class DurationLimitTests(SynchronousTestCase):
    """
    A mount's C{max_listener_duration} disconnects a listener on time.
    """

    def test_disconnectsOnTime(self) -> None:
        """
        A listener is dropped after the limit with the reason
        L{DURATION_LIMIT}, and no delayed call of it is left.
        """
        station, clock = makeStation()
        station.maxListenerDuration = 3.0
        calls = len(clock.getDelayedCalls())
        listener, transport = connectInMemory(station)
        self.assertEqual(len(clock.getDelayedCalls()), calls + 1)
        clock.advance(2.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.1)
        self.assertEqual(listener.endReason, DURATION_LIMIT)
        self.assertTrue(transport.disconnecting or transport.disconnected)
        self.assertEqual(len(clock.getDelayedCalls()), calls)
        self.assertNotIn(listener, list(station.broadcaster.listeners))
        station.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_leavingCancels(self) -> None:
        """
        A listener that leaves before its limit leaves no delayed call.
        """
        station, clock = makeStation()
        station.maxListenerDuration = 60.0
        calls = len(clock.getDelayedCalls())
        listener, _ = connectInMemory(station)
        clock.advance(5)
        listener.stopProducing()
        self.assertEqual(len(clock.getDelayedCalls()), calls)
        self.assertIsNone(listener.endReason)
        station.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_offByDefault(self) -> None:
        """
        Without a limit a listener schedules nothing.
        """
        station, clock = makeStation()
        calls = len(clock.getDelayedCalls())
        connectInMemory(station)
        self.assertEqual(len(clock.getDelayedCalls()), calls)
        station.stopService()

    def test_onlyNewListeners(self) -> None:
        """
        A limit set while listeners play (a reload) applies to those who
        join after it.
        """
        station, clock = makeStation()
        early, _ = connectInMemory(station)
        station.maxListenerDuration = 1.0
        late, _ = connectInMemory(station)
        clock.advance(2)
        self.assertIsNone(early.endReason)
        self.assertEqual(late.endReason, DURATION_LIMIT)
        station.stopService()

    def test_reasonLabel(self) -> None:
        """
        The reason's label for metrics and hooks is C{duration_limit}.
        """
        self.assertEqual(reasonLabel(DURATION_LIMIT), "duration_limit")
        event = ListenerLeft(
            Station(FakeFrameSource(), clock=Clock()), 0.0, syntheticListener(), None, "p", DURATION_LIMIT, 3.0, 0.0
        )
        self.assertEqual(event.fields()["reason"], "duration_limit")

    def test_configuration(self) -> None:
        """
        The server's C{max_listener_duration} is the default of mounts that
        set none; a mount's own (0: none) wins; both apply in place on a
        reload.
        """
        music = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, music)
        config = parseConfig(
            f"[server]\nmax_listener_duration = 10\n"
            f'[[mount]]\npath = "/a"\nplaylist = "{music}"\n'
            f'[[mount]]\npath = "/b"\nplaylist = "{music}"\nmax_listener_duration = 0\n'
            f'[[mount]]\npath = "/c"\nplaylist = "{music}"\nmax_listener_duration = 5\n'
        )
        clock = Clock()
        durations = [buildStation(m, config.server, clock, None).maxListenerDuration for m in config.mounts]
        self.assertEqual(durations, [10.0, 0.0, 5.0])
        self.assertIn("maxListenerDuration", IN_PLACE)
        self.assertIn("intro", IN_PLACE)
        self.assertEqual(ServerConfig().maxListenerDuration, 0)


def syntheticListener():
    """
    Something with the fields a L{ListenerLeft} reads.
    """

    class Fake:
        userAgent = "x"
        bytesSent = 0

    return Fake()


class IntroChunkTests(SynchronousTestCase):
    """
    L{introChunk} builds one bounded, guarded chunk.
    """

    def test_chunk(self) -> None:
        """
        The chunk holds the frames, frame starts and the title's block.
        """
        frames = introFrames(3)
        chunk = introChunk(frames, "My Radio")
        assert chunk is not None
        self.assertEqual(chunk.data, b"".join(f.data for f in frames))
        self.assertEqual(chunk.frameStarts, (0, len(frames[0].data), 2 * len(frames[0].data)))
        self.assertIn(b"StreamTitle='My Radio';", chunk.marks[0][1])
        self.assertIsNone(introChunk([], "x"))

    def test_bounded(self) -> None:
        """
        At most L{MAX_INTRO_BYTES} and L{MAX_INTRO_SECONDS} are kept.
        """
        frame = syntheticFrame(0, INTRO_HEADER)
        many = [frame] * 5000  # 130 s, 2.6 MB
        kept = boundIntro(many)
        self.assertLessEqual(sum(len(f.data) for f in kept), MAX_INTRO_BYTES)
        self.assertLessEqual(sum(f.duration for f in kept), MAX_INTRO_SECONDS + 1e-6)
        self.assertEqual(
            len(kept), min(int(MAX_INTRO_SECONDS / frame.duration), MAX_INTRO_BYTES // len(frame.data))
        )

    def test_firstFramesGuarded(self) -> None:
        """
        An intro whose first frame borrows from before the file has it
        silenced.
        """
        frames = introFrames(3)
        frames[0] = borrowing(frames[0], 100)
        chunk = introChunk(frames, "x")
        assert chunk is not None
        self.assertEqual(mainDataBegin(Frame(parseHeader(chunk.data), chunk.data[: len(frames[0].data)])), 0)


class AfterIntroTests(SynchronousTestCase):
    """
    L{afterIntro} silences the burst's first frames that borrow from
    before the burst, in a copy.
    """

    def test_borrowingFirstFrameSilenced(self) -> None:
        """
        A burst whose first frame borrows gets a copy of its first chunk
        with that frame silenced; later frames, which borrow only from the
        burst, are untouched, and the shared chunk is not changed.
        """
        frame = silentFrame(44100, 2, 128)
        frames = [borrowing(frame, 200)] + [borrowing(frame, 100) for _ in range(30)]
        size = len(frame.data)
        chunk = Chunk(b"".join(f.data for f in frames), tuple(i * size for i in range(31)), ((0, b"\0"),), 5)
        second = Chunk(frame.data, (0,), ((0, b"\0"),), 5 + len(chunk.data))
        result = afterIntro([chunk, second])
        self.assertIsNot(result[0], chunk)
        self.assertIs(result[1], second)
        self.assertEqual(len(result[0].data), len(chunk.data))
        self.assertEqual(result[0].frameStarts, chunk.frameStarts)
        self.assertEqual(result[0].position, 5)
        out = Framer().feed(result[0].data + second.data)
        self.assertEqual(mainDataBegin(out[0]), 0)
        # The second frame borrows 100 bytes of the first's main data,
        # which the listener has: it stays.
        self.assertEqual(mainDataBegin(out[1]), 100)
        self.assertEqual(result[0].data[size:], chunk.data[size:])
        self.assertEqual(mainDataBegin(Framer().feed(chunk.data + second.data)[0]), 200)

    def test_cleanBurstUnchanged(self) -> None:
        """
        A burst that borrows nothing from before it is returned as it is.
        """
        frame = silentFrame(44100, 2, 128)
        chunk = Chunk(frame.data * 3, (0, len(frame.data), 2 * len(frame.data)), ((0, b"\0"),), 0)
        burst = [chunk]
        self.assertIs(afterIntro(burst), burst)
        self.assertEqual(afterIntro([]), [])


class IntroListenerTests(SynchronousTestCase):
    """
    A new listener gets the intro, then the burst at a frame boundary, with
    metadata counted from its first intro byte.
    """

    def setUp(self) -> None:
        self.station, self.clock = makeStation(metaint=1000)
        self.intro = introFrames(5)
        self.station.intro = introChunk(self.intro, "My Radio")
        self.clock.advance(3)

    def tearDown(self) -> None:
        self.station.stopService()

    def test_introThenBurst(self) -> None:
        """
        The bytes a new listener gets are the intro's frames, then whole
        stream frames.
        """
        _, transport = connectInMemory(self.station)
        atJoin = len(body(transport.value()))
        self.clock.advance(2)
        frames = Framer().feed(body(transport.value()))
        self.assertEqual([f.data for f in frames[:5]], [f.data for f in self.intro])
        self.assertTrue(all(f.header.bitrate == 128 for f in frames[5:]))
        self.assertGreater(len(frames), 50)
        # The burst counter counts the burst, not the intro.
        self.assertEqual(self.station.stats.burstBytes, atJoin - len(self.station.intro.data))

    def test_metadataFromFirstIntroByte(self) -> None:
        """
        With metadata, a block follows every metaint audio bytes counted
        from the first intro byte; the first carries the station's name,
        a later one the song's title; the audio is intro then stream frames.
        """
        _, transport = connectInMemory(self.station, wantsMetadata=True)
        self.clock.advance(2)
        raw = body(transport.value())
        # The first block is exactly 1000 audio bytes in.
        self.assertEqual(raw[:1000], self.station.intro.data[:1000])
        length = raw[1000] * 16
        self.assertIn(b"StreamTitle='My Radio';", raw[1001 : 1001 + length])
        demuxer = MetadataDemuxer(1000)
        items = demuxer.feed(raw)
        audio = b"".join(item for item in items if isinstance(item, bytes))
        titles = [item["StreamTitle"] for item in items if isinstance(item, dict)]
        self.assertEqual(titles[:2], ["My Radio", "Song A"])
        frames = Framer().feed(audio)
        self.assertEqual([f.data for f in frames[:5]], [f.data for f in self.intro])
        self.assertTrue(all(f.header.bitrate == 128 for f in frames[5:]))
        self.assertEqual(demuxer.blocks, demuxer.audioBytes // 1000)

    def test_pauseDuringIntro(self) -> None:
        """
        A listener paused while its intro is still buffered holds the ticks'
        chunks and sends them in order after it, the metadata phase intact.
        """
        listener, transport = connectInMemory(self.station, wantsMetadata=True)
        listener.pauseProducing()
        written = len(transport.value())
        self.clock.advance(3)
        self.assertEqual(len(transport.value()), written)
        self.assertGreater(listener.lag, 0)
        listener.resumeProducing()
        demuxer = MetadataDemuxer(1000)
        items = demuxer.feed(body(transport.value()))
        audio = b"".join(item for item in items if isinstance(item, bytes))
        frames = Framer().feed(audio)
        self.assertEqual([f.data for f in frames[:5]], [f.data for f in self.intro])
        markers = [f.data[-1] for f in frames[5:]]
        # Stream frames carry consecutive markers: nothing lost, nothing twice.
        self.assertTrue(all((b - a) % 255 == 1 for a, b in zip(markers, markers[1:])), markers)
        self.assertEqual(demuxer.blocks, demuxer.audioBytes // 1000)

    def test_noIntroWithoutBurst(self) -> None:
        """
        With no recent audio to join (an empty burst), the intro is left
        out.
        """
        self.station.broadcaster.recent.clear()
        listener, transport = connectInMemory(self.station)
        self.assertEqual(body(transport.value()), b"")


class IntroFileTests(SynchronousTestCase):
    """
    Reading an intro file and giving it to a station.
    """

    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp()

    def tearDown(self) -> None:
        for name in os.listdir(self.folder):
            os.remove(os.path.join(self.folder, name))
        os.rmdir(self.folder)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def mount(self, intro: str, **kwargs) -> MountConfig:
        return MountConfig(path="/stream", relay="http://example.invalid/x", intro=intro, **kwargs)

    def test_readAndFit(self) -> None:
        """
        An MP3 in the mount's format fits; another sample rate does not.
        """
        path = self.write("a.mp3", b"".join(f.data for f in introFrames(4)))
        frames = readIntro(path)
        self.assertEqual(len(frames), 4)
        self.assertTrue(fitsFormat(frames, AudioFormat(44100, 2)))
        self.assertFalse(fitsFormat(frames, AudioFormat(22050, 2)))
        self.assertFalse(fitsFormat(frames, AudioFormat(44100, 2, 128)))
        self.assertFalse(fitsFormat([], AudioFormat()))

    def test_tooLarge(self) -> None:
        """
        A file larger than the limit is refused.
        """
        path = self.write("big.mp3", b"\0" * 100)
        self.assertRaises(IntroError, readIntro, path, 99)
        self.assertRaises(IntroError, readIntro, os.path.join(self.folder, "missing.mp3"))

    def test_configureInFormat(self) -> None:
        """
        An intro in the mount's format is set at once, titled with the
        station's name; a reload with the same file and name keeps it.
        """
        path = self.write("a.mp3", b"".join(f.data for f in introFrames(4)))
        clock = Clock()
        station = buildStation(self.mount(path, name="Radio X"), ServerConfig(), clock, None)
        chunk = station.intro
        assert chunk is not None
        self.assertEqual(len(chunk.frameStarts), 4)
        self.assertIn(b"Radio X", chunk.marks[0][1])
        configureIntro(station, self.mount(path, name="Radio X"), clock, None)
        self.assertIs(station.intro, chunk)
        configureIntro(station, self.mount(None), clock, None)  # type: ignore[arg-type]
        self.assertIsNone(station.intro)

    def test_otherFormatWithoutEncoder(self) -> None:
        """
        An intro in another format with no ffmpeg is refused with a clear
        error, at startup (L{checkIntros}) and when a station is built.
        """
        path = self.write("a.mp3", b"".join(f.data for f in introFrames(4)))
        mount = self.mount(path, sampleRate=22050)
        with self.assertRaises(IntroError) as caught:
            buildStation(mount, ServerConfig(), Clock(), None)
        self.assertIn("ffmpeg", str(caught.exception))
        self.assertIn("/stream", str(caught.exception))
        config = parseConfig(
            f'[[mount]]\npath = "/stream"\nrelay = "http://example.invalid/x"\nintro = "{path}"\nsample_rate = 22050\n'
        )
        self.assertRaises(IntroError, checkIntros, config, None)
        checkIntros(config, "/usr/bin/ffmpeg")

    def test_otherFormatConverted(self) -> None:
        """
        An intro in another format is converted by an ffmpeg child process;
        the station has no intro until it is done.
        """
        path = self.write("a.mp3", b"".join(f.data for f in introFrames(4)))
        mount = self.mount(path, sampleRate=22050)

        class Reactor(Clock):
            spawned: list = []

            def spawnProcess(self, protocol, executable, args, env=None, childFDs=None):
                self.spawned.append((protocol, executable, args))

                class Transport:
                    def closeStdin(self) -> None:
                        pass

                    def signalProcess(self, name) -> None:
                        pass

                protocol.transport = Transport()
                return protocol.transport

        reactor = Reactor()
        station = buildStation(mount, ServerConfig(), reactor, "/usr/bin/ffmpeg")
        self.assertIsNone(station.intro)
        [(protocol, executable, args)] = reactor.spawned
        self.assertEqual(executable, "/usr/bin/ffmpeg")
        self.assertEqual(args[1:], converterArguments(path, mount.audioFormat))
        self.assertIn("file:" + path, args)
        converted = silentFrame(22050, 2, 64)
        protocol.outReceived(converted.data * 10)
        from twisted.internet.error import ProcessDone
        from twisted.python.failure import Failure

        protocol.processEnded(Failure(ProcessDone(0)))
        assert station.intro is not None
        self.assertEqual(len(station.intro.frameStarts), 10)
        self.assertEqual(reactor.getDelayedCalls(), [])
