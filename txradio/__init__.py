"""
txradio: an internet radio server built on Twisted.

A station reads MP3 frames from a source (a folder of music, a live source
client, a relayed upstream), paces them in real time, and fans them out to
every listener over HTTP, speaking the SHOUTcast/ICY and Icecast dialects that
real players understand.

The package is in layers, each a subpackage that imports only the layers
below it (checked by import-linter, see C{pyproject.toml}):

 - L{txradio.wire}: pure wire formats (the standard library only);
 - L{txradio.interfaces}: the contracts between the parts;
 - L{txradio.stream} and L{txradio.sources}: the broadcaster, listeners
   and stations; the frame sources;
 - L{txradio.net}, L{txradio.library} and L{txradio.operations}: network
   protocols; the on-demand library's model; logs, metrics and hooks;
 - L{txradio.web}: twisted.web resources;
 - at the top, the composition root: L{txradio.config},
   L{txradio.build}, L{txradio.dynamic}, L{txradio.reload},
   L{txradio.service} and L{txradio.tap}, which nothing below imports.

The names in C{__all__} are the public API for embedding a radio in another
Twisted program (see C{docs/embedding.md}).  They are loaded on first use
(PEP 562), so importing C{txradio} or any of its pure modules loads neither
twisted.web nor a reactor.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from txradio._version import __version__

_EXPORTS = {
    "FolderTracks": "txradio.sources.tracks",
    "IBroadcaster": "txradio.interfaces",
    "IFrameSource": "txradio.interfaces",
    "IListener": "txradio.interfaces",
    "IStation": "txradio.interfaces",
    "ListTracks": "txradio.sources.tracks",
    "LiveSource": "txradio.sources.live",
    "M3UTracks": "txradio.sources.tracks",
    "PlaylistSource": "txradio.sources.playlist",
    "PushClient": "txradio.net.push",
    "RadioService": "txradio.service",
    "RelaySource": "txradio.sources.relay",
    "Station": "txradio.stream.station",
    "StreamInfo": "txradio.wire.icy",
    "TitleChange": "txradio.wire.programme",
    "demoTracks": "txradio.sources.tracks",
}
"""Each public name and the module that defines it."""

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """
    Load a public name from its module on first use (PEP 562).

    @param name: the attribute asked for.
    @return: its value, which is then cached in the package's namespace.
    @raise AttributeError: for a name that is not public.
    """
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'txradio' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """
    @return: the package's names, the lazily loaded public ones included.
    """
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from txradio.interfaces import IBroadcaster, IFrameSource, IListener, IStation
    from txradio.net.push import PushClient
    from txradio.service import RadioService
    from txradio.sources.live import LiveSource
    from txradio.sources.playlist import PlaylistSource
    from txradio.sources.relay import RelaySource
    from txradio.sources.tracks import FolderTracks, ListTracks, M3UTracks, demoTracks
    from txradio.stream.station import Station
    from txradio.wire.icy import StreamInfo
    from txradio.wire.programme import TitleChange
