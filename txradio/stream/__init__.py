"""
The stream: the broadcaster that paces a source and shares one chunk a tick,
the listeners and their direct writer, the station (a mount), the switcher
and mount follower, station events and the HLS segmenter; it may import
L{txradio.wire} and L{txradio.interfaces}, and no other txradio layer.
"""
