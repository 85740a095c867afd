"""Keys and the local key store: generation, encrypted PEM at rest, import, refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.cli.helpers import one_line_error, run, run_json
from tests.signing.conftest import PASSPHRASE
from wasmhub.signing.errors import KeyFormatError, PassphraseError
from wasmhub.signing.keys import PublicKey, SigningKey


def test_generate_stores_an_encrypted_private_key(isolated: Path) -> None:
    data = run_json("key", "generate", "release")
    private = Path(data["private_key"])
    assert private.parent == isolated
    text = private.read_bytes()
    assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # not readable without the passphrase
        serialization.load_pem_private_key(text, password=None)
    key = serialization.load_pem_private_key(text, password=PASSPHRASE.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    public = PublicKey.from_pem(Path(data["public_key"]).read_bytes())
    assert public.fingerprint == data["fingerprint"]
    listed = run_json("key", "list")
    assert [(k["name"], k["private"]) for k in listed["keys"]] == [("release", True)]
    again = run("key", "generate", "release")
    assert again.exit_code == 1 and "already exists" in one_line_error(again)


def test_short_passphrase_writes_nothing(isolated: Path) -> None:
    result = run("key", "generate", "weak", env={"WASMHUB_KEY_PASSPHRASE": "short"})
    assert result.exit_code == 1 and "at least 8 characters" in one_line_error(result)
    assert not (isolated / "weak.key").exists() and not (isolated / "weak.pub").exists()


def test_passphrase_from_stdin(isolated: Path) -> None:
    result = run("key", "generate", "piped", "--passphrase-stdin", "--json",
                 input="piped passphrase\n", env={"WASMHUB_KEY_PASSPHRASE": ""})
    assert result.exit_code == 0, result.stderr
    text = (isolated / "piped.key").read_bytes()
    SigningKey.from_pem(text, "piped passphrase")
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        SigningKey.from_pem(text, "not the passphrase")
    with pytest.raises(PassphraseError, match="is encrypted"):
        SigningKey.from_pem(text, None)


def test_import_private_public_and_refuse_other_keys(tmp_path: Path, isolated: Path) -> None:
    plain = ec.generate_private_key(ec.SECP256R1())
    pem = plain.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption())
    (tmp_path / "plain.pem").write_bytes(pem)
    imported = run_json("key", "import", str(tmp_path / "plain.pem"), "--name", "ci")
    assert imported["private"] is True
    assert (isolated / "ci.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    public_pem = plain.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "cosign.pub").write_bytes(public_pem)
    only = run_json("key", "import", str(tmp_path / "cosign.pub"), "--name", "theirs")
    assert only["private"] is False and only["fingerprint"] == imported["fingerprint"]

    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyFormatError, match="secp384r1"):
        PublicKey.from_pem(p384)
    rsa_pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(KeyFormatError, match="ECDSA P-256"):
        PublicKey.from_pem(rsa_pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cosign = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ9\n-----END ENCRYPTED " \
             b"SIGSTORE PRIVATE KEY-----\n"
    (tmp_path / "cosign.key").write_bytes(cosign)
    refused = run("key", "import", str(tmp_path / "cosign.key"), "--name", "cos")
    assert refused.exit_code == 1 and "cosign's own encrypted format" in one_line_error(refused)
    (tmp_path / "junk.pem").write_text("hello")
    junk = run("key", "import", str(tmp_path / "junk.pem"), "--name", "junk")
    assert junk.exit_code == 1 and "no PEM PUBLIC KEY or PRIVATE KEY" in one_line_error(junk)
    bad_name = run("key", "generate", "../escape")
    assert bad_name.exit_code == 1 and "must be 1-64 letters" in one_line_error(bad_name)
    assert sorted(p.name for p in isolated.iterdir()) == ["ci.key", "ci.pub", "theirs.pub"]


def test_sign_and_verify_bytes_round_trip() -> None:
    key = SigningKey.generate()
    signature = key.sign(b"payload")
    assert key.public.verify(signature, b"payload")
    assert not key.public.verify(signature, b"payload!")
    assert not SigningKey.generate().public.verify(signature, b"payload")
    assert not key.public.verify(b"\x30\x02", b"payload")
