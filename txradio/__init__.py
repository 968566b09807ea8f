"""
txradio: an internet radio server built on Twisted.

A station reads MP3 frames from a source (a folder of music, a live source
client, a relayed upstream), paces them in real time, and fans them out to
every listener over HTTP, speaking the SHOUTcast/ICY and Icecast dialects that
real players understand.

The names re-exported here are the public API for embedding a station in
another Twisted program; see C{docs/embedding.md}.
"""

from txradio._version import __version__

__all__ = ["__version__"]
