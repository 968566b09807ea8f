"""
Bounds that need a running web site on 127.0.0.1: request bodies (the pure
bounds are in L{tests.test_bounds}).
"""

from __future__ import annotations

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from integration._realpeers import fetch, parseResponse, startRadio
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import demoTracks
from txradio.stream.station import Station
from txradio.web.site import MAX_REQUEST_BODY


class RequestBodyTests(TestCase):
    """
    The web site takes request bodies of at most L{MAX_REQUEST_BODY} bytes.
    """

    timeout = 30

    @inlineCallbacks
    def setUp(self):
        station = Station(PlaylistSource(demoTracks(), name="/stream"), mount="/stream")
        self.port = yield startRadio(self, [station], adminPassword="admin-pw")

    @inlineCallbacks
    def test_announcedBody(self):
        """
        A body announced larger than the bound is refused with 413 at once,
        before any of it is read.
        """
        reply = yield fetch(
            self,
            self.port,
            b"POST /admin/mounts HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (10 * MAX_REQUEST_BODY,),
        )
        status, _, _ = parseResponse(reply)
        self.assertIn(b" 413 ", status)

    @inlineCallbacks
    def test_chunkedBody(self):
        """
        A chunked body that grows past the bound is refused with 413.
        """
        chunk = b"%x\r\n%s\r\n" % (8192, b"a" * 8192)
        reply = yield fetch(
            self,
            self.port,
            b"POST /admin/mounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk * (MAX_REQUEST_BODY // 8192 + 2),
        )
        status, _, _ = parseResponse(reply)
        self.assertIn(b" 413 ", status)

    @inlineCallbacks
    def test_smallBody(self):
        """
        A body within the bound still reaches the resource (here: 401, as
        no credentials were sent).
        """
        reply = yield fetch(
            self, self.port, b"POST /admin/mounts HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        )
        status, _, _ = parseResponse(reply)
        self.assertIn(b" 401 ", status)
