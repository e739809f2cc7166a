"""Test certificates made at test time with python `cryptography` (never checked in).

make_test_pki(directory) writes a private CA and one certificate per TLS scenario the target
server serves:

  valid        CA-signed, SAN localhost + 127.0.0.1 + ::1, 90 days
  self_signed  self-signed, SAN localhost + 127.0.0.1 (not trusted by the CA file)
  expired      CA-signed, SAN localhost + 127.0.0.1, expired one day ago
  wrong_host   CA-signed, SAN wrong.example only
  expiring     CA-signed, SAN localhost + 127.0.0.1, expires in `expiring_days` days
  chain        leaf (60 days) signed by an intermediate CA (20 days) signed by the CA; the server
               sends leaf + intermediate, so the chain's earliest expiry (20 d) differs from the
               leaf's (60 d)

Everything uses P-256 keys (fast to make). Times are whole seconds, UTC.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_NAMES = ["localhost"]
LOCAL_IPS = ["127.0.0.1", "::1"]
SCENARIOS = ("valid", "self_signed", "expired", "wrong_host", "expiring", "chain")


@dataclass
class CertFiles:
    """One server certificate: the PEM chain the server sends, its key, and expiry times."""

    cert_file: str  # leaf first, then any intermediates
    key_file: str
    not_before: str  # RFC 3339 UTC of the leaf
    not_after: str  # RFC 3339 UTC of the leaf
    earliest_not_after: str  # RFC 3339 UTC, minimum over the certificates sent


@dataclass
class TestPki:
    directory: str
    ca_file: str  # the root CA to trust (PEM)
    certs: dict[str, CertFiles]  # keyed by SCENARIOS

    def to_json(self) -> dict:
        return {"directory": self.directory, "ca_file": self.ca_file,
                "certs": {name: asdict(files) for name, files in self.certs.items()}}


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> dt.datetime:
    """Parses "2026-01-02T03:04:05Z" / "...05.123Z" / "+00:00" forms into an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pharos tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca_cert(subject: str, key, issuer_name: x509.Name | None, issuer_key, not_before,
             not_after, path_length: int | None) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer_name or _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length),
                              critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _leaf_cert(common_name: str, dns_names: list[str], ips: list[str], key, issuer_name,
               issuer_key, not_before, not_after) -> x509.Certificate:
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name))
               .issuer_name(issuer_name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def make_test_pki(directory: str | os.PathLike, expiring_days: int = 3) -> TestPki:
    """Writes ca.pem, <scenario>.pem/.key and pki.json into `directory` and returns their paths."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    now = _now()
    day = dt.timedelta(days=1)

    ca_key = _key()
    ca = _ca_cert("Pharos test CA", ca_key, None, None, now - day, now + 3650 * day, None)
    ca_file = root / "ca.pem"
    ca_file.write_bytes(_pem(ca))

    intermediate_key = _key()
    intermediate = _ca_cert("Pharos test intermediate", intermediate_key, ca.subject, ca_key,
                            now - day, now + 20 * day, 0)

    certs: dict[str, CertFiles] = {}

    def emit(scenario: str, chain: list[x509.Certificate], key) -> None:
        cert_path = root / f"{scenario}.pem"
        key_path = root / f"{scenario}.key"
        cert_path.write_bytes(b"".join(_pem(cert) for cert in chain))
        _write_key(key_path, key)
        certs[scenario] = CertFiles(
            cert_file=str(cert_path), key_file=str(key_path),
            not_before=rfc3339(chain[0].not_valid_before_utc),
            not_after=rfc3339(_not_after(chain[0])),
            earliest_not_after=rfc3339(min(_not_after(cert) for cert in chain)))

    def ca_signed(scenario, dns_names, ips, not_before, not_after):
        key = _key()
        emit(scenario, [_leaf_cert(f"pharos-{scenario}", dns_names, ips, key, ca.subject, ca_key,
                                   not_before, not_after)], key)

    ca_signed("valid", LOCAL_NAMES, LOCAL_IPS, now - day, now + 90 * day)
    ca_signed("expired", LOCAL_NAMES, LOCAL_IPS, now - 30 * day, now - day)
    ca_signed("wrong_host", ["wrong.example"], [], now - day, now + 90 * day)
    ca_signed("expiring", LOCAL_NAMES, LOCAL_IPS, now - day, now + expiring_days * day)

    self_key = _key()
    self_name = _name("pharos-self-signed")
    emit("self_signed", [_leaf_cert("pharos-self-signed", LOCAL_NAMES, LOCAL_IPS, self_key,
                                    self_name, self_key, now - day, now + 90 * day)], self_key)

    chain_key = _key()
    chain_leaf = _leaf_cert("pharos-chain", LOCAL_NAMES, LOCAL_IPS, chain_key,
                            intermediate.subject, intermediate_key, now - day, now + 60 * day)
    emit("chain", [chain_leaf, intermediate], chain_key)

    pki = TestPki(directory=str(root), ca_file=str(ca_file), certs=certs)
    (root / "pki.json").write_text(json.dumps(pki.to_json(), indent=2))
    return pki
