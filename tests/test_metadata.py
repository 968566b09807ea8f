"""
Tests for L{txradio.web.metadata}: title updates from encoders and operators.
"""

from __future__ import annotations

import base64

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txradio.net.listenerport import ListenerFactory
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.metadata import decodeSong, parseQuery
from txradio.web.site import buildSite


def basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


class MetadataUpdateTests(SynchronousTestCase):
    """
    Both update forms change the title after checking credentials.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(["Song"], 100000), clock=self.clock, sourcePassword="srcpw")
        self.other = Station(FakeFrameSource(["Other"], 100000), mount="/other", clock=self.clock, sourcePassword="otherpw")
        stations = [self.station, self.other]
        for station in stations:
            station.startService()
        self.factory = ListenerFactory(
            {s.mount: s for s in stations}, site=buildSite(stations, clock=self.clock, adminPassword="adminpw"), clock=self.clock
        )
        self.clock.advance(0.5)
        self.observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def get(self, target: bytes, auth: bytes | None = None) -> bytes:
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.5", 1234))
        protocol.makeConnection(transport)
        lines = [b"GET " + target + b" HTTP/1.1", b"Host: x"]
        if auth:
            lines.append(b"Authorization: " + auth)
        protocol.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n")
        return transport.value()

    def titleAfterTick(self) -> str | None:
        self.clock.advance(0.5)
        return self.station.broadcaster.title

    def test_icecastSourceCredentials(self) -> None:
        """
        The mount's source user may update its title; the reply is Icecast's.
        """
        reply = self.get(b"/admin/metadata?mount=/stream&mode=updinfo&song=Artist%20-%20Title", basic("source", "srcpw"))
        self.assertIn(b"200 OK", reply.split(b"\r\n")[0])
        self.assertIn(b"<return>1</return>", reply)
        self.assertEqual(self.titleAfterTick(), "Artist - Title")

    def test_icecastAdmin(self) -> None:
        """
        The admin may update any mount.
        """
        self.get(b"/admin/metadata?mount=/stream&mode=updinfo&song=By+Admin", basic("admin", "adminpw"))
        self.assertEqual(self.titleAfterTick(), "By Admin")

    def test_icecastOtherMountsPassword(self) -> None:
        """
        A source password of another mount does not work here.
        """
        reply = self.get(b"/admin/metadata?mount=/stream&mode=updinfo&song=X", basic("source", "otherpw"))
        self.assertIn(b"401", reply.split(b"\r\n")[0])
        self.assertEqual(self.titleAfterTick(), "Song")
        self.assertTrue(any("failed metadata login" in e["log_format"] for e in self.observer))

    def test_icecastCharset(self) -> None:
        """
        A declared charset is honoured.
        """
        self.get(b"/admin/metadata?mount=/stream&mode=updinfo&song=Caf%E9&charset=ISO-8859-1", basic("source", "srcpw"))
        self.assertEqual(self.titleAfterTick(), "Café")

    def test_icecastUnknownMount(self) -> None:
        """
        An unknown mount gets a 404 once the admin, or the source user of
        any mount, has logged in.
        """
        for auth in (basic("admin", "adminpw"), basic("source", "otherpw")):
            reply = self.get(b"/admin/metadata?mount=/nope&mode=updinfo&song=X", auth)
            self.assertIn(b"404", reply.split(b"\r\n")[0])

    def test_icecastUnknownMountWrongPassword(self) -> None:
        """
        A wrong password on an unknown mount gets the 401 it gets on a known
        one, not a 404, and is logged as a failed login.
        """
        unknown = self.get(b"/admin/metadata?mount=/nope&mode=updinfo&song=X", basic("source", "guess"))
        known = self.get(b"/admin/metadata?mount=/stream&mode=updinfo&song=X", basic("source", "guess"))
        for reply in (unknown, known):
            self.assertIn(b"401", reply.split(b"\r\n")[0])
            self.assertIn(b'www-authenticate: basic realm="txradio"', reply.lower())
            self.assertIn(b"Authentication Required", reply)
        self.assertEqual(sum("failed metadata login" in e["log_format"] for e in self.observer), 2)

    def test_icecastUnknownMountNoCredentials(self) -> None:
        """
        Without credentials, an unknown mount and a known one both get a
        401.
        """
        for mount in (b"/nope", b"/stream"):
            reply = self.get(b"/admin/metadata?mount=" + mount + b"&mode=updinfo&song=X")
            self.assertIn(b"401", reply.split(b"\r\n")[0])
        self.assertEqual(self.titleAfterTick(), "Song")

    def test_icecastMissingSong(self) -> None:
        """
        An update without a song gets a 400.
        """
        reply = self.get(b"/admin/metadata?mount=/stream&mode=updinfo", basic("admin", "adminpw"))
        self.assertIn(b"400", reply.split(b"\r\n")[0])

    def test_shoutcast(self) -> None:
        """
        SHOUTcast's form with the source password updates the default mount.
        """
        reply = self.get(b"/admin.cgi?pass=srcpw&mode=updinfo&song=Old%20Style")
        self.assertIn(b"200 OK", reply.split(b"\r\n")[0])
        self.assertEqual(self.titleAfterTick(), "Old Style")

    def test_shoutcastWrongPassword(self) -> None:
        """
        A wrong password is refused.
        """
        reply = self.get(b"/admin.cgi?pass=nope&mode=updinfo&song=X")
        self.assertIn(b"401", reply.split(b"\r\n")[0])
        self.assertEqual(self.titleAfterTick(), "Song")

    def test_cleaned(self) -> None:
        """
        Titles are cleaned of control characters and of the value
        terminator.
        """
        self.get(b"/admin.cgi?pass=srcpw&mode=updinfo&song=A%0D%0ASet-Cookie%3A%20x%27%3BStreamUrl%3D%27evil")
        title = self.titleAfterTick()
        self.assertNotIn("\r", title)
        self.assertNotIn("';", title)


    def test_artistAndTitle(self) -> None:
        """
        libshout (ezstream) sends artist and title instead of song; they are
        joined as C{Artist - Title}.
        """
        reply = self.get(
            b"/admin/metadata?mode=updinfo&mount=%2fstream&charset=UTF%2d8&artist=By%20Hand&title=Ezstream%20Tone",
            basic("source", "srcpw"),
        )
        self.assertIn(b"200 OK", reply.split(b"\r\n")[0])
        self.assertEqual(self.titleAfterTick(), "By Hand - Ezstream Tone")

    def test_titleOnly(self) -> None:
        """
        A title alone is used as it is.
        """
        self.get(b"/admin/metadata?mode=updinfo&mount=/stream&title=Solo", basic("source", "srcpw"))
        self.assertEqual(self.titleAfterTick(), "Solo")

class QueryTests(SynchronousTestCase):
    """
    The query helpers are strict about size and lenient about encoding.
    """

    def test_parse(self) -> None:
        """
        Percent and plus escapes are decoded; the first value wins.
        """
        self.assertEqual(parseQuery(b"a=1+2&b=%41&a=3&&c"), {b"a": b"1 2", b"b": b"A", b"c": b""})

    def test_tooLong(self) -> None:
        """
        An oversized query is refused.
        """
        self.assertRaises(ValueError, parseQuery, b"a=" + b"x" * 10000)

    def test_decodeSong(self) -> None:
        """
        UTF-8 by default, the declared charset when given, Latin-1 when the
        bytes are not UTF-8, and an unknown charset falls back to UTF-8.
        """
        self.assertEqual(decodeSong("é".encode(), None), "é")
        self.assertEqual(decodeSong(b"\xe9", b"latin1"), "é")
        self.assertEqual(decodeSong(b"\xe9", None), "é")
        self.assertEqual(decodeSong("é".encode(), b"no-such-charset"), "é")

