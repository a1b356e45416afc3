"""REGISTER handling: digest challenge and check, then the location table.

The engine answers REGISTER itself when it has a credentials lookup
(``Engine.extension_password``): a REGISTER without credentials gets 401 with fresh
``WWW-Authenticate`` challenges (``sip.DigestServer``); credentials that check out, for
the extension named in To, update ``sip.registrar.LocationTable`` and get 200 listing
the bindings; wrong credentials or an unknown extension get 403; a stale nonce gets 401
with ``stale=true``. Without a lookup the engine is no registrar: REGISTER gets 405.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from voxgate.engine.endpoint import ServerTxn
from voxgate.engine.transport import Addr
from voxgate.sip.auth import DigestServer, challenge_response
from voxgate.sip.errors import RemoteProtocolError
from voxgate.sip.message import (
    SipRequest,
    SipResponse,
    check_request,
    error_response,
    generate_tag,
    make_response,
)
from voxgate.sip.registrar import (
    Binding,
    ExpiryPolicy,
    LocationTable,
    parse_register,
    register_ok,
)

log = logging.getLogger(__name__)

PasswordLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class RegisterAttempt:
    """One REGISTER answered (``Registrar.recent`` keeps the last ones, for operators)."""

    status: int
    extension: str | None  # user part of To
    username: str | None  # digest username, when credentials came
    source: Addr
    reason: str = ""


class Registrar:
    """Answers REGISTER for one engine; the table is ``Engine.registrations``."""

    def __init__(
        self,
        *,
        realm: str,
        algorithms: tuple[str, ...] = ("MD5",),
        policy: ExpiryPolicy | None = None,
        nonce_secret: bytes | None = None,
    ) -> None:
        self.table = LocationTable()
        self.digest = DigestServer(
            nonce_secret or secrets.token_bytes(32), realm, algorithms=algorithms
        )
        self.policy = policy or ExpiryPolicy()
        self.answered: Counter[int] = Counter()  # REGISTER responses sent, by status
        self.recent: deque[RegisterAttempt] = deque(maxlen=64)

    def __repr__(self) -> str:
        return f"<Registrar realm={self.digest.realm!r} {self.table!r}>"

    def on_register(
        self,
        request: SipRequest,
        txn: ServerTxn,
        lookup: PasswordLookup | None,
        now: float,
        *,
        allow: str,
    ) -> None:
        username: str | None = None
        if lookup is None:
            response = make_response(
                request, 405, to_tag=generate_tag(), headers=[("Allow", allow)]
            )
            reason = "no registrar"
        else:
            try:
                response, username, reason = self.answer(request, txn, lookup, now)
            except Exception:
                log.exception("REGISTER failed", extra={"action": "register_failed"})
                response, reason = make_response(request, 500, to_tag=generate_tag()), "error"
        self.answered[response.status] += 1
        extension = getattr(request.to.uri, "user", None)
        self.recent.append(
            RegisterAttempt(response.status, extension, username, txn.source, reason)
        )
        txn.respond(response)

    def answer(
        self, request: SipRequest, txn: ServerTxn, lookup: PasswordLookup, now: float
    ) -> tuple[SipResponse, str | None, str]:
        """The response, the digest username (if credentials came) and why."""
        try:
            check_request(request, content_types=())
        except RemoteProtocolError as exc:
            return _refusal(request, exc), None, exc.reason
        result = self.digest.verify(request, lookup, now)
        if not result.ok:
            if result.stale or result.rechallenge:
                challenge = challenge_response(request, self.digest, now, stale=result.stale)
                return challenge, result.username, result.reason
            log.warning(
                "registration refused: %s",
                result.reason,
                extra={
                    "action": "register_refused",
                    "username": result.username,
                    "source": txn.source,
                },
            )
            return (
                make_response(request, 403, to_tag=generate_tag()),
                result.username,
                result.reason,
            )
        try:
            registration = parse_register(request, self.policy)
            if registration.aor != result.username:
                raise RemoteProtocolError("credentials are for another extension", 403)
            before = self.table.lookup(registration.aor, now)
            after = self.table.update(
                registration, source=txn.source, transport=txn.transport.name, now=now
            )
        except RemoteProtocolError as exc:
            return _refusal(request, exc), result.username, exc.reason
        _log_changes(registration.aor, before, after)
        return register_ok(request, after, now), result.username, "registered"


def _refusal(request: SipRequest, exc: RemoteProtocolError) -> SipResponse:
    exc.sip_message = request
    response = error_response(exc)
    assert response is not None  # a REGISTER with every header parsed, status >= 300
    return response


def _log_changes(aor: str, before: list[Binding], after: list[Binding]) -> None:
    old = {str(b.contact): b for b in before}
    new = {str(b.contact): b for b in after}
    for contact, binding in new.items():
        previous = old.get(contact)
        extra = {
            "action": "extension_registered",
            "extension": aor,
            "contact": contact,
            "source": binding.source,
            "transport": binding.transport,
        }
        if previous is None or previous.source != binding.source:
            log.info("extension %s registered at %s", aor, contact, extra=extra)
        else:
            log.debug(
                "extension %s refreshed", aor, extra={**extra, "action": "extension_refreshed"}
            )
    for contact in old.keys() - new.keys():
        log.info(
            "extension %s unregistered %s",
            aor,
            contact,
            extra={"action": "extension_unregistered", "extension": aor, "contact": contact},
        )
