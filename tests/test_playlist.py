"""
Tests for L{txradio.sources.playlist}, L{txradio.sources.tracks} and
L{txradio.sources.tags}, on real MP3 files.
"""

from __future__ import annotations

import os
import random
import shutil

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IProgramme
from txradio.sources.playlist import RETRY_DELAY, PlaylistSource
from txradio.sources.tags import readTitle, titleFromName
from txradio.sources.tracks import FolderTracks, ListTracks, NoTracks, demoTracks, scanFolder
from txradio.wire.mp3 import Frame, Framer
from txradio.wire.programme import TitleChange

DEMO = demoTracks().paths


def pullAll(source: PlaylistSource, seconds: float) -> list:
    """
    Pull about C{seconds} of audio in half-second steps.
    """
    items: list = []
    got = 0.0
    while got < seconds:
        batch = source.pull(0.5)
        if not batch:
            break
        items.extend(batch)
        got += sum(item.duration for item in batch if isinstance(item, Frame))
    return items


def audioOf(path: str) -> bytes:
    """
    The audio frames of a file, as the parser finds them.
    """
    framer = Framer()
    with open(path, "rb") as f:
        frames = framer.feed(f.read()) + framer.flush()
    return b"".join(frame.data for frame in frames)


class DemoTests(SynchronousTestCase):
    """
    The built-in demo playlist ships with the package.
    """

    def test_demoFiles(self) -> None:
        """
        There are several demo tracks, each with a title tag.
        """
        self.assertGreaterEqual(len(DEMO), 3)
        for path in DEMO:
            self.assertIn("txradio - ", readTitle(path))


class TrackListTests(SynchronousTestCase):
    """
    Folders are listed recursively and in natural order.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(os.path.join(self.folder, "b", ".hidden"))
        for name in ["10 ten.mp3", "2 two.MP3", "b/1 one.mp3", "notes.txt", ".secret.mp3", "b/.hidden/x.mp3"]:
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(b"")

    def test_naturalOrder(self) -> None:
        """
        Numbers sort by value, subfolders are searched, other files and
        hidden ones are left out.
        """
        names = [os.path.relpath(p, self.folder) for p in scanFolder(self.folder)]
        self.assertEqual(names, ["2 two.MP3", "10 ten.mp3", "b/1 one.mp3"])

    def test_shuffle(self) -> None:
        """
        Shuffled passes hold the same files in another order each time.
        """
        tracks = FolderTracks(self.folder, shuffle=True, rng=random.Random(4))
        passes = [tracks.nextPass() for _ in range(6)]
        for each in passes:
            self.assertEqual(sorted(each), sorted(scanFolder(self.folder)))
        self.assertGreater(len({tuple(p) for p in passes}), 1)

    def test_missingFolder(self) -> None:
        """
        A missing folder is a clear error.
        """
        error = self.assertRaises(NoTracks, FolderTracks(self.folder + "-nope").check)
        self.assertIn("does not exist", str(error))

    def test_emptyFolder(self) -> None:
        """
        A folder without MP3 files is a clear error.
        """
        empty = self.mktemp()
        os.makedirs(empty)
        error = self.assertRaises(NoTracks, FolderTracks(empty).check)
        self.assertIn("holds no MP3 files nor other audio files", str(error))

    def test_largeLibraryListsQuickly(self) -> None:
        """
        Listing reads names only: ten thousand files list without reading
        any of them (the files here are empty and unreadable as audio).
        """
        big = self.mktemp()
        for folder in range(100):
            os.makedirs(os.path.join(big, f"album {folder}"))
            for track in range(100):
                open(os.path.join(big, f"album {folder}", f"{track}.mp3"), "wb").close()
        self.assertEqual(FolderTracks(big).check(), 10000)


class TitleTests(SynchronousTestCase):
    """
    Titles come from tags, or from the file name.
    """

    def test_fromTags(self) -> None:
        """
        Artist and title tags make C{Artist - Title}.
        """
        self.assertEqual(readTitle(DEMO[0]), "txradio - Morning Arpeggio")

    def test_fromName(self) -> None:
        """
        A file without tags is named after its file.
        """
        path = os.path.join(self.mktemp() + "_dir", "03_My_Song.mp3")
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(audioOf(DEMO[0])[:4000])
        self.assertEqual(readTitle(path), "03 My Song")
        self.assertEqual(titleFromName("/x/a_b.mp3"), "a b")


class PlaylistSourceTests(SynchronousTestCase):
    """
    L{PlaylistSource} plays files whole and in order, skipping what it
    cannot play.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)
        self.observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def copy(self, source: str, name: str) -> str:
        target = os.path.join(self.folder, name)
        shutil.copyfile(source, target)
        return target

    def write(self, name: str, data: bytes) -> str:
        target = os.path.join(self.folder, name)
        with open(target, "wb") as f:
            f.write(data)
        return target

    def warnings(self) -> list[str]:
        return [e.get("reason", "") for e in self.observer if "reason" in e]

    def test_interface(self) -> None:
        """
        L{PlaylistSource} provides L{IProgramme}: an L{IFrameSource} that can
        skip and reload.
        """
        self.assertTrue(verifyObject(IProgramme, PlaylistSource(ListTracks(DEMO), clock=Clock())))

    def test_wholeTracksInOrder(self) -> None:
        """
        The source returns each file's audio frames exactly, in order, with
        a title mark before each, and loops.
        """
        source = PlaylistSource(ListTracks(DEMO[:2]), clock=Clock())
        items = pullAll(source, 200)
        titles = [item.title for item in items if isinstance(item, TitleChange)]
        self.assertEqual(titles[:4], [readTitle(DEMO[0]), readTitle(DEMO[1])] * 2)
        first = b""
        for item in items[1:]:
            if isinstance(item, TitleChange):
                break
            first += item.data
        self.assertEqual(first, audioOf(DEMO[0]))

    def test_noInfoFrameMidStream(self) -> None:
        """
        The LAME/Info frame at the start of each file never reaches the
        stream.
        """
        source = PlaylistSource(ListTracks(DEMO), clock=Clock())
        for item in pullAll(source, 120):
            if isinstance(item, Frame):
                self.assertNotIn(b"Info", item.data[:64])
                self.assertNotIn(b"Xing", item.data[:64])

    def test_skipsBadFiles(self) -> None:
        """
        Empty, non-MP3, vanished and unreadable files are skipped with one
        log line each, and the good file plays.
        """
        self.write("1 empty.mp3", b"")
        self.write("2 text.mp3", b"this is not audio\n" * 30000)
        self.copy(DEMO[0], "3 good.mp3")
        self.write("4 tail.mp3", audioOf(DEMO[1])[:100])
        vanishing = self.copy(DEMO[1], "5 vanishing.mp3")
        source = PlaylistSource(FolderTracks(self.folder), clock=Clock())
        first = source.pull(1)
        os.remove(vanishing)
        items = pullAll(source, 100)
        titles = [item.title for item in first + items if isinstance(item, TitleChange)]
        self.assertEqual(set(titles), {readTitle(DEMO[0])})
        self.assertEqual(
            sorted(self.warnings()),
            ["No such file or directory", "no MPEG audio found", "no MPEG audio found", "the file is empty"],
        )
        self.assertGreater(source.skipped, 4)

    def test_freeFormatSkipped(self) -> None:
        """
        A free-format file is skipped with a message that says so.
        """
        header = b"\xff\xfb\x00\x64"
        self.write("free.mp3", (header + bytes(413)) * 50)
        self.copy(DEMO[0], "good.mp3")
        source = PlaylistSource(FolderTracks(self.folder), clock=Clock())
        pullAll(source, 5)
        self.assertIn("free-format MP3 is not supported", self.warnings())

    def test_nothingPlayableWaits(self) -> None:
        """
        When no file plays, the source returns nothing and waits before
        trying again, instead of spinning; it plays once a file appears.
        """
        self.write("broken.mp3", b"\x00" * 1000)
        clock = Clock()
        source = PlaylistSource(FolderTracks(self.folder), clock=clock)
        self.assertEqual(source.pull(1), [])
        self.assertEqual(source.pull(1), [])
        self.assertEqual(source.skipped, 1)
        self.copy(DEMO[0], "good.mp3")
        clock.advance(RETRY_DELAY)
        self.assertTrue(source.pull(1))

    def test_folderVanishesAndReturns(self) -> None:
        """
        A music folder that vanishes is reported once, and play resumes
        when it returns.
        """
        self.copy(DEMO[0], "a.mp3")
        clock = Clock()
        source = PlaylistSource(FolderTracks(self.folder), clock=clock)
        pullAll(source, 3)
        moved = self.folder + "-moved"
        os.rename(self.folder, moved)
        pullAll(source, 60)
        for _ in range(5):
            clock.advance(RETRY_DELAY)
            self.assertEqual(source.pull(1), [])
        reasons = [r for r in self.warnings() if "does not exist" in r]
        self.assertEqual(len(reasons), 1)
        os.rename(moved, self.folder)
        clock.advance(RETRY_DELAY)
        self.assertTrue(source.pull(1))

    def test_truncatedWhilePlaying(self) -> None:
        """
        A file cut short while it plays ends early and the next one plays.
        """
        path = self.copy(DEMO[0], "1.mp3")
        self.copy(DEMO[1], "2.mp3")
        source = PlaylistSource(FolderTracks(self.folder), clock=Clock())
        source.pull(0.5)
        with open(path, "r+b") as f:
            f.truncate(70000)
        items = pullAll(source, 30)
        titles = [item.title for item in items if isinstance(item, TitleChange)]
        self.assertEqual(titles[0], readTitle(DEMO[1]))

    def test_close(self) -> None:
        """
        A closed source returns nothing; closing twice is harmless.
        """
        source = PlaylistSource(ListTracks(DEMO), clock=Clock())
        source.pull(1)
        source.close()
        source.close()
        self.assertEqual(source.pull(1), [])


class M3UTests(SynchronousTestCase):
    """
    M3U playlists name the files to play.
    """

    def test_parse(self) -> None:
        """
        Comments and URLs are skipped; relative paths are resolved against
        the playlist's folder.
        """
        text = "\ufeff#EXTM3U\n#EXTINF:10,Song\nsong.mp3\n\nhttp://x/stream\n/abs/a.mp3\r\nsub/b.mp3\nfile:/c.mp3\n"
        from txradio.sources.tracks import parseM3U

        self.assertEqual(parseM3U(text, "/music"), ["/music/song.mp3", "/abs/a.mp3", "/music/sub/b.mp3", "/c.mp3"])

    def test_plays(self) -> None:
        """
        A playlist source plays the files an M3U names, in its order.
        """
        from txradio.sources.tracks import M3UTracks, tracksFor

        folder = self.mktemp()
        os.makedirs(folder)
        playlist = os.path.join(folder, "list.m3u")
        with open(playlist, "w") as f:
            f.write(f"#EXTM3U\n{DEMO[2]}\n{DEMO[0]}\n")
        tracks = tracksFor(playlist)
        self.assertIsInstance(tracks, M3UTracks)
        source = PlaylistSource(tracks, clock=Clock())
        titles = [item.title for item in pullAll(source, 45) if isinstance(item, TitleChange)]
        self.assertEqual(titles[:2], [readTitle(DEMO[2]), readTitle(DEMO[0])])

    def test_empty(self) -> None:
        """
        A playlist that names nothing is a clear error.
        """
        from txradio.sources.tracks import M3UTracks

        path = self.mktemp()
        with open(path, "w") as f:
            f.write("#EXTM3U\n")
        self.assertIn("names no files", str(self.assertRaises(NoTracks, M3UTracks(path).check)))
