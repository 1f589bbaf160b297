"""Specification of the OPC UA server against hostile clients (mestwin.virtual_plc.opcua_transport).

The clients here do not behave: they build the UA TCP conversation themselves
(:mod:`tests.virtual_plc.raw_opcua`, hand-built HEL/OPN/MSG frames) or are asyncua clients
told to skip their own checks. Malformed messages: ``test_opcua_malformed``.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.connection import SecureConnection, TransportLimits
from asyncua.common.utils import create_nonce
from asyncua.crypto import uacrypto
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.ua_binary import struct_to_binary
from asyncua.ua.uaerrors import UaError
from cryptography.hazmat.primitives import serialization

from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role, generate_certificate
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.packml import State
from mestwin.virtual_plc.plc import VirtualPLC
from tests.virtual_plc.opcua_cell import (
    BAD_TCP_SECURE_CHANNEL_UNKNOWN,
    assert_quiet,
    one_plc,
    refused_with,
)
from tests.virtual_plc.raw_opcua import (
    RawClient,
    activate_with_password,
    create_session_request,
    frame,
    kind_of,
    service_result,
    write_request,
)

BAD_SECURITY_CHECKS_FAILED = 0x80130000
BAD_IDENTITY_TOKEN_INVALID = 0x80200000
BAD_SECURITY_MODE_REJECTED = 0x80540000
BAD_SECURITY_POLICY_REJECTED = 0x80550000
CLIENT_URI = "urn:mestwin:test:client"
VT = ua.VariantType
CNTRL_CMD = "PackTags.Command.CntrlCmd"
REQUEST = "PackTags.Command.CmdChangeRequest"


def secured(tmp_path: Path) -> OpcUaSecurity:
    """What `mestwin serve --security sign-encrypt --pki DIR --user operator:op` configures."""
    return OpcUaSecurity(
        pki_dir=tmp_path / "pki", allow_none=False, sign_and_encrypt=True,
        users=(OpcUaUser("operator", "op", Role.OPERATOR),),
    )


def command_id(server: PlcOpcUaServer, plc: VirtualPLC, path: str) -> ua.NodeId:
    return server.node_id(plc, path)


@pytest.mark.timeout(60)
def test_a_raw_none_session_with_a_plain_password_changes_nothing(tmp_path: Path) -> None:
    """A client without certificate opens a SecurityPolicy#None channel (the discovery
    endpoint), then tries CreateSession, ActivateSession with the operator's plain-text
    password and a Stop command: CreateSession gets Bad_SecurityPolicyRejected, the
    connection is closed, and the machine keeps producing."""

    async def main() -> None:
        plant, plc = one_plc()
        plant.env.run(until=30)
        assert plc.packml.state is State.EXECUTE
        server = PlcOpcUaServer([plc], security=secured(tmp_path))
        await server.start()
        try:
            raw = await RawClient.connect(server.endpoint)
            ack = await raw.hello(server.endpoint)
            assert kind_of(ack) == b"ACK"
            opened = await raw.open_none_channel()
            assert kind_of(opened) == b"OPN"  # discovery is allowed
            reply = await raw.message(create_session_request(server.endpoint))
            assert reply is not None
            fault = service_result(reply, ua.CreateSessionResponse)
            assert isinstance(fault, ua.ServiceFault)
            assert fault.ResponseHeader.ServiceResult.value == BAD_SECURITY_POLICY_REJECTED
            assert await raw.closed_by_server()

            # the same again, skipping CreateSession, straight to the password and the write
            for request in (
                activate_with_password("operator", "op"),
                write_request(command_id(server, plc, CNTRL_CMD), ua.Variant(3, VT.Int32)),
                write_request(command_id(server, plc, REQUEST), ua.Variant(True, VT.Boolean)),
            ):
                raw = await RawClient.connect(server.endpoint)
                await raw.hello(server.endpoint)
                await raw.open_none_channel()
                reply = await raw.message(request)
                assert reply is not None
                fault = service_result(reply, ua.WriteResponse)
                assert isinstance(fault, ua.ServiceFault)
                assert fault.ResponseHeader.ServiceResult.value == BAD_SECURITY_POLICY_REJECTED
                assert await raw.closed_by_server()
            plant.env.run(until=60)
            assert plc.tags[CNTRL_CMD] == 0
            assert plc.tags[REQUEST] is False
            assert plc.packml.state is State.EXECUTE
            assert not [r for r in plc.command_results if r.accepted]
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_a_message_without_open_secure_channel_is_refused(tmp_path: Path) -> None:
    """MSG on channel 0 right after HEL (no OPN at all) gets ERR Bad_TcpSecureChannelUnknown;
    an OPN asking #None with mode SignAndEncrypt gets Bad_SecurityModeRejected."""

    async def main() -> None:
        _plant, plc = one_plc()
        server = PlcOpcUaServer([plc], security=secured(tmp_path))
        await server.start()
        try:
            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            await raw.send(frame(b"MSG", bytes(16) + struct_to_binary(
                create_session_request(server.endpoint))))
            await refused_with(raw, BAD_TCP_SECURE_CHANNEL_UNKNOWN)

            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            reply = await raw.open_none_channel(ua.MessageSecurityMode.SignAndEncrypt)
            assert kind_of(reply) == b"ERR"
            assert reply is not None
            assert reply.error()[0] == BAD_SECURITY_MODE_REJECTED
            assert await raw.closed_by_server()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


def _opn_basic256sha256(server_der: bytes, client_der: bytes, key_pem: bytes) -> bytes:
    """A correct Basic256Sha256 SignAndEncrypt OPN from the client with *client_der*."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    policy = SecurityPolicyBasic256Sha256(
        server_der, uacrypto.x509_from_der(client_der), key, ua.MessageSecurityMode.SignAndEncrypt
    )
    request = ua.OpenSecureChannelRequest()
    request.Parameters.RequestType = ua.SecurityTokenRequestType.Issue
    request.Parameters.SecurityMode = ua.MessageSecurityMode.SignAndEncrypt
    request.Parameters.ClientNonce = create_nonce(32)
    request.Parameters.RequestedLifetime = 600_000
    connection = SecureConnection(policy, TransportLimits())
    return connection.message_to_binary(
        struct_to_binary(request), message_type=ua.MessageType.SecureOpen, request_id=1
    )


@pytest.mark.timeout(60)
def test_an_untrusted_certificate_is_refused_at_open_secure_channel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A well-formed Basic256Sha256 OPN signed by an unknown certificate gets ERR
    Bad_SecurityChecksFailed before any session (OPC 10000-6 6.7.4) and lands in rejected/;
    the same OPN from a trusted certificate opens the channel."""

    async def main() -> None:
        _plant, plc = one_plc()
        security = secured(tmp_path)
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        server_der = security.server_certificate().certificate_der
        stranger = generate_certificate(CLIENT_URI, "stranger", client=True)
        friend = generate_certificate(CLIENT_URI, "friend", client=True)
        security.trust(friend.certificate_der)
        try:
            caplog.clear()
            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            await raw.send(_opn_basic256sha256(
                server_der, stranger.certificate_der, stranger.private_key_pem))
            await refused_with(raw, BAD_SECURITY_CHECKS_FAILED)
            assert_quiet(caplog, 2)  # the certificate put aside, the connection closed
            name = hashlib.sha1(stranger.certificate_der, usedforsecurity=False).hexdigest()
            assert (security.rejected_dir / f"{name}.der").read_bytes() == stranger.certificate_der

            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            await raw.send(_opn_basic256sha256(
                server_der, friend.certificate_der, friend.private_key_pem))
            reply = await raw.receive()
            assert kind_of(reply) == b"OPN"
            raw.close()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


class _PlainPasswordClient(Client):
    """asyncua's client, told to send the password unencrypted whatever the server asks."""

    def _add_user_auth(self, params: Any, username: str | None, password: str | None) -> None:
        token = ua.UserNameIdentityToken()
        token.UserName = username
        token.Password = (password or "").encode("utf-8")
        token.EncryptionAlgorithm = None  # type: ignore[assignment]
        token.PolicyId = self.server_policy(ua.UserTokenType.UserName).PolicyId
        params.UserIdentityToken = token


@pytest.mark.timeout(60)
def test_a_password_must_be_encrypted_even_on_an_encrypted_channel(tmp_path: Path) -> None:
    """The server asks for the password encrypted with its key (UserTokenPolicy
    SecurityPolicyUri Basic256Sha256); a trusted client on a Sign & Encrypt channel that sends
    it in plain text gets Bad_IdentityTokenInvalid and no write; one that encrypts gets in."""

    async def main() -> None:
        plant, plc = one_plc()
        security = secured(tmp_path)
        bundle = generate_certificate(CLIENT_URI, "client", client=True)
        cert, key = tmp_path / "client.der", tmp_path / "client.pem"
        bundle.write(cert, key)
        security.trust(bundle.certificate_der)
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        try:
            for kind, expect_ok in ((_PlainPasswordClient, False), (Client, True)):
                client = kind(server.endpoint, timeout=10)
                client.application_uri = CLIENT_URI
                await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                                          mode=ua.MessageSecurityMode.SignAndEncrypt)
                client.set_user("operator")
                client.set_password("op")
                if not expect_ok:
                    with pytest.raises(ua.uaerrors.BadIdentityTokenInvalid):
                        await client.connect()
                    assert plc.tags[CNTRL_CMD] == 0
                    continue
                await client.connect()
                try:
                    endpoints = await client.get_endpoints()
                    tokens = [t for e in endpoints for t in e.UserIdentityTokens
                              if t.TokenType == ua.UserTokenType.UserName]
                    assert {t.SecurityPolicyUri for t in tokens} == {
                        "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"}
                    await client.open_secure_channel(renew=True)  # a renewal keeps working
                    await client.get_node(command_id(server, plc, CNTRL_CMD)).write_value(
                        ua.Variant(3, ua.VariantType.Int32))
                    assert plc.tags[CNTRL_CMD] == 3
                finally:
                    await client.disconnect()
        finally:
            await server.stop()
        assert plant.env.now == 0

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_asyncua_refuses_to_reach_a_secured_server_over_none(tmp_path: Path) -> None:
    """A well-behaved asyncua client without security cannot log in either."""

    async def main() -> None:
        _plant, plc = one_plc()
        server = PlcOpcUaServer([plc], security=secured(tmp_path))
        await server.start()
        try:
            client = Client(server.endpoint, timeout=5)
            client.set_user("operator")
            client.set_password("op")
            with pytest.raises((UaError, OSError, asyncio.TimeoutError)):
                await client.connect()
            assert plc.tags[CNTRL_CMD] == 0
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_two_servers_in_one_process_keep_their_own_rules(tmp_path: Path) -> None:
    """An open server and a Sign & Encrypt server side by side: the same raw #None
    CreateSession gets a session on the first and Bad_SecurityPolicyRejected on the second."""

    async def main() -> None:
        _plant, open_plc = one_plc()
        _plant2, secured_plc = one_plc()
        servers = [PlcOpcUaServer([open_plc], security=OpcUaSecurity()),
                   PlcOpcUaServer([secured_plc], security=secured(tmp_path))]
        for server in servers:
            await server.start()
        try:
            answers = []
            for server in servers:
                raw = await RawClient.connect(server.endpoint)
                await raw.hello(server.endpoint)
                await raw.open_none_channel()
                reply = await raw.message(create_session_request(server.endpoint))
                assert reply is not None
                answers.append(service_result(reply, ua.CreateSessionResponse))
                raw.close()
            assert isinstance(answers[0], ua.CreateSessionResponse)
            assert answers[0].ResponseHeader.ServiceResult.value == 0
            assert isinstance(answers[1], ua.ServiceFault)
            assert answers[1].ResponseHeader.ServiceResult.value == BAD_SECURITY_POLICY_REJECTED
        finally:
            for server in servers:
                await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_a_plain_password_is_refused_on_the_none_endpoint_of_a_mixed_server(
    tmp_path: Path,
) -> None:
    """A server offering both #None and Sign & Encrypt asks for passwords encrypted with its
    key on the #None endpoint too: a raw #None session sending the operator's password in
    plain text gets Bad_IdentityTokenInvalid at ActivateSession and cannot write."""

    async def main() -> None:
        _plant, plc = one_plc()
        security = OpcUaSecurity(pki_dir=tmp_path / "pki", allow_none=True,
                                 sign_and_encrypt=True,
                                 users=(OpcUaUser("operator", "op", Role.OPERATOR),))
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        try:
            raw = await RawClient.connect(server.endpoint)
            await raw.hello(server.endpoint)
            await raw.open_none_channel()
            reply = await raw.message(create_session_request(server.endpoint))
            assert reply is not None
            created = service_result(reply, ua.CreateSessionResponse)
            assert isinstance(created, ua.CreateSessionResponse)  # #None is an endpoint here
            raw.auth_token = created.Parameters.AuthenticationToken
            reply = await raw.message(activate_with_password("operator", "op"))
            assert reply is not None
            fault = service_result(reply, ua.ActivateSessionResponse)
            assert isinstance(fault, ua.ServiceFault)
            assert fault.ResponseHeader.ServiceResult.value == BAD_IDENTITY_TOKEN_INVALID
            reply = await raw.message(write_request(
                command_id(server, plc, CNTRL_CMD), ua.Variant(3, VT.Int32)))
            assert reply is not None
            fault = service_result(reply, ua.WriteResponse)
            assert isinstance(fault, ua.ServiceFault)  # the session was never activated
            assert plc.tags[CNTRL_CMD] == 0
            raw.close()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


class _SwappedCertificateClient(Client):
    """asyncua's client on a channel of one trusted certificate that names another in
    CreateSession (a session that would not be bound to its channel)."""

    other_certificate = b""

    async def create_session(self) -> ua.CreateSessionResult:
        send = self.uaclient.create_session

        async def swapped(params: ua.CreateSessionParameters) -> ua.CreateSessionResult:
            params.ClientCertificate = self.other_certificate
            return await send(params)

        self.uaclient.create_session = swapped  # type: ignore[method-assign]
        return await super().create_session()


@pytest.mark.timeout(60)
def test_create_session_must_name_the_certificate_of_its_channel(tmp_path: Path) -> None:
    """Two trusted certificates: a channel opened with one and a CreateSession naming the
    other gets Bad_SecurityChecksFailed (OPC 10000-4 5.7.2); named honestly, it connects."""

    async def main() -> None:
        _plant, plc = one_plc()
        security = secured(tmp_path)
        mine, other = (generate_certificate(CLIENT_URI, n, client=True) for n in ("a", "b"))
        for bundle in (mine, other):
            security.trust(bundle.certificate_der)
        cert, key = tmp_path / "a.der", tmp_path / "a.pem"
        mine.write(cert, key)
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        try:
            for swapped in (True, False):
                client = _SwappedCertificateClient(server.endpoint, timeout=10)
                client.application_uri = CLIENT_URI
                client.other_certificate = (other if swapped else mine).certificate_der
                await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                                          mode=ua.MessageSecurityMode.SignAndEncrypt)
                if swapped:
                    with pytest.raises(ua.uaerrors.BadSecurityChecksFailed):
                        await client.connect()
                else:
                    await client.connect()
                    await client.disconnect()
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))


@pytest.mark.timeout(60)
def test_a_session_cannot_be_taken_over_from_a_channel_of_another_certificate(
    tmp_path: Path,
) -> None:
    """Client B, trusted too, replays the live session of client A (its authentication token,
    as asyncua's session persistence stores it) in ActivateSession on B's own channel: the
    server refuses (OPC 10000-4 5.7.3: the same certificate as at CreateSession), so B ends
    up with a fresh session of its own and A keeps its session."""

    async def main() -> None:
        _plant, plc = one_plc()
        security = secured(tmp_path)
        files = {}
        for name in ("a", "b"):
            bundle = generate_certificate(CLIENT_URI, name, client=True)
            security.trust(bundle.certificate_der)
            files[name] = (tmp_path / f"{name}.der", tmp_path / f"{name}.pem")
            bundle.write(*files[name])
        state = tmp_path / "session.json"
        server = PlcOpcUaServer([plc], security=security)
        await server.start()
        clients = []
        try:
            for name in ("a", "b"):
                client = Client(server.endpoint, timeout=10)
                client.application_uri = CLIENT_URI
                client.session_state_path = state
                await client.set_security(SecurityPolicyBasic256Sha256, *map(str, files[name]),
                                          mode=ua.MessageSecurityMode.SignAndEncrypt)
                client.set_user("operator")
                client.set_password("op")
                await client.connect()
                clients.append(client)
            a, b = (c.uaclient.session.authentication_token for c in clients)
            assert a != b
            for client in clients:  # both sessions work
                await client.get_node(command_id(server, plc, CNTRL_CMD)).read_value()
        finally:
            for client in clients:
                await client.disconnect()
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), 50))
