# -*- test-case-name: tests.test_admin_page,integration.test_admin_browser -*-
"""
The admin page at C{/admin/}: the control room an operator uses from a
browser, on a desk or a phone.

Per mount it shows what is playing, what is on the air (a live source with
its name, or the programme), the listeners (id, address as the
C{log_addresses} policy shows it, player, time connected, protocol) with
kick and move buttons, and skip, set-title and kill-source buttons; and a
button that reloads the configuration file and shows the answer.

The page is rendered with L{twisted.web.template}, which escapes every value
it inserts (titles, players' names, addresses), on the station page's style
sheet plus a few rules of its own.  It is served by
L{txradio.web.admin.AdminResource}, after the same credential check as the
admin API, to requests that accept C{text/html}.

Its script (C{static/admin.js}) keeps it live by polling C{GET
/admin/mounts} every two seconds rather than following C{/events}: the
event stream is public and carries no listener lists, while the admin API
already answers everything the page shows, behind the credentials the
browser already sends, and a poll recovers by itself from a restart or a
dropped connection.  Every action is a C{POST} with a JSON body to the
admin API (L{txradio.web.admin}), so the page adds no server logic and its
requests pass the same cross-site request checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from twisted.web.server import Request
from twisted.web.template import Tag, tags

from txradio.interfaces import IProgramme, IStation
from txradio.web.admin import listenerInfo, sourceInfo
from txradio.web.page import CONTENT_SECURITY_POLICY, _anchor, _fingerprint, assetURL, renderHTML
from txradio.web.status import WebContext, displayTitle, isLive

__all__ = ["ADMIN_ASSETS", "AdminPage", "adminDocument", "chartsSection", "formatDuration"]

ADMIN_ASSETS = ("radio.css", "admin.css", "admin.js")
"""The static files the page loads: the station page's style sheet first."""

_VERSIONS = {name: _fingerprint(name) for name in ADMIN_ASSETS}

POLL_SECONDS = 2
"""How often the page's script reads C{/admin/mounts}, in seconds."""


def _asset(name: str) -> str:
    """
    @param name: one of L{ADMIN_ASSETS}.
    @return: its URL, versioned by its content.
    """
    return f"/static/{name}?v={_VERSIONS[name]}"


def formatDuration(seconds: float) -> str:
    """
    A time connected, as a clock shows it.

    @param seconds: seconds.
    @return: e.g. C{"4:05"} or C{"2:03:04"}.
    """
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _sourceText(station: IStation) -> str:
    """
    @param station: the station.
    @return: what is on the air, for people.
    """
    source = sourceInfo(station)
    if source["kind"] == "live":
        return f"Live: {station.currentInfo.name} ({source['name']})"
    if source["kind"] == "programme":
        return f"Programme ({source['name']})"
    return "Nothing"


def _listenerRow(info: dict[str, Any], mount: str, others: list[str]) -> Tag:
    """
    One listener, with its kick and move buttons.

    @param info: what L{listenerInfo} tells of it.
    @param mount: its mount.
    @param others: the mounts it can move to.
    @return: a C{<tr>}.
    """
    ident = str(info["id"])
    return tags.tr(
        tags.td(ident, **{"data-label": "ID"}),
        tags.td(info["peer"], **{"data-label": "Address"}),
        tags.td(info["userAgent"] or "-", class_="agent", **{"data-label": "Player"}),
        tags.td(formatDuration(info["seconds"]), **{"data-label": "Connected"}),
        tags.td(info["protocol"], **{"data-label": "Protocol"}),
        tags.td(
            tags.button("Kick", type="button", class_="danger", **{"data-action": "kick"}),
            tags.select(
                *[tags.option(other, value=other) for other in others],
                **{"aria-label": f"Mount to move listener {ident} to", "data-destination": ""},
            )
            if others
            else "",
            tags.button("Move", type="button", **{"data-action": "move"}) if others else "",
            class_="row-actions",
            **{"data-label": "Actions"},
        ),
        **{"data-listener": ident, "data-mount": mount},
    )


def mountSection(station: IStation, mounts: list[str], hls: Any = None) -> Tag:
    """
    Render one mount for the admin.

    @param station: the station.
    @param mounts: every mount's path, for the move buttons.
    @param hls: its L{txradio.web.hls.HLSMount}, or L{None}.
    @return: an C{<article>} element.
    """
    mount = station.mount.decode("ascii")
    anchor = "admin-" + _anchor(mount)
    others = [m for m in mounts if m != mount]
    listeners = [listenerInfo(listener) for listener in list(station.broadcaster.listeners)]
    live = isLive(station)
    state = "Live" if live else ("On air" if station.onAir else "Off air")
    canSkip = IProgramme.providedBy(station.programme) and not live

    def disabled(condition: bool) -> dict[str, str]:
        return {} if condition else {"disabled": ""}

    return tags.article(
        tags.header(
            tags.h2(
                station.currentInfo.name,
                " ",
                tags.code(mount, class_="mount-path"),
                id=anchor + "-name",
                **{"data-field": "name"},
            ),
            tags.span(state, class_="badge", **{"data-field": "state", "data-on-air": "1" if station.onAir else "0"}),
        ),
        tags.p(
            tags.span("Now playing", class_="label"),
            tags.span(
                displayTitle(station.broadcaster.title) or "Nothing yet", class_="title", **{"data-field": "title"}
            ),
            class_="now",
        ),
        tags.dl(
            tags.div(tags.dt("On the air"), tags.dd(_sourceText(station), **{"data-field": "source"})),
            tags.div(tags.dt("Listeners (ICY)"), tags.dd(str(station.listenerCount), **{"data-field": "listeners"})),
            tags.div(
                tags.dt("HLS sessions"),
                tags.dd(str(hls.sessions.count()) if hls is not None else "-", **{"data-field": "hlsListeners"}),
            ),
            tags.div(tags.dt("Peak"), tags.dd(str(station.peakListeners), **{"data-field": "peak"})),
            class_="facts",
        ),
        tags.div(
            tags.button("Skip track", type="button", **{"data-action": "skip"}, **disabled(canSkip)),
            tags.button(
                "Kill source", type="button", class_="danger", **{"data-action": "kill-source"}, **disabled(live)
            ),
            tags.form(
                tags.label(
                    "New title", tags.input(name="title", type="text", maxlength="255", required=""), class_="field"
                ),
                tags.button("Set title", type="submit"),
                class_="title-form",
                **{"data-action": "title"},
            ),
            class_="mount-actions",
        ),
        tags.table(
            tags.caption("Listeners"),
            tags.thead(
                tags.tr(
                    *[tags.th(name, scope="col") for name in ("ID", "Address", "Player", "Connected", "Protocol", "")]
                )
            ),
            tags.tbody(*[_listenerRow(info, mount, others) for info in listeners], **{"data-field": "listenerList"}),
            class_="listeners",
        ),
        tags.p("No listeners.", class_="empty", **({} if not listeners else {"hidden": ""}), **{"data-field": "empty"}),
        class_="station admin-mount",
        id=anchor,
        **{"data-mount": mount, "data-others": " ".join(others), "aria-labelledby": anchor + "-name"},
    )


def chartsSection(mounts: list[str], statistics: bool) -> Tag:
    """
    The audience charts (L{txradio.web.chartroutes}), or why there are none.

    @param mounts: every mount's path.
    @param statistics: whether audience statistics are kept.
    @return: a C{<section>} element.
    """
    if not statistics:
        body: list[Any] = [tags.p("Audience statistics are off (set server.stats_db): no charts.", class_="empty")]
    else:
        body = []
        for mount in mounts:
            for by, label in (("hour", "last 24 hours"), ("day", "last 30 days")):
                body.append(
                    tags.img(
                        src=f"/admin/charts/listeners.svg?{urlencode({'mount': mount, 'by': by})}",
                        alt=f"Peak listeners on {mount}, {label}",
                        class_="chart",
                        **{"data-chart": ""},
                    )
                )
        body.append(
            tags.img(src="/admin/charts/tracks.svg", alt="Tracks most heard", class_="chart", **{"data-chart": ""})
        )
    return tags.section(tags.h2("Audience"), *body, class_="charts", id="admin-charts")


def adminDocument(context: WebContext, statistics: bool = False) -> Tag:
    """
    The whole admin page.

    @param context: the site's shared state.
    @param statistics: whether audience statistics are kept (charts shown).
    @return: the C{<html>} element.
    """
    stations = context.stations
    mounts = [station.mount.decode("ascii") for station in stations]
    return tags.html(
        tags.head(
            tags.meta(charset="utf-8"),
            tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
            tags.meta(name="color-scheme", content="light dark"),
            tags.meta(name="robots", content="noindex"),
            tags.title("Control room - txradio admin"),
            *[tags.link(rel="stylesheet", href=_asset(name)) for name in ADMIN_ASSETS if name.endswith(".css")],
            tags.link(rel="icon", href=assetURL("icon.svg"), type="image/svg+xml"),
            tags.script(src=_asset("admin.js"), defer=""),
        ),
        tags.body(
            Tag("main")(
                tags.header(
                    tags.h1("Control room"),
                    tags.p(
                        "Updated ",
                        tags.span("when the page loaded", **{"data-updated": ""}),
                        class_="live-state",
                    ),
                    tags.noscript(tags.p("The buttons need JavaScript; the page shows the state when it loaded.")),
                    tags.p(class_="error", role="alert", hidden="", **{"data-error": ""}),
                    tags.p(class_="notice", role="status", hidden="", **{"data-notice": ""}),
                    tags.div(
                        tags.button("Reload configuration", type="button", **{"data-action": "reload-config"}),
                        tags.output(**{"data-reload-answer": ""}),
                        class_="config",
                    ),
                    class_="site",
                ),
                *[mountSection(station, mounts, context.hls.get(station.mount)) for station in stations],
                *([] if stations else [tags.p("No mount is configured.")]),
                chartsSection(mounts, statistics),
                tags.footer(
                    tags.nav(
                        tags.a("Station page", href="/"),
                        " · ",
                        tags.a("Admin JSON", href="/admin/mounts"),
                        **{"aria-label": "More"},
                    )
                ),
                id="main",
                **{"data-poll": str(POLL_SECONDS)},
            ),
            class_="admin",
        ),
        lang="en",
    )


class AdminPage:
    """
    Renders the admin page for L{txradio.web.admin.AdminResource}, which
    checks the credentials first.

    @ivar context: the site's shared state.
    """

    def __init__(self, context: WebContext) -> None:
        """
        @param context: the site's shared state.
        """
        self.context = context
        self.statistics: Callable[[], bool] = lambda: False

    def __call__(self, request: Request) -> bytes:
        """
        Render the page.

        @param request: an authenticated C{GET} or C{HEAD}.
        @return: the HTML document.
        """
        body = renderHTML(request, adminDocument(self.context, self.statistics()))
        # Never cached, never framed by another page (clickjacking).
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY + b"; frame-ancestors 'none'")
        request.setHeader(b"x-frame-options", b"DENY")
        return body
