"""
Tests for mount formats and derived mounts across the configuration file,
the command line, the radio builder, live source checks and the status
JSON.
"""

from __future__ import annotations

import os

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from tests.test_config import _Folder, _mount
from tests.test_encoder import stream
from txradio import build as radio
from txradio import tap
from txradio.build import EncoderMissing, buildStations, checkEncoder, conformer
from txradio.net.sourceport import SourceSession, announcedFormat
from txradio.sources.encoder import EncoderSettings
from txradio.sources.transcode import ALWAYS, TranscodingSource
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.status import mountStatus
from txradio.wire.audioformat import SKIP, TRANSCODE, AudioFormat
from txradio.wire.request import RequestHead


class ConfigFormatTests(_Folder, SynchronousTestCase):
    """
    The format keys of a C{[[mount]]} table.
    """

    def test_defaults(self) -> None:
        """
        A mount that says nothing plays 44.1 kHz stereo at any bitrate, with
        the default policy.
        """
        [mount] = self.parse(_mount()).mounts
        self.assertEqual(mount.audioFormat, AudioFormat(44100, 2, None))
        self.assertIsNone(mount.formatPolicy)
        self.assertIsNone(mount.deriveFrom)

    def test_format(self) -> None:
        """
        C{sample_rate}, C{channels}, C{bitrate} and C{format_policy} are
        read.
        """
        text = _mount('sample_rate = 48000\nchannels = 1\nbitrate = 96\nformat_policy = "skip"')
        [mount] = self.parse(text).mounts
        self.assertEqual(mount.audioFormat, AudioFormat(48000, 1, 96))
        self.assertEqual(mount.formatPolicy, "skip")

    def test_derived(self) -> None:
        """
        A derived mount takes its parent's sample rate and channels, its
        own bitrate, and is of kind C{"derived"}.
        """
        text = (
            _mount("sample_rate = 48000", path="/stream")
            + '[[mount]]\npath = "/stream-64"\nderive_from = "/stream"\nbitrate = 64\n'
        )
        config = self.parse(text)
        derived = config.mount("/stream-64")
        self.assertEqual(derived.deriveFrom, "/stream")
        self.assertEqual(derived.audioFormat, AudioFormat(48000, 2, 64))
        self.assertEqual(derived.kind, "derived")

    def test_errors(self) -> None:
        """
        Bad values are refused with the key and what is expected.
        """
        derived = '[[mount]]\npath = "/d"\nderive_from = "/x"\n'
        cases = [
            (_mount("sample_rate = 44000"), "mount[1].sample_rate", "44100"),
            (_mount("sample_rate = true"), "mount[1].sample_rate", "one of"),
            (_mount("channels = 3"), "mount[1].channels", "1 (mono) or 2"),
            (_mount("bitrate = 100"), "mount[1].bitrate", "128"),
            (_mount('format_policy = "maybe"'), "mount[1].format_policy", "transcode, skip"),
            (_mount() + derived, "mount[2]", "needs a bitrate"),
            (_mount() + derived + 'bitrate = 64\nformat_policy = "skip"\n', "mount[2].format_policy", "re-encoded"),
            (_mount() + derived + 'bitrate = 64\nplaylist = "music"\n', "mount[2].playlist", "cannot also"),
            (_mount() + '[[mount]]\npath = "/d"\nderive_from = "/nope"\nbitrate = 64\n', "mount[2].derive_from", "not a mount"),
            (_mount() + '[[mount]]\npath = "/d"\nderive_from = "/d"\nbitrate = 64\n', "mount[2].derive_from", "itself"),
            (
                _mount() + derived + "bitrate = 64\n" + '[[mount]]\npath = "/e"\nderive_from = "/d"\nbitrate = 32\n',
                "mount[3].derive_from",
                "derive from /x",
            ),
            (_mount("derivefrom = 1"), "mount[1].derivefrom", "did you mean derive_from"),
        ]
        for text, key, fragment in cases:
            self.assertConfigError(text, key, fragment)


class EncoderCheckTests(_Folder, SynchronousTestCase):
    """
    A missing encoder is a clear startup error for the mounts that need it
    only.
    """

    def test_missing(self) -> None:
        """
        Derived mounts and mounts whose policy is explicitly C{transcode}
        need the encoder; the error names them.
        """
        self.patch(radio, "findEncoder", lambda name: None)
        config = self.parse(
            _mount(path="/a")
            + _mount('format_policy = "transcode"', path="/b")
            + '[[mount]]\npath = "/c"\nderive_from = "/a"\nbitrate = 64\n'
        )
        error = self.assertRaises(EncoderMissing, checkEncoder, config)
        self.assertEqual(error.mounts, ["/b", "/c"])
        self.assertIn("/b, /c need the encoder 'ffmpeg'", str(error))
        self.assertRaises(EncoderMissing, buildStations, config, MemoryReactorClock())

    def test_notNeeded(self) -> None:
        """
        Mounts with the default policy start without an encoder: they skip
        what they cannot play.
        """
        self.patch(radio, "findEncoder", lambda name: None)
        config = self.parse(_mount(path="/a"))
        self.assertIsNone(checkEncoder(config))
        [station] = buildStations(config, MemoryReactorClock())
        self.assertEqual(station.conformer.policy, SKIP)
        self.assertFalse(station.conformer.encoderAvailable)

    def test_tapConfig(self) -> None:
        """
        C{twistd txradio --config} turns the missing encoder into a usage
        error naming the file and the mounts.
        """
        self.patch(radio, "findEncoder", lambda name: None)
        with open(self.configPath, "w") as f:
            f.write(_mount(path="/a") + '[[mount]]\npath = "/a-64"\nderive_from = "/a"\nbitrate = 64\n')
        error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--config", self.configPath])
        self.assertIn(self.configPath, str(error))
        self.assertIn("/a-64", str(error))


class BuildTests(_Folder, SynchronousTestCase):
    """
    L{buildStations} with formats and derived mounts.
    """

    def test_derivedStations(self) -> None:
        """
        A derived mount is a station whose programme re-encodes its parent's
        stream at its bitrate; the parent lists it.
        """
        config = self.parse(
            '[[mount]]\npath = "/s-64"\nderive_from = "/s"\nbitrate = 64\nmax_listeners = 3\n' + _mount(path="/s")
        )
        derived, parent = buildStations(config, MemoryReactorClock(), encoder="/usr/bin/ffmpeg")
        self.assertEqual(derived.mount, b"/s-64")
        self.assertIs(derived.derivedFrom, parent)
        self.assertEqual(parent.derived, [derived])
        self.assertIsInstance(derived.programme, TranscodingSource)
        self.assertEqual(derived.programme.policy, ALWAYS)
        self.assertEqual(derived.audioFormat, AudioFormat(44100, 2, 64))
        self.assertEqual(derived.info.bitrate, 64)
        self.assertEqual(derived.maxListeners, 3)
        self.assertEqual(parent.conformer.policy, TRANSCODE)
        self.assertEqual(parent.audioFormat, AudioFormat(44100, 2))

    def test_skipPolicyRefusesTracks(self) -> None:
        """
        With the policy C{skip}, the playlist itself skips tracks of another
        format, with one log line each.
        """
        config = self.parse(_mount('format_policy = "skip"', path="/s"))
        [station] = buildStations(config, MemoryReactorClock(), encoder="/usr/bin/ffmpeg")
        refuse = station.programme._refuse
        self.assertIsNotNone(refuse)
        from tests.test_audioformat import header

        self.assertIsNone(refuse(header()))
        self.assertIn("48000 Hz", refuse(header(sampleRate=48000)))


class TapFormatTests(SynchronousTestCase):
    """
    The command line's C{--format}, C{--format-policy} and
    C{--also-bitrate}.
    """

    def test_alsoBitrate(self) -> None:
        """
        C{--also-bitrate 64,192} adds C{/stream-64} and C{/stream-192},
        derived from C{/stream}.
        """
        self.patch(radio, "findEncoder", lambda name: "/usr/bin/ffmpeg")
        options = tap.Options()
        options.parseOptions(["--also-bitrate", "64, 192k"])
        service = tap.makeService(options, MemoryReactorClock())
        parent, low, high = service.stations
        self.assertEqual([s.mount for s in service.stations], [b"/stream", b"/stream-64", b"/stream-192"])
        self.assertEqual(parent.derived, [low, high])
        self.assertEqual(low.audioFormat, AudioFormat(44100, 2, 64))
        self.assertEqual(high.info.bitrate, 192)

    def test_badValues(self) -> None:
        """
        Bad formats, policies and bitrates are usage errors.
        """
        for args, fragment in [
            (["--also-bitrate", "65"], "not an MP3 bitrate"),
            (["--format", "44100"], "--format"),
            (["--format-policy", "maybe"], "--format-policy"),
        ]:
            error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, args)
            self.assertIn(fragment, str(error))

    def test_missingEncoder(self) -> None:
        """
        Without ffmpeg, C{--also-bitrate} is a usage error that says so,
        and a plain station starts, skipping what it cannot play.
        """
        self.patch(radio, "findEncoder", lambda name: None)
        error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--also-bitrate", "64"])
        self.assertIn("ffmpeg", str(error))
        options = tap.Options()
        options.parseOptions([])
        [station] = tap.makeService(options, MemoryReactorClock()).stations
        self.assertEqual(station.conformer.policy, SKIP)

    def test_format(self) -> None:
        """
        C{--format} sets the mount's format.
        """
        self.patch(radio, "findEncoder", lambda name: "/usr/bin/ffmpeg")
        options = tap.Options()
        options.parseOptions(["--format", "48000/1/96k"])
        [station] = tap.makeService(options, MemoryReactorClock()).stations
        self.assertEqual(station.audioFormat, AudioFormat(48000, 1, 96))


def _head(*headers: tuple[bytes, bytes]) -> RequestHead:
    """
    @return: a C{PUT /live} source request with good credentials.
    """
    base = (
        (b"authorization", b"Basic c291cmNlOmhhY2ttZQ=="),
        (b"content-type", b"audio/mpeg"),
    )
    return RequestHead(b"PUT", b"/live", b"/live", b"", b"HTTP/1.1", base + headers)


class LiveFormatTests(SynchronousTestCase):
    """
    Live sources of another format are refused where the mount cannot
    transcode them.
    """

    def station(self, policy: str, available: bool = True) -> Station:
        reactor = FakeProcessReactor()
        return Station(
            None,
            mount="/live",
            clock=reactor,
            sourcePassword="hackme",
            conform=lambda switcher: TranscodingSource(
                switcher, EncoderSettings(AudioFormat(44100, 2)), policy, reactor=reactor, encoderAvailable=available
            ),
        )

    def test_announced(self) -> None:
        """
        L{announcedFormat} reads C{ice-audio-info}.
        """
        head = _head((b"ice-audio-info", b"ice-samplerate=48000;ice-bitrate=128;ice-channels=1"))
        self.assertEqual(announcedFormat(head), (48000, 1))
        self.assertEqual(announcedFormat(_head()), (None, None))

    def test_refusedByHeader(self) -> None:
        """
        A mount that skips other formats answers 415 to a source announcing
        another format, saying the format it plays.
        """
        session = SourceSession(self.station(SKIP), StringTransport(), MemoryReactorClock(), "peer")
        error = session.refusal(_head((b"ice-audio-info", b"samplerate=48000;channels=2")))
        self.assertEqual(error.code, 415)
        self.assertIn("44100 Hz, 2 channels", str(error.message))
        self.assertIn("48000 Hz", str(error.message))
        self.assertIsNone(session.refusal(_head((b"ice-audio-info", b"samplerate=44100;channels=2"))))

    def test_transcodedAccepted(self) -> None:
        """
        A mount that transcodes takes a source of any format.
        """
        session = SourceSession(self.station(TRANSCODE), StringTransport(), MemoryReactorClock(), "peer")
        self.assertIsNone(session.refusal(_head((b"ice-audio-info", b"samplerate=22050;channels=1"))))
        session = SourceSession(self.station(TRANSCODE, available=False), StringTransport(), MemoryReactorClock(), "p")
        self.assertEqual(session.refusal(_head((b"ice-audio-info", b"samplerate=22050;channels=1"))).code, 415)

    def test_droppedOnFirstFrames(self) -> None:
        """
        A source that announced nothing is dropped once its first frames
        show another format.
        """
        transport = StringTransport()
        station = self.station(SKIP)
        session = SourceSession(station, transport, MemoryReactorClock(), "peer")
        self.assertTrue(session.start(_head(), b""))
        session.dataReceived(stream(3, sampleRate=48000))
        self.assertTrue(transport.disconnecting)
        self.assertFalse(station.liveSource.onAir)

    def test_matchingFramesStay(self) -> None:
        """
        A source whose frames match stays connected.
        """
        transport = StringTransport()
        session = SourceSession(self.station(SKIP), transport, MemoryReactorClock(), "peer")
        session.start(_head(), b"")
        session.dataReceived(stream(3))
        self.assertFalse(transport.disconnecting)


class StatusFormatTests(SynchronousTestCase):
    """
    The status JSON lists formats, derived mounts and encoders.
    """

    def test_status(self) -> None:
        """
        A mount's status has its format, its derived mounts with their URLs,
        and its encoder's state; a derived mount names its parent.
        """
        reactor = FakeProcessReactor()
        parent = Station(
            FakeFrameSource(),
            mount="/stream",
            clock=reactor,
            conform=conformer(AudioFormat(44100, 2), None, reactor, "/usr/bin/ffmpeg", "/stream"),
        )
        derived = radio.derivedStation(parent, "/stream-64", AudioFormat(44100, 2, 64), reactor, "/usr/bin/ffmpeg")
        status = mountStatus(parent, "http://radio", 0.0)
        self.assertEqual(status["format"], "44100/2")
        self.assertIsNone(status["derivedFrom"])
        self.assertEqual(
            status["derived"], [{"mount": "/stream-64", "bitrate": 64, "streamURL": "http://radio/stream-64"}]
        )
        self.assertEqual(status["encoder"]["policy"], "transcode")
        self.assertFalse(status["encoder"]["running"])
        child = mountStatus(derived, "http://radio", 0.0)
        self.assertEqual(child["format"], "44100/2/64k")
        self.assertEqual(child["derivedFrom"], "/stream")
        self.assertEqual(child["encoder"]["policy"], "always")
        plain = mountStatus(Station(FakeFrameSource(), mount="/plain", clock=reactor), "http://radio", 0.0)
        self.assertIsNone(plain["format"])
        self.assertIsNone(plain["encoder"])
        self.assertEqual(plain["derived"], [])





class PlaylistRefuseTests(SynchronousTestCase):
    """
    L{txradio.sources.playlist.PlaylistSource}'s C{refuse} hook.
    """

    def test_skipsRefusedTracks(self) -> None:
        """
        A track whose first frame is refused is skipped with one log line
        naming the reason, and the next track plays.
        """
        from twisted.internet.task import Clock
        from twisted.logger import capturedLogs

        from txradio.sources.playlist import PlaylistSource
        from txradio.wire.mp3 import Frame
        from txradio.wire.programme import TitleChange

        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        paths = []
        for name, rate in (("a.mp3", 48000), ("b.mp3", 44100)):
            path = os.path.join(folder, name)
            with open(path, "wb") as f:
                f.write(stream(50, sampleRate=rate))
            paths.append(path)

        class Tracks:
            def nextPass(self):
                return list(paths)

        source = PlaylistSource(
            Tracks(),
            clock=Clock(),
            titleOf=os.path.basename,
            refuse=lambda header: None if header.sampleRate == 44100 else f"it is {header.sampleRate} Hz",
        )
        with capturedLogs() as events:
            out = source.pull(1.0)
        self.assertEqual(out[0], TitleChange("b.mp3"))
        self.assertEqual({item.header.sampleRate for item in out if type(item) is Frame}, {44100})
        skips = [e for e in events if "skipping" in e.get("log_format", "")]
        self.assertEqual(len(skips), 1)
        self.assertEqual(skips[0]["reason"], "it is 48000 Hz")
        self.assertEqual(source.skipped, 1)


class PageFormatTests(SynchronousTestCase):
    """
    The status page links a mount and its derived mounts.
    """

    def test_links(self) -> None:
        """
        A parent's section lists its other bitrates; a derived mount's
        names its parent.
        """
        from twisted.web.template import flattenString

        from txradio.web.page import stationSection

        reactor = FakeProcessReactor()
        parent = Station(FakeFrameSource(), mount="/stream", clock=reactor)
        derived = radio.derivedStation(parent, "/stream-64", AudioFormat(44100, 2, 64), reactor, "/usr/bin/ffmpeg")
        html = self.successResultOf(flattenString(None, stationSection(parent)))
        self.assertIn(b'<dt>Other bitrates</dt><dd data-field="derived"><a href="#mount-stream-64">64 kbps</a>', html)
        html = self.successResultOf(flattenString(None, stationSection(derived)))
        self.assertIn(b'<dt>Re-encodes</dt><dd data-field="derivedFrom"><a href="#mount-stream">/stream</a>', html)


class DerivedListenerTests(SynchronousTestCase):
    """
    A derived mount following its parent is not one of the parent's
    listeners.
    """

    def test_notCounted(self) -> None:
        """
        While the derived mount plays, the parent counts only real
        listeners, and a derived mount takes no slot of its limit.
        """
        from txradio.testing import connectInMemory

        reactor = FakeProcessReactor()
        parent = Station(FakeFrameSource(), mount="/stream", clock=reactor, maxListeners=1)
        derived = radio.derivedStation(parent, "/stream-64", AudioFormat(44100, 2, 64), reactor, "/usr/bin/ffmpeg")
        parent.startService()
        derived.startService()
        self.addCleanup(parent.stopService)
        self.addCleanup(derived.stopService)
        reactor.advance(1)
        self.assertEqual(len(list(parent.broadcaster.listeners)), 1)
        self.assertEqual(parent.listenerCount, 0)
        self.assertTrue(parent.admit())
        connectInMemory(parent)
        self.assertEqual(parent.listenerCount, 1)
        self.assertFalse(parent.admit())
