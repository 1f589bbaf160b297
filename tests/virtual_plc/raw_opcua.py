"""A hostile OPC UA client for tests: the UA TCP conversation built by hand.

HEL, OPN, MSG and CLO frames are laid out here byte by byte after OPC 10000-6 (7.1.2 message
header and HEL/ACK/ERR bodies, 6.7.2 security and sequence headers, 6.7.4 OpenSecureChannel),
so nothing refuses on the client's side: the test decides what goes on the wire. Only the
service bodies (a CreateSessionRequest...) are encoded with asyncua's binary encoder, and
only SecurityPolicy#None frames are built (no cryptography).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any, TypeVar

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.ua_binary import nodeid_from_binary, struct_from_binary, struct_to_binary

NONE_URI = "http://opcfoundation.org/UA/SecurityPolicy#None"
T = TypeVar("T")


def ua_string(text: str | bytes | None) -> bytes:
    """OPC UA String / ByteString: Int32 length (-1 for null) and the bytes."""
    if text is None:
        return struct.pack("<i", -1)
    data = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<i", len(data)) + data


def frame(kind: bytes, body: bytes, chunk: bytes = b"F") -> bytes:
    """Message header (3-byte type, chunk type, UInt32 total size) and body."""
    return kind + chunk + struct.pack("<I", 8 + len(body)) + body


def hello(url: str, buffer: int = 65535) -> bytes:
    """HEL: ProtocolVersion 0, receive/send buffer, no message or chunk limit, EndpointUrl."""
    return frame(b"HEL", struct.pack("<IIIII", 0, buffer, buffer, 0, 0) + ua_string(url))


@dataclass
class Reply:
    """One message from the server: its type and body (after the 8-byte header)."""

    kind: bytes
    body: bytes

    def error(self) -> tuple[int, str]:
        """The StatusCode and Reason of an ERR message."""
        assert self.kind == b"ERR", f"expected ERR, got {self.kind!r}"
        (code,) = struct.unpack_from("<I", self.body)
        (length,) = struct.unpack_from("<i", self.body, 4)
        return code, self.body[8 : 8 + max(length, 0)].decode("utf-8")


def kind_of(reply: Reply | None) -> bytes | None:
    """The message type of *reply*, None if the server closed instead."""
    return None if reply is None else reply.kind


class RawClient:
    """One TCP connection speaking hand-built UA TCP frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.channel_id = 0
        self.token_id = 0
        self.sequence = 0
        self.request_id = 0
        self.auth_token = ua.NodeId()

    @classmethod
    async def connect(cls, endpoint: str) -> RawClient:
        host, port = endpoint.removeprefix("opc.tcp://").rsplit(":", 1)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, timeout: float = 5.0) -> Reply | None:
        """The next message, or None when the server closed the connection."""
        try:
            header = await asyncio.wait_for(self.reader.readexactly(8), timeout)
        except asyncio.IncompleteReadError:
            return None
        kind, size = header[:3], struct.unpack_from("<I", header, 4)[0]
        body = await asyncio.wait_for(self.reader.readexactly(size - 8), timeout)
        return Reply(kind, body)

    async def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (EOF), reading what is left."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except (ConnectionResetError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()

    # -- the conversation, SecurityPolicy#None ------------------------------------------

    async def hello(self, url: str) -> Reply | None:
        await self.send(hello(url))
        return await self.receive()

    def _sequence(self) -> bytes:
        self.sequence += 1
        self.request_id += 1
        return struct.pack("<II", self.sequence, self.request_id)

    async def open_none_channel(self, mode: ua.MessageSecurityMode = ua.MessageSecurityMode.None_
                                ) -> Reply | None:
        """OPN for SecurityPolicy#None without a certificate; remembers channel and token."""
        request = ua.OpenSecureChannelRequest()
        request.Parameters.ClientProtocolVersion = 0
        request.Parameters.RequestType = ua.SecurityTokenRequestType.Issue
        request.Parameters.SecurityMode = mode
        request.Parameters.RequestedLifetime = 600_000
        security = ua_string(NONE_URI) + ua_string(None) + ua_string(None)
        body = struct.pack("<I", 0) + security + self._sequence() + struct_to_binary(request)
        await self.send(frame(b"OPN", body))
        reply = await self.receive()
        if reply is not None and reply.kind == b"OPN":
            buf = Buffer(reply.body)
            (self.channel_id,) = struct.unpack("<I", buf.read(4))
            struct_from_binary(ua.AsymmetricAlgorithmHeader, buf)
            buf.read(8)
            response = struct_from_binary(ua.OpenSecureChannelResponse, buf)
            self.token_id = response.Parameters.SecurityToken.TokenId
        return reply

    def message_frame(self, payload: bytes) -> bytes:
        """A MSG chunk on the open channel, with the next sequence number, around *payload*."""
        ids = struct.pack("<II", self.channel_id, self.token_id)
        return frame(b"MSG", ids + self._sequence() + payload)

    async def message(self, request: Any, channel: int | None = None,
                      token: int | None = None) -> Reply | None:
        """Send *request* as one MSG chunk on the channel (or the ids given)."""
        request.RequestHeader.AuthenticationToken = self.auth_token
        request.RequestHeader.RequestHandle = self.request_id + 1
        request.RequestHeader.TimeoutHint = 5000
        ids = struct.pack("<II", self.channel_id if channel is None else channel,
                          self.token_id if token is None else token)
        await self.send(frame(b"MSG", ids + self._sequence() + struct_to_binary(request)))
        return await self.receive()


def service_result(reply: Reply, expected: type[T]) -> T | ua.ServiceFault:
    """Decode a MSG reply: the expected response, or the ServiceFault the server sent."""
    assert reply.kind == b"MSG", f"expected MSG, got {reply.kind!r}"
    buf = Buffer(reply.body)
    buf.read(4 + 4 + 8)  # channel id, token id, sequence header
    typeid = nodeid_from_binary(buf.copy())
    if typeid == ua.NodeId(ObjectIds.ServiceFault_Encoding_DefaultBinary):  # type: ignore[arg-type]
        fault: ua.ServiceFault = struct_from_binary(ua.ServiceFault, buf)
        return fault
    result: T = struct_from_binary(expected, buf)
    return result


def create_session_request(endpoint: str) -> ua.CreateSessionRequest:
    request = ua.CreateSessionRequest()
    params = request.Parameters
    params.ClientDescription.ApplicationUri = "urn:hostile:client"
    params.ClientDescription.ApplicationType = ua.ApplicationType.Client
    params.EndpointUrl = endpoint
    params.SessionName = "hostile"
    params.ClientNonce = b"\x00" * 32
    params.RequestedSessionTimeout = 60_000
    params.MaxResponseMessageSize = 0
    return request


def activate_with_password(user: str, password: str) -> ua.ActivateSessionRequest:
    """ActivateSession with a UserNameIdentityToken whose password is plain UTF-8."""
    request = ua.ActivateSessionRequest()
    token = ua.UserNameIdentityToken()
    token.PolicyId = "username"
    token.UserName = user
    token.Password = password.encode("utf-8")
    token.EncryptionAlgorithm = None  # type: ignore[assignment]
    request.Parameters.UserIdentityToken = token
    request.Parameters.LocaleIds = []
    return request


def write_request(node: ua.NodeId, variant: ua.Variant) -> ua.WriteRequest:
    request = ua.WriteRequest()
    value = ua.WriteValue()
    value.NodeId = node
    value.AttributeId = ua.AttributeIds.Value
    value.Value = ua.DataValue(variant)
    request.Parameters.NodesToWrite = [value]
    return request
