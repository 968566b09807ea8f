# -*- test-case-name: tests.test_metrics -*-
"""
C{/metrics}: the radio's figures for Prometheus.

On the public port the page asks for the admin's credentials unless the
operator made it public; it can also be served alone on its own port (for
instance C{tcp:9100:interface=127.0.0.1}) where the scraper, not the public,
can reach it.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from txradio.operations.metrics import CONTENT_TYPE, exposition
from txradio.web.admin import AdminAccess

METRICS_ADMIN = "admin"
"""C{/metrics} on the public port asks for the admin's credentials."""

METRICS_PUBLIC = "public"
"""C{/metrics} on the public port is open to anyone."""

METRICS_OFF = "off"
"""No C{/metrics} on the public port."""

METRICS_MODES = (METRICS_ADMIN, METRICS_PUBLIC, METRICS_OFF)
"""The ways C{/metrics} can be offered on the public port."""


class MetricsResource(Resource):
    """
    The Prometheus text exposition of a registry.

    @ivar registry: the C{prometheus_client} registry read at each request.
    @ivar access: the admin credentials asked for, or L{None} for an open
        page.
    """

    isLeaf = True

    def __init__(self, registry, access: AdminAccess | None = None) -> None:
        """
        @param registry: a registry such as
            L{txradio.operations.metrics.radioRegistry} builds.
        @param access: the admin credentials to ask for (the page is then
            off while no admin password is set), or L{None} for an open
            page.
        """
        Resource.__init__(self)
        self.registry = registry
        self.access = access

    def render_GET(self, request: Request) -> bytes:
        """
        Answer with the figures as they are now.

        @param request: the request.
        @return: the exposition.
        """
        request.setHeader(b"cache-control", b"no-store")
        if self.access is not None:
            refusal = self.access.refusal(request, "metrics")
            if refusal is not None:
                code, message = refusal
                request.setResponseCode(code)
                request.setHeader(b"content-type", b"text/plain; charset=utf-8")
                return message.encode("utf-8") + b"\n"
        request.setHeader(b"content-type", CONTENT_TYPE.encode("ascii"))
        return exposition(self.registry)

    def render_HEAD(self, request: Request) -> bytes:
        """
        Answer as C{GET} would, without the body.

        @param request: the request.
        @return: the body, which twisted.web drops.
        """
        return self.render_GET(request)


def metricsSite(registry, reactor=None) -> Site:
    """
    A site serving only C{/metrics} (and C{/} as the same), with no
    credentials: for a port only the scraper reaches.

    @param registry: the registry to expose.
    @param reactor: the reactor for the site's timeouts.
    @return: the site.
    """
    root = Resource()
    page = MetricsResource(registry)
    root.putChild(b"metrics", page)
    root.putChild(b"", page)
    site = Site(root, reactor=reactor)
    site.displayTracebacks = False
    site.log = lambda request: None
    return site

