"""Digest authentication (RFC 2617, RFC 7616 algorithms, RFC 3261 §22).

Client side: ``DigestClient`` answers 401/407 challenges (MD5 or SHA-256, qop=auth,
counting nc per nonce). Server side: ``DigestServer`` issues nonces signed with HMAC
over their creation time (given as ``now``), so any node sharing the secret can check
them; expired nonces get ``stale=true`` and reused nonce counts are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.headers import Via
from voxgate.sip.message import (
    SipRequest,
    SipResponse,
    generate_branch,
    generate_tag,
    make_response,
)
from voxgate.sip.uri import parse_quoted

HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}
STRENGTH = {"MD5": 0, "SHA-256": 1}
_PARAM = re.compile(r"\s*([A-Za-z0-9\-_.!%*+`'~]+)\s*=\s*")


def _h(algorithm: str, text: str) -> str:
    return HASHES[algorithm](text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_auth_params(text: str) -> dict[str, str]:
    """``k=v, k="quoted", ...`` into a dict with lower-cased keys (values unquoted)."""
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        m = _PARAM.match(text, i)
        if m is None:
            raise RemoteProtocolError("malformed authentication parameters")
        key, i = m.group(1).lower(), m.end()
        if i < n and text[i] == '"':
            value, i = parse_quoted(text, i)
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value, i = text[i:end].strip(), end
        params[key] = value
        while i < n and text[i] in " \t":
            i += 1
        if i < n:
            if text[i] != ",":
                raise RemoteProtocolError("malformed authentication parameters")
            i += 1
    return params


def _split_scheme(value: str) -> tuple[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    return scheme.lower(), rest


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``Digest`` challenge from WWW-Authenticate or Proxy-Authenticate."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> Challenge:
        scheme, rest = _split_scheme(value)
        if scheme != "digest":
            raise RemoteProtocolError(f"unsupported auth scheme {scheme!r}")
        p = parse_auth_params(rest)
        if "realm" not in p or "nonce" not in p:
            raise RemoteProtocolError("challenge without realm or nonce")
        algorithm = p.get("algorithm", "MD5").upper()
        qop = tuple(q.strip().lower() for q in p.get("qop", "").split(",") if q.strip())
        return cls(
            p["realm"],
            p["nonce"],
            algorithm,
            qop,
            p.get("opaque"),
            p.get("stale", "").lower() == "true",
        )


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str | None,
    cnonce: str | None,
    qop: str | None,
) -> str:
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


class DigestClient:
    """Answers challenges for one set of credentials; counts nc per nonce."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self._nc: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<DigestClient user={self.username!r} nonces={len(self._nc)}>"

    def authorization(
        self, challenge: Challenge, method: str, uri: str, *, cnonce: str | None = None
    ) -> str:
        """The Authorization / Proxy-Authorization value answering ``challenge``."""
        if challenge.algorithm not in HASHES:
            raise RemoteProtocolError(f"unsupported digest algorithm {challenge.algorithm}")
        qop = "auth" if "auth" in challenge.qop else None
        if challenge.qop and qop is None:
            raise RemoteProtocolError("server requires an unsupported qop")
        nc = cn = None
        if qop:
            count = self._nc[challenge.nonce] = self._nc.get(challenge.nonce, 0) + 1
            nc, cn = f"{count:08x}", cnonce or secrets.token_hex(8)
        response = digest_response(
            algorithm=challenge.algorithm,
            username=self.username,
            realm=challenge.realm,
            password=self._password,
            method=method,
            uri=uri,
            nonce=challenge.nonce,
            nc=nc,
            cnonce=cn,
            qop=qop,
        )
        parts = [
            f'username="{_q(self.username)}"',
            f'realm="{_q(challenge.realm)}"',
            f'nonce="{_q(challenge.nonce)}"',
            f'uri="{_q(uri)}"',
            f'response="{response}"',
            f"algorithm={challenge.algorithm}",
        ]
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cn}"']
        if challenge.opaque is not None:
            parts.append(f'opaque="{_q(challenge.opaque)}"')
        return "Digest " + ", ".join(parts)

    def authorize(self, request: SipRequest, response: SipResponse) -> SipRequest:
        """Re-issue ``request`` answering the 401/407 in ``response``.

        The copy gets CSeq + 1 and a new Via branch; pick the strongest algorithm offered.
        """
        if response.status not in (401, 407):
            raise RemoteProtocolError("not a challenge")
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer = "Authorization" if response.status == 401 else "Proxy-Authorization"
        challenges = []
        for value in response.headers.get_all(header):
            try:
                challenge = Challenge.parse(value)
            except RemoteProtocolError:
                continue
            if challenge.algorithm in HASHES:
                challenges.append(challenge)
        if not challenges:
            raise RemoteProtocolError("no usable digest challenge", 401)
        best = max(challenges, key=lambda c: STRENGTH[c.algorithm])
        h = request.headers.copy()
        h.remove(answer)
        h.add(answer, self.authorization(best, request.method, str(request.uri)))
        h.set("CSeq", f"{request.cseq.number + 1} {request.method}")
        top = request.via[0]
        h.replace_first("Via", str(_with_branch(top, generate_branch())))
        return SipRequest(request.method, request.uri, h, request.body)


def _with_branch(via: Via, branch: str) -> Via:
    return Via(via.transport, via.host, via.port, {**via.params, "branch": branch}, via.protocol)


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True, slots=True)
class AuthResult:
    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""
    # nothing could be checked (no credentials for the realm, or a nonce that is not
    # ours, e.g. from before a restart): challenge again rather than refuse
    rechallenge: bool = False


class DigestServer:
    """Challenges and verifies digest credentials for one realm."""

    def __init__(
        self,
        secret: bytes,
        realm: str,
        *,
        nonce_ttl: float = 300.0,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        max_tracked: int = 100_000,
    ) -> None:
        if not secret:
            raise ValueError("a nonce secret is required")
        self._secret = secret
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self.algorithms = algorithms
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max = max_tracked

    def __repr__(self) -> str:
        return f"<DigestServer realm={self.realm!r} tracked={len(self._seen)}>"

    def make_nonce(self, now: float) -> str:
        raw = struct.pack(">d", now) + secrets.token_bytes(8)
        mac = hmac.new(self._secret, raw, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")

    def _nonce_time(self, nonce: str) -> float | None:
        try:
            blob = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except ValueError:
            return None
        if len(blob) != 32:
            return None
        raw, mac = blob[:16], blob[16:]
        good = hmac.new(self._secret, raw, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, good):
            return None
        value: float = struct.unpack(">d", raw[:8])[0]
        return value

    def challenge(self, now: float, *, stale: bool = False) -> list[str]:
        """WWW-Authenticate (or Proxy-Authenticate) values, strongest algorithm first."""
        nonce = self.make_nonce(now)
        tail = ", stale=true" if stale else ""
        return [
            f'Digest realm="{_q(self.realm)}", nonce="{nonce}", algorithm={alg}, qop="auth"{tail}'
            for alg in self.algorithms
        ]

    def verify(
        self,
        request: SipRequest,
        lookup: Callable[[str], str | None],
        now: float,
        *,
        proxy: bool = False,
    ) -> AuthResult:
        """Check the request's credentials; ``lookup(username)`` returns the password."""
        name = "proxy-authorization" if proxy else "authorization"
        for value in request.headers.get_all(name):
            scheme, rest = _split_scheme(value)
            if scheme != "digest":
                continue
            try:
                p = parse_auth_params(rest)
            except RemoteProtocolError:
                return AuthResult(False, reason="malformed credentials")
            if p.get("realm") == self.realm:
                return self._verify(request, p, lookup, now)
        return AuthResult(False, reason="no credentials for this realm", rechallenge=True)

    def _verify(
        self,
        request: SipRequest,
        p: dict[str, str],
        lookup: Callable[[str], str | None],
        now: float,
    ) -> AuthResult:
        username = p.get("username")
        algorithm = p.get("algorithm", "MD5").upper()
        nonce, nc, cnonce = p.get("nonce", ""), p.get("nc", ""), p.get("cnonce")
        if not username or algorithm not in self.algorithms or algorithm not in HASHES:
            return AuthResult(False, username, reason="bad username or algorithm")
        if p.get("qop", "").lower() != "auth" or not cnonce or not _is_hex8(nc):
            return AuthResult(False, username, reason="qop=auth with nc and cnonce required")
        issued = self._nonce_time(nonce)
        if issued is None:
            return AuthResult(False, username, reason="nonce not ours", rechallenge=True)
        if p.get("uri") != str(request.uri):
            return AuthResult(False, username, reason="digest uri does not match")
        password = lookup(username)
        if password is None:
            return AuthResult(False, username, reason="unknown user")
        expected = digest_response(
            algorithm=algorithm,
            username=username,
            realm=self.realm,
            password=password,
            method=request.method,
            uri=p["uri"],
            nonce=nonce,
            nc=nc,
            cnonce=cnonce,
            qop="auth",
        )
        if not hmac.compare_digest(expected, p.get("response", "").lower()):
            return AuthResult(False, username, reason="wrong password")
        if now - issued > self.nonce_ttl or issued - now > 60:
            return AuthResult(False, username, stale=True, reason="nonce expired")
        count = int(nc, 16)
        last = self._seen.get(nonce)
        if last is not None and count <= last[1]:
            return AuthResult(False, username, reason="nonce count replayed")
        self._remember(nonce, issued, count)
        return AuthResult(True, username)

    def _remember(self, nonce: str, issued: float, count: int) -> None:
        self._seen[nonce] = (issued, count)
        self._seen.move_to_end(nonce)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)


def _is_hex8(value: str) -> bool:
    return len(value) == 8 and all(c in "0123456789abcdefABCDEF" for c in value)


def challenge_response(
    request: SipRequest,
    server: DigestServer,
    now: float,
    *,
    stale: bool = False,
    proxy: bool = False,
) -> SipResponse:
    """A 401 (or 407) carrying fresh challenges."""
    header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    values = server.challenge(now, stale=stale)
    return make_response(
        request, 407 if proxy else 401, to_tag=generate_tag(), headers=[(header, v) for v in values]
    )
