"""
Wire formats: MP3 frames and their gain and reservoir edits, ICY metadata
blocks and titles, request and response heads, Basic credentials, M3U, PLS
and XSPF playlists, HLS playlists and packed-audio tags, audio formats and
programme marks, as pure values and functions that may import the standard
library only (no Twisted, no other txradio layer).
"""
