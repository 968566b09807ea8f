# -*- test-case-name: tests.test_web -*-
"""
The stations page at C{/}: every station with what it plays, a player and
links to its playlists.  Rendered with L{twisted.web.template}, which
escapes every value it inserts.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.template import Tag, flattenString, tags

from txradio.station import Station

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:1rem;color:#222;background:#fafafa}
h1{font-size:1.5rem}section{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1rem 0}
audio{width:100%}dt{font-weight:600}dd{margin:0 0 .5rem}a{color:#0645ad}
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}section{background:#1b1b1b;border-color:#333}a{color:#8ab4f8}}
"""


def _stationSection(station: Station) -> Tag:
    """
    Render one station.

    @param station: the station.
    @return: a C{<section>} element.
    """
    mount = station.mount.decode("ascii")
    info = station.info
    return tags.section(
        tags.h2(info.name),
        tags.p(info.description) if info.description else "",
        tags.dl(
            tags.dt("Now playing"),
            tags.dd(station.broadcaster.title or "…"),
            tags.dt("Listeners"),
            tags.dd(f"{station.listenerCount} (peak {station.peakListeners})"),
        ),
        tags.audio(controls="", preload="none", src=mount),
        tags.p(
            "Open in your player: ",
            tags.a(mount, href=mount),
            " · ",
            tags.a("M3U", href=mount + ".m3u"),
            " · ",
            tags.a("PLS", href=mount + ".pls"),
            " · ",
            tags.a("XSPF", href=mount + ".xspf"),
        ),
        **{"aria-label": info.name},
    )


class StationsPage(Resource):
    """
    The page at C{/} listing every station.
    """

    isLeaf = True

    def __init__(self, stations: Sequence[Station]) -> None:
        """
        @param stations: the stations to show.
        """
        Resource.__init__(self)
        self._stations = list(stations)

    def render_GET(self, request: Request) -> bytes:
        """
        Render the page.

        @param request: the request.
        @return: the HTML document.
        """
        title = self._stations[0].info.name if self._stations else "txradio"
        document = tags.html(
            tags.head(
                tags.meta(charset="utf-8"),
                tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
                tags.title(title),
                tags.style(_STYLE),
            ),
            tags.body(
                tags.div(tags.h1(title), *[_stationSection(s) for s in self._stations], role="main"),
            ),
            lang="en",
        )
        result: list[bytes] = []
        flattenString(None, document).addCallback(result.append)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        return b"<!DOCTYPE html>\n" + result[0]
