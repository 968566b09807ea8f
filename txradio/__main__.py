"""
C{python -m txradio} (and the C{txradio} command): run a station in the
foreground, exactly as C{twistd -n txradio} does, with the same options.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """
    Run C{twistd -n --pidfile= txradio ARGS}.

    @param argv: the options for the station; C{sys.argv[1:]} by default.
    """
    from twisted.scripts.twistd import run

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "txradio", *args]
    run()


if __name__ == "__main__":
    main()
