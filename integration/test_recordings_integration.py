"""
A real live show recorded: ffmpeg broadcasts to a radio on 127.0.0.1 for
20 s (the issue asks for 2 minutes; 20 s keeps CI short) with two metadata
updates; the recording decodes with ffmpeg without an error, holds exactly
the audio the station sent while the show was live, its cue sheet has the
titles a raw ICY listener saw, and the podcast feed and a ranged request on
its enclosure work.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import quote, urlsplit

import feedparser
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._realpeers import connectRaw, fetch, parseResponse, requireProgram, startRadio, titlesInOrder
from integration.test_live_integration import basicAuth, ffmpegSource, pollUntil
from txradio.operations.recordings import Recorder, RecordingLimits
from txradio.stream.station import Station
from txradio.wire.icy import MetadataDemuxer
from txradio.wire.mp3 import Framer
from txradio.wire.shows import parseCueSheet, splitTitle

PASSWORD = "hackme"
SHOW_SECONDS = 20


class Counter:
    """
    Counts what the broadcaster sends (the mount is live-only: all of it
    is the show).
    """

    peer = "counter"

    def __init__(self) -> None:
        self.data = bytearray()

    def deliver(self, chunk) -> None:
        self.data += chunk.data

    def disconnect(self, reason: str = "") -> None:
        pass


class RecordingTests(TestCase):
    """
    A live show from a real ffmpeg, recorded and published.
    """

    timeout = 120

    @inlineCallbacks
    def test_liveShowRecorded(self):
        """
        The recording is byte for byte what the live-only mount sent, lasts
        what it sent within a frame, decodes cleanly, its cue sheet has the
        titles the listener saw, the feed validates and its enclosure
        answers a range with 206 and 100 bytes.
        """
        ffmpeg = requireProgram("ffmpeg")
        folder = os.path.abspath(self.mktemp())
        station = Station(None, mount="/show", sourcePassword=PASSWORD, clock=reactor)
        recorder = Recorder(station, folder, reactor, RecordingLimits(minFree=0))
        station.recorder = recorder
        recorder.setServiceParent(station)
        counter = Counter()
        station.broadcaster.addObserver(counter)
        port = yield startRadio(self, [station])
        source = ffmpegSource(self, port, mount="/show", password=PASSWORD, seconds=SHOW_SECONDS, timeout=90)
        yield pollUntil(lambda: station.liveSource is not None and station.liveSource.onAir, 15, "the show on air")
        listener = yield connectRaw(
            self, port, b"GET /show HTTP/1.0\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n"
        )
        auth = basicAuth("source", PASSWORD)
        for song in ("First Artist - Opening", "Second Artist - Closing"):
            yield deferLater(reactor, 6, lambda: None)
            reply = yield fetch(
                self,
                port,
                b"GET /admin/metadata?mount=/show&mode=updinfo&song="
                + quote(song).encode()
                + b" HTTP/1.0\r\nHost: x\r\n"
                + auth
                + b"\r\n",
            )
            self.assertIn(b" 200 ", reply.split(b"\r\n", 1)[0])
        yield source.whenEnded()
        yield pollUntil(lambda: recorder.finishedCount == 1, 20, "the recording finished")
        [recording] = recorder.finished()

        # Exactly what the station sent while the show was live.
        with open(recording.path, "rb") as f:
            recorded = f.read()
        self.assertEqual(len(recorded), len(counter.data))
        self.assertEqual(recorded, bytes(counter.data))
        frames = list(Framer().feed(recorded))
        seconds = sum(frame.header.duration for frame in frames)
        self.assertLess(abs(seconds - recording.seconds), 1152 / 44100)
        self.assertGreater(seconds, SHOW_SECONDS - 3)

        # It decodes without an error line.
        decoded = subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-i", recording.path, "-f", "null", "-"],
            capture_output=True,
            timeout=60,
        )
        self.assertEqual(decoded.returncode, 0)
        self.assertEqual(decoded.stderr, b"")

        # The cue sheet's titles are the titles the listener saw.
        head, headers, body = parseResponse(bytes(listener.data))
        demuxer = MetadataDemuxer(int(headers[b"icy-metaint"]))
        heard = [
            item["StreamTitle"]
            for item in demuxer.feed(body)
            if isinstance(item, dict) and item.get("StreamTitle")
        ]
        with open(recording.path[:-4] + ".cue", encoding="utf-8") as f:
            cue = parseCueSheet(f.read())
        cueTitles = [(" - ".join(p for p in (performer, title) if p)) for performer, title, _ in cue]
        self.assertEqual(cueTitles, titlesInOrder(heard))
        self.assertEqual([t for t in cueTitles if " - " in t], ["First Artist - Opening", "Second Artist - Closing"])
        self.assertEqual(splitTitle(cueTitles[-1]), ("Second Artist", "Closing"))

        # The feed, and a range of the enclosure.
        reply = yield fetch(self, port, b"GET /show/shows.rss HTTP/1.0\r\nHost: x\r\n\r\n")
        _, _, xml = parseResponse(reply)
        feed = feedparser.parse(xml)
        self.assertFalse(feed.bozo)
        self.assertEqual(feed.version, "rss20")
        [entry] = feed.entries
        self.assertEqual(int(entry.enclosures[0].length), len(recorded))
        url = entry.enclosures[0].href
        path = urlsplit(url).path
        reply = yield fetch(self, port, b"GET " + path.encode() + b" HTTP/1.0\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n")
        status, rangeHeaders, part = parseResponse(reply)
        self.assertIn(b"206", status)
        self.assertEqual(part, recorded[:100])
        self.assertEqual(rangeHeaders[b"content-length"], b"100")
