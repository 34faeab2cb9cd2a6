"""The initiator's SecurityCredential: its password sealed with Safaricom's certificate, as Daraja opens it (pure
logic, no I/O)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gateway.core.providers import PaymentError
from payments.mpesa.money_out import security_credential


def certificate_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apicrypt.safaricom.co.ke")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_password_opens_only_with_safaricoms_key_and_differs_each_time() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    first, second = (security_credential(certificate_of(key), "Initiator-Pass-1") for _ in range(2))
    assert first != second  # PKCS#1 v1.5 pads at random: nothing to compare across requests
    for sealed in (first, second):
        assert key.decrypt(base64.b64decode(sealed), padding.PKCS1v15()) == b"Initiator-Pass-1"


def test_a_certificate_without_an_rsa_key_is_refused_before_any_call() -> None:
    with pytest.raises(PaymentError) as refused:
        security_credential(certificate_of(ec.generate_private_key(ec.SECP256R1())), "Initiator-Pass-1")
    assert refused.value.code == "bad_certificate"
