"""
Tests for L{txradio.net.tls}: parsing C{ssl:} descriptions, and certificates
read again on request.
"""

from __future__ import annotations

import datetime
import socket

from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.net.tls import (
    ReloadingContextFactory,
    SharedPort,
    SharedTLSEndpoint,
    loadCertificateOptions,
    reloadableTLSEndpoint,
    splitDescription,
)


def writeCertificate(keyPath: str, certPath: str, name: str) -> int:
    """
    Write a new self-signed certificate and its key.

    @param keyPath: where the key goes (PEM).
    @param certPath: where the certificate goes (PEM).
    @param name: its common name.
    @return: its serial number.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    serial = x509.random_serial_number()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with open(keyPath, "wb") as f:
        f.write(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return serial


class DescriptionTests(SynchronousTestCase):
    """
    Descriptions are split as Twisted splits them.
    """

    def test_split(self) -> None:
        """
        Colons separate parts, a backslash escapes one, C{key=value} parts
        are keywords.
        """
        self.assertEqual(
            splitDescription(r"ssl:8443:privateKey=C\:/keys/k.pem:interface=127.0.0.1"),
            (["ssl", "8443"], {"privateKey": "C:/keys/k.pem", "interface": "127.0.0.1"}),
        )
        self.assertEqual(splitDescription("ssl:port=443"), (["ssl"], {"port": "443"}))

    def test_otherKinds(self) -> None:
        """
        Descriptions that are not C{ssl:}, or hold options this module does
        not know, are left to Twisted.
        """
        self.assertIsNone(reloadableTLSEndpoint(Clock(), "tcp:8000", 1024))
        self.assertIsNone(reloadableTLSEndpoint(Clock(), "ssl:8443:privateKey=k.pem:method=TLSv1_2", 1024))
        self.assertIsNone(reloadableTLSEndpoint(Clock(), "ssl:8443:privateKey=k.pem:reusePort=yes", 1024))


class ReloadTests(SynchronousTestCase):
    """
    A renewed certificate is read by L{ReloadingContextFactory.reload}; a
    broken one is refused and the one in use stays.
    """

    def setUp(self) -> None:
        self.key = self.mktemp()
        self.cert = self.mktemp()
        self.serial = writeCertificate(self.key, self.cert, "first.example")

    def serialOf(self, factory: ReloadingContextFactory) -> int:
        from OpenSSL import SSL

        connection = SSL.Connection(factory.getContext(), None)
        return connection.get_certificate().get_serial_number()

    def test_endpoint(self) -> None:
        """
        An C{ssl:} description gives an endpoint on its port and interface
        with the backlog added, whose context holds the certificate.
        """
        endpoint, factory = reloadableTLSEndpoint(
            Clock(), f"ssl:8443:privateKey={self.key}:certKey={self.cert}:interface=127.0.0.1", 1024
        )
        self.assertEqual((endpoint._port, endpoint._interface, endpoint._backlog), (8443, "127.0.0.1", 1024))
        self.assertEqual(self.serialOf(factory), self.serial)

    def test_sharedEndpoint(self) -> None:
        """
        With C{reusePort=1} the description gives a L{SharedTLSEndpoint}
        on its port and interface, with the backlog added and the same
        reloadable certificate.
        """
        endpoint, factory = reloadableTLSEndpoint(
            Clock(), f"ssl:8443:privateKey={self.key}:certKey={self.cert}:interface=127.0.0.1:reusePort=1", 1024
        )
        verifyObject(IStreamServerEndpoint, endpoint)
        self.assertIsInstance(endpoint, SharedTLSEndpoint)
        self.assertEqual(
            (endpoint._port, endpoint._interface, endpoint._backlog, endpoint._contextFactory),
            (8443, "127.0.0.1", 1024, factory),
        )
        self.assertEqual(self.serialOf(factory), self.serial)

    def test_sharedPortSocket(self) -> None:
        """
        A L{SharedPort}'s socket may share its port with other processes.
        """
        skt = SharedPort(0, Factory(), reactor=MemoryReactor()).createInternetSocket()
        self.addCleanup(skt.close)
        self.assertEqual(skt.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)

    def test_reload(self) -> None:
        """
        After the files change, a reload gives new connections the new
        certificate.
        """
        factory = ReloadingContextFactory(lambda: loadCertificateOptions(self.key, self.cert), name="ssl:8443")
        renewed = writeCertificate(self.key, self.cert, "second.example")
        self.assertEqual(self.serialOf(factory), self.serial)
        self.assertTrue(factory.reload())
        self.assertEqual(self.serialOf(factory), renewed)

    def test_brokenRenewal(self) -> None:
        """
        A half-written certificate is refused with a log line; the old one
        stays in use.
        """
        factory = ReloadingContextFactory(lambda: loadCertificateOptions(self.key, self.cert), name="ssl:8443")
        with open(self.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\ntruncated")
        self.assertFalse(factory.reload())
        self.assertEqual(self.serialOf(factory), self.serial)
        self.assertEqual(len(self.flushLoggedErrors()), 0)
