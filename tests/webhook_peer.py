"""A real webhook listener for tests: an HTTP(S) server on loopback that records what it
receives and answers scripted statuses (and headers)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Peer:
    def __init__(self, answers: list[tuple[int, dict[str, str]]] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes) -> None:
                outer.received.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = outer.answers.pop(0) if outer.answers else (201, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                reply = b"internal detail: db01.corp port 5432 open"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

            def do_GET(self) -> None:
                self._answer(b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/listener"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def peer(answers: list[tuple[int, dict[str, str]]] | None = None,
         tls: ssl.SSLContext | None = None) -> Iterator[Peer]:
    made = Peer(answers, tls)
    try:
        yield made
    finally:
        made.close()


def self_signed(hostname: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server TLS context with a certificate for ``hostname`` only (no IP address), and
    a client context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def deliver(*, allow_private: bool = True, verify: ssl.SSLContext | bool = True) -> int:
    """Run one delivery pass of the worker through the SSRF-guarded client."""
    from openbss.core.db import unit_of_work
    from openbss.core.events import deliver_due
    from openbss.core.netguard import guarded_client

    with unit_of_work() as session, guarded_client(allow_private=allow_private, timeout=5,
                                                   verify=verify) as http:
        return deliver_due(session, client=http, max_attempts=3,
                           now=lambda: datetime.now(UTC))


def deliveries(tenant_id: str) -> list[Any]:
    """Every event delivery of one tenant."""
    from sqlalchemy import select

    from openbss.core.db import unit_of_work
    from openbss.core.models import EventDelivery

    with unit_of_work() as session:
        return list(session.scalars(
            select(EventDelivery).where(EventDelivery.tenant_id == tenant_id)))

