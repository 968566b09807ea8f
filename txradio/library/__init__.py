"""
The on-demand library's model: safe paths inside the music folder, folder
listings, tags, the index and its search (no web code); it may import
L{txradio.wire}, L{txradio.interfaces} and L{txradio.sources}' tags and
track names.
"""
