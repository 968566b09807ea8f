"""
Tests for L{txradio.web.guard}: a protected mount's HLS passes its access
checks.
"""

from __future__ import annotations

import base64
import hashlib

from twisted.trial.unittest import SynchronousTestCase

from tests.test_web_hls import HLSSiteTestMixin
from txradio.net.access import AccessPolicy, MountAccess, PasswordFile
from txradio.web.guard import withQuery
from txradio.wire.access import AddressRules, parseNetworks, signedQuery

SECRET = "hls-secret"


class GuardTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    HLS playlists and segments of a protected mount.
    """

    def protect(self, **kwargs) -> None:
        self.site.resource.access = AccessPolicy({"/stream": MountAccess("/stream", self.clock, **kwargs)})

    def test_open(self) -> None:
        """
        Without checks for the mount, HLS is served as before.
        """
        self.site.resource.access = AccessPolicy({})
        self.run_(20)
        self.assertEqual(self.client.request("/stream.m3u8").status, 200)

    def test_deniedAddress(self) -> None:
        """
        A denied address gets 403 for playlists and segments.
        """
        self.protect(rules=AddressRules(deny=parseNetworks(["192.0.2.0/24"])))
        self.run_(20)
        self.assertEqual(self.client.request("/stream.m3u8").status, 403)
        self.assertEqual(self.client.request("/stream/hls/1.mp3").status, 403)

    def test_htpasswd(self) -> None:
        """
        Without credentials: 401 and a challenge; with them: the playlist.
        """
        stored = "{SHA}" + base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
        self.protect(passwords=PasswordFile("-", {"u": stored}))
        self.run_(20)
        refused = self.client.request("/stream.m3u8")
        self.assertEqual(refused.status, 401)
        self.assertEqual(refused.header("www-authenticate"), 'Basic realm="/stream"')
        good = {"Authorization": "Basic " + base64.b64encode(b"u:pw").decode()}
        self.assertEqual(self.client.request("/stream.m3u8", headers=good).status, 200)

    def test_tokenCarriedIntoPlaylist(self) -> None:
        """
        A signed playlist request lists its segments with the same token,
        and those segment requests are served; unsigned ones are refused.
        """
        self.protect(tokenSecret=SECRET)
        self.run_(20)
        query = signedQuery(SECRET, "/stream", int(self.clock.seconds()) + 600)
        self.assertEqual(self.client.request("/stream.m3u8").status, 403)
        response = self.client.request("/stream.m3u8?" + query)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("cache-control"), "private, no-cache")
        segments = [line for line in response.text.splitlines() if line and not line.startswith("#")]
        self.assertTrue(segments)
        self.assertTrue(all(line.endswith("?" + query) for line in segments), segments)
        self.assertEqual(self.client.request("/" + segments[0]).status, 200)
        self.assertEqual(self.client.request("/" + segments[0].partition("?")[0]).status, 403)

    def test_withQuery(self) -> None:
        """
        Only URI lines get the query.
        """
        self.assertEqual(withQuery(b"#EXTM3U\n#EXTINF:6,\nhls/1.mp3\n", b"a=1"), b"#EXTM3U\n#EXTINF:6,\nhls/1.mp3?a=1\n")
