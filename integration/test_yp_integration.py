"""
Integration test for L{txradio.net.yp}: a real radio lists its public mount
in a YP directory served by twisted.web on 127.0.0.1, over real sockets.
"""

from __future__ import annotations

import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

import txradio
from integration._realpeers import Timeout, connectRaw
from txradio.build import serviceFromConfig
from txradio.config import parseConfig
from txradio.net.yp import YPClient

DEMO = os.path.join(os.path.dirname(os.path.abspath(txradio.__file__)), "demo")


class Directory(Resource):
    """
    A YP directory that accepts everything and records each form.

    @ivar forms: the POSTed forms, in order, as dicts of str.
    """

    isLeaf = True

    def __init__(self) -> None:
        Resource.__init__(self)
        self.forms: list[dict[str, str]] = []

    def render_POST(self, request) -> bytes:
        form = {key.decode(): values[0].decode() for key, values in request.args.items()}
        self.forms.append(form)
        request.setHeader(b"YPResponse", b"1")
        if form.get("action") == "add":
            request.setHeader(b"SID", b"sid-%d" % len(self.forms))
            request.setHeader(b"TouchFreq", b"1")
        return b""


class DirectoryListingTests(TestCase):
    """
    A running L{txradio.service.RadioService} adds, touches and removes its
    listing.
    """

    timeout = 60

    @inlineCallbacks
    def waitFor(self, condition, seconds: float, what: str):
        """
        Poll a condition until it holds (the directory is another party).
        """
        for _ in range(int(seconds / 0.05)):
            value = condition()
            if value:
                return value
            yield deferLater(reactor, 0.05, lambda: None)
        raise Timeout(f"{what}: nothing after {seconds} s")

    @inlineCallbacks
    def test_addTouchRemove(self):
        """
        The public mount is added with its info, touched with the title
        playing and the listener connected, and removed when the radio
        stops.
        """
        directory = Directory()
        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(directory))
        self.addCleanup(port.stopListening)
        url = f"http://127.0.0.1:{port.getHost().port}/cgi-bin/yp-cgi"
        config = parseConfig(
            f"""
[server]
listen = "tcp:0:interface=127.0.0.1"
yp_urls = ["{url}"]
yp_timeout = 5

[[mount]]
path = "/stream"
name = "Integration FM"
genre = "Test"
public = true
playlist = "{DEMO}"
""",
            os.path.join(DEMO, "radio.toml"),
        )
        radio = serviceFromConfig(config, reactor, encoder=None)
        [client] = [child for child in radio if isinstance(child, YPClient)]
        # A test cannot wait the 30 s Icecast's floor asks for.
        client.minInterval = 0.2
        client.firstTouch = 0.2
        radio.startService()
        stopped = []
        self.addCleanup(lambda: None if stopped else radio.stopService())
        [listening] = yield radio.whenListening()
        listener = yield connectRaw(self, listening.getHost().port, b"GET /stream HTTP/1.0\r\n\r\n")
        station = radio.stations[0]

        def touchedWithListener():
            title = station.broadcaster.title
            return title and any(
                form.get("action") == "touch" and form.get("listeners") == "1" and form.get("st") == title
                for form in directory.forms
            )

        yield self.waitFor(touchedWithListener, 20, "a touch with the title and one listener")
        add = directory.forms[0]
        self.assertEqual(add["action"], "add")
        self.assertEqual((add["sn"], add["genre"], add["type"]), ("Integration FM", "Test", "audio/mpeg"))
        # Made from the configured listen address (no public_url here).
        self.assertEqual(add["listenurl"], "http://127.0.0.1:0/stream")
        touch = [form for form in directory.forms if form["action"] == "touch"][-1]
        self.assertEqual(touch["sid"], "sid-1")
        listener.close()
        stopped.append(True)
        yield radio.stopService()
        self.assertEqual(directory.forms[-1], {"action": "remove", "sid": "sid-1"})
