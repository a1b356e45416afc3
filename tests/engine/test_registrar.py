"""The engine as registrar: digest-challenged REGISTER, bindings, calls to extensions.

The "phone" is a second engine on another loopback address: its own SIP stack sends
the REGISTERs (client transactions, digest answers from ``sip.DigestClient``) from the
socket it later receives the INVITE on, as a real phone would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from voxgate.engine import Dtmf, Engine, EngineConfig, Hangup, NotRegistered, Trunk
from voxgate.sip.auth import Challenge, DigestClient, DigestServer, challenge_response
from voxgate.sip.dialog import DialogState
from voxgate.sip.events import Event, ResponseReceived, TransactionTimeout, TransportFailed
from voxgate.sip.message import SipRequest, SipResponse, generate_call_id, make_request
from voxgate.sip.uri import NameAddr, SipURI

pytestmark = pytest.mark.timeout(60)

PASSWORDS = {"1001": "s3cret", "1002": "other"}


@asynccontextmanager
async def pbx_and_phone(
    transport: str = "udp", config: EngineConfig | None = None
) -> AsyncIterator[tuple[Engine, Engine]]:
    """A registrar engine on 127.0.0.1 (no trunks: it trusts nobody) and a phone on
    127.0.0.2 that accepts calls from it."""
    async with (
        Engine(config or EngineConfig(host="127.0.0.1")) as pbx,
        Engine(EngineConfig(host="127.0.0.2")) as phone,
    ):
        pbx.extension_password = PASSWORDS.get
        phone.trunks.append(Trunk("127.0.0.1", pbx.port(transport), transport))
        yield pbx, phone


class RegisterClient:
    """REGISTERs sent through ``phone``'s SIP endpoint to ``pbx`` (one Call-ID, CSeq up)."""

    def __init__(self, phone: Engine, pbx: Engine, transport: str = "udp") -> None:
        self.phone, self.pbx, self.transport = phone, pbx, transport
        self.call_id = generate_call_id("127.0.0.2")
        self.cseq = 0
        self.requests: list[SipRequest] = []
        self.responses: list[SipResponse] = []

    def request(self, aor: str, *, expires: int | None = 30, contact_user: str = "") -> SipRequest:
        transport = self.phone.transports[self.transport.upper()]
        params: dict[str, str | None] = {"transport": "tcp"} if transport.reliable else {}
        aor_uri = SipURI("127.0.0.1", aor)
        here = self.phone.media_address
        contact = SipURI(here, contact_user or aor, None, transport.local[1], params=params)
        self.cseq += 1
        return make_request(
            "REGISTER",
            SipURI("127.0.0.1", None, None, self.pbx.port(self.transport), params=params),
            via=self.phone.via(transport),
            from_=NameAddr(aor_uri, params={"tag": "reg1"}),
            to=NameAddr(aor_uri),
            call_id=self.call_id,
            cseq=self.cseq,
            contact=NameAddr(contact, params={} if expires is None else {"expires": str(expires)}),
        )

    async def send(self, request: SipRequest) -> SipResponse:
        self.requests.append(request)
        done: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()

        def on_event(event: Event) -> None:
            if isinstance(event, ResponseReceived) and event.response.status >= 200:
                if not done.done():
                    done.set_result(event.response)
            elif isinstance(event, TransactionTimeout | TransportFailed) and not done.done():
                done.set_exception(AssertionError(f"REGISTER failed: {event}"))

        self.phone.endpoint.send_request(
            request,
            transport=self.phone.transports[self.transport.upper()],
            addr=("127.0.0.1", self.pbx.port(self.transport)),
            on_event=on_event,
        )
        response = await asyncio.wait_for(done, 5)
        self.responses.append(response)
        return response

    async def register(
        self, aor: str, password: str, *, user: str | None = None, expires: int | None = 30
    ) -> SipResponse:
        """REGISTER, answering one 401 with ``user``/``password`` (``user``: the AOR)."""
        request = self.request(aor, expires=expires)
        response = await self.send(request)
        if response.status != 401:
            return response
        authorized = DigestClient(user or aor, password).authorize(request, response)
        self.cseq = authorized.cseq.number
        return await self.send(authorized)

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.responses]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_register_then_calls_both_ways(transport: str) -> None:
    async with pbx_and_phone(transport) as (pbx, phone):
        # not registered yet: nowhere to call, and the phone's INVITEs are refused
        with pytest.raises(NotRegistered, match="1001"):
            await pbx.dial_extension("1001")
        stranger = await phone.dial("200", trunk=Trunk("127.0.0.1", pbx.port(transport), transport))
        assert (await stranger.wait_ended(5)).sip_status == 403

        client = RegisterClient(phone, pbx, transport)
        ok = await client.register("1001", "s3cret")
        assert client.statuses == [401, 200]
        challenge = client.responses[0].headers.get_all("www-authenticate")
        assert [Challenge.parse(c).algorithm for c in challenge] == ["MD5"]
        assert [str(c) for c in ok.contact] == [
            str(client.request("1001", expires=None).contact[0]) + ";expires=60"  # 30 -> 60
        ]
        assert pbx.registrar.answered == {401: 1, 200: 1}
        [binding] = pbx.registrations.lookup("1001", pbx.loop.time())
        phone_transport = phone.transports[transport.upper()]
        assert binding.transport == transport.upper()
        assert binding.source[0] == "127.0.0.2"
        if transport == "udp":  # over TCP the source is the connection's own port
            assert binding.source == phone_transport.local

        # the pbx calls the extension at the address the REGISTER came from
        out = await pbx.dial_extension("1001", from_number="4155550100", ring_timeout=5)
        inc = await phone.incoming(timeout=3)
        assert inc.request == "1001" and inc.caller == "4155550100"
        assert inc.transport is phone_transport
        await inc.answer()
        assert await out.wait_answered(3)
        inc.send_dtmf("17#")
        assert await out.gather(3, 2) == "17"
        assert await out.hangup() == Hangup(200, 16, "local", "hangup")
        assert await inc.wait_ended(3) == Hangup(200, 16, "remote", "bye")
        assert [e for e in out.history if isinstance(e, Dtmf)] == [
            Dtmf("1", "rfc4733"),
            Dtmf("7", "rfc4733"),
            Dtmf("#", "rfc4733"),
        ]

        # the registered phone may now call in like a trunk
        call = await phone.dial("200", trunk=Trunk("127.0.0.1", pbx.port(transport), transport))
        incoming = await pbx.incoming(timeout=3)
        assert incoming.request == "200"
        assert incoming.flow == binding.source  # our requests go back the way it came
        await incoming.answer()
        assert await call.wait_answered(3)
        await call.hangup()

        # unregistering removes the binding and the trust that came with it
        gone = await client.register("1001", "s3cret", expires=0)
        assert gone.status == 200 and gone.contact == []
        assert pbx.registrations.lookup("1001", pbx.loop.time()) == []
        refused = await phone.dial("200", trunk=Trunk("127.0.0.1", pbx.port(transport), transport))
        assert (await refused.wait_ended(5)).sip_status == 403
        with pytest.raises(NotRegistered):
            await pbx.dial_extension("1001")


async def test_extension_behind_nat_is_reached_where_it_sends_from() -> None:
    """The phone writes an address nobody reaches (192.0.2.10, as behind a NAT) in its
    Contact and SDP: signalling must follow the address its REGISTER came from, and media
    the address its RTP comes from."""
    async with (
        Engine(EngineConfig(host="127.0.0.1")) as pbx,
        Engine(EngineConfig(host="127.0.0.2", advertise="192.0.2.10")) as phone,
    ):
        pbx.extension_password = PASSWORDS.get
        phone.trunks.append(Trunk("127.0.0.1", pbx.port()))
        assert (await RegisterClient(phone, pbx).register("1001", "s3cret")).status == 200
        [binding] = pbx.registrations.lookup("1001", pbx.loop.time())
        assert binding.contact.host == "192.0.2.10"
        assert binding.source == ("127.0.0.2", phone.port())

        out = await pbx.dial_extension("1001", ring_timeout=5)
        inc = await phone.incoming(timeout=3)
        await inc.answer()
        assert await out.wait_answered(3)
        assert out.dialog is not None and out.dialog.remote_target.host == "192.0.2.10"  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        assert inc.dialog is not None and inc.dialog.state is DialogState.CONFIRMED  # ACK came
        await asyncio.sleep(0.4)  # nothing from 192.0.2.10 for 0.5 s: RTP latches to the source
        inc.send_dtmf("42")
        assert await out.gather(2, 2) == "42"
        assert out.rtp.remote == inc.rtp.local
        await out.hangup()
        assert await inc.wait_ended(3) == Hangup(200, 16, "remote", "bye")  # the BYE arrived


async def test_refusals_leave_no_binding() -> None:
    async with pbx_and_phone() as (pbx, phone):
        client = RegisterClient(phone, pbx)
        assert (await client.register("1001", "wrong")).status == 403
        assert (await client.register("1009", "s3cret")).status == 403  # unknown extension
        # good credentials of 1002 do not register 1001
        assert (await client.register("1001", "other", user="1002")).status == 403
        assert client.statuses == [401, 403, 401, 403, 401, 403]
        assert len(pbx.registrations) == 0
        # after all that, the right password still works
        assert (await client.register("1001", "s3cret")).status == 200
        assert len(pbx.registrations) == 1


async def test_sha256_offered_first_when_configured() -> None:
    config = EngineConfig(host="127.0.0.1", digest_algorithms=("SHA-256", "MD5"))
    async with pbx_and_phone(config=config) as (pbx, phone):
        client = RegisterClient(phone, pbx)
        assert (await client.register("1001", "s3cret")).status == 200
        challenge = client.responses[0].headers.get_all("www-authenticate")
        assert [Challenge.parse(c).algorithm for c in challenge] == ["SHA-256", "MD5"]
        assert "algorithm=SHA-256" in (client.requests[-1].headers.get("authorization") or "")
        assert [(a.status, a.username) for a in pbx.registrar.recent] == [
            (401, None),
            (200, "1001"),
        ]


async def test_stale_and_foreign_nonces_are_challenged_again() -> None:
    async with pbx_and_phone() as (pbx, phone):
        client = RegisterClient(phone, pbx)
        # a nonce from another server (as after a restart): a fresh 401, not a refusal
        foreign = challenge_response(
            client.request("1001"),
            DigestServer(b"old secret", "voxgate", algorithms=("MD5",)),
            pbx.loop.time(),
        )
        request = client.request("1001")
        authorized = DigestClient("1001", "s3cret").authorize(request, foreign)
        client.cseq = authorized.cseq.number
        answer = await client.send(authorized)
        assert answer.status == 401
        assert not Challenge.parse(answer.headers.get_all("www-authenticate")[0]).stale
        # an expired nonce with the right password: 401 with stale=true
        pbx.registrar.digest.nonce_ttl = 0.0
        first = await client.send(client.request("1001"))
        retry = DigestClient("1001", "s3cret").authorize(client.request("1001"), first)
        client.cseq = retry.cseq.number + 1
        await asyncio.sleep(0.01)
        stale = await client.send(retry)
        assert stale.status == 401
        assert all(Challenge.parse(v).stale for v in stale.headers.get_all("www-authenticate"))
        assert len(pbx.registrations) == 0


async def test_without_a_password_lookup_register_is_not_allowed() -> None:
    async with pbx_and_phone() as (pbx, phone):
        pbx.extension_password = None
        client = RegisterClient(phone, pbx)
        response = await client.register("1001", "s3cret")
        assert response.status == 405
        assert "REGISTER" not in (response.headers.get("allow") or "")
        assert client.statuses == [405]
