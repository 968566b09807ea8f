# -*- test-case-name: tests.test_tls -*-
"""
TLS listening ports whose certificate can be read again while they run.

A certificate renewed on disk (by certbot, say) should apply to new
connections without a restart.  Twisted's C{ssl:} endpoint reads its files
once, when the description is parsed; L{reloadableTLSEndpoint} parses the
same description into an endpoint whose context factory reads the files
again on L{ReloadingContextFactory.reload}, each new connection then getting
the new certificate while the connections made before keep theirs.

With C{reusePort=1} in the description the port is bound with
C{SO_REUSEPORT}, so that several txradio processes (one a core, each
relaying the same station) can listen on one port and the kernel spreads
new connections, and their TLS handshakes, across them.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

from twisted.internet import defer, tcp
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from zope.interface import implementer

_log = Logger()

_KNOWN = frozenset(
    {"port", "privateKey", "certKey", "extraCertChain", "interface", "backlog", "dhParameters", "reusePort"}
)

_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def splitDescription(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split an endpoint description as Twisted does: on colons not escaped
    by a backslash, C{key=value} parts as keywords.

    @param description: e.g. C{"ssl:8443:privateKey=key.pem"}.
    @return: the positional parts (the kind first) and the keywords.
    """
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in description:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if equals and positional:
            keywords[name] = value
        else:
            positional.append(part)
    return positional, keywords


def loadCertificateOptions(
    privateKey: str, certKey: str | None = None, extraCertChain: str | None = None, dhParameters: str | None = None
):
    """
    Read a key and certificate (and chain) from PEM files.

    @param privateKey: the private key's file (it may hold the certificate
        too).
    @param certKey: the certificate's file; C{privateKey} when L{None}.
    @param extraCertChain: a file of intermediate certificates, or L{None}.
    @param dhParameters: a Diffie-Hellman parameters file, or L{None}.
    @return: the L{CertificateOptions} for new connections.
    @raise Exception: when a file cannot be read or parsed.
    """
    # Imported here: pyOpenSSL is needed only by radios that serve TLS.
    from twisted.internet.ssl import Certificate, CertificateOptions, DiffieHellmanParameters, PrivateCertificate

    keyPEM = FilePath(privateKey).getContent()
    certPEM = FilePath(certKey or privateKey).getContent()
    private = PrivateCertificate.loadPEM(certPEM + b"\n" + keyPEM)
    chain = None
    if extraCertChain is not None:
        chain = [Certificate.loadPEM(match).original for match in _CERTIFICATE.findall(FilePath(extraCertChain).getContent())]
    return CertificateOptions(
        privateKey=private.privateKey.original,
        certificate=private.original,
        extraCertChain=chain,
        dhParameters=DiffieHellmanParameters.fromFile(FilePath(dhParameters)) if dhParameters else None,
    )


class ReloadingContextFactory:
    """
    A server context factory whose certificate can be read again.

    @ivar options: the L{CertificateOptions} new connections use now.
    """

    def __init__(self, load: Callable[[], object], name: str = "") -> None:
        """
        @param load: reads the certificate; called now and on each
            L{reload}.
        @param name: a name for the log, e.g. the endpoint.
        """
        self._load = load
        self.name = name
        self.options = load()

    def getContext(self):
        """
        The OpenSSL context for a new connection.

        @return: the current options' context.
        """
        return self.options.getContext()

    def reload(self) -> bool:
        """
        Read the certificate again; on failure, keep the one in use.

        @return: whether the new one was loaded.
        """
        try:
            self.options = self._load()
        except Exception as error:
            _log.error(
                "{name}: cannot read the new certificate ({error}); keeping the one in use", name=self.name, error=error
            )
            return False
        _log.info("{name}: certificate reloaded", name=self.name)
        return True


class SharedPort(tcp.Port):
    """
    A TCP port bound with C{SO_REUSEPORT}: other processes may bind the same
    address and port, and the kernel spreads new connections among them.
    """

    def createInternetSocket(self) -> socket.socket:
        """
        Make the listening socket, able to share its port.

        @return: the socket, not yet bound.
        """
        skt = tcp.Port.createInternetSocket(self)
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return skt


@implementer(IStreamServerEndpoint)
class SharedTLSEndpoint:
    """
    A TLS server endpoint on a L{SharedPort}, as C{reactor.listenSSL} would
    make it otherwise.
    """

    def __init__(self, reactor, port: int, contextFactory, backlog: int, interface: str) -> None:
        """
        @param reactor: the reactor (an C{IReactorFDSet}).
        @param port: the port number.
        @param contextFactory: the server's TLS context factory.
        @param backlog: the listen backlog.
        @param interface: the address to bind, C{""} for all.
        """
        self._reactor = reactor
        self._port = port
        self._contextFactory = contextFactory
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        """
        Listen with TLS on the shared port.

        @param protocolFactory: makes the protocols behind TLS.
        @return: a L{Deferred} firing with the listening port.
        """
        # Imported here: pyOpenSSL is needed only by radios that serve TLS.
        from twisted.protocols.tls import TLSMemoryBIOFactory

        port = SharedPort(
            self._port,
            TLSMemoryBIOFactory(self._contextFactory, False, protocolFactory),
            self._backlog,
            self._interface,
            self._reactor,
        )
        port._type = "TLS"
        return defer.execute(port.startListening).addCallback(lambda _: port)


def reloadableTLSEndpoint(
    reactor, description: str, backlog: int
) -> tuple[SSL4ServerEndpoint | SharedTLSEndpoint, ReloadingContextFactory] | None:
    """
    Make a TLS endpoint whose certificate can be reloaded from an C{ssl:}
    description.

    @param reactor: the reactor.
    @param description: e.g. C{"ssl:8443:privateKey=key.pem:certKey=cert.pem"},
        with C{reusePort=1} for a L{SharedTLSEndpoint}.
    @param backlog: the listen backlog when the description sets none.
    @return: the endpoint and its context factory, or L{None} when the
        description is not an C{ssl:} one this module understands (it is
        then left to Twisted, without reloading).
    @raise Exception: when the certificate cannot be read.
    """
    positional, keywords = splitDescription(description)
    if positional[0].lower() != "ssl" or len(positional) > 2 or set(keywords) - _KNOWN:
        return None
    port = keywords.get("port", positional[1] if len(positional) > 1 else None)
    if port is None or not port.isdigit() or keywords.get("reusePort", "0") not in ("0", "1"):
        return None
    privateKey = keywords.get("privateKey", "server.pem")
    factory = ReloadingContextFactory(
        lambda: loadCertificateOptions(
            privateKey, keywords.get("certKey"), keywords.get("extraCertChain"), keywords.get("dhParameters")
        ),
        name=f"ssl:{port}",
    )
    kind = SharedTLSEndpoint if keywords.get("reusePort") == "1" else SSL4ServerEndpoint
    endpoint = kind(
        reactor,
        int(port),
        factory,
        backlog=int(keywords.get("backlog", backlog)),
        interface=keywords.get("interface", ""),
    )
    return endpoint, factory
