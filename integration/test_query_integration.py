"""
Integration test with real peers: a programme block that queries the
library index.  A radio on 127.0.0.1 reads a configuration file whose only
block (on all week) plays the library's jazz of the 1990s; the library's
tracks are made by ffmpeg and tagged with genres and years; a raw listener
reads the ICY titles and hears only the matching tracks (after the default
block's, while the index is first built), mpg123 decodes what it heard,
and the status shows the schedule and the expected times.
"""

from __future__ import annotations

import json
import os
import time

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import (
    LOCAL_ENDPOINT,
    connectRaw,
    fetch,
    makeTracks,
    parseResponse,
    requireProgram,
    run,
    titlesInOrder,
)
from integration.test_loudness_integration import PLAYER_TROUBLE
from integration.test_transcode_integration import splitICY
from txradio.tap import Options, makeService

LIBRARY = [
    # (artist, title, frequency, seconds), then (genre, date)
    (("Ada", "Blue Ninety-Five", 440, 3.0), ("Jazz", "1995-04-01")),
    (("Bo", "Rock Ninety-Five", 550, 3.0), ("Rock", "1995")),
    (("Cy", "Acid Ninety-Seven", 660, 3.0), ("Acid Jazz", "1997")),
    (("Di", "Jazz Eighty-Five", 770, 3.0), ("Jazz", "1985")),
    (("Ed", "Jazzanova Ninety-Nine", 880, 3.0), ("Jazzanova", "1999")),
]
DEFAULT = [("House", "Default Tune", 330, 3.0)]
METAINT = 256


class QueryBlockIntegrationTests(TestCase):
    """
    A block querying the library index on a real radio.
    """

    timeout = 120

    @inlineCallbacks
    def test_onlyMatchingTracks(self):
        """
        Once the index is built, only the library's jazz of 1990-1999 plays
        (whole words: not "Jazzanova"; the year range: not 1985; not rock);
        the status names the block's query and when the next tracks start.
        """
        from mutagen.easyid3 import EasyID3

        library = os.path.abspath(self.mktemp())
        titles = yield makeTracks(self, library, [track for track, _ in LIBRARY])
        for number, (_, (genre, date)) in enumerate(LIBRARY, 1):
            tags = EasyID3(os.path.join(library, f"{number:02d}.mp3"))
            tags["genre"] = genre
            tags["date"] = date
            tags.save()
        default = os.path.abspath(self.mktemp())
        [defaultTitle] = yield makeTracks(self, default, DEFAULT)
        wanted = {titles[0], titles[2]}
        config = os.path.abspath(self.mktemp()) + ".toml"
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = ["{LOCAL_ENDPOINT}"]\nlibrary = "{library}"\n\n'
                f'[[mount]]\npath = "/stream"\nplaylist = "{default}"\nmetaint = {METAINT}\nburst_size = 0\n\n'
                '[[mount.block]]\nname = "Nineties jazz"\nwhen = "daily 00:00-24:00"\n'
                'query = { genre = "jazz", year = "1990-1999" }\n'
            )
        options = Options()
        options.parseOptions(["--config", config])
        service = makeService(options)
        started = time.monotonic()
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.whenListening())[0].getHost().port
        listener = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")

        def heard() -> list[str]:
            body = bytes(listener.data).partition(b"\r\n\r\n")[2]
            return titlesInOrder([title for _, title in splitICY(body, METAINT)[1] if title])

        def fromBlock() -> list[str]:
            return [title for title in heard() if title != defaultTitle]

        yield listener.waitFor(lambda: len(fromBlock()) >= 3, 60, "three tracks of the query block")
        firstFromBlock = time.monotonic() - started
        order = heard()
        # Only the default block's track may come before the index is built.
        leading = order[: order.index(fromBlock()[0])]
        self.assertEqual(set(leading) - {defaultTitle}, set(), order)
        self.assertEqual(set(fromBlock()) - wanted, set(), order)
        self.assertEqual(set(fromBlock()), wanted, order)
        reply = yield fetch(self, port, b"GET /api/v1/mounts/stream HTTP/1.0\r\n\r\n")
        status, _, body = parseResponse(reply)
        self.assertIn(b"200", status.split(b" ", 2)[1], body)
        mount = json.loads(body)
        schedule = mount["schedule"]
        self.assertEqual(schedule["current"]["name"], "Nineties jazz")
        self.assertEqual(schedule["current"]["plays"], "query: genre jazz, year 1990-1999")
        self.assertEqual(schedule["playing"], "Nineties jazz")
        self.assertTrue(mount["next"], mount)
        self.assertTrue(all(entry["expected"] is not None for entry in mount["next"]), mount["next"])
        self.assertTrue(set(mount["upcoming"]) <= wanted, mount["upcoming"])
        audio = splitICY(bytes(listener.data).partition(b"\r\n\r\n")[2], METAINT)[0]
        recorded = os.path.abspath(self.mktemp()) + ".mp3"
        with open(recorded, "wb") as f:
            f.write(audio)
        requireProgram("mpg123")
        player = yield run(self, ["mpg123", "-v", "-w", "/dev/null", recorded], 30)
        self.assertEqual(player.exitCode, 0, player.describe())
        trouble = [word for word in PLAYER_TROUBLE if word in player.output.lower()]
        self.assertEqual(trouble, [], player.describe())
        recordFigure(
            "query block over the library index",
            secondsToThirdBlockTrack=round(firstFromBlock, 2),
            titlesHeard=order,
        )
