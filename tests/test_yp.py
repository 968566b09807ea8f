"""
Tests for L{txradio.net.yp}: listing a mount in a YP directory.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer

from zope.interface import implementer
from zope.interface.verify import verifyClass, verifyObject

from txradio.net.yp import FormBody, YPClient, listenURLFor
from txradio.wire.icy import StreamInfo


class FakeResponse:
    """
    An answer: a status, headers, and an empty body.
    """

    def __init__(self, code: int, headers: dict[str, str]) -> None:
        self.code = code
        self.headers = Headers({name.encode(): [value.encode()] for name, value in headers.items()})

    def deliverBody(self, protocol) -> None:
        from twisted.internet.testing import StringTransport
        from twisted.python.failure import Failure
        from twisted.web.client import ResponseDone

        protocol.makeConnection(StringTransport())
        protocol.connectionLost(Failure(ResponseDone()))


@implementer(IAgent)
class FakeAgent:
    """
    Records each request; the test answers it.

    @ivar requests: C{(method, url, form fields, Deferred)} per request.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes, dict[str, str], Deferred]] = []
        self.cancelled = 0

    def request(self, method, uri, headers=None, bodyProducer=None):
        def cancel(d):
            self.cancelled += 1

        d: Deferred = Deferred(cancel)
        fields = dict(parse_qsl(bodyProducer.body.decode("ascii"), keep_blank_values=True))
        assert headers.getRawHeaders(b"content-type") == [b"application/x-www-form-urlencoded"]
        self.requests.append((method, uri, fields, d))
        return d

    def answer(self, code: int = 200, **headers: str) -> dict[str, str]:
        """
        Answer the last request.

        @return: its fields.
        """
        _, _, fields, d = self.requests[-1]
        d.callback(FakeResponse(code, headers))
        return fields

    @property
    def pending(self) -> int:
        return sum(1 for *_, d in self.requests if not d.called)


verifyClass(IAgent, FakeAgent)


class FakeBroadcaster:
    title: str | None = "Artist - Song"


class FakeStation:
    """
    What a L{YPClient} reads of a station.
    """

    mount = b"/stream"
    currentInfo = StreamInfo(name="Example FM", genre="Jazz", url="https://example.org", description="Jazz, mostly",
                             public=True, bitrate=128)
    listenerCount = 3
    maxListeners = 100

    def __init__(self) -> None:
        self.broadcaster = FakeBroadcaster()


class YPClientTests(SynchronousTestCase):
    """
    L{YPClient} adds, touches and removes a listing.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.agent = FakeAgent()
        self.station = FakeStation()
        self.client = YPClient(
            "http://dir.example/cgi-bin/yp-cgi", self.station, "http://radio.example:8000/stream", self.clock,
            agent=self.agent,
        )
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def start(self) -> None:
        self.client.startService()
        self.clock.advance(0)

    def listed(self, touchFreq: str = "120") -> None:
        self.start()
        self.agent.answer(YPResponse="1", SID="abc123", TouchFreq=touchFreq)

    def test_addFields(self) -> None:
        """
        Starting POSTs C{action=add} with the mount's stream info, exactly.
        """
        self.start()
        method, url, fields, _ = self.agent.requests[0]
        self.assertEqual((method, url), (b"POST", b"http://dir.example/cgi-bin/yp-cgi"))
        self.assertEqual(
            fields,
            {
                "action": "add",
                "sn": "Example FM",
                "genre": "Jazz",
                "cpswd": "",
                "desc": "Jazz, mostly",
                "url": "https://example.org",
                "listenurl": "http://radio.example:8000/stream",
                "type": "audio/mpeg",
                "stype": "",
                "b": "128",
            },
        )

    def test_touchFields(self) -> None:
        """
        After the add, touches carry the SID, the title now, the listeners
        now and the limit.
        """
        self.listed()
        self.clock.advance(5)
        self.station.broadcaster.title = "Now - Playing"
        self.assertEqual(len(self.agent.requests), 2)
        fields = self.agent.requests[1][2]
        self.assertEqual(
            fields,
            {"action": "touch", "sid": "abc123", "st": "Artist - Song", "listeners": "3", "max_listeners": "100",
             "stype": ""},
        )

    def test_touchCadence(self) -> None:
        """
        The first touch comes five seconds after the add, the next ones
        every C{TouchFreq} seconds.
        """
        self.listed("120")
        self.assertEqual(self.client.interval, 120)
        self.clock.advance(5)
        self.agent.answer(YPResponse="1")
        for _ in range(3):
            self.clock.advance(119)
            self.assertEqual(self.agent.pending, 0)
            self.clock.advance(1)
            self.assertEqual(self.agent.requests[-1][2]["action"], "touch")
            self.agent.answer(YPResponse="1")
        self.assertEqual(len(self.agent.requests), 5)

    def test_touchFreqBounded(self) -> None:
        """
        C{TouchFreq} is clamped to 30 s … 1 h; absent or unreadable, it is
        300 s.
        """
        for given, expected in (("1", 30), ("999999", 3600), ("nonsense", 300), ("nan", 300)):
            client = YPClient("http://d/", self.station, "http://r/stream", Clock(), agent=FakeAgent())
            client.startService()
            client._clock.advance(0)
            client._agent.answer(YPResponse="1", SID="x", TouchFreq=given)
            self.assertEqual(client.interval, expected, given)
        self.listed()
        self.assertEqual(self.client.interval, 120)
        client = YPClient("http://d/", self.station, "http://r/stream", Clock(), agent=FakeAgent())
        client.startService()
        client._clock.advance(0)
        client._agent.answer(YPResponse="1", SID="x")
        self.assertEqual(client.interval, 300)

    def test_reAddAfterRefusal(self) -> None:
        """
        An add refused with C{YPResponse: 0} is tried again after a backoff
        that doubles; the refusal is logged once.
        """
        self.start()
        self.agent.answer(YPResponse="0", YPMessage="Bad stream")
        self.assertIsNone(self.client.sid)
        self.clock.advance(59)
        self.assertEqual(len(self.agent.requests), 1)
        self.clock.advance(1)
        self.assertEqual(self.agent.requests[-1][2]["action"], "add")
        self.agent.answer(YPResponse="0", YPMessage="Bad stream")
        self.clock.advance(119)
        self.assertEqual(len(self.agent.requests), 2)
        self.clock.advance(1)
        self.agent.answer(YPResponse="1", SID="s2", TouchFreq="60")
        self.assertEqual(self.client.sid, "s2")
        warnings = [e for e in self.events if "problem" in e]
        self.assertEqual(len(warnings), 1)
        self.assertIn("Bad stream", warnings[0]["problem"])

    def test_touchRefusedReAdds(self) -> None:
        """
        A touch answered C{YPResponse: 0} (the directory forgot the listing)
        drops the SID and adds again after the backoff.
        """
        self.listed()
        self.clock.advance(5)
        self.agent.answer(YPResponse="0", YPMessage="SID not found")
        self.assertIsNone(self.client.sid)
        self.clock.advance(60)
        self.assertEqual(self.agent.requests[-1][2]["action"], "add")

    def test_failureBacksOffAndIsBounded(self) -> None:
        """
        A directory that does not answer times out; tries back off up to an
        hour, one request at a time, logged once.
        """
        self.start()
        delays = []
        for _ in range(10):
            self.assertEqual(self.agent.pending, 1)
            self.clock.advance(self.client.timeout)
            self.assertEqual(self.agent.pending, 0)
            before = self.clock.seconds()
            count = len(self.agent.requests)
            while len(self.agent.requests) == count:
                self.clock.advance(1)
            delays.append(self.clock.seconds() - before)
        self.assertEqual(delays[:4], [60, 120, 240, 480])
        self.assertEqual(delays[-1], 3600)
        self.assertEqual(len([e for e in self.events if "problem" in e]), 1)

    def test_httpErrorRetries(self) -> None:
        """
        An answer other than 2xx is a failure, retried.
        """
        self.start()
        self.agent.answer(500)
        self.assertIsNone(self.client.sid)
        self.clock.advance(60)
        self.assertEqual(len(self.agent.requests), 2)

    def test_removeOnStop(self) -> None:
        """
        Stopping POSTs C{action=remove} with the SID and fires once it is
        answered; nothing is left scheduled.
        """
        self.listed()
        d = self.client.stopService()
        self.assertNoResult(d)
        self.assertEqual(self.agent.answer(YPResponse="1"), {"action": "remove", "sid": "abc123"})
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopBounded(self) -> None:
        """
        A directory that does not answer the remove cannot hold the stop up
        for more than C{stopTimeout} seconds, and it does not fail.
        """
        self.listed()
        d = self.client.stopService()
        self.clock.advance(self.client.stopTimeout)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopWhileAdding(self) -> None:
        """
        Stopping during the add cancels it; there is nothing to remove.
        """
        self.start()
        self.successResultOf(self.client.stopService())
        self.assertEqual(self.agent.cancelled, 1)
        self.assertEqual(len(self.agent.requests), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopWhileTouching(self) -> None:
        """
        Stopping during a touch cancels it and removes the listing.
        """
        self.listed()
        self.clock.advance(5)
        d = self.client.stopService()
        self.assertEqual(self.agent.cancelled, 1)
        self.assertEqual(self.agent.answer(YPResponse="1")["action"], "remove")
        self.successResultOf(d)

    def test_stopBeforeStart(self) -> None:
        """
        Stopping before the first request leaves nothing scheduled.
        """
        self.client.startService()
        self.successResultOf(self.client.stopService())
        self.assertEqual(self.agent.requests, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class FormBodyTests(SynchronousTestCase):
    """
    L{FormBody} is a request body holding an encoded form.
    """

    def test_interface(self) -> None:
        """
        L{FormBody} provides L{IBodyProducer}.
        """
        self.assertTrue(verifyObject(IBodyProducer, FormBody([("a", "b")])))

    def test_encoded(self) -> None:
        """
        The form is URL-encoded, its length known, and written at once.
        """
        from twisted.internet.testing import StringTransport

        body = FormBody([("action", "touch"), ("st", "A & B = C")])
        self.assertEqual(body.body, b"action=touch&st=A+%26+B+%3D+C")
        self.assertEqual(body.length, len(body.body))
        consumer = StringTransport()
        self.successResultOf(body.startProducing(consumer))
        self.assertEqual(consumer.value(), body.body)


class ListenURLTests(SynchronousTestCase):
    """
    L{listenURLFor} names the URL directory visitors tune into.
    """

    def test_publicURL(self) -> None:
        """
        The public URL wins.
        """
        self.assertEqual(
            listenURLFor("https://radio.example/", ("tcp:8000",), "/stream", "host"), "https://radio.example/stream"
        )

    def test_listenAddress(self) -> None:
        """
        Without one, the first TCP port, with its interface when it has one.
        """
        self.assertEqual(listenURLFor(None, ("tcp:8000",), "/s", "host.example"), "http://host.example:8000/s")
        self.assertEqual(
            listenURLFor(None, ("systemd:domain=INET:index=0", "tcp:port=9000:interface=192.0.2.1"), "/s", "h"),
            "http://192.0.2.1:9000/s",
        )
        self.assertEqual(listenURLFor(None, ("tcp6:8000:interface=2001\\:db8\\:\\:1",), "/s", "h"), "http://[2001:db8::1]:8000/s")
