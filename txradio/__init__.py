"""
txradio: an internet radio server built on Twisted.

A station reads MP3 frames from a source (a folder of music, a live source
client, a relayed upstream), paces them in real time, and fans them out to
every listener over HTTP, speaking the SHOUTcast/ICY and Icecast dialects that
real players understand.

The names re-exported here are the public API for embedding a radio in
another Twisted program; see C{docs/embedding.md}.  Importing them does not
install a reactor.
"""

from txradio._version import __version__
from txradio.icy import StreamInfo
from txradio.interfaces import IBroadcaster, IFrameSource, IListener, IStation
from txradio.programme import TitleChange
from txradio.push import PushClient
from txradio.service import RadioService
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelaySource
from txradio.sources.tracks import FolderTracks, ListTracks, M3UTracks, demoTracks
from txradio.station import Station

__all__ = [
    "__version__",
    "FolderTracks",
    "IBroadcaster",
    "IFrameSource",
    "IListener",
    "IStation",
    "ListTracks",
    "LiveSource",
    "M3UTracks",
    "PlaylistSource",
    "PushClient",
    "RadioService",
    "RelaySource",
    "Station",
    "StreamInfo",
    "TitleChange",
    "demoTracks",
]
