"""
Integration test with real peers: a radio on 127.0.0.1 plays a library of
short tracks made by ffmpeg; a listener's request posted over TCP while
track 1 plays is heard (in the ICY titles a raw listener reads) at the next
track change, and a second request from the same address gets a 429 with
the time to wait.
"""

from __future__ import annotations

import json
import os

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from integration._realpeers import LOCAL_ENDPOINT, connectRaw, fetch, makeTracks, parseResponse, titlesInOrder
from integration.test_transcode_integration import splitICY
from txradio.sources.requests import waitText
from txradio.tap import Options, makeService

TRACKS = [
    # (artist, title, frequency, seconds): distinct titles and artists.
    ("Ada", "First", 440, 6.0),
    ("Bo", "Second", 550, 6.0),
    ("Cy", "Third", 660, 6.0),
    ("Di", "Wished For", 770, 6.0),
]
METAINT = 256


def post(path: str, body: dict) -> bytes:
    """
    @return: a JSON C{POST} to C{path}, as bytes.
    """
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


class RequestsIntegrationTests(TestCase):
    """
    Listener requests on a real radio.
    """

    timeout = 90

    @inlineCallbacks
    def test_requestHeardAtNextChange(self):
        """
        A request posted while track 1 plays is heard next, before track 2;
        the status foresees it; a repeat is refused with 429 and the wait.
        """
        folder = os.path.abspath(self.mktemp())
        titles = yield makeTracks(self, folder, TRACKS)
        config = os.path.abspath(self.mktemp()) + ".toml"
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = ["{LOCAL_ENDPOINT}"]\n\n'
                f'[[mount]]\npath = "/stream"\nplaylist = "{folder}"\nrequests = true\n'
                f"metaint = {METAINT}\nburst_size = 0\n"
            )
        options = Options()
        options.parseOptions(["--config", config])
        service = makeService(options)
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.whenListening())[0].getHost().port
        listener = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")

        def heard() -> list[str]:
            body = bytes(listener.data).partition(b"\r\n\r\n")[2]
            return titlesInOrder([title for _, title in splitICY(body, METAINT)[1] if title])

        yield listener.waitFor(lambda: heard() == [titles[0]], 15, "track 1's title")
        reply = yield fetch(self, port, post("/api/v1/requests", {"path": "04.mp3"}))
        status, headers, body = parseResponse(reply)
        self.assertIn(b"201", status, body)
        answer = json.loads(body)
        self.assertEqual((answer["position"], answer["title"], answer["artist"]), (1, "Wished For", "Di"))
        reply = yield fetch(self, port, b"GET /api/v1/status HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        mount = json.loads(parseResponse(reply)[2])["mounts"][0]
        self.assertEqual(mount["requests"][0]["path"], "04.mp3")
        self.assertEqual(mount["upcoming"][0], titles[3])
        # The same address again, another song: the per-address cool-down.
        reply = yield fetch(self, port, post("/api/v1/requests", {"path": "03.mp3"}))
        status, headers, body = parseResponse(reply)
        self.assertIn(b"429", status)
        wait = int(headers[b"retry-after"])
        self.assertTrue(295 <= wait <= 300, wait)
        self.assertEqual(json.loads(body)["error"], f"one request every 5 min per listener: wait {waitText(wait)}")
        self.assertEqual(json.loads(body)["retryAfter"], wait)
        yield listener.waitFor(lambda: len(heard()) >= 3, 30, "two more title changes")
        self.assertEqual(heard()[:3], [titles[0], titles[3], titles[1]])
