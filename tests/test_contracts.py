"""
The L{IFrameSource} contract (L{tests._contracts}) run against every source:
the folder and M3U playlists, a live source, a relay, a transcoder (on a
fake process reactor), a mount follower, the switcher and
L{txradio.testing.FakeFrameSource}.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._contracts import FrameSourceContractMixin
from tests._process import FakeProcessReactor
from tests._web import DEMO
from txradio.interfaces import IFrameSource, IProgramme
from txradio.sources.encoder import Backoff, EncoderSettings
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelayFactory, RelaySource
from txradio.sources.tracks import FolderTracks, M3UTracks
from txradio.sources.transcode import TranscodingSource
from txradio.stream.station import Station
from txradio.stream.switcher import MountFollower, Switcher
from txradio.testing import FakeFrameSource, FakeProgramme, syntheticFrame
from txradio.wire.audioformat import TRANSCODE, AudioFormat

_AUDIO = b"".join(syntheticFrame(n % 255 + 1).data for n in range(40))
"""About a second of well-formed frames, as a client would send them."""


class FolderPlaylistContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A playlist of a folder meets the L{IFrameSource} contract.
    """

    def makeSource(self) -> PlaylistSource:
        source = PlaylistSource(FolderTracks(DEMO), clock=Clock())
        self.addCleanup(source.close)
        return source


class M3UPlaylistContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A playlist of an M3U file meets the L{IFrameSource} contract.
    """

    def makeSource(self) -> PlaylistSource:
        path = self.mktemp() + ".m3u"
        with open(path, "w") as f:
            f.write("#EXTM3U\n" + "".join(os.path.join(DEMO, name) + "\n" for name in sorted(os.listdir(DEMO))))
        source = PlaylistSource(M3UTracks(path), clock=Clock())
        self.addCleanup(source.close)
        return source


class LiveSourceContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A live source, fed by its client, meets the L{IFrameSource} contract.
    """

    def makeSource(self) -> LiveSource:
        source = LiveSource("contract")
        source.setTitle("Live Show")
        return source

    def feed(self, source: LiveSource) -> None:
        source.feed(_AUDIO)


class RelayContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A relay, fed by its upstream connection, meets the L{IFrameSource}
    contract.
    """

    def makeSource(self) -> RelaySource:
        relay = RelaySource("http://origin.example:8000/stream", reactor=object(), clock=Clock())
        protocol = RelayFactory(relay).buildProtocol(None)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n")
        self._protocols = getattr(self, "_protocols", {})
        self._protocols[id(relay)] = protocol
        return relay

    def feed(self, source: RelaySource) -> None:
        self._protocols[id(source)].dataReceived(_AUDIO)


class TranscodingContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A transcoder whose input already has the mount's format (so its frames
    pass as they are, with no encoder process) meets the L{IFrameSource}
    contract.
    """

    def makeSource(self) -> TranscodingSource:
        return TranscodingSource(
            FakeFrameSource(["One", "Two"], framesPerTrack=20),
            EncoderSettings(AudioFormat(44100, 2), name="/contract"),
            TRANSCODE,
            reactor=FakeProcessReactor(),
            backoff=Backoff(1.0, 60.0, 2.0, jitter=lambda: 0),
        )


class MountFollowerContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    A follower of another mount meets the L{IFrameSource} contract.
    """

    def makeSource(self) -> MountFollower:
        self.clock = Clock()
        followed = Station(FakeFrameSource(["Followed"], framesPerTrack=50), mount="/followed", clock=self.clock)
        followed.startService()
        self.addCleanup(followed.stopService)
        self.clock.pump([0.5] * 4)
        return MountFollower(followed, name="/contract")

    def feed(self, source: MountFollower) -> None:
        self.clock.advance(0.5)


class SwitcherContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    The switcher between a mount's sources meets the L{IFrameSource}
    contract.
    """

    def makeSource(self) -> Switcher:
        return Switcher([None, FakeFrameSource(["Programme"], framesPerTrack=30), None], name="/contract")


class FakeFrameSourceContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    L{txradio.testing.FakeFrameSource} meets the L{IFrameSource} contract
    it stands in for.
    """

    def makeSource(self) -> FakeFrameSource:
        return FakeFrameSource(["A", "B"], framesPerTrack=15)

    def test_interface(self) -> None:
        """
        L{FakeFrameSource} provides L{IFrameSource}.
        """
        self.assertTrue(verifyObject(IFrameSource, self.makeSource()))


class FakeProgrammeContractTests(FrameSourceContractMixin, SynchronousTestCase):
    """
    L{txradio.testing.FakeProgramme} meets the L{IFrameSource} contract and
    declares all of L{IProgramme}.
    """

    def makeSource(self) -> FakeProgramme:
        return FakeProgramme(["A", "B"], framesPerTrack=15)

    def test_interface(self) -> None:
        """
        L{FakeProgramme} provides L{IProgramme}, with no file and no
        requests of its own.
        """
        source = self.makeSource()
        self.assertTrue(verifyObject(IProgramme, source))
        self.assertEqual((source.trackPath, source.requests, source.upcoming()), (None, None, None))
