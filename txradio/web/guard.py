# -*- test-case-name: tests.test_access_web -*-
"""
Listener access control for HLS: a mount's playlists and segments pass the
same checks as its stream (address, user agent, signed link, htpasswd; not
URL authentication, which needs a session HLS does not have).  See
L{txradio.net.access}.

A signed link's C{?expires=…&token=…} is carried into the URIs a playlist
lists, so that players (which resolve them relative to the playlist,
dropping its query) fetch segments with it.
"""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.net.access import AccessRequest, MountAccess
from txradio.wire.access import readToken
from txradio.wire.auth import parseBasicAuth


def isHLS(resource: Resource) -> bool:
    """
    @param resource: a resource of the site.
    @return: whether it serves a mount's HLS (a playlist or segments).
    """
    from txradio.web.hls import _MountResource

    return isinstance(resource, _MountResource)


def webAccessRequest(request: Request, mount: str) -> AccessRequest:
    """
    Describe a web request for the access checks.

    @param request: the request.
    @param mount: the mount it is for.
    @return: what the checks know of it, with the real address.
    """
    peer = request.getClientAddress()
    query = request.uri.partition(b"?")[2]
    agent = (request.getHeader(b"user-agent") or b"").decode("latin-1")[:200]
    return AccessRequest(
        mount=mount,
        address=str(getattr(peer, "host", peer)),
        userAgent=agent,
        credentials=parseBasicAuth(request.getHeader(b"authorization")),
        query=query,
    )


def withQuery(playlist: bytes, query: bytes) -> bytes:
    """
    Add a query to every URI line of an HLS playlist.

    @param playlist: the playlist.
    @param query: the query, without C{"?"}.
    @return: the playlist, each line not starting with C{#} ending in
        C{?query}.
    """
    lines = playlist.split(b"\n")
    return b"\n".join(line + b"?" + query if line and not line.startswith(b"#") else line for line in lines)


class GuardedResource(Resource):
    """
    A mount's HLS resource behind its access checks.

    @ivar inner: the HLS resource.
    @ivar access: the mount's L{MountAccess}.
    @ivar station: the mount's station.
    """

    isLeaf = True

    def __init__(self, inner: Resource, access: MountAccess, station) -> None:
        Resource.__init__(self)
        self.inner = inner
        self.access = access
        self.station = station

    def render(self, request: Request) -> bytes | int:
        """
        Check the request, then serve it as the HLS resource would.

        @param request: the request.
        @return: the refusal's body, or the resource's answer.
        """
        checked = webAccessRequest(request, self.access.mount)
        refusal = self.access.checkWeb(checked)
        if refusal is not None:
            # The web access log records it; HLS requests are not listener
            # events (a player makes one every few seconds).
            request.setResponseCode(refusal.status)
            for name, value in refusal.headers():
                request.setHeader(name, value)
            request.setHeader(b"cache-control", b"no-cache")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return refusal.message.encode("utf-8") + b"\n"
        body = self.inner.render(request)
        query = checked.query
        if (
            self.access.tokenSecret is not None
            and isinstance(body, bytes)
            and body.startswith(b"#EXTM3U")
            and readToken(query) is not None
        ):
            body = withQuery(body, b"&".join(p for p in query.split(b"&") if p.startswith((b"expires=", b"token="))))
            request.setHeader(b"content-length", b"%d" % len(body))
            # A playlist naming one listener's link is that listener's.
            request.setHeader(b"cache-control", b"private, no-cache")
        return body
