"""Specification of OPC UA security (mestwin.virtual_plc.opcua_security): certificates,
trust list, security policies and users, against a real server and asyncua's client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mestwin.plantmodels.plant import Plant
from mestwin.virtual_plc.opcua_security import (
    DEFAULT_APPLICATION_URI,
    OpcUaSecurity,
    OpcUaUser,
    Role,
    generate_certificate,
)
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.plc import VirtualPLC

CLIENT_URI = "urn:mestwin:test:client"
REFUSED = (UaError, OSError, asyncio.TimeoutError, ConnectionError)


def one_plc() -> list[VirtualPLC]:
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", saturated=True)
    plant.add_station(
        "st0", servers=1, buffer=2, process_time={"*": lambda: 5.0}, ideal_cycle_time={"*": 5.0}
    )
    plant.connect("src", "st0")
    return [VirtualPLC(plant.stations["st0"], "L", "M", plant.env)]


def secure(tmp_path: Path, **kwargs: Any) -> OpcUaSecurity:
    return OpcUaSecurity(
        pki_dir=tmp_path / "pki",
        sign_and_encrypt=True,
        users=(OpcUaUser("operator", "op", Role.OPERATOR),),
        **kwargs,
    )


def client_files(tmp_path: Path, name: str) -> tuple[Path, Path, bytes]:
    bundle = generate_certificate(CLIENT_URI, name, client=True)
    cert, key = tmp_path / f"{name}.der", tmp_path / f"{name}.pem"
    bundle.write(cert, key)
    return cert, key, bundle.certificate_der


async def secure_client(endpoint: str, cert: Path, key: Path, user: str | None = None) -> Client:
    client = Client(endpoint, timeout=10)
    client.application_uri = CLIENT_URI
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(cert),
        str(key),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    if user is not None:
        client.set_user(user)
        client.set_password("op")
    await client.connect()
    return client


def test_generated_certificate_carries_the_application_uri_and_key_usages() -> None:
    """The SAN holds the ApplicationUri; key usages allow signing and encryption."""
    bundle = generate_certificate("urn:x:y", "x", hostnames=("localhost",))
    cert = x509.load_der_x509_certificate(bundle.certificate_der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:x:y" in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert usage.data_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    client = x509.load_der_x509_certificate(
        generate_certificate("urn:c", "c", client=True).certificate_der
    )
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        not in client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )


def test_server_certificate_is_kept_in_the_pki_and_reused(tmp_path: Path) -> None:
    """A restarted server presents the same certificate; another URI gets a new one."""
    security = secure(tmp_path)
    first = security.server_certificate()
    assert (security.own_dir / "server_cert.der").read_bytes() == first.certificate_der
    assert security.server_certificate() == first
    other = OpcUaSecurity(
        pki_dir=tmp_path / "pki", sign_and_encrypt=True, application_uri="urn:other"
    )
    assert other.server_certificate().certificate_der != first.certificate_der


def test_configurations_without_a_way_in_are_refused(tmp_path: Path) -> None:
    """No policy, no login method, or encryption without a trust list: ValueError."""
    with pytest.raises(ValueError, match="policy"):
        OpcUaSecurity(allow_none=False)
    with pytest.raises(ValueError, match="log in"):
        OpcUaSecurity(allow_anonymous=False)
    with pytest.raises(ValueError, match="pki_dir"):
        OpcUaSecurity(sign_and_encrypt=True)
    assert OpcUaSecurity().application_uri == DEFAULT_APPLICATION_URI


def test_trusted_client_signs_encrypts_and_writes_as_operator(tmp_path: Path) -> None:
    """Basic256Sha256 SignAndEncrypt with a trusted certificate and an operator login works."""

    async def main() -> None:
        security = secure(tmp_path, allow_none=False)
        cert, key, der = client_files(tmp_path, "trusted")
        security.trust(der)
        plcs = one_plc()
        server = PlcOpcUaServer(plcs, security=security)
        await server.start()
        try:
            client = await secure_client(server.endpoint, cert, key, "operator")
            idx = server.namespace_index
            node = client.get_node(f"ns={idx};s=L.M.PackTags.Command.UnitMode")
            await node.write_value(ua.Variant(2, ua.VariantType.Int32))
            assert plcs[0].tags["PackTags.Command.UnitMode"] == 2
            endpoints = await client.get_endpoints()
            assert {e.SecurityPolicyUri.rsplit("#", 1)[1] for e in endpoints} == {"Basic256Sha256"}
            await client.disconnect()
            plain = Client(server.endpoint, timeout=5)
            with pytest.raises(REFUSED):  # policy None is disabled
                await plain.connect()
        finally:
            await server.stop()

    asyncio.run(main())


def test_untrusted_client_is_refused_until_its_certificate_is_trusted(tmp_path: Path) -> None:
    """An unknown certificate is refused and kept in rejected/; once moved to trusted/ the
    same client gets in without a server restart."""

    async def main() -> None:
        security = secure(tmp_path)
        cert, key, der = client_files(tmp_path, "stranger")
        server = PlcOpcUaServer(one_plc(), security=security)
        await server.start()
        try:
            with pytest.raises(REFUSED):
                await secure_client(server.endpoint, cert, key)
            rejected = list(security.rejected_dir.iterdir())
            assert [p.read_bytes() for p in rejected] == [der]
            rejected[0].rename(security.trusted_dir / rejected[0].name)
            client = await secure_client(server.endpoint, cert, key)
            await client.disconnect()
        finally:
            await server.stop()

    asyncio.run(main())


def test_wrong_password_is_refused(tmp_path: Path) -> None:
    """A known user with a wrong password cannot activate a session."""

    async def main() -> None:
        server = PlcOpcUaServer(
            one_plc(), security=OpcUaSecurity(users=(OpcUaUser("operator", "op", Role.OPERATOR),))
        )
        await server.start()
        try:
            client = Client(server.endpoint, timeout=5)
            client.set_user("operator")
            client.set_password("not-it")
            with pytest.raises(REFUSED):
                await client.connect()
        finally:
            await server.stop()

    asyncio.run(main())
