"""
Tests for L{txradio.build}: a radio assembled from a configuration.
"""

from __future__ import annotations

import os

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from txradio.build import serviceFromConfig, shoutcastEndpointFor
from txradio.config import parseConfig
from txradio.net.push import PushClient
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelaySource
from txradio.sources.tracks import demoTracks

DEMO_FOLDER = os.path.dirname(demoTracks().paths[0])


class ShoutcastEndpointTests(SynchronousTestCase):
    """
    SHOUTcast sources listen on the port after the listener port.
    """

    def test_nextPort(self) -> None:
        """
        A TCP port gives the next port on the same interface.
        """
        self.assertEqual(shoutcastEndpointFor("tcp:8000"), "tcp:8001")
        self.assertEqual(shoutcastEndpointFor("tcp:8000:interface=127.0.0.1"), "tcp:8001:interface=127.0.0.1")
        self.assertEqual(shoutcastEndpointFor("tcp:port=8000:backlog=5"), "tcp:8001")

    def test_noNextPort(self) -> None:
        """
        Other endpoints, and port 0, have no SHOUTcast companion.
        """
        for description in ("tcp:0", "unix:/tmp/x", "systemd:domain=INET:index=0", "ssl:8443"):
            self.assertIsNone(shoutcastEndpointFor(description))


class ServiceFromConfigTests(SynchronousTestCase):
    """
    L{serviceFromConfig} builds every mount with its source, fallback and
    push.
    """

    def test_build(self) -> None:
        """
        A playlist mount, a live mount falling back to it, a relay and a
        push are all built, and the radio starts and stops cleanly.
        """
        config = parseConfig(
            f"""
[server]
listen = ["tcp:8000"]
shoutcast_source_listen = ["tcp:8001"]
admin_password = "adminpw"

[[mount]]
path = "/stream"
name = "Main"
playlist = "{DEMO_FOLDER}"
push = {{ url = "http://127.0.0.1:9/relay", password = "pw" }}

[[mount]]
path = "/live"
live = true
source_password = "livepw"
fallback = "/stream"

[[mount]]
path = "/relay"
relay = "http://127.0.0.1:9/stream"
"""
        )
        reactor = MemoryReactorClock()
        service = serviceFromConfig(config, reactor)
        main, live, relay = service.stations
        self.assertIsInstance(main.programme, PlaylistSource)
        self.assertIsNone(live.programme)
        self.assertTrue(live.acceptsSources)
        self.assertFalse(main.acceptsSources)
        self.assertIsInstance(relay.programme, RelaySource)
        self.assertEqual(len([s for s in service if isinstance(s, PushClient)]), 1)
        ports = [s for s in service if isinstance(s, StreamServerEndpointService)]
        self.assertEqual(len(ports), 2)
        service.startService()
        reactor.advance(1)
        self.assertEqual(main.broadcaster.title, "txradio - Morning Arpeggio")
        self.assertTrue(live.onAir)
        self.assertEqual(live.broadcaster.title, "txradio - Morning Arpeggio")
        self.assertEqual([port for port, *_ in reactor.tcpServers], [8000, 8001])
        self.successResultOf(service.stopService())


class LibraryFromConfigTests(SynchronousTestCase):
    """
    The on-demand library in configuration mode.
    """

    def config(self, server: str = ""):
        return parseConfig(f'[server]\n{server}\n[[mount]]\npath = "/stream"\nplaylist = "{DEMO_FOLDER}"\n')

    def test_default(self) -> None:
        """
        Left out, the library is the first mount's playlist folder.
        """
        from txradio.build import libraryFor

        library = libraryFor(self.config(), MemoryReactorClock())
        self.assertEqual(os.fsdecode(library.root), os.path.realpath(DEMO_FOLDER))

    def test_off(self) -> None:
        """
        C{library = false} turns it off.
        """
        from txradio.build import libraryFor

        self.assertIsNone(libraryFor(self.config("library = false"), MemoryReactorClock()))

    def test_badFolder(self) -> None:
        """
        A library that is not a folder is a configuration error naming the
        key.
        """
        from txradio.config import ConfigError

        error = self.assertRaises(ConfigError, self.config, 'library = "/no/such/folder"')
        self.assertIn("server.library", str(error))


class LinkFallbacksTests(SynchronousTestCase):
    """
    L{linkFallbacks} reads each station's declared C{fallback}.
    """

    def test_changesOnlyWhatDiffers(self) -> None:
        """
        Linking again with the same configuration keeps each mount's
        follower; a changed fallback is replaced, a removed one dropped.
        """
        from txradio.build import linkFallbacks
        from txradio.stream.station import FALLBACK_SLOT, Station
        from txradio.testing import FakeFrameSource

        clock = MemoryReactorClock()
        stations = {path: Station(FakeFrameSource(), mount=path, clock=clock) for path in ("/a", "/b", "/c")}
        live = 'live = true\nsource_password = "pw"\n'
        mounts = (
            f'[[mount]]\npath = "/a"\n{live}fallback = "{{}}"\n'
            f'[[mount]]\npath = "/b"\n{live}[[mount]]\npath = "/c"\n{live}'
        )
        linkFallbacks(parseConfig(mounts.format("/b")), stations)
        self.assertIs(stations["/a"].fallback, stations["/b"])
        follower = stations["/a"].switcher.sourceAt(FALLBACK_SLOT)
        linkFallbacks(parseConfig(mounts.format("/b")), stations)
        self.assertIs(stations["/a"].switcher.sourceAt(FALLBACK_SLOT), follower)
        linkFallbacks(parseConfig(mounts.format("/c")), stations)
        self.assertIs(stations["/a"].fallback, stations["/c"])
        linkFallbacks(parseConfig(mounts.replace('fallback = "{}"\n', "")), stations)
        self.assertIsNone(stations["/a"].fallback)
