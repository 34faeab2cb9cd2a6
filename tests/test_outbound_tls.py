"""What the service sends out goes only to servers whose certificate an authority it trusts signed (one TLS context
shared by the process's clients, gateway/kit/outbound_tls.py): a server with a certificate of its own making is
refused by the providers' client and by the bot alike, before a byte of the request reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from assembly.resources.http_client import provider_http_client


@dataclass
class UntrustedServer:
    url: str
    received: list[bytes] = field(default_factory=list)


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server's TLS with a certificate for 127.0.0.1 that no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    (directory / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return context


@pytest.fixture
async def untrusted(tmp_path: Path) -> AsyncIterator[UntrustedServer]:
    server_tls = self_signed(tmp_path)
    answered: UntrustedServer

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            answered.received.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    answered = UntrustedServer(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    yield answered
    server.close()


async def test_the_providers_client_refuses_a_server_it_cannot_trust(untrusted: UntrustedServer) -> None:
    async with provider_http_client(httpx.Timeout(5.0)) as http:
        for _ in range(2):  # a second client of the process the same: the context is shared, not loosened
            with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                await http.post(f"{untrusted.url}/collection/v1_0/requesttopay", json={"amount": "100"})
    assert untrusted.received == []


async def test_the_bot_refuses_a_bot_api_it_cannot_trust(untrusted: UntrustedServer) -> None:
    # Here, not with the module: every test process would build aiogram's types while collecting (seconds of CPU).
    from aiogram.exceptions import TelegramNetworkError

    from channels.telegram.bot import build_bot

    bot = build_bot("42:TEST", untrusted.url)
    try:
        with pytest.raises(TelegramNetworkError, match="certificate verify failed"):
            await bot.send_message(chat_id=1, text="Your vote is counted")
    finally:
        await bot.session.close()
    assert untrusted.received == []
