"""
Integration tests of DJ accounts with real programs over 127.0.0.1: ffmpeg
logs in as a DJ (its own user name and password) and is heard by mpg123
inside its window, gets 403 outside it, is ended at the end of a short
window, and a second DJ waiting takes over with no programme between.

The last test starts the radio as operators do, C{twistd txradio --config
FILE} in a child process, with the DJs, their windows and a mount's own
C{dj_queue} read from the TOML file, and has a waiting DJ take over when
the first one's window ends.

Tones tell the parties apart: the programme plays 440 Hz, DJ alice 1000 Hz
and DJ bob 660 Hz; mpg123 decodes the stream to 8 kHz PCM, classified per
0.1 s window (see L{integration.test_live_integration}).

A window is written in minutes; to end one a few seconds from now, the
station's time zone is a fixed offset of a few seconds (Python's
C{datetime.timezone} allows it), chosen so that "now + 8 s" is a whole
minute in local time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import LOCAL_ENDPOINT, makeTracks, requireProgram, spawn, withTimeout
from integration.test_live_integration import (
    LIVE_HZ,
    PLAYLIST_HZ,
    PLAYLIST_TRACK,
    RUN,
    SECOND_HZ,
    listen,
    playlistStation,
    startService,
)
from integration.test_operations_integration import RealRadioTestCase, freePort, local
from txradio.net.djs import DJAccount, DJDesk
from txradio.stream.events import SourceConnected, SourceDisconnected
from txradio.wire.windows import DAYS, parseWindows

ALICE_HZ, BOB_HZ = LIVE_HZ, SECOND_HZ
ALL_WEEK = "Mon-Sun 00:00-24:00"


def djSource(testCase, port: int, user: str, password: str, frequency: int, timeout: float = 60):
    """
    Start ffmpeg broadcasting a tone in real time to C{/stream} as a DJ.

    @return: the child process.
    """
    args = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "warning", "-re",
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100",
        "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2",
        "-content_type", "audio/mpeg", "-ice_name", f"{user}'s show",
        "-f", "mp3", f"icecast://{user}:{password}@127.0.0.1:{port}/stream",
    ]  # fmt: skip
    return spawn(testCase, args, timeout)


def windowEndingIn(seconds: float) -> tuple[timezone, str, float]:
    """
    A time zone and a window in it that ends a few seconds from now.

    @param seconds: how far from now it ends.
    @return: C{(zone, window, end)}: a fixed-offset zone in which C{now +
        seconds} (rounded up a little) is a whole minute, a ten-minute
        window ending then, and its end in POSIX seconds.
    """
    end = int(reactor.seconds() + seconds) + 1
    offset = (60 - end % 60) % 60
    zone = timezone(timedelta(seconds=offset))
    local = datetime.fromtimestamp(end, zone)
    start = local - timedelta(minutes=10)
    window = f"{DAYS[start.weekday()]} {start:%H:%M}-{local:%H:%M}"
    return zone, window, float(end)


class DJTests(TestCase):
    """
    DJs broadcast with ffmpeg to a mount whose programme plays 440 Hz.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [PLAYLIST_TRACK])
        self.station = playlistStation(folder, sourcePassword="mount-password")
        self.events: list = []
        self.station.events.subscribe(self.events.append)
        self.service, (self.port,) = yield startService(self, [self.station], listen=[LOCAL_ENDPOINT])
        self.url = f"http://127.0.0.1:{self.port}/stream"

    def desk(self, windows: dict[str, str], zone=UTC, queue: bool = False) -> DJDesk:
        """
        Give the radio DJ accounts: each name's password is its name
        reversed.
        """
        desk = DJDesk(
            [DJAccount(name, name[::-1], frozenset([b"/stream"]), parseWindows([w])) for name, w in windows.items()],
            zone,
            reactor,
            queue=queue,
        )
        self.service.factory.djs = desk
        return desk

    def when(self, kind: type) -> list[float]:
        """
        @return: the times of the station's events of a kind.
        """
        return [event.when for event in self.events if isinstance(event, kind)]

    @inlineCallbacks
    def test_heardThenEndedWithWindow(self):
        """
        alice, inside a window that ends 8 s from now, is heard (1000 Hz),
        and the radio ends her source when the window ends, within a second;
        the listener hears the programme again on its connection.
        """
        zone, window, end = windowEndingIn(8)
        self.desk({"alice": window}, zone)
        listener = listen(self, self.url)
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        source = djSource(self, self.port, "alice", "ecila", ALICE_HZ)
        live = yield listener.waitForTone(ALICE_HZ, 15, start=before)
        self.assertEqual(self.station.liveDJ, "alice")
        yield withTimeout(source.whenEnded(), 20, "ffmpeg to be cut off")
        (ended,) = self.when(SourceDisconnected)
        self.assertLess(abs(ended - end), 1.0, f"ended at {ended}, the window at {end}")
        yield listener.waitForTone(PLAYLIST_HZ, 15, start=live)
        self.assertTrue(listener.running, listener.describe())
        self.assertEqual([e.dj for e in self.events if isinstance(e, SourceConnected)], ["alice"])

    @inlineCallbacks
    def test_outsideWindow(self):
        """
        alice outside her window gets 403, and the listener never hears her.
        """
        later = (datetime.now(UTC).weekday() + 3) % 7
        self.desk({"alice": f"{DAYS[later]} 10:00-11:00"})
        listener = listen(self, self.url)
        yield listener.waitForTone(PLAYLIST_HZ, 15)
        source = djSource(self, self.port, "alice", "ecila", ALICE_HZ)
        yield withTimeout(source.whenEnded(), 20, "ffmpeg to give up")
        self.assertIn(403, source.httpStatuses, source.describe())
        self.assertNotIn(ALICE_HZ, listener.tones, listener.heard())
        self.assertIsNone(self.station.liveSource)

    @inlineCallbacks
    def test_handOver(self):
        """
        bob logs in while alice is on the air and waits; when alice leaves,
        bob is heard right after her, with no programme between, and mpg123
        reports no decoding error.
        """
        self.desk({"alice": ALL_WEEK, "bob": ALL_WEEK}, queue=True)
        listener = listen(self, self.url)
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        alice = djSource(self, self.port, "alice", "ecila", ALICE_HZ)
        aliceAt = yield listener.waitForTone(ALICE_HZ, 15, start=before, length=2 * RUN)
        bob = djSource(self, self.port, "bob", "bob"[::-1], BOB_HZ)
        yield _sleep(3)
        self.assertTrue(bob.running, bob.describe())
        self.assertEqual(self.station.liveDJ, "alice")
        alice.kill("KILL")
        yield withTimeout(alice.whenEnded(), 10, "alice's ffmpeg to die")
        bobAt = yield listener.waitForTone(BOB_HZ, 20, start=aliceAt, length=2 * RUN)
        self.assertEqual(self.station.liveDJ, "bob")
        between = listener.tones[aliceAt:bobAt]
        self.assertNotIn(PLAYLIST_HZ, between, listener.heard())
        self.assertNotIn("error", listener.err.decode("utf-8", "replace").lower(), listener.describe())
        self.assertEqual([e.dj for e in self.events if isinstance(e, SourceConnected)], ["alice", "bob"])


def windowEndingAtMinute(margin: float) -> tuple[str, float]:
    """
    A window, in UTC, that ends at the next whole minute at least C{margin}
    seconds from now (a configuration file names an IANA time zone, so the
    end is a whole minute of UTC).

    @param margin: the least time before it ends.
    @return: C{(window, end)}: a ten-minute window ending then, and its end
        in POSIX seconds.
    """
    now = reactor.seconds()
    end = (int(now + margin) // 60 + 1) * 60
    local = datetime.fromtimestamp(end, UTC)
    start = local - timedelta(minutes=10)
    return f"{DAYS[start.weekday()]} {start:%H:%M}-{local:%H:%M}", float(end)


class ConfigFileHandOverTests(RealRadioTestCase):
    """
    A radio started from a configuration file, as operators start it: DJ A's
    window ends while she broadcasts (no grace) and DJ B, waiting, takes
    over at a frame boundary.
    """

    timeout = 150

    @inlineCallbacks
    def test_handOverAtWindowEnd(self):
        """
        alice is on the air until her window ends at a whole minute; bob,
        who logged in while she was on (held: the station's C{dj_queue} is
        off but the mount's own is on), is heard right after her: mpg123
        hears 1000 Hz then 660 Hz with no 440 Hz programme between and
        reports no decoding error, and alice's ffmpeg is cut off within a
        second and a half of the window's end.
        """
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [PLAYLIST_TRACK])
        window, end = windowEndingAtMinute(20)
        port = freePort()
        config = os.path.abspath(self.mktemp())
        self.writeConfig(
            config,
            f"""
[server]
listen = ["{local(port)}"]
timezone = "UTC"
dj_queue = false

[[mount]]
path = "/stream"
playlist = "{folder}"
dj_queue = true

[[dj]]
name = "alice"
password = "ecila"
mounts = ["/stream"]
windows = ["{window}"]
grace = 0

[[dj]]
name = "bob"
password = "bob"
mounts = ["/stream"]
windows = ["{ALL_WEEK}"]
""",
        )
        server = yield self.startServer(["--config", config], [port], timeout=self.timeout)
        url = f"http://127.0.0.1:{port}/stream"
        listener = listen(self, url, timeout=self.timeout)
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        alice = djSource(self, port, "alice", "ecila", ALICE_HZ, timeout=self.timeout)
        aliceAt = yield listener.waitForTone(ALICE_HZ, 15, start=before, length=2 * RUN)
        bob = djSource(self, port, "bob", "bob", BOB_HZ, timeout=self.timeout)
        yield server.waitForOutput(r"waits to take over /stream", 10)
        self.assertTrue(bob.running, bob.describe())
        yield withTimeout(alice.whenEnded(), end - reactor.seconds() + 10, "alice cut off at her window's end")
        cutAt = reactor.seconds()
        recordFigure("dj cut off after the window's end", seconds=round(cutAt - end, 3))
        self.assertLess(abs(cutAt - end), 1.5, f"alice's ffmpeg ended at {cutAt}, her window at {end}")
        self.assertIn("the window of dj alice on /stream is over", server.output)
        bobAt = yield listener.waitForTone(BOB_HZ, 20, start=aliceAt, length=2 * RUN)
        between = listener.tones[aliceAt:bobAt]
        self.assertIn(ALICE_HZ, between, listener.heard())
        self.assertNotIn(PLAYLIST_HZ, between, listener.heard())
        self.assertTrue(bob.running, bob.describe())
        self.assertTrue(listener.running, listener.describe())
        self.assertNotIn("error", listener.err.decode("utf-8", "replace").lower(), listener.describe())


def _sleep(seconds: float):
    """
    @return: a L{Deferred} firing after C{seconds} on the reactor.
    """
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)
