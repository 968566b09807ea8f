"""
Integration test with Debian's ffmpeg: a playlist whose first file is a
named pipe called C{.flac} that nothing ever writes to, so the real ffmpeg
decoding it waits forever.  The decoder's watchdog kills it after
L{DECODE_STALL} seconds, the file is skipped with a log line, and a raw
listener hears the next track.
"""

from __future__ import annotations

import os
import time

from twisted.internet.defer import inlineCallbacks
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import LOCAL_ENDPOINT, connectRaw, makeTracks, titlesInOrder
from integration.test_transcode_integration import METAINT, splitICY
from txradio.sources.decode import DECODE_STALL
from txradio.tap import Options, makeService


class WatchdogIntegrationTests(TestCase):
    """
    A hung ffmpeg child on a real radio.
    """

    timeout = 90

    @inlineCallbacks
    def test_hungDecoderSkipped(self):
        """
        The hung child is killed about L{DECODE_STALL} seconds after the
        start, one log line says why, and the MP3 track after it plays.
        """
        folder = os.path.abspath(self.mktemp())
        [title] = yield makeTracks(self, folder, [("Test", "After The Hang", 440, 4.0)])
        os.rename(os.path.join(folder, "01.mp3"), os.path.join(folder, "02.mp3"))
        os.mkfifo(os.path.join(folder, "01 Hang.flac"))
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        options = Options()
        options.parseOptions(
            ["--music-dir", folder, "--listen", LOCAL_ENDPOINT, "--no-library", "--metaint", str(METAINT),
             "--burst-size", "0"]
        )  # fmt: skip
        service = makeService(options)
        started = time.monotonic()
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.whenListening())[0].getHost().port
        listener = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")

        def heard() -> list[str]:
            body = bytes(listener.data).partition(b"\r\n\r\n")[2]
            return titlesInOrder([t for _, t in splitICY(body, METAINT)[1] if t])

        yield listener.waitFor(lambda: title in heard(), DECODE_STALL + 30, "the track after the hung one")
        waited = time.monotonic() - started
        self.assertEqual(heard()[0], title)
        self.assertGreaterEqual(waited, DECODE_STALL - 1)
        skipped = [e for e in logged if "wrote nothing" in str(e.get("reason", ""))]
        self.assertEqual(len(skipped), 1, [e.get("log_format") for e in logged])
        self.assertTrue(skipped[0]["path"].endswith("01 Hang.flac"))
        recordFigure("hung decoder skipped", secondsToNextTrack=round(waited, 2), stall=DECODE_STALL)
