"""
The C{txradio} command (and C{python -m txradio}).

 - C{txradio --version}: print txradio's version.
 - C{txradio check-config FILE}: validate a configuration file without
   starting anything; prints the mounts and exits 0, or prints the error
   and exits 1.
 - C{txradio hash-password}: read a password (prompting without echo on a
   terminal, else the first line of standard input) and print its hash,
   for C{admin_password = { hash = "…" }} or a mount's C{source_password}.
 - C{txradio sign-url MOUNT [--expires-in SECONDS]}: print a signed,
   expiring listen URL (see docs/security.md).
 - C{txradio htpasswd USER}: print an htpasswd line for a listener.
 - C{txradio [OPTIONS]}: run a station in the foreground, exactly as
   C{twistd -n txradio OPTIONS} does.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time


def checkConfig(path: str) -> int:
    """
    Validate a configuration file.

    @param path: the TOML file.
    @return: the exit status: 0 when it is valid, 1 when it is not.
    """
    from txradio.config import ConfigError, loadConfig

    try:
        config = loadConfig(path)
    except ConfigError as error:
        print(f"txradio: {error}", file=sys.stderr)
        return 1
    print(f"{path}: valid; listening on {', '.join(config.server.listen)}")
    for mount in config.mounts:
        source = mount.playlist or mount.relay or "live sources only"
        extras = []
        if mount.live and mount.kind != "live":
            extras.append("takes live sources")
        if mount.fallback:
            extras.append(f"falls back to {mount.fallback}")
        if mount.push is not None:
            extras.append(f"pushed to {mount.push.url}")
        detail = f" ({'; '.join(extras)})" if extras else ""
        print(f"  {mount.path}: {mount.kind}: {source}{detail}")
    return 0


def hashPassword(stdin=None, prompt=None) -> int:
    """
    Print the hash of a password read from the terminal or standard input.

    @param stdin: where to read a piped password; C{sys.stdin} by default.
    @param prompt: reads a password from the terminal without echo;
        C{getpass.getpass} by default.
    @return: the exit status: 0, or 1 for an empty password or one given
        twice differently at the prompt.
    """
    from getpass import getpass

    from txradio.wire.passwordhash import hashPassword as makeHash

    stdin = sys.stdin if stdin is None else stdin
    prompt = getpass if prompt is None else prompt
    if stdin.isatty():
        password = prompt("Password: ")
        if password != prompt("Again: "):
            print("txradio: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("txradio: the password is empty", file=sys.stderr)
        return 1
    print(makeHash(password).text())
    return 0
    print(makeHash(password).text())
def signURLCommand(argv: list[str]) -> int:
    """
    Print a signed, expiring listen URL.

    @param argv: the arguments after C{sign-url}.
    @return: the exit status.
    """
    parser = argparse.ArgumentParser(prog="txradio sign-url", description="Print a signed, expiring listen URL.")
    parser.add_argument("mount", help="the mount, e.g. /private")
    parser.add_argument("--expires-in", type=int, default=3600, help="seconds the link works (default 3600)")
    parser.add_argument("--config", help="read the mount's token_secret from this configuration file")
    parser.add_argument("--secret", help="the token_secret (else --config, or $TXRADIO_TOKEN_SECRET)")
    parser.add_argument("--base", default="http://localhost:8000", help="the server's base URL")
    parser.add_argument("--address", help="the client address the link is for (mounts with token_bind_address)")
    args = parser.parse_args(argv)
    from txradio.stream.station import normalizeMount
    from txradio.wire.access import signURL

    try:
        mount = normalizeMount(args.mount).decode("ascii")
    except ValueError as error:
        parser.error(str(error))
    secret = args.secret
    if secret is None and args.config is not None:
        from txradio.config import ConfigError, loadConfig

        try:
            config = loadConfig(args.config)
            settings = config.mount(mount)
        except ConfigError as error:
            print(f"txradio: {error}", file=sys.stderr)
            return 1
        except KeyError:
            print(f"txradio: {args.config} has no mount {mount}", file=sys.stderr)
            return 1
        secret = settings.tokenSecret
        if secret is None:
            print(f"txradio: mount {mount} has no token_secret", file=sys.stderr)
            return 1
        if settings.tokenBindAddress and args.address is None:
            parser.error(f"mount {mount} has token_bind_address: give --address")
    if secret is None:
        import os

        secret = os.environ.get("TXRADIO_TOKEN_SECRET")
    if not secret:
        parser.error("give --config, --secret or $TXRADIO_TOKEN_SECRET")
    if args.expires_in <= 0:
        parser.error("--expires-in must be positive")
    print(signURL(args.base, mount, secret, int(time.time()) + args.expires_in, args.address))
    return 0


def htpasswdCommand(argv: list[str]) -> int:
    """
    Print an htpasswd line (C{user:$pbkdf2-sha256$…}); the password is read
    from the terminal, or from standard input when it is not one.

    @param argv: the arguments after C{htpasswd}.
    @return: the exit status.
    """
    parser = argparse.ArgumentParser(prog="txradio htpasswd", description="Print an htpasswd line for a listener.")
    parser.add_argument("user")
    args = parser.parse_args(argv)
    if ":" in args.user or not args.user.strip():
        parser.error("a user name cannot be empty or hold ':'")
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not password:
        parser.error("the password is empty")
    from txradio.net.access import hashForFile

    print(f"{args.user}:{hashForFile(password)}")
    return 0


def main(argv: list[str] | None = None) -> None:
    """
    Run the command.

    @param argv: the arguments; C{sys.argv[1:]} by default.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        # Before twistd, whose own --version prints Twisted's.
        from txradio._version import __version__

        print(f"txradio {__version__}")
        raise SystemExit(0)
    if args[:1] == ["check-config"]:
        if len(args) != 2:
            print("usage: txradio check-config FILE", file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(checkConfig(args[1]))
    if args[:1] == ["hash-password"]:
        if len(args) != 1:
            print("usage: txradio hash-password < password-file", file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(hashPassword())
    if args[:1] in (["sign-url"], ["htpasswd"]):
        command = signURLCommand if args[0] == "sign-url" else htpasswdCommand
        raise SystemExit(command(args[1:]))
    from twisted.scripts.twistd import run

    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "txradio", *args]
    run()


if __name__ == "__main__":
    main()
