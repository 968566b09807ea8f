"""
The interfaces that connect txradio's parts.

Data flows one way: an L{IFrameSource} yields MP3 frames and title marks, an
L{IBroadcaster} paces them in real time and turns them into shared
L{txradio.stream.broadcast.Chunk}s, and every L{IListener} writes those chunks to its
own connection.  Sources never know about listeners; listeners never parse
MP3.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IFrameSource(Interface):
    """
    A supply of MP3 frames for one broadcaster.

    A source is pulled: the broadcaster asks for as much audio as is due on
    each tick.  Implementations: a playlist of files, a live source client, a
    relayed upstream.
    """

    title = Attribute(
        "The title of the audio most recently returned by L{pull}, as a "
        "L{str}, or L{None} before any."
    )

    onAir = Attribute(
        "Whether the source can supply audio now (L{bool}): a playlist "
        "unless it has nothing playable, a live source while its client is "
        "connected, a relay while its upstream streams.  A mount plays its "
        "fallback while its own source is off the air."
    )

    def pull(duration: float) -> list:
        """
        Return the audio that is ready now, up to about C{duration} seconds.

        The result is a list of L{txradio.wire.mp3.Frame} objects, each a whole
        frame, interleaved with L{txradio.wire.programme.TitleChange} marks that
        apply to the frames after them.  It may hold up to one frame more
        than C{duration} asks for, and fewer frames (or none) when a live
        source has no more audio yet.

        This is called from the reactor thread on every tick: it must not
        block on the network.  Reading a local file is allowed.

        @param duration: seconds of audio wanted, greater than zero.
        @return: frames and marks, in stream order.
        """

    def close() -> None:
        """
        Release files and connections; the source returns nothing afterwards.

        Calling it twice is harmless.
        """


class IListener(Interface):
    """
    One connection receiving a broadcaster's stream.
    """

    peer = Attribute("The listener's address, as a printable L{str}.")
    bytesSent = Attribute("Bytes written to this listener so far (L{int}).")

    def deliver(chunk) -> None:
        """
        Send the next piece of the stream.

        Called by the broadcaster on every tick with the same
        L{txradio.stream.broadcast.Chunk} object for every listener.  It must not
        block and must not modify the chunk.  A listener that cannot keep up
        holds on to chunks up to its lag limit and then disconnects itself.

        @param chunk: the audio that follows the previous chunk.
        """

    def disconnect(reason: str) -> None:
        """
        End this listener's stream at once.

        @param reason: why, for the log (e.g. C{"kicked"}, C{"lag limit"}).
        """


class IBroadcaster(Interface):
    """
    Paces one source's frames in real time and fans them out to listeners.
    """

    title = Attribute("The title now playing (L{str}), or L{None}.")
    listeners = Attribute("The connected L{IListener}s (a read-only view).")

    def addListener(listener) -> list:
        """
        Start sending the stream to C{listener}.

        @param listener: an L{IListener} that is not yet attached.
        @return: the burst: a list of L{txradio.stream.broadcast.Chunk}s holding the
            most recent audio, starting at a frame boundary, for the listener
            to send at once; the next L{IListener.deliver} continues exactly
            where the burst ends.
        """

    def removeListener(listener) -> None:
        """
        Stop sending to C{listener}; harmless if it is not attached.

        @param listener: an L{IListener} given to L{addListener}.
        """

    def announce(title: str) -> None:
        """
        Change the title from the next frame sent on.

        @param title: the new title.
        """

    def setSource(source) -> None:
        """
        Switch to another source at the next frame boundary.

        Listeners stay connected; the old source is not closed.

        @param source: the L{IFrameSource} to play from now on.
        """


class IStation(Interface):
    """
    One mount point: a path that listeners tune into, with its stream info,
    its broadcaster and its limits.
    """

    mount = Attribute("The mount path as L{bytes}, e.g. C{b'/stream'}.")
    info = Attribute("The L{txradio.wire.icy.StreamInfo} the station announces.")
    broadcaster = Attribute("The station's L{IBroadcaster}.")
    metaint = Attribute("Audio bytes between metadata blocks (L{int}).")

    def admit() -> bool:
        """
        Tell whether one more listener may join.

        @return: L{False} when the station is at its listener limit.
        """


class IReloader(Interface):
    """
    Reads a radio's configuration file again and applies it while the radio
    runs (C{SIGHUP}, C{POST /admin/reload-config}).
    """

    path = Attribute("The configuration file's path (L{str}).")

    def reload():  # type: ignore[no-untyped-def]
        """
        Read the file and apply what changed.

        A file with an error is rejected whole: nothing changes, the error is
        logged, and it is raised.

        @return: the plan that was applied: C{added}, C{removed}, C{rebuilt},
            C{unchanged} and C{restartNeeded} (tuples of mount paths or
            setting names), C{updated} (pairs of a mount path and the
            settings that changed) and a C{describe()} method saying it in
            one line.
        @raise ValueError: when the file has an error or cannot be applied;
            C{str(error)} is one line for an operator (the file, the key,
            what is wrong).
        """
