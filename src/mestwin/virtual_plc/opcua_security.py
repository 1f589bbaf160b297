"""OPC UA security of the virtual PLCs: certificates, trust list, users (OPC 10000-2/-4/-6).

What a real PLC server does and the twin reproduces:

* an application instance certificate (self-signed here, generated with ``cryptography``)
  whose SubjectAltName carries the server's ApplicationUri, kept in ``<pki>/own`` so a
  restarted server presents the same certificate;
* a trust list ``<pki>/trusted``: a client whose certificate is not there is refused at
  OpenSecureChannel (ERR Bad_SecurityChecksFailed, OPC 10000-6 6.7.4) and its certificate is
  dropped in ``<pki>/rejected`` (move it to ``trusted`` to accept it; the list is re-read on
  every new channel and session);
* security policies None and Basic256Sha256 Sign & Encrypt (None can be disabled);
* user authentication: username/password users with the role ``operator`` (may write
  commands and call methods) or ``viewer`` (read, browse, subscribe), and anonymous
  access with a configurable role (``viewer`` by default: read-only).

asyncua accepts every client certificate unless a validator is installed
(``Server.set_certificate_validator``), and then checks it at CreateSession only; this module
installs one backed by ``asyncua.crypto.truststore.TrustStore`` and hands it to the
:class:`~.opcua_transport.GuardedServer`, which also checks it at OpenSecureChannel, keeps
#None channels to discovery, and wants passwords encrypted.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import SimpleRoleRuleset as _SimpleRoleRuleset
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mestwin.virtual_plc.opcua_transport import GuardedServer

if TYPE_CHECKING:
    from asyncua.server.internal_server import InternalServer

__all__ = [
    "DEFAULT_APPLICATION_URI",
    "CertificateBundle",
    "OpcUaSecurity",
    "OpcUaUser",
    "Role",
    "apply_security",
    "generate_certificate",
    "role_of",
]

DEFAULT_APPLICATION_URI = "urn:mestwin:virtual-plc:server"

_log = logging.getLogger(__name__)


class Role(enum.Enum):
    """What an authenticated session may do."""

    VIEWER = "viewer"  # read, browse, subscribe
    OPERATOR = "operator"  # and write command tags, call methods


@dataclass(frozen=True)
class OpcUaUser:
    """A username/password account (the password is hashed when security is applied)."""

    name: str
    password: str
    role: Role = Role.VIEWER


@dataclass(frozen=True)
class CertificateBundle:
    """A DER certificate with its PEM private key."""

    certificate_der: bytes
    private_key_pem: bytes

    @property
    def certificate_pem(self) -> bytes:
        cert = x509.load_der_x509_certificate(self.certificate_der)
        return cert.public_bytes(serialization.Encoding.PEM)

    def thumbprint(self) -> str:
        """SHA-1 thumbprint in hex, the OPC UA way of naming a certificate."""
        return hashlib.sha1(self.certificate_der, usedforsecurity=False).hexdigest()

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (DER if the suffix is .der, else PEM) and the key (PEM)."""
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        der = cert_path.suffix.lower() == ".der"
        cert_path.write_bytes(self.certificate_der if der else self.certificate_pem)
        key_path.write_bytes(self.private_key_pem)
        key_path.chmod(0o600)


def generate_certificate(
    application_uri: str,
    common_name: str,
    *,
    hostnames: tuple[str, ...] = ("localhost",),
    client: bool = False,
    days: int = 365,
    key_size: int = 2048,
    not_before: dt.datetime | None = None,
) -> CertificateBundle:
    """Create a self-signed OPC UA application instance certificate.

    The SubjectAltName holds ``application_uri`` (checked by clients against the
    ApplicationUri), the DNS names in ``hostnames`` and 127.0.0.1. Key usages follow
    OPC 10000-6 6.2.2 (digital signature, non-repudiation, key and data encipherment);
    the extended key usage is serverAuth+clientAuth for a server, clientAuth for a client.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mestwin"),
        ]
    )
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt_names += [x509.DNSName(h) for h in dict.fromkeys(hostnames)]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if not client:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    return CertificateBundle(
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass(frozen=True)
class OpcUaSecurity:
    """Security settings of one OPC UA server.

    ``pki_dir`` holds ``own/`` (server certificate and key, created on first use),
    ``trusted/`` (client certificates accepted, DER or PEM) and ``rejected/``. It is
    required when ``sign_and_encrypt`` is on. ``OpcUaSecurity()`` is an open,
    read-only-for-anonymous server with policy None only.
    """

    pki_dir: Path | None = None
    application_uri: str = DEFAULT_APPLICATION_URI
    allow_none: bool = True
    sign_and_encrypt: bool = False
    allow_anonymous: bool = True
    anonymous_role: Role = Role.VIEWER
    users: tuple[OpcUaUser, ...] = ()
    hostnames: tuple[str, ...] = field(default_factory=lambda: ("localhost", socket.gethostname()))
    validation: CertificateValidatorOptions = (
        CertificateValidatorOptions.TIME_RANGE
        | CertificateValidatorOptions.URI
        | CertificateValidatorOptions.TRUSTED
        | CertificateValidatorOptions.REVOKED
        | CertificateValidatorOptions.PEER_CLIENT
    )

    def __post_init__(self) -> None:
        if not (self.allow_none or self.sign_and_encrypt):
            raise ValueError("at least one security policy must be enabled")
        if self.sign_and_encrypt and self.pki_dir is None:
            raise ValueError("Basic256Sha256 needs a pki_dir with the trust list")
        if not (self.allow_anonymous or self.users):
            raise ValueError("no way to log in: enable anonymous access or add users")

    @property
    def trusted_dir(self) -> Path:
        return self._pki() / "trusted"

    @property
    def rejected_dir(self) -> Path:
        return self._pki() / "rejected"

    @property
    def own_dir(self) -> Path:
        return self._pki() / "own"

    def _pki(self) -> Path:
        if self.pki_dir is None:
            raise ValueError("this configuration has no pki_dir")
        return self.pki_dir

    def trust(self, certificate_der: bytes) -> Path:
        """Put a client certificate in the trust list; returns the file written."""
        self.trusted_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(certificate_der, usedforsecurity=False).hexdigest()
        path = self.trusted_dir / f"{digest}.der"
        path.write_bytes(certificate_der)
        return path

    def server_certificate(self) -> CertificateBundle:
        """The server certificate: loaded from ``own/`` or generated (and saved there)."""
        if self.pki_dir is None:
            return generate_certificate(
                self.application_uri, "mestwin virtual PLC", hostnames=self.hostnames
            )
        cert_path, key_path = self.own_dir / "server_cert.der", self.own_dir / "server_key.pem"
        if cert_path.exists() and key_path.exists():
            bundle = CertificateBundle(cert_path.read_bytes(), key_path.read_bytes())
            if _matches(bundle, self.application_uri):
                return bundle
        bundle = generate_certificate(
            self.application_uri, "mestwin virtual PLC", hostnames=self.hostnames
        )
        bundle.write(cert_path, key_path)
        return bundle


def _matches(bundle: CertificateBundle, application_uri: str) -> bool:
    cert = x509.load_der_x509_certificate(bundle.certificate_der)
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return application_uri in san.get_values_for_type(x509.UniformResourceIdentifier)


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 100_000)


class _UserManager:
    """asyncua user manager: username/password accounts plus optional anonymous access."""

    def __init__(self, security: OpcUaSecurity) -> None:
        self._security = security
        self._accounts: dict[str, tuple[bytes, bytes, Role]] = {}
        for user in security.users:
            salt = os.urandom(16)
            self._accounts[user.name] = (salt, _hash_password(user.password, salt), user.role)

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        # asyncua passes the secure channel's client certificate along with every token;
        # X509 identity tokens are not offered, so no username means anonymous.
        if username is None:
            if not self._security.allow_anonymous:
                return None
            return User(role=UserRole.Anonymous, name=None)
        if password is None or username not in self._accounts:
            return None
        salt, digest, _role = self._accounts[username]
        if not hmac.compare_digest(digest, _hash_password(password, salt)):
            _log.warning("OPC UA login refused for user %r", username)
            return None
        return User(role=UserRole.User, name=username)

    def role(self, user: User | None) -> Role | None:
        if user is None or user.role == UserRole.Anonymous:
            return self._security.anonymous_role if self._security.allow_anonymous else None
        if user.role == UserRole.Admin:
            return Role.OPERATOR  # the server's own internal session
        account = self._accounts.get(user.name or "")
        return account[2] if account else None


def role_of(server: Server, user: User | None) -> Role | None:
    """The role of a session's user on a server configured by :func:`apply_security`."""
    manager = server.iserver.user_manager
    if isinstance(manager, _UserManager):
        return manager.role(user)
    return Role.OPERATOR if user is not None and user.role != UserRole.Anonymous else None


_CALL = ua.NodeId(ObjectIds.CallRequest_Encoding_DefaultBinary)  # type: ignore[arg-type]


class _RoleRuleset(_SimpleRoleRuleset):
    """Every logged-in session may read, browse and subscribe; only operators call methods.

    Writes are let through here and decided per node by the server (which answers
    BadUserAccessDenied per write for a viewer), so one refused node does not fail a
    whole write request.
    """

    def __init__(self, users: _UserManager) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._users = users
        self._allowed = set(self._permission_dict[UserRole.User])

    def check_validity(self, user: User, action_type_id: ua.NodeId, body: Any) -> bool:
        role = self._users.role(user)
        if role is None:
            return False
        if action_type_id == _CALL:
            return role is Role.OPERATOR
        return action_type_id in self._allowed


class _TrustList(TrustStore):
    """asyncua's TrustStore without its traceback per untrusted certificate: any client
    could flood the log with them. The refusal is logged once, by the validator."""

    def is_trusted(self, certificate: x509.Certificate) -> bool:
        if not self._trust_store:
            return False
        verifier = self.policy_builder.store(self._trust_store).build_client_verifier()
        try:
            verifier.verify(certificate, [])
        except x509.verification.VerificationError:
            return False
        return True


class _TrustListValidator:
    """Certificate validator that re-reads the trust list and keeps refused certificates.

    Called twice per client: at OpenSecureChannel (:meth:`check_channel`: trust list,
    validity, revocation; there is no ApplicationDescription yet) and at CreateSession
    (``__call__``: the same plus the ApplicationUri in the SubjectAltName).
    """

    def __init__(self, security: OpcUaSecurity) -> None:
        self._security = security
        self._store = _TrustList([security.trusted_dir], [])
        self._validator = CertificateValidator(security.validation, self._store)
        self._channel_validator = CertificateValidator(
            security.validation & ~CertificateValidatorOptions.URI, self._store
        )

    async def check_channel(self, cert: x509.Certificate) -> None:
        """The OpenSecureChannel check of the sender certificate (OPC 10000-6 6.7.4)."""
        client = ua.ApplicationDescription(ApplicationType=ua.ApplicationType.Client)
        await self._check(cert, client, self._channel_validator)

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        await self._check(cert, app, self._validator)

    async def _check(
        self, cert: x509.Certificate, app: ua.ApplicationDescription, check: CertificateValidator
    ) -> None:
        trusted = self._security.trusted_dir
        trusted.mkdir(parents=True, exist_ok=True)
        try:
            if not any(p.suffix.lower() in (".der", ".pem") for p in trusted.iterdir()):
                raise ServiceError(StatusCodes.BadCertificateUntrusted)  # empty trust list
            await self._store.load()
            await check.validate(cert, app)
        except ServiceError:
            self._security.rejected_dir.mkdir(parents=True, exist_ok=True)
            der = cert.public_bytes(serialization.Encoding.DER)
            name = hashlib.sha1(der, usedforsecurity=False).hexdigest()
            (self._security.rejected_dir / f"{name}.der").write_bytes(der)
            _log.warning("refused client certificate %s (%s)", name, app.ApplicationUri)
            raise


async def apply_security(server: GuardedServer, security: OpcUaSecurity) -> None:
    """Configure a :class:`~.opcua_transport.GuardedServer` (before ``start()``).

    Only the policies configured here open a channel; with Sign & Encrypt, OPN sender
    certificates are checked against the trust list and passwords must come encrypted.
    """
    await server.set_application_uri(security.application_uri)
    policies: list[ua.SecurityPolicyType] = []
    if security.allow_none:
        policies.append(ua.SecurityPolicyType.NoSecurity)
    users = _UserManager(security)
    server.iserver.set_user_manager(users)  # type: ignore[arg-type]  # duck-typed in asyncua
    tokens: list[type] = [ua.UserNameIdentityToken]
    if security.allow_anonymous:
        tokens.insert(0, ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    if security.sign_and_encrypt:
        policies.append(ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt)
        bundle = security.server_certificate()
        await server.load_certificate(bundle.certificate_der, format="der")
        await server.load_private_key(bundle.private_key_pem, format="pem")
        validator = _TrustListValidator(security)
        server.set_certificate_validator(validator)
        server.check_certificate = validator.check_channel
    server.set_security_policy(policies, permission_ruleset=_RoleRuleset(users))
