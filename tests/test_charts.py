"""
Tests for L{txradio.web.charts} (the SVG drawing) and
L{txradio.web.chartroutes} (the charts behind the admin password, on the
admin page).
"""

from __future__ import annotations

from xml.etree import ElementTree

from twisted.trial.unittest import SynchronousTestCase

from tests._web import basicAuth
from tests.test_audience import T0
from tests.test_audience_web import PASSWORD, ReportsTests
from txradio.web.charts import MAX_LABEL, barChart, emptyChart, lineChart

SVG = "{http://www.w3.org/2000/svg}"
HTML_ACCEPT = {"Accept": "text/html"}


def parse(document: str) -> ElementTree.Element:
    """
    @return: the root of an SVG document, which must be well-formed XML.
    """
    return ElementTree.fromstring(document)


class DrawingTests(SynchronousTestCase):
    """
    The pure renderers.
    """

    def assertSafe(self, root: ElementTree.Element) -> None:
        """
        No script, no external reference, a fixed viewBox.
        """
        self.assertEqual(root.tag, SVG + "svg")
        self.assertTrue(root.get("viewBox", "").startswith("0 0 640 "))
        for element in root.iter():
            self.assertNotIn(element.tag, (SVG + "script", SVG + "foreignObject", SVG + "image", SVG + "a"))
            for name in element.attrib:
                self.assertFalse(name.startswith("on"), name)
                self.assertNotIn("href", name)

    def test_line(self) -> None:
        """
        A line chart is one polyline with a point per value, the first and
        last labels under the axis, and the largest value on the axis.
        """
        root = parse(lineChart([("00:00", 1), ("01:00", 4), ("02:00", 2)], "Peak", "listeners"))
        self.assertSafe(root)
        [line] = root.iter(SVG + "polyline")
        self.assertEqual(len(line.get("points", "").split()), 3)
        self.assertEqual(len(list(root.iter(SVG + "circle"))), 3)
        texts = [t.text for t in root.iter(SVG + "text")]
        self.assertIn("00:00", texts)
        self.assertIn("02:00", texts)
        self.assertIn("4", texts)
        self.assertEqual(root.findtext(SVG + "title"), "Peak")

    def test_bar(self) -> None:
        """
        A bar chart has one bar a row, as wide as its value allows, in order.
        """
        root = parse(barChart([("A - One", 2.0), ("B - Two", 1.0)], "Top", "h"))
        self.assertSafe(root)
        widths = [float(rect.get("width", "0")) for rect in root.iter(SVG + "rect")]
        self.assertEqual(len(widths), 2)
        self.assertAlmostEqual(widths[0], 2 * widths[1], places=1)
        self.assertEqual([t.text for t in root.iter(SVG + "text")][0], "A - One")

    def test_escaping(self) -> None:
        """
        Hostile labels and titles stay text: the document parses and holds
        no element of theirs.
        """
        evil = '</text><script>alert("x")</script>&\'"'
        for document in (
            lineChart([(evil, 1)], evil, evil),
            barChart([(evil, 1)], evil, evil),
            emptyChart(evil, evil),
        ):
            self.assertNotIn("<script", document)
            root = parse(document)
            self.assertSafe(root)
            self.assertIn('<script>alert("x")</script>', root.findtext(SVG + "title") or "")

    def test_longLabel(self) -> None:
        """
        Labels are cut at L{MAX_LABEL} characters.
        """
        root = parse(barChart([("x" * 500, 1)], "Top"))
        label = [t.text or "" for t in root.iter(SVG + "text")][0]
        self.assertEqual(len(label), MAX_LABEL)
        self.assertTrue(label.endswith("\u2026"))

    def test_empty(self) -> None:
        """
        No data draws a message, not an error.
        """
        for document in (lineChart([], "Peak"), barChart([], "Top")):
            self.assertIn("No data", document)
            self.assertSafe(parse(document))

    def test_negativeAndZero(self) -> None:
        """
        All-zero values still draw inside the plot (no division by zero).
        """
        root = parse(lineChart([("a", 0), ("b", 0)], "Peak"))
        self.assertSafe(root)


class RouteTests(SynchronousTestCase):
    """
    The charts through the site, from the scripted day's statistics.
    """

    setUp = ReportsTests.setUp

    def get(self, path: str, auth: tuple[str, str] | None = ("admin", PASSWORD), headers: dict[str, str] | None = None):
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = basicAuth(*auth)
        return self.client.request(path, headers=headers)

    def test_credentials(self) -> None:
        """
        Without the admin's credentials every chart is a 401.
        """
        for path in ("/admin/charts/listeners.svg?mount=/stream", "/admin/charts/tracks.svg"):
            self.assertEqual(self.get(path, auth=None).status, 401)
            self.assertEqual(self.get(path, auth=("admin", "wrong")).status, 401)

    def test_listenersByHour(self) -> None:
        """
        The hourly chart has a point an hour of the last 24, at the peak
        the report gives.
        """
        response = self.get("/admin/charts/listeners.svg?mount=/stream&by=hour")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-type"], ["image/svg+xml; charset=utf-8"])
        self.assertEqual(response.headers["cache-control"], ["no-store"])
        root = parse(response.body.decode("utf-8"))
        [line] = root.iter(SVG + "polyline")
        self.assertEqual(len(line.get("points", "").split()), 24)
        peaks = [r["peak"] for r in self.database.listeners("hour", T0, T0 + 86400, "/stream")]
        texts = [t.text for t in root.iter(SVG + "text")]
        self.assertIn(str(max(peaks)), texts)
        # The ends are labelled with the date and the hour: 24 hours apart,
        # the hour alone would read the same.
        self.assertIn("12-01 00:00", texts)
        self.assertIn("12-01 23:00", texts)

    def test_listenersByDay(self) -> None:
        """
        The daily chart covers the last 30 days.
        """
        response = self.get("/admin/charts/listeners.svg?mount=stream&by=day")
        self.assertEqual(response.status, 200)
        [line] = parse(response.body.decode("utf-8")).iter(SVG + "polyline")
        self.assertIn(len(line.get("points", "").split()), (30, 31))

    def test_tracks(self) -> None:
        """
        The tracks chart has a bar a recording heard.
        """
        response = self.get("/admin/charts/tracks.svg")
        self.assertEqual(response.status, 200)
        root = parse(response.body.decode("utf-8"))
        rows = self.database.performances(T0 - 7 * 86400, T0 + 86400, None, 10)
        self.assertEqual(len(list(root.iter(SVG + "rect"))), len(rows))

    def test_badRequests(self) -> None:
        """
        A bad period, a missing mount or an unknown chart are refused.
        """
        self.assertEqual(self.get("/admin/charts/listeners.svg?mount=/stream&by=year").status, 400)
        self.assertEqual(self.get("/admin/charts/listeners.svg").status, 400)
        self.assertEqual(self.get("/admin/charts/nope.svg").status, 404)

    def test_off(self) -> None:
        """
        Without statistics charts are a 404 and the admin page says so
        instead of showing them.
        """
        self.site.setAudience(None)
        self.assertEqual(self.get("/admin/charts/tracks.svg").status, 404)
        page = self.get("/admin/", headers=HTML_ACCEPT).body.decode("utf-8")
        self.assertIn("Audience statistics are off", page)
        self.assertNotIn("/admin/charts/", page)

    def test_adminPage(self) -> None:
        """
        With statistics the admin page shows each chart as an image.
        """
        page = self.get("/admin/", headers=HTML_ACCEPT).body.decode("utf-8")
        self.assertIn('src="/admin/charts/listeners.svg?mount=%2Fstream&amp;by=hour"', page)
        self.assertIn('src="/admin/charts/listeners.svg?mount=%2Fstream&amp;by=day"', page)
        self.assertIn('src="/admin/charts/tracks.svg"', page)
        self.assertIn("data-chart", page)
