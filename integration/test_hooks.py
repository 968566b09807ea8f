"""
Hooks against real peers: a program run without a shell, and URLs POSTed to
a web server on 127.0.0.1 (the rest of L{txradio.operations.hooks} is tested
with fakes in L{tests.test_hooks}).
"""

from __future__ import annotations

import json
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from integration._realpeers import withTimeout
from txradio.operations.hooks import CommandAction, HookFailed, PostAction


class RealHookTests(TestCase):
    """
    Hooks with a real program and a real HTTP server.
    """

    timeout = 30

    @inlineCallbacks
    def test_realProgram(self):
        """
        A real program receives the event's JSON on its standard input.
        """
        out = os.path.abspath(self.mktemp())
        script = "import sys, os; open(sys.argv[1], 'w').write(os.environ['TXRADIO_MOUNT'] + sys.stdin.read())"
        action = CommandAction([sys.executable, "-c", script, out], reactor)
        yield withTimeout(action({"event": "title-changed", "mount": "/stream", "title": "A ' B"}, 20), 25, "the hook")
        with open(out) as f:
            text = f.read()
        self.assertTrue(text.startswith("/stream{"))
        self.assertEqual(json.loads(text[len("/stream") :])["title"], "A ' B")

    @inlineCallbacks
    def test_realPost(self):
        """
        A real HTTP server receives the event as a JSON C{POST}; an error
        answer fails the attempt.
        """
        received = []

        class Receiver(Resource):
            isLeaf = True
            code = 204

            def render_POST(self, request):
                received.append((request.getHeader(b"content-type"), json.loads(request.content.read())))
                request.setResponseCode(Receiver.code)
                return b""

        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(Receiver()))
        self.addCleanup(port.stopListening)
        url = f"http://127.0.0.1:{port.getHost().port}/hook"
        action = PostAction(url, reactor)
        yield withTimeout(action({"event": "source-connected", "mount": "/live"}, 10), 15, "the POST")
        self.assertEqual(received, [(b"application/json", {"event": "source-connected", "mount": "/live"})])
        Receiver.code = 500
        attempt = action({"event": "x", "mount": "/live"}, 10)
        yield self.assertFailure(withTimeout(attempt, 15, "the POST"), HookFailed)
