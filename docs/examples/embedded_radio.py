"""
A radio inside another Twisted program: two stations on one port, built from
Python without twistd.

Run it with C{python docs/examples/embedded_radio.py [MUSIC_DIR]} and listen
to C{http://127.0.0.1:8000/stream} or C{/demo}.
"""

from __future__ import annotations

import sys

from twisted.internet.defer import Deferred
from twisted.internet.task import react
from twisted.logger import globalLogBeginner, textFileLogObserver

from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import FolderTracks, demoTracks
from txradio.stream.station import Station
from txradio.wire.icy import StreamInfo


def buildRadio(reactor, musicDir: str | None, listen: str = "tcp:8000:interface=127.0.0.1") -> RadioService:
    """
    Compose a radio of two stations: the music folder (or the demo) on
    C{/stream}, and the demo shuffled on C{/demo}.

    @param reactor: the reactor to run on.
    @param musicDir: a folder of MP3 files, or L{None} for the demo.
    @param listen: the endpoint to listen on.
    @return: the service, not yet started.
    """
    tracks = FolderTracks(musicDir) if musicDir else demoTracks()
    main = Station(
        PlaylistSource(tracks, clock=reactor, name="/stream"),
        mount="/stream",
        info=StreamInfo(name="Embedded Radio", genre="Various"),
        clock=reactor,
    )
    shuffled = demoTracks()
    shuffled.shuffle = True
    demo = Station(
        PlaylistSource(shuffled, clock=reactor, name="/demo"),
        mount="/demo",
        info=StreamInfo(name="Demo Shuffle"),
        clock=reactor,
        maxListeners=100,
    )
    return RadioService([main, demo], listen=[listen], reactor=reactor)


def main(reactor, *argv: str) -> Deferred:
    """
    Run the radio until interrupted.

    @param reactor: the reactor.
    @param argv: an optional music folder.
    @return: a L{Deferred} that never fires (stop with Ctrl-C).
    """
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    radio = buildRadio(reactor, argv[0] if argv else None)
    radio.startService()
    reactor.addSystemEventTrigger("before", "shutdown", radio.stopService)
    return Deferred()


if __name__ == "__main__":
    react(main, sys.argv[1:])
