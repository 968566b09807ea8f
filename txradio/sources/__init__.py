"""
Frame sources: tracks and their tags, the playlist, live source clients'
audio, relays of other servers, transcoding and the ffmpeg child process;
they may import L{txradio.wire} and L{txradio.interfaces}, and no other
txradio layer.
"""
