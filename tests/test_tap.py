"""
Tests for L{txradio.tap}: the command line and the service it builds.
"""

from __future__ import annotations

import os
import shutil

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from txradio.config import HLSConfig
from txradio.service import RadioService
from txradio.sources.tracks import FolderTracks, demoTracks
from txradio.stream.station import Station
from txradio.tap import Options, makeService
from txradio.web.hls import HLSSettings


class OptionsTests(SynchronousTestCase):
    """
    L{Options} parses the command line and checks it.
    """

    def parse(self, *args: str) -> Options:
        options = Options()
        options.parseOptions(list(args))
        return options

    def test_defaults(self) -> None:
        """
        Without options, the demo playlist plays on C{/stream} at port 8000.
        """
        options = self.parse()
        self.assertEqual(options["listen"], ["tcp:8000"])
        [mount] = options["radio"].mounts
        self.assertEqual(mount.path, "/stream")
        self.assertEqual(mount.metaint, 16000)
        self.assertEqual(mount.playlist, os.path.dirname(demoTracks().paths[0]))
        self.assertEqual(FolderTracks(mount.playlist).nextPass(), demoTracks().paths)

    def test_musicDir(self) -> None:
        """
        C{--music-dir} selects a folder, C{--shuffle} shuffles it.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        shutil.copyfile(demoTracks().paths[0], os.path.join(folder, "a.mp3"))
        options = self.parse("--music-dir", folder, "--shuffle")
        [mount] = options["radio"].mounts
        self.assertEqual(mount.playlist, os.path.abspath(folder))
        self.assertTrue(mount.shuffle)

    def test_missingMusicDir(self) -> None:
        """
        A missing music folder is a clear usage error naming it.
        """
        error = self.assertRaises(UsageError, self.parse, "--music-dir", "/no/such/folder")
        self.assertIn("/no/such/folder", str(error))

    def test_emptyMusicDir(self) -> None:
        """
        A folder without MP3 files is a usage error.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        error = self.assertRaises(UsageError, self.parse, "--music-dir", folder)
        self.assertIn("no MP3 files", str(error))

    def test_listenRepeatable(self) -> None:
        """
        C{--listen} may be given several times.
        """
        options = self.parse("--listen", "tcp:8000", "--listen", "tcp6:8001")
        self.assertEqual(options["listen"], ["tcp:8000", "tcp6:8001"])

    def test_badNumbers(self) -> None:
        """
        Numeric options are checked.
        """
        for args in (["--metaint", "0"], ["--metaint", "x"], ["--burst-size", "-1"], ["--max-listeners", "ten"]):
            self.assertRaises(UsageError, self.parse, *args)

    def test_badMount(self) -> None:
        """
        A mount that would hide the playlists or escape the path is refused.
        """
        for mount in ("/", "/../x", "/stream.m3u", "/a b"):
            self.assertRaises(UsageError, self.parse, "--mount", mount)


class MakeServiceTests(SynchronousTestCase):
    """
    L{makeService} turns options into a L{RadioService}.
    """

    def test_service(self) -> None:
        """
        The service holds one station with the options' stream info, and one
        port service per C{--listen}.
        """
        options = Options()
        options.parseOptions(
            ["--name", "Test FM", "--genre", "Jazz", "--mount", "live", "--max-listeners", "5",
             "--listen", "tcp:8000", "--listen", "tcp:8001:interface=127.0.0.1"]
        )
        reactor = MemoryReactorClock()
        service = makeService(options, reactor)
        self.assertIsInstance(service, RadioService)
        [station] = service.stations
        self.assertIsInstance(station, Station)
        self.assertEqual(station.mount, b"/live")
        self.assertEqual(station.info.name, "Test FM")
        self.assertEqual(station.info.genre, "Jazz")
        self.assertEqual(station.maxListeners, 5)
        ports = [s for s in service if isinstance(s, StreamServerEndpointService)]
        self.assertEqual(len(ports), 2)

    def test_startStop(self) -> None:
        """
        Starting the service listens with a large backlog and starts the
        station's clock; stopping it leaves no timer behind.
        """
        options = Options()
        options.parseOptions([])
        reactor = MemoryReactorClock()
        service = makeService(options, reactor)
        service.startService()
        [(port, factory, backlog, interface)] = reactor.tcpServers
        self.assertEqual((port, backlog), (8000, 1024))
        reactor.advance(1)
        self.assertEqual(service.stations[0].broadcaster.title, "txradio - Morning Arpeggio")
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])


class HLSOptionsTests(SynchronousTestCase):
    """
    C{--hls-segment}, C{--hls-window} and C{--no-hls} set how the mounts
    are also served as HLS.
    """

    def build(self, *args: str) -> RadioService:
        """
        Parse the arguments and build the radio on a fake reactor.
        """
        options = Options()
        options.parseOptions(list(args))
        return makeService(options, MemoryReactorClock())

    def test_defaults(self) -> None:
        """
        Without the options, the mount has HLS with 6-second segments and
        6-segment playlists.
        """
        options = Options()
        options.parseOptions([])
        self.assertEqual(options["radio"].hls, HLSConfig())
        hls = self.build().factory.site.resource.hls
        [mount] = hls.mounts.values()
        self.assertEqual(mount.path, "/stream")
        self.assertEqual((mount.segmenter.targetDuration, mount.segmenter.windowSegments), (6, 6))

    def test_segmentAndWindow(self) -> None:
        """
        C{--hls-segment} and C{--hls-window} reach every mount's segmenter.
        """
        hls = self.build("--hls-segment", "4", "--hls-window", "10").factory.site.resource.hls
        self.assertEqual(hls.settings, HLSSettings(targetDuration=4, windowSegments=10))
        [mount] = hls.mounts.values()
        self.assertEqual((mount.segmenter.targetDuration, mount.segmenter.windowSegments), (4, 10))

    def test_noHLS(self) -> None:
        """
        C{--no-hls} serves no HLS at all.
        """
        hls = self.build("--no-hls").factory.site.resource.hls
        self.assertFalse(hls.settings.enabled)
        self.assertEqual(hls.mounts, {})

    def test_outOfRange(self) -> None:
        """
        Segments last 1 to 30 seconds, and playlists list 3 to 30 of them.
        """
        for args in (
            ["--hls-segment", "0"],
            ["--hls-segment", "31"],
            ["--hls-segment", "2.5"],
            ["--hls-window", "2"],
            ["--hls-window", "31"],
            ["--hls-window", "six"],
        ):
            options = Options()
            error = self.assertRaises(UsageError, options.parseOptions, args)
            self.assertIn(args[0], str(error))


class OperationsOptionsTests(SynchronousTestCase):
    """
    The logging, metrics and shutdown options, and C{--listen} with
    C{--config}.
    """

    def test_listenOverridesConfig(self) -> None:
        """
        C{--listen} given with C{--config} replaces the file's ports (a
        systemd unit passes its socket whatever the file says).
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[server]\nlisten = "tcp:8000"\n[[mount]]\npath = "/s"\nlive = true\nsource_password = "pw"\n')
        options = Options()
        options.parseOptions(["--config", path, "--listen", "tcp:9000:interface=127.0.0.1"])
        self.assertEqual(options["radio"].server.listen, ("tcp:9000:interface=127.0.0.1",))

    def test_operations(self) -> None:
        """
        The options become the server settings a file would give.
        """
        folder = self.mktemp()
        os.mkdir(folder)
        options = Options()
        options.parseOptions(
            [
                "--access-log", os.path.join(folder, "access.log"),
                "--log-addresses", "hash",
                "--metrics", "public",
                "--last-title", "Bye",
                "--max-connections-per-address", "20",
            ]
        )
        server = options["radio"].server
        self.assertEqual(server.accessLog, os.path.abspath(os.path.join(folder, "access.log")))
        self.assertEqual((server.logAddresses, server.metrics, server.lastTitle), ("hash", "public", "Bye"))
        self.assertEqual(server.maxConnectionsPerAddress, 20)

    def test_badValues(self) -> None:
        """
        Unknown modes and log files in missing folders are refused.
        """
        for args in (
            ["--log-addresses", "blur"],
            ["--metrics", "open"],
            ["--access-log", "/no/such/folder/access.log"],
        ):
            self.assertRaises(UsageError, Options().parseOptions, args)


class FileRoadTests(SynchronousTestCase):
    """
    The command line is another way of writing the configuration file: it
    gives the same L{txradio.config.RadioConfig} as the file that says the
    same, through the same checks.
    """

    def setUp(self) -> None:
        """
        A music folder and an encoder that is always found.
        """
        from txradio import build

        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        shutil.copyfile(demoTracks().paths[0], os.path.join(self.folder, "a.mp3"))
        self.patch(build, "findEncoder", lambda name: "/usr/bin/ffmpeg")

    def parse(self, *args: str) -> Options:
        """
        @return: the parsed options.
        """
        options = Options()
        options.parseOptions(list(args))
        return options

    def fromFile(self, text: str):
        """
        @return: the configuration a file in the current folder holding
            C{text} gives.
        """
        from txradio.config import parseConfig

        return parseConfig(text, os.path.join(os.getcwd(), "radio.toml"))

    def test_sameAsFile(self) -> None:
        """
        C{--music-dir D --metaint 8192 --also-bitrate 64 --source-password x}
        is the file with that playlist and metaint, a live mount, its
        SHOUTcast port and a derived mount.
        """
        options = self.parse(
            "--music-dir", self.folder, "--metaint", "8192", "--also-bitrate", "64", "--source-password", "x"
        )
        self.assertEqual(
            options["radio"],
            self.fromFile(
                '[server]\nshoutcast_source_listen = ["tcp:8001"]\nsource_password = "x"\n'
                f'[[mount]]\npath = "/stream"\nplaylist = "{self.folder}"\nmetaint = 8192\n'
                'live = true\nsource_password = "x"\n'
                '[[mount]]\npath = "/stream-64"\nderive_from = "/stream"\nbitrate = 64\n'
                'name = "txradio (64 kbps)"\nmetaint = 8192\n'
            ),
        )

    def test_everySectionSameAsFile(self) -> None:
        """
        Server, mount, format and HLS options are the file's keys of the
        same names.
        """
        log = os.path.join(self.folder, "access.log")
        options = self.parse(
            "--music-dir", self.folder, "--mount", "live", "--name", "N", "--genre", "G", "--public",
            "--icy-status", "--shuffle", "--max-listeners", "5", "--burst-size", "0",
            "--format", "48000/1/96k", "--format-policy", "skip",
            "--listen", "tcp:9000", "--public-url", "https://radio.example", "--admin-password", "pw",
            "--access-log", log, "--log-addresses", "hash", "--metrics", "public",
            "--metrics-listen", "tcp:9100", "--last-title", "Bye", "--max-connections-per-address", "3",
            "--no-library", "--no-hls", "--hls-segment", "4", "--hls-window", "10",
        )
        self.assertEqual(
            options["radio"],
            self.fromFile(
                f'[server]\nlisten = "tcp:9000"\npublic_url = "https://radio.example"\nadmin_password = "pw"\n'
                f'access_log = "{log}"\nlog_addresses = "hash"\nmetrics = "public"\nmetrics_listen = "tcp:9100"\n'
                'last_title = "Bye"\nmax_connections_per_address = 3\nlibrary = false\n'
                "[hls]\nenabled = false\nsegment = 4\nwindow = 10\n"
                f'[[mount]]\npath = "/live"\nname = "N"\ngenre = "G"\npublic = true\nicy_status = true\n'
                f'playlist = "{self.folder}"\nshuffle = true\nmax_listeners = 5\nburst_size = 0\n'
                'sample_rate = 48000\nchannels = 1\nbitrate = 96\nformat_policy = "skip"\n'
            ),
        )

    def test_optionErrorNamesOption(self) -> None:
        """
        A bad value is reported with the option's name and the file's
        explanation of what is expected.
        """
        for args, message in (
            (["--metaint", "0"], "--metaint must be a whole number from 1 to 1048576 bytes, not 0"),
            (["--metaint", "x"], "--metaint must be a whole number from 1 to 1048576 bytes, not 'x'"),
            (["--log-addresses", "blur"], "--log-addresses must be one of full, truncate, hash, not 'blur'"),
            (["--mount", "/"], "--mount: a mount needs a name, such as /stream"),
            (["--admin-password", ""], "--admin-password must not be empty"),
        ):
            error = self.assertRaises(UsageError, self.parse, *args)
            self.assertTrue(str(error).startswith(message), str(error))

    def test_icyStatus(self) -> None:
        """
        C{--icy-status}, and its file twin C{icy_status}, make the station
        answer C{ICY 200 OK}.
        """
        [station] = makeService(self.parse("--icy-status"), MemoryReactorClock()).stations
        self.assertTrue(station.legacyStatus)
        [station] = makeService(self.parse(), MemoryReactorClock()).stations
        self.assertFalse(station.legacyStatus)

    def test_everyOptionDeclared(self) -> None:
        """
        Every option is a declared setting's or in L{txradio.tap.COMPOSITE}.
        """
        from txradio.tap import COMPOSITE, declaredOptions

        known = {d.setting.option for _, d in declaredOptions()} | {c.option for c in COMPOSITE}
        # The repeatable options are methods (opt_listen, opt_yp_url).
        options = {row[0] for row in Options.optFlags + Options.optParameters} | {"listen", "yp-url"}
        self.assertEqual(options, known)

    def test_readmeNamesEveryOption(self) -> None:
        """
        README.md's Options table names every option.
        """
        from txradio.tap import COMPOSITE, declaredOptions

        readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
        with open(readme, encoding="utf-8") as f:
            text = f.read()
        section = text[text.index("## Options") : text.index("## What a listener gets")]
        rows = "\n".join(line for line in section.splitlines() if line.startswith("|"))
        names = {d.setting.option for _, d in declaredOptions()} | {c.option for c in COMPOSITE}
        missing = sorted(name for name in names if f"`--{name}" not in rows and f"--{name}`" not in rows)
        self.assertEqual(missing, [])
