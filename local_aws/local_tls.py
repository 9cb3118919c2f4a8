"""The TLS of local_aws's second listener: a certificate authority made at start, for workers only.

Lambda workers send connections for AWS's host names to 127.0.0.1 (docs/aws-host-names.md);
for `https://dynamodb.us-east-1.amazonaws.com` the TLS handshake must then succeed for that
name. So local_aws makes, each time it starts:

- a certificate authority whose private key never leaves this process's memory;
- one leaf key (in memory too: on disk only while the ssl module loads it), and leaf
  certificates minted on demand in the SNI callback, one per group of names
  (`*.us-east-1.amazonaws.com`, `*.execute-api.us-east-1.amazonaws.com`, …, see
  `aws_hosts.certificate_names`), kept in a bounded cache; a name that is not AWS's (or no
  SNI at all) gets the default leaf, for 127.0.0.1 and localhost;
- a private directory (0700) with the CA certificate and the trust bundles the workers'
  environment names (`worker_environment`), removed by `close()` or at exit.

The CA is trusted by nothing but the workers: it is never installed in a trust store, and
no browser or other program of the user knows it (docs/security.md).
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from local_aws import aws_hosts

LEAF_CACHE_SIZE = 64  # leaf contexts kept; a region's services share one
_VALIDITY = datetime.timedelta(days=2)  # a local_aws run, with room for a clock that is off


class LocalTls:
    """The CA, the server's SSL context and the workers' trust files of one local_aws run."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="local_aws_tls_"))  # mode 0700
        self._cleanup = atexit.register(shutil.rmtree, self.directory, True)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._ca = _certificate(
            subject="local_aws CA (this run only)",
            public_key=self._ca_key.public_key(),
            ca_key=self._ca_key,
            issuer=None,
            names=(),
        )
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        ca_pem = self._ca.public_bytes(serialization.Encoding.PEM)
        self.ca_file = self._write("ca.pem", ca_pem)
        # Python's ssl (SSL_CERT_FILE), requests and botocore each take one file, which
        # replaces their usual roots: this CA plus those roots, so other HTTPS still verifies.
        self.bundle_file = self._write("bundle.pem", ca_pem + _default_roots())
        self._leaves: OrderedDict[tuple[str, ...], ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()
        self.context = self._leaf_context(("localhost", "127.0.0.1"))
        self.context.sni_callback = self._choose_leaf

    def worker_environment(self) -> dict[str, str]:
        """What a worker's environment adds so that its clients trust this CA, and only there."""
        bundle = str(self.bundle_file)
        return {
            "AWS_CA_BUNDLE": bundle,  # botocore, boto3, the AWS CLI
            "REQUESTS_CA_BUNDLE": bundle,  # requests
            "SSL_CERT_FILE": bundle,  # Python's ssl default context (urllib, urllib3, httpx)
            "NODE_EXTRA_CA_CERTS": str(self.ca_file),  # Node.js, read once at start
        }

    def close(self) -> None:
        """Remove the private directory (the trust files)."""
        atexit.unregister(self._cleanup)
        shutil.rmtree(self.directory, ignore_errors=True)

    def leaf_context(self, server_name: str) -> ssl.SSLContext:
        """The server context for a TLS client that asked for `server_name` (SNI)."""
        if not aws_hosts.is_worker_redirected(server_name):
            return self.context
        return self._cached_leaf(aws_hosts.certificate_names(server_name))

    def _choose_leaf(
        self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        if server_name is not None:
            connection.context = self.leaf_context(server_name.lower().removesuffix("."))

    def _cached_leaf(self, names: tuple[str, ...]) -> ssl.SSLContext:
        with self._lock:
            context = self._leaves.get(names)
            if context is not None:
                self._leaves.move_to_end(names)
                return context
        context = self._leaf_context(names)
        with self._lock:
            self._leaves[names] = context
            while len(self._leaves) > LEAF_CACHE_SIZE:
                self._leaves.popitem(last=False)
        return context

    def _leaf_context(self, names: tuple[str, ...]) -> ssl.SSLContext:
        """A server context whose leaf, signed by the CA, is valid for `names`."""
        leaf = _certificate(
            subject=names[0],
            public_key=self._leaf_key.public_key(),
            ca_key=self._ca_key,
            issuer=self._ca,
            names=names,
        )
        chain = leaf.public_bytes(serialization.Encoding.PEM) + self._leaf_key_pem
        # The ssl module loads a certificate and its key from a file only: write it (0600, in
        # the private directory), load it, remove it. The key is on disk only meanwhile.
        descriptor, path = tempfile.mkstemp(suffix=".pem", dir=self.directory)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(chain)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2  # as AWS's endpoints
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
        return context

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return path


def _certificate(
    subject: str,
    public_key: ec.EllipticCurvePublicKey,
    ca_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    names: tuple[str, ...],
) -> x509.Certificate:
    """The CA's own certificate (issuer None) or a server leaf for `names`, signed by the CA."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        ).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        )
    return builder.sign(ca_key, hashes.SHA256())


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _default_roots() -> bytes:
    """The public roots Python clients trust by default (certifi's, as botocore and requests
    use), so that a bundle naming the local CA does not break HTTPS to other hosts."""
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except (ImportError, OSError):
        default = ssl.get_default_verify_paths().cafile
        return Path(default).read_bytes() if default and os.path.isfile(default) else b""
