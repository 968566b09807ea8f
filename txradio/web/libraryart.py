# -*- test-case-name: tests.test_art -*-
"""
Album art on the library's folder pages: the cover of a folder's songs,
read from their tags by the site's L{ArtCache<txradio.library.art.ArtCache>}
and served under C{/art/} like the station page's.

A folder page shows one picture, that of the first of its first few songs
that has one (an album's files usually share their cover), so a page costs
a few tag reads at most, once: the cache keeps each file's answer by path
and modification time, and the page itself is kept while its listing is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from twisted.web.template import Tag, tags

from txradio.library.art import ArtCache
from txradio.library.entries import Entry
from txradio.web.art import ART_PREFIX

FOLDER_ART_TRIES = 3
"""Songs of a folder page whose tags are read for a cover, at most."""


def folderArt(root: bytes, songs: Sequence[Entry], cache: ArtCache | None, name: str) -> Tag | str:
    """
    The cover of a folder page.

    @param root: the library's folder.
    @param songs: the page's songs, in order.
    @param cache: the pictures, or L{None} when art is not served.
    @param name: the folder's name, for the picture's text.
    @return: a C{<figure>} with the picture, or C{""} when none of the
        first L{FOLDER_ART_TRIES} songs has one.
    """
    if cache is None:
        return ""
    for song in songs[:FOLDER_ART_TRIES]:
        found = cache.nameFor(os.fsdecode(os.path.join(root, song.relative)))
        if found is not None:
            return tags.figure(
                tags.img(src=ART_PREFIX + found, alt=f"Cover of {name}", width="200", height="200"),
                class_="cover",
            )
    return ""
