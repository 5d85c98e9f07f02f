"""`--tls`: https like the real service, with a certificate from a CA made at start-up (`trustme`).

The CA lives only as long as the process: its certificate is written where the user can point a
client at it, the server's key and certificate to a private temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ServerTls:
    ca_file: Path
    key_and_certificate_file: Path

    def how_to_trust(self) -> str:
        return (
            f"brightpearl-mock: https with a CA made at start-up; its certificate is {self.ca_file}\n"
            f"  trust it with SSL_CERT_FILE={self.ca_file} (Python's ssl, OpenSSL), "
            f"REQUESTS_CA_BUNDLE={self.ca_file} (requests), or curl --cacert {self.ca_file}"
        )


def make_certificates(host: str, ca_file: Path | None) -> ServerTls:
    """A new CA and a certificate it signs for `host` and the loopback names; the CA written to `ca_file`."""
    authority = trustme.CA(organization_name="brightpearl-mock")
    names = list(dict.fromkeys([*LOOPBACK_NAMES, *([host] if host not in ("0.0.0.0", "::") else [])]))
    certificate = authority.issue_cert(*names)
    private = Path(tempfile.mkdtemp(prefix="brightpearl-mock-tls-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    ca_path = ca_file or private / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_path))
    key_path = private / "server.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(key_path))
    return ServerTls(ca_path, key_path)
