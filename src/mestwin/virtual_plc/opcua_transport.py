"""The OPC UA TCP transport of the virtual PLCs, guarded: a secured endpoint accepts nothing less.

asyncua 2.1's server has holes a hostile client walks through (each measured with a raw
client, ``tests/virtual_plc/test_opcua_hostile.py``):

* every connection starts on an implicit SecurityPolicy#None channel and keeps it when no
  configured policy matches, so an OpenSecureChannel (OPN) for #None is accepted by a
  server that offers Basic256Sha256 Sign & Encrypt only, and a MSG sent without any OPN is
  processed on channel 0;
* the client certificate is checked at CreateSession only, never at OPN;
* a UserNameIdentityToken is accepted in plain text whatever the endpoint advertised;
* a malformed or unexpected message is logged and skipped: no ERR, the connection stays.

:class:`GuardedServer` is an asyncua ``Server`` whose connections follow OPC 10000-6 instead:

* only the (SecurityPolicyUri, MessageSecurityMode) pairs of its own endpoints open a
  channel (Bad_SecurityPolicyRejected, Bad_SecurityModeRejected) and carry sessions, on
  every path: OPN, renewal, each service request. The one exception is the
  DiscoveryEndpoint every server must have (OPC 10000-4 5.5.1): a #None channel may call
  GetEndpoints and FindServers, and any other request on it (CreateSession,
  ActivateSession, Read, Write...) gets a ServiceFault Bad_SecurityPolicyRejected and the
  connection is closed;
* the sender certificate of an OPN is checked against the trust list *before* the channel
  opens (§6.7.4: "check that the Certificate is trusted first and return
  Bad_SecurityChecksFailed on error"); CreateSession must present the channel's certificate
  and a session may only be re-activated over a channel with the same certificate
  (OPC 10000-4 §5.7.3);
* a server that has an encrypting policy accepts user passwords only encrypted with its key
  and bound to the session nonce (OPC 10000-4 §7.41.2.3), also on an encrypted channel;
* HEL comes first and once, MSG/CLO only on the open channel with a known token; any
  violation, undecodable message or chunk larger than the negotiated buffer gets an ERR
  message (§7.1.5: Bad_TcpMessageTypeInvalid, Bad_TcpSecureChannelUnknown,
  Bad_TcpMessageTooLarge, Bad_DecodingError, Bad_SecurityChecksFailed) and the server
  closes the connection, logging one line.

Everything is per server instance (subclasses, no patched globals): two servers with
different settings in one process each keep their own rules.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import struct
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import ua
from asyncua.common.connection import TransportLimits
from asyncua.common.utils import Buffer, ServiceError
from asyncua.crypto import uacrypto
from asyncua.crypto.security_policies import SecurityPolicyNone
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession
from asyncua.server.server import Server
from asyncua.server.uaprocessor import UaProcessor
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.ua_binary import header_from_binary, struct_from_binary, uatcp_to_binary
from asyncua.ua.uaerrors import UaStatusCodeError
from cryptography import x509

__all__ = ["CertificateCheck", "ChannelRules", "GuardedServer", "error_message"]

_log = logging.getLogger(__name__)

CertificateCheck = Callable[[x509.Certificate], Awaitable[None]]
"""Checks a client's application certificate; raises ``ServiceError`` to refuse it."""

NONE_URI = SecurityPolicyNone.URI
_HEL, _OPN, _MSG, _CLO, _ERR = b"HEL", b"OPN", b"MSG", b"CLO", b"ERR"  # OPC 10000-6 7.1.2
_SECURE = (_OPN, _MSG, _CLO)
_SINGLE = b"F"
_CHUNKS = (_SINGLE, b"C", b"A")  # final, intermediate, abort (OPC 10000-6 6.7.2.2)
_HELLO_MIN = 8 + 5 * 4 + 4  # header, five UInt32, the EndpointUrl length
_SECURE_MIN = 8 + 4 + 8  # header, SecureChannelId, at least a sequence header
_DECRYPT: dict[str, Callable[[Any, bytes], bytes]] = {
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep": uacrypto.decrypt_rsa_oaep,
    "http://opcfoundation.org/UA/security/rsa-oaep-sha2-256": uacrypto.decrypt_rsa_oaep_sha256,
}
_DISCOVERY = (NONE_URI, ua.MessageSecurityMode.None_)
_DISCOVERY_ONLY = frozenset(
    ua.NodeId(i)  # type: ignore[arg-type]
    for i in (
        ObjectIds.GetEndpointsRequest_Encoding_DefaultBinary,
        ObjectIds.FindServersRequest_Encoding_DefaultBinary,
        ObjectIds.FindServersOnNetworkRequest_Encoding_DefaultBinary,
        ObjectIds.CloseSecureChannelRequest_Encoding_DefaultBinary,
    )
)
"""What a SecurityPolicy#None channel may ask of a server without a None endpoint: the
DiscoveryEndpoint (OPC 10000-4 5.5.1: it "shall not require any message security")."""
_CREATE_SESSION = ua.NodeId(ObjectIds.CreateSessionRequest_Encoding_DefaultBinary)  # type: ignore[arg-type]
_ACTIVATE_SESSION = ua.NodeId(ObjectIds.ActivateSessionRequest_Encoding_DefaultBinary)  # type: ignore[arg-type]


def error_message(code: int, reason: str) -> bytes:
    """An OPC UA TCP ERR message (OPC 10000-6 §7.1.2.5): StatusCode and reason."""
    err = ua.ErrorMessage(ua.StatusCode(code), reason[:4096])  # type: ignore[arg-type]
    return uatcp_to_binary(_ERR, err)  # type: ignore[arg-type]


class ChannelRules:
    """What one server accepts: its endpoints' policies and how certificates are checked.

    ``policies`` holds (SecurityPolicyUri, MessageSecurityMode) pairs; ``check_certificate``
    is called with the sender certificate of every OPN of a secured policy. The rules also
    remember the channel certificate of each session (weakly), for re-activation.
    """

    def __init__(
        self,
        policies: frozenset[tuple[str, ua.MessageSecurityMode]],
        check_certificate: CertificateCheck | None = None,
    ) -> None:
        self.policies = policies
        self.policy_uris = frozenset(uri for uri, _ in policies)
        self.check_certificate = check_certificate
        self.session_certificates: weakref.WeakKeyDictionary[InternalSession, bytes | None] = (
            weakref.WeakKeyDictionary()
        )


class _GuardedInternalServer(InternalServer):
    """InternalServer whose UserNameIdentityTokens must be encrypted when it can decrypt."""

    token_algorithms: frozenset[str] = frozenset()
    """EncryptionAlgorithm URIs accepted for passwords; empty: plain text (open server)."""

    def decrypt_user_token(self, isession: Any, token: ua.UserNameIdentityToken) -> tuple[str, str]:
        if not self.token_algorithms:
            return super().decrypt_user_token(isession, token)
        algorithm = token.EncryptionAlgorithm
        if algorithm not in self.token_algorithms or not token.Password:
            _log.warning("OPC UA login refused: password of %r not encrypted", token.UserName)
            raise ServiceError(StatusCodes.BadIdentityTokenInvalid)
        raw = _DECRYPT[algorithm](self.private_key, token.Password)
        (length,) = struct.unpack_from("<I", raw)
        secret, nonce = raw[4 : 4 + length], isession.nonce or b""
        cut = len(secret) - len(nonce)
        if len(secret) != length or cut < 0 or not hmac.compare_digest(secret[cut:], nonce):
            _log.warning("OPC UA login refused: password of %r not bound to the nonce",
                         token.UserName)
            raise ServiceError(StatusCodes.BadIdentityTokenInvalid)
        return token.UserName, secret[:cut].decode("utf-8")


class _GuardedProcessor(UaProcessor):
    """UaProcessor that checks message order, policy and certificate before asyncua acts."""

    def __init__(
        self, iserver: InternalServer, transport: Any, limits: TransportLimits, rules: ChannelRules
    ) -> None:
        super().__init__(iserver, transport, limits)
        self._rules = rules
        self._greeted = False

    @property
    def receive_buffer_size(self) -> int:
        """Largest chunk the peer may send (negotiated by HEL/ACK)."""
        return int(self._limits.max_recv_buffer)

    @property
    def secured(self) -> bool:
        return self._connection.security_policy.Mode != ua.MessageSecurityMode.None_

    async def process(self, header: ua.Header, body: Buffer) -> bool:
        kind: Any = header.MessageType
        if kind == _HEL:
            if self._greeted:
                raise ServiceError(StatusCodes.BadTcpMessageTypeInvalid)
            self._greeted = True
        elif not self._greeted or kind not in _SECURE:
            raise ServiceError(StatusCodes.BadTcpMessageTypeInvalid)
        elif kind == _OPN:
            await self._check_open(body)
        else:
            self._check_channel(header, body)
        return bool(await super().process(header, body))  # type: ignore[no-untyped-call]

    def _check_channel(self, header: ua.Header, body: Buffer) -> None:
        connection = self._connection
        if not connection.is_open() or header.ChannelId != connection.security_token.ChannelId:
            raise ServiceError(StatusCodes.BadTcpSecureChannelUnknown)
        (token,) = struct.unpack("<I", body.copy(4).read(4))
        tokens = (connection.security_token, connection.next_security_token,
                  connection.prev_security_token)
        if token == 0 or token not in {t.TokenId for t in tokens}:
            raise ServiceError(StatusCodes.BadTcpSecureChannelUnknown)

    async def _check_open(self, body: Buffer) -> None:
        header = struct_from_binary(ua.AsymmetricAlgorithmHeader, body.copy())
        uri, sender = header.SecurityPolicyURI, header.SenderCertificate or None
        policy = self._connection.security_policy
        if self._connection.is_open():  # a renewal keeps the channel's policy and certificate
            if uri != policy.URI or (self.secured and sender != policy.peer_certificate):
                raise ServiceError(StatusCodes.BadSecurityChecksFailed)
            return
        if uri == NONE_URI:  # a session endpoint, or else the DiscoveryEndpoint
            return
        if uri not in self._rules.policy_uris:
            raise ServiceError(StatusCodes.BadSecurityPolicyRejected)
        if sender is None:
            raise ServiceError(StatusCodes.BadSecurityChecksFailed)
        try:
            certificate = x509.load_der_x509_certificate(sender)
            if self._rules.check_certificate is not None:
                await self._rules.check_certificate(certificate)
        except (ServiceError, ValueError) as error:  # the client learns no more (6.7.4)
            raise _Refused(StatusCodes.BadSecurityChecksFailed,
                           f"client certificate: {_reason(error)}") from None

    def open_secure_channel(self, algohdr: Any, seqhdr: Any, body: Buffer) -> None:
        request = struct_from_binary(ua.OpenSecureChannelRequest, body.copy())
        mode = request.Parameters.SecurityMode
        pair = (algohdr.SecurityPolicyURI, mode)
        if pair not in self._rules.policies and pair != _DISCOVERY:
            raise ServiceError(StatusCodes.BadSecurityModeRejected)
        super().open_secure_channel(algohdr, seqhdr, body)  # type: ignore[no-untyped-call]

    async def _process_message(self, typeid: Any, requesthdr: Any, seqhdr: Any, body: Any) -> Any:
        policy = self._connection.security_policy
        if (policy.URI, policy.Mode) not in self._rules.policies and typeid not in _DISCOVERY_ONLY:
            _log.warning("OPC UA request %s refused on a discovery-only channel",
                         getattr(typeid, "Identifier", typeid))
            fault = ua.ServiceFault()
            fault.ResponseHeader.ServiceResult = ua.StatusCode(
                StatusCodes.BadSecurityPolicyRejected  # type: ignore[arg-type]
            )
            self.send_response(requesthdr.RequestHandle, seqhdr, fault)  # type: ignore[no-untyped-call]
            return False  # and close the connection
        peer = policy.peer_certificate if self.secured else None
        if typeid == _CREATE_SESSION:
            params = struct_from_binary(ua.CreateSessionParameters, body.copy())
            if self.secured and params.ClientCertificate != peer:
                raise ServiceError(StatusCodes.BadSecurityChecksFailed)
        elif typeid == _ACTIVATE_SESSION:
            session = self.session or self.iserver.lookup_external_session(
                requesthdr.AuthenticationToken
            )
            if session is not None and self._rules.session_certificates.get(session) != peer:
                raise ServiceError(StatusCodes.BadSecurityChecksFailed)
        result = await super()._process_message(  # type: ignore[no-untyped-call]
            typeid, requesthdr, seqhdr, body
        )
        if typeid == _CREATE_SESSION and self.session is not None:
            self._rules.session_certificates[self.session] = peer
        return result


class _GuardedProtocol(OPCUAProtocol):
    """One connection: frames checked as they arrive, fatal errors answered with ERR."""

    rules: ChannelRules

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._refused = False
        super().connection_made(transport)
        if self.processor is not None:  # replaced before the first byte is read
            self.processor = _GuardedProcessor(self.iserver, self.transport, self.limits,
                                               self.rules)
            self.processor.set_policies(self.policies)  # type: ignore[no-untyped-call]

    def refuse(self, code: int, reason: str) -> None:
        """Send ERR with *code* and close the connection (OPC 10000-6 §7.1.5)."""
        if self._refused or self.transport is None:
            return
        self._refused = True
        self._buffer = b""
        name = ua.StatusCode(code).name  # type: ignore[arg-type]
        _log.warning("OPC UA connection from %s closed: %s (%s)", self.peer_name, name, reason)
        self.transport.write(error_message(code, name))  # the details stay in the log
        self.transport.close()

    def _chunk_limit(self) -> int:
        processor = self.processor
        if isinstance(processor, _GuardedProcessor):
            return processor.receive_buffer_size
        return int(self.limits.max_recv_buffer)

    def _frame_problem(self, kind: bytes, chunk: bytes, size: int) -> tuple[int, str] | None:
        if kind not in (_HEL, *_SECURE):
            return StatusCodes.BadTcpMessageTypeInvalid, f"message type {kind!r}"
        if chunk not in _CHUNKS or (kind != _MSG and chunk != _SINGLE):
            return StatusCodes.BadTcpMessageTypeInvalid, f"chunk type {chunk!r}"
        if size < (_HELLO_MIN if kind == _HEL else _SECURE_MIN):
            return StatusCodes.BadDecodingError, f"message size {size} too small"
        if size > self._chunk_limit():
            return StatusCodes.BadTcpMessageTooLarge, f"chunk of {size} bytes"
        return None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._buffer += data
        while len(self._buffer) >= 8:
            kind, chunk, size = struct.unpack_from("<3scI", self._buffer)
            problem = self._frame_problem(kind, chunk, size)
            if problem is not None:
                self.refuse(*problem)
                return
            if len(self._buffer) < size:
                return
            frame, self._buffer = self._buffer[:size], self._buffer[size:]
            buf = Buffer(frame)
            header = header_from_binary(buf)
            try:
                self.messages.put_nowait((header, buf))
            except asyncio.QueueFull:
                self.refuse(StatusCodes.BadTcpServerTooBusy, "too many queued messages")
                return

    async def _process_one_msg(self, header: Any, buf: Buffer) -> bool:
        if self._refused:
            return False
        try:
            return await super()._process_one_msg(header, buf)
        except Exception as error:  # any failure here is fatal for the connection
            processor = self.processor
            secured = isinstance(processor, _GuardedProcessor) and processor.secured
            self.refuse(_status_of(error, secured), _reason(error))
            return False


def _status_of(error: Exception, secured: bool) -> int:
    if isinstance(error, ServiceError | UaStatusCodeError):
        return int(error.code)
    if secured:  # decryption or signature failures (OPC 10000-6 §6.7.2)
        return StatusCodes.BadSecurityChecksFailed
    return StatusCodes.BadDecodingError


class _Refused(ServiceError):
    """A ServiceError whose reason is logged (the ERR message carries the code only)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code)
        self.reason = reason


def _reason(error: Exception) -> str:
    if isinstance(error, _Refused):
        return error.reason
    if isinstance(error, ServiceError | UaStatusCodeError):
        return ua.StatusCode(error.code).name  # type: ignore[arg-type]
    return f"{type(error).__name__}: {error}"[:200]


class _GuardedBinaryServer(BinaryServer):
    def __init__(self, iserver: InternalServer, host: str, port: int, limits: TransportLimits,
                 rules: ChannelRules) -> None:
        super().__init__(iserver, host, port, limits)
        self.rules = rules

    def _make_protocol(self) -> OPCUAProtocol:
        protocol = _GuardedProtocol(
            iserver=self.iserver, policies=self._policies, clients=self.clients,
            closing_tasks=self.closing_tasks, limits=self.limits,
        )
        protocol.rules = self.rules
        return protocol


class GuardedServer(Server):
    """An asyncua ``Server`` whose connections obey its own endpoints (see the module doc).

    Set :attr:`check_certificate` before :meth:`start` to check OPN sender certificates
    (``opcua_security.apply_security`` does, with the trust list).
    """

    def __init__(self) -> None:
        self._guarded_iserver = _GuardedInternalServer()
        super().__init__(iserver=self._guarded_iserver)
        self.check_certificate: CertificateCheck | None = None
        self.rules: ChannelRules | None = None

    async def start(self) -> None:
        """asyncua's ``Server.start`` with the guarded binary server."""
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(
                self.iserver.certificate, self._application_uri, socket.gethostname()
            )
        await self._setup_server_nodes()
        self._require_encrypted_passwords()
        self.rules = ChannelRules(
            frozenset((f.cls.URI, f.mode) for f in self._policies), self.check_certificate
        )
        await self.iserver.start()
        host, port = self._get_bind_socket_info()
        self.bserver = _GuardedBinaryServer(
            self.iserver, host, port, self.limits, self.rules  # type: ignore[arg-type]
        )
        self.bserver.set_policies(self._policies)
        try:
            await self.bserver.start()
        except Exception:
            await self.iserver.stop()
            raise

    def _require_encrypted_passwords(self) -> None:
        encrypting = [f.cls for f in self._policies
                      if f.mode == ua.MessageSecurityMode.SignAndEncrypt]
        if not encrypting or self.iserver.private_key is None:
            return  # an open server: passwords travel as sent (documented)
        self._guarded_iserver.token_algorithms = frozenset(
            c.AsymmetricEncryptionURI for c in encrypting
        )
        for endpoint in self.iserver.endpoints:
            for token in endpoint.UserIdentityTokens:
                if token.TokenType == ua.UserTokenType.UserName:
                    token.SecurityPolicyUri = encrypting[0].URI
