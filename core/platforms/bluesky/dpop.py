"""ES256 keys and the JWTs AT Protocol OAuth signs with them: DPoP proofs (RFC 9449) and the
confidential client's ``private_key_jwt`` assertions (RFC 7523), with ``cryptography``.

What each JWT holds is as https://docs.bsky.app/docs/advanced-guides/oauth-client#dpop and
#confidential-client-authentication list it: a DPoP proof's header ``typ: dpop+jwt``, ``alg: ES256``
and the public ``jwk``; its body ``jti``, ``htm``, ``htu``, ``iat``, the server's ``nonce`` once
known and, towards the PDS, ``ath`` (the access token's S256 hash). An assertion's header ``alg``
and ``kid``; its body ``iss`` = ``sub`` = the client_id, ``aud`` = the issuer, ``jti``, ``iat``.
Every JWT is signed anew per request: neither may be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

# A proof or assertion is good for this long: the servers check ``iat`` against their clock.
LIFETIME_S = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(value: int) -> str:
    return b64url(value.to_bytes(32, "big"))


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key: one per auth session, as the guide requires ("never reused")."""
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _int(numbers.x), "y": _int(numbers.y)}


def private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return public_jwk(key) | {"d": _int(key.private_numbers().private_value)}


def key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePrivateKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" not in jwk:
        raise ValueError("not a P-256 private key")
    return ec.derive_private_key(int.from_bytes(unb64url(str(jwk["d"])), "big"), ec.SECP256R1())


def public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("not a P-256 key")
    x = int.from_bytes(unb64url(str(jwk["x"])), "big")
    y = int.from_bytes(unb64url(str(jwk["y"])), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexical order, without whitespace."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def load_client_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """The client authentication key from its PEM (``openssl ecparam -name prime256v1 ...``), also
    written on one line with ``\\n`` for its line breaks (systemd's EnvironmentFile takes no others)."""
    key = serialization.load_pem_private_key(pem.strip().replace("\\n", "\n").encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the Bluesky client key must be an EC P-256 (prime256v1) private key")
    return key


def sign(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], body: dict[str, Any]) -> str:
    """A compact JWS. ES256 signatures are r||s, 32 bytes each (RFC 7518 §3.4), not DER."""
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(body, separators=(",", ":")).encode())
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify(token: str, public: ec.EllipticCurvePublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, body) of an ES256 JWS signed by ``public``; ValueError otherwise (the fakes use it)."""
    try:
        head, body, signature = token.split(".")
        raw = unb64url(signature)
        if len(raw) != 64:
            raise ValueError("an ES256 signature is 64 bytes")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return json.loads(unb64url(head)), json.loads(unb64url(body))
    except (InvalidSignature, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"bad JWS: {type(exc).__name__}") from None


def access_token_hash(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def proof(
    key: ec.EllipticCurvePrivateKey,
    method: str,
    url: str,
    *,
    nonce: str | None,
    access_token: str | None = None,
) -> str:
    """The ``DPoP`` header for one request. ``htu`` is the URL without query or fragment (RFC 9449
    §4.2)."""
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": url.split("?", 1)[0].split("#", 1)[0],
        "iat": int(time.time()),
        "exp": int(time.time()) + LIFETIME_S,
    }
    if nonce:
        body["nonce"] = nonce
    if access_token is not None:
        body["ath"] = access_token_hash(access_token)
    return sign(key, {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}, body)


def client_assertion(key: ec.EllipticCurvePrivateKey, *, client_id: str, audience: str) -> str:
    now = int(time.time())
    return sign(
        key,
        {"alg": "ES256", "kid": thumbprint(public_jwk(key))},
        {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + LIFETIME_S,
        },
    )


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
