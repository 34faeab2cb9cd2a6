"""The TLS settings of every request the process sends out (the providers, the media storage, Telegram's Bot API):
certificates verified against certifi's bundle (or SSL_CERT_FILE / SSL_CERT_DIR where set), as httpx builds them.

Built once a process: loading the bundle costs ~25 ms of CPU, and each client built its own, twice at every start of
an app (a test builds hundreds). Shared process-wide, not kept on the app: a context holds settings and trusted
certificates, no connection, no loop and no app's state, and nothing changes it once built (no client certificate
is loaded into it), so the clients of every app and loop in the process may use the one."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verified_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # httpx's own choice of bundle, as each client made it before
