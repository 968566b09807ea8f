"""
Tests for the YP directory settings: C{server.yp_urls}, C{--yp-url}, the
builder's L{txradio.wiring.directoryClients} and their reload.
"""

from __future__ import annotations

import os

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

import txradio
from txradio.build import serviceFromConfig
from txradio.config import ConfigError, parseConfig
from txradio.net.yp import YPClient
from txradio.reload import Reloader
from txradio.tap import Options, makeService

DEMO = os.path.join(os.path.dirname(os.path.abspath(txradio.__file__)), "demo")

BASE = f"""
[server]
public_url = "https://radio.example"
yp_urls = ["http://dir.example/cgi-bin/yp-cgi"]

[[mount]]
path = "/a"
name = "Station A"
public = true
bitrate = 128
playlist = "{DEMO}"

[[mount]]
path = "/b"
playlist = "{DEMO}"
"""


def clients(radio) -> dict[tuple[str, str], YPClient]:
    """
    @return: a radio's YP clients by (directory, mount).
    """
    return {(c.url, c.station.mount.decode()): c for c in radio if isinstance(c, YPClient)}


class SettingsTests(SynchronousTestCase):
    """
    C{yp_urls} is checked like every setting.
    """

    def test_default(self) -> None:
        """
        No directory by default.
        """
        self.assertEqual(parseConfig(BASE.replace("yp_urls", "# yp_urls")).server.ypURLs, ())

    def test_bad(self) -> None:
        """
        A URL that is not http(s), or is given twice, names the entry.
        """
        for urls, key in (('["ftp://x/"]', "server.yp_urls[1]"), ('["http://a/", "http://a/"]', "server.yp_urls[2]")):
            with self.assertRaises(ConfigError) as caught:
                parseConfig(BASE.replace('["http://dir.example/cgi-bin/yp-cgi"]', urls))
            self.assertEqual(caught.exception.key, key)

    def test_option(self) -> None:
        """
        C{--yp-url} may be repeated.
        """
        options = Options()
        options.parseOptions(["--public", "--yp-url", "http://one/yp", "--yp-url", "http://two/yp"])
        self.assertEqual(options["radio"].server.ypURLs, ("http://one/yp", "http://two/yp"))
        radio = makeService(options, MemoryReactorClock(), signals=False)
        self.assertEqual(sorted(clients(radio)), [("http://one/yp", "/stream"), ("http://two/yp", "/stream")])


class BuildTests(SynchronousTestCase):
    """
    The builder makes one client per directory and public mount.
    """

    def test_publicMountsOnly(self) -> None:
        """
        Only public mounts are listed, with the public URL and their bitrate.
        """
        radio = serviceFromConfig(parseConfig(BASE), MemoryReactorClock())
        [client] = clients(radio).values()
        self.assertEqual(client.listenURL, "https://radio.example/a")
        self.assertEqual(client.bitrate, 128)
        self.assertEqual(dict(client.addFields())["b"], "128")

    def test_none(self) -> None:
        """
        Without directories, or without public mounts, there is no client.
        """
        for text in (BASE.replace("yp_urls", "# yp_urls"), BASE.replace("public = true", "")):
            self.assertEqual(clients(serviceFromConfig(parseConfig(text), MemoryReactorClock())), {})


class ReloadTests(SynchronousTestCase):
    """
    A reload adds and removes listings.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.path = os.path.abspath(self.mktemp())
        self.write(BASE)
        config = parseConfig(BASE, self.path)
        self.radio = serviceFromConfig(config, self.reactor)
        self.radio.startService()
        self.addCleanup(self.radio.stopService)
        self.reloader = Reloader(self.radio, self.path, config, self.reactor)

    def write(self, text: str) -> None:
        with open(self.path, "w") as f:
            f.write(text)

    def reload(self, text: str) -> dict[tuple[str, str], YPClient]:
        self.write(text)
        self.reloader.reload()
        return clients(self.radio)

    def test_unchangedKept(self) -> None:
        """
        A reload that changes nothing listed keeps the running client.
        """
        [before] = clients(self.radio).values()
        [after] = self.reload(BASE.replace("[[mount]]\npath = \"/b\"", "[[mount]]\npath = \"/c\"")).values()
        self.assertIs(after, before)
        self.assertTrue(after.running)

    def test_publicChanges(self) -> None:
        """
        Making a mount public adds its listing; making it private removes it
        (the client stops, which removes the listing).
        """
        [old] = clients(self.radio).values()
        found = self.reload(BASE.replace('path = "/b"', 'path = "/b"\npublic = true').replace("public = true\nbitrate", "bitrate"))
        self.assertEqual(sorted(found), [("http://dir.example/cgi-bin/yp-cgi", "/b")])
        self.assertFalse(old.running)
        self.assertTrue(found[("http://dir.example/cgi-bin/yp-cgi", "/b")].running)

    def test_urlsChange(self) -> None:
        """
        Adding a directory adds listings; removing every one removes them.
        """
        found = self.reload(BASE.replace('["http://dir.example/cgi-bin/yp-cgi"]', '["http://dir.example/cgi-bin/yp-cgi", "http://two/"]'))
        self.assertEqual(sorted(found), [("http://dir.example/cgi-bin/yp-cgi", "/a"), ("http://two/", "/a")])
        self.assertEqual(self.reload(BASE.replace("yp_urls", "# yp_urls")), {})

    def test_infoChangeRelists(self) -> None:
        """
        A new name is a new listing: the old client stops, a new one starts.
        """
        [old] = clients(self.radio).values()
        [new] = self.reload(BASE.replace('"Station A"', '"Station Z"')).values()
        self.assertIsNot(new, old)
        self.assertFalse(old.running)
        self.assertEqual(dict(new.addFields())["sn"], "Station Z")
