"""
The web side of a radio: the station page, live updates, playlists, status
JSON and API, the on-demand library and the admin API, served by a
L{twisted.web.server.Site} beside the streams (see L{txradio.web.site}).
"""
