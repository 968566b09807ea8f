"""
Contract tests run against every implementation of an interface.

L{FrameSourceContractMixin} states what L{IFrameSource} promises; each
source's test module mixes it into a L{SynchronousTestCase} that says how to
make that source and how to give it audio.
"""

from __future__ import annotations

from zope.interface.verify import verifyObject

from txradio.interfaces import IFrameSource
from txradio.wire.mp3 import Frame, parseHeader
from txradio.wire.programme import TitleChange


class FrameSourceContractMixin:
    """
    The L{IFrameSource} contract: frames are whole, well-formed MP3 frames;
    title marks come only between frames; C{pull} returns a list (empty
    rather than raising when there is no audio) holding about as much audio
    as asked; C{close} is idempotent and the source returns nothing
    afterwards; C{onAir} is a L{bool}.

    Mixed into a L{SynchronousTestCase} that defines L{makeSource} and, for
    a source that must be given audio, L{feed}.
    """

    def makeSource(self) -> IFrameSource:
        """
        @return: a new source of the kind under test, ready to be pulled.
        """
        raise NotImplementedError

    def feed(self, source: IFrameSource) -> None:
        """
        Let audio reach the source (a client sends some, a clock advances);
        nothing by default.

        @param source: a source from L{makeSource}.
        """

    def pullSome(self, source: IFrameSource, times: int = 6, duration: float = 0.5) -> list:
        """
        Feed and pull a source several times.

        @return: everything pulled, in order.
        """
        items: list = []
        for _ in range(times):
            self.feed(source)
            pulled = source.pull(duration)
            self.assertIsInstance(pulled, list)
            items.extend(pulled)
        return items

    def test_provides(self) -> None:
        """
        The source provides L{IFrameSource}.
        """
        self.assertTrue(verifyObject(IFrameSource, self.makeSource()))

    def test_wholeFrames(self) -> None:
        """
        Every item pulled is a whole, well-formed frame (its header parses
        from its own bytes and its length is the header's) or a title mark,
        and the source does supply frames.
        """
        items = self.pullSome(self.makeSource())
        frames = [item for item in items if type(item) is Frame]
        self.assertTrue(frames, "the source supplied no audio")
        for item in items:
            self.assertIn(type(item), (Frame, TitleChange))
        for frame in frames:
            self.assertEqual(parseHeader(frame.data), frame.header)
            self.assertEqual(len(frame.data), frame.header.length)

    def test_titlesBetweenFrames(self) -> None:
        """
        Title marks are items of their own (so they fall between frames),
        carry a L{str}, and the source's C{title} is a L{str} or L{None},
        the last mark's once one was pulled.
        """
        source = self.makeSource()
        items = self.pullSome(source)
        marks = [item for item in items if type(item) is TitleChange]
        for mark in marks:
            self.assertIsInstance(mark.title, str)
        self.assertIsInstance(source.title, (str, type(None)))
        if marks:
            self.assertEqual(source.title, marks[-1].title)

    def test_aboutAsMuchAsAsked(self) -> None:
        """
        One pull returns at most the duration asked for and one frame more.
        """
        source = self.makeSource()
        for _ in range(4):
            self.feed(source)
            frames = [item for item in source.pull(0.3) if type(item) is Frame]
            if frames:
                total = sum(frame.header.duration for frame in frames)
                self.assertLessEqual(total - frames[-1].header.duration, 0.3 + 1e-9)

    def test_onAirIsBool(self) -> None:
        """
        C{onAir} is a L{bool}, before and after pulling and after closing.
        """
        source = self.makeSource()
        self.assertIsInstance(source.onAir, bool)
        self.pullSome(source, times=2)
        self.assertIsInstance(source.onAir, bool)
        source.close()
        self.assertIsInstance(source.onAir, bool)

    def test_emptyPullReturnsList(self) -> None:
        """
        A pull for a tiny duration, or one after the source was drained,
        returns a list rather than raising.
        """
        source = self.makeSource()
        self.assertIsInstance(source.pull(0.001), list)
        for _ in range(3):
            self.assertIsInstance(source.pull(30.0), list)

    def test_closeIdempotent(self) -> None:
        """
        Closing twice is harmless, and a closed source returns no frames,
        however long it is pulled and whatever reaches it.
        """
        source = self.makeSource()
        self.pullSome(source, times=2)
        source.close()
        source.close()
        for _ in range(3):
            self.feed(source)
            self.assertEqual(source.pull(1.0), [])
