"""
Tests for L{txradio.web.adminpage}, the admin page at C{/admin/}, and for
the admin API actions it uses that Icecast's commands have no JSON form of
(C{move}, C{kill-source}).
"""

from __future__ import annotations

from html.parser import HTMLParser

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from tests.test_admin import DEMO_FILES, PASSWORD, AdminTestMixin
from txradio.sources.live import LiveSource
from txradio.testing import connectInMemory
from txradio.web.admin import listenerId
from txradio.web.adminpage import formatDuration
from txradio.wire.icy import StreamInfo

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
"""A title or player name that would run script if it were not escaped."""

HTML_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class _Elements(HTMLParser):
    """
    Collect every start tag with its attributes, and the page's text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """
        @return: the attributes of each C{tag} element with these attribute
            values (C{data_x} for C{data-x}).
        """
        wanted = {key.replace("_", "-"): value for key, value in attrs.items()}
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in wanted.items())]


def parse(html: str) -> _Elements:
    """
    @param html: a document.
    @return: its elements.
    """
    parser = _Elements()
    parser.feed(html)
    return parser


class AdminPageTests(AdminTestMixin, SynchronousTestCase):
    """
    C{GET /admin/} with a browser's C{Accept} header renders the page.
    """

    def page(self, auth=("admin", PASSWORD)):
        """
        @return: the response to a browser's C{GET /admin/}.
        """
        return self.admin("/admin/", method=b"GET", auth=auth, headers=HTML_ACCEPT)

    def test_structure(self) -> None:
        """
        One article per mount with its title, source, facts and action
        buttons; one row per listener with kick and move buttons naming the
        other mounts; the script and style sheets from this server.
        """
        listener, _ = connectInMemory(self.station, peer="198.51.100.7:5000")
        self.clock.pump([0.5] * 4)
        response = self.page()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(response.header("cache-control"), "no-store")
        self.assertIn("frame-ancestors 'none'", response.header("content-security-policy"))
        self.assertIn("script-src 'self'", response.header("content-security-policy"))
        page = parse(response.text)
        self.assertEqual([a["data-mount"] for a in page.find("article")], ["/stream", "/other"])
        (row,) = page.find("tr", data_mount="/stream")
        self.assertEqual(row["data-listener"], listenerId(listener))
        for action in ("kick", "move", "skip", "kill-source", "reload-config"):
            self.assertTrue(page.find("button", data_action=action), action)
        self.assertEqual(len(page.find("form", data_action="title")), 2)
        self.assertEqual([o["value"] for o in page.find("option")], ["/other"])
        text = "".join(page.text)
        self.assertIn("198.51.100.7:5000", text)
        self.assertIn("txradio.testing", text)
        self.assertIn("0:02", text)
        self.assertIn("ICY", text)
        self.assertIn("Programme (PlaylistSource)", text)
        scripts = [s["src"] for s in page.find("script")]
        self.assertEqual(len(scripts), 1)
        self.assertTrue(scripts[0].startswith("/static/admin.js?v="))
        sheets = [s["href"] for s in page.find("link", rel="stylesheet")]
        self.assertEqual([h.split("?")[0] for h in sheets], ["/static/radio.css", "/static/admin.css"])
        self.assertFalse([h for h in scripts + sheets if "//" in h], "nothing from another server")
        self.assertTrue(page.find("meta", name="viewport"))
        # The skip button is on for the playlist and off for the mount
        # without one; kill-source is off with no live source.
        skips = page.find("button", data_action="skip")
        self.assertEqual(["disabled" in s for s in skips], [False, True])
        self.assertTrue(all("disabled" in k for k in page.find("button", data_action="kill-source")))

    def test_liveSource(self) -> None:
        """
        A mount with a live source on the air says so, with the source's
        name, and offers to kill it.
        """
        live = LiveSource(name="live source 203.0.113.5:4000")
        self.other.attachLive(live, StreamInfo(name="DJ Night"))
        with open(DEMO_FILES[0], "rb") as f:
            live.feed(f.read(65536))
        self.assertTrue(live.onAir)
        page = parse(self.page().text)
        self.assertIn("Live: DJ Night (live source 203.0.113.5:4000)", "".join(page.text))
        kill = page.find("button", data_action="kill-source")
        self.assertEqual(["disabled" in k for k in kill], [True, False])

    def test_hostileValuesEscaped(self) -> None:
        """
        Markup in a title or a player's name is shown as text, never run.
        """
        self.station.updateTitle(HOSTILE)
        self.clock.advance(1)
        transport = StringTransport()
        transport.write(self.station.responseHead(False))
        self.station.connectListener(transport, False, "192.0.2.1:1", HOSTILE)
        body = self.page().text
        self.assertNotIn("<script>alert", body)
        self.assertNotIn("<img", body)
        self.assertIn("&lt;script&gt;alert", body)
        page = parse(body)
        self.assertEqual(len(page.find("script")), 1)
        self.assertEqual(page.find("img"), [])
        self.assertIn(HOSTILE, "".join(page.text))

    def test_noCredentials(self) -> None:
        """
        Without credentials (or with wrong ones) the page is a 401 with the
        Basic challenge, and shows nothing of the mounts.
        """
        for auth in (None, ("admin", "wrong")):
            response = self.page(auth=auth)
            self.assertEqual(response.status, 401)
            self.assertIn("Basic", response.header("www-authenticate"))
            self.assertNotIn("article", response.text)

    def test_jsonStaysForScripts(self) -> None:
        """
        Without a browser's C{Accept} header, C{/admin/} still answers the
        mounts' JSON, as before.
        """
        response = self.admin("/admin/", method=b"GET")
        self.assertEqual(response.header("content-type"), "application/json; charset=utf-8")
        self.assertIn("mounts", response.json())

    def test_headlessMethodsRefused(self) -> None:
        """
        The page is read with C{GET}; a C{POST} to C{/admin/} is refused.
        """
        response = self.admin("/admin/", {}, headers=HTML_ACCEPT)
        self.assertEqual(response.status, 405)

    def test_staticFilesServed(self) -> None:
        """
        The page's script and style sheet are served from C{/static/}.
        """
        for name, kind in (("admin.js", "text/javascript"), ("admin.css", "text/css")):
            response = self.client.request(f"/static/{name}")
            self.assertEqual(response.status, 200, name)
            self.assertTrue(response.header("content-type").startswith(kind))


class AdminPageOffTests(AdminTestMixin, SynchronousTestCase):
    """
    Without an admin password there is no admin page.
    """

    password = None

    def test_off(self) -> None:
        """
        C{/admin/} is a 404 for a browser too.
        """
        response = self.admin("/admin/", method=b"GET", auth=("admin", ""), headers=HTML_ACCEPT)
        self.assertEqual(response.status, 404)
        self.assertNotIn("<article", response.text)


class MoveAndKillTests(AdminTestMixin, SynchronousTestCase):
    """
    C{POST /admin/move} and C{POST /admin/kill-source}.
    """

    def test_mountsJSON(self) -> None:
        """
        The mounts' JSON tells each listener's protocol and what is on the
        air.
        """
        connectInMemory(self.station)
        mounts = {m["mount"]: m for m in self.admin("/admin/mounts", method=b"GET").json()["mounts"]}
        self.assertEqual(mounts["/stream"]["listenerList"][0]["protocol"], "ICY")
        self.assertEqual(mounts["/stream"]["source"], {"kind": "programme", "name": "PlaylistSource"})

    def test_move(self) -> None:
        """
        One listener moves to another mount; the others stay.
        """
        moving, _ = connectInMemory(self.station, peer="a")
        staying, _ = connectInMemory(self.station, peer="b")
        response = self.admin(
            "/admin/move", {"mount": "/stream", "listener": listenerId(moving), "destination": "/other"}
        )
        self.assertEqual(response.status, 200, response.text)
        self.assertEqual(response.json()["destination"], "/other")
        self.assertEqual(list(self.other.broadcaster.listeners), [moving])
        self.assertEqual(list(self.station.broadcaster.listeners), [staying])
        self.assertEqual(self.other.peakListeners, 1)

    def test_moveRefused(self) -> None:
        """
        An unknown listener or destination, the same mount, or a missing
        CSRF proof is refused.
        """
        listener, _ = connectInMemory(self.station)
        ident = listenerId(listener)
        cases = [
            ({"mount": "/stream", "listener": "nope", "destination": "/other"}, 404),
            ({"mount": "/stream", "listener": ident, "destination": "/none"}, 404),
            ({"mount": "/stream", "listener": ident, "destination": "/stream"}, 409),
        ]
        for fields, code in cases:
            self.assertEqual(self.admin("/admin/move", fields).status, code, fields)
        form = self.admin(
            "/admin/move",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=f"mount=/stream&listener={ident}&destination=/other".encode(),
        )
        self.assertEqual(form.status, 403)
        self.assertEqual(list(self.station.broadcaster.listeners), [listener])

    def test_killSource(self) -> None:
        """
        Killing the live source ends it; with none, the answer is 409.
        """
        self.assertEqual(self.admin("/admin/kill-source", {"mount": "/other"}).status, 409)
        live = LiveSource(name="live source 203.0.113.5:4000")
        closed = []
        live.hangUp = lambda: closed.append(True)
        self.other.attachLive(live, StreamInfo(name="DJ"))
        response = self.admin("/admin/kill-source", {"mount": "/other"})
        self.assertEqual(response.status, 200, response.text)
        self.assertEqual(closed, [True])


class FormatDurationTests(SynchronousTestCase):
    """
    L{formatDuration}.
    """

    def test_format(self) -> None:
        """
        Minutes and seconds, with hours when there are some.
        """
        self.assertEqual(formatDuration(0), "0:00")
        self.assertEqual(formatDuration(65.9), "1:05")
        self.assertEqual(formatDuration(7384), "2:03:04")
        self.assertEqual(formatDuration(-3), "0:00")
