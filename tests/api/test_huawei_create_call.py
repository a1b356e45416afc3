"""createCall (bidirectional call) and queryCallState: the seed example and every code."""

from __future__ import annotations

import base64

from tests.support.harness import Platform

CREATE = "/apiaccess/CC-Management/v1/mobileAgent/createCall"
QUERY = "/apiaccess/CC-Management/v1/mobileAgent/queryCallState"
SEED = {
    "caller": "88889050",
    "called": "88889060",
    "agentWorkNo": "",
    "callerPresent": "640003",
    "agentPresent": "640060",
    "callData": "333333",
}


def post(platform: Platform, creds, body: dict, path: str = CREATE) -> dict:  # type: ignore[no-untyped-def]
    r = platform.http.post(path, json=body, headers=platform.huawei_headers(creds))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_seed_example(platform: Platform) -> None:
    creds = platform.tenant()
    r = platform.http.post(CREATE, json=SEED, headers=platform.huawei_headers(creds))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    body = r.json()
    assert body["retCode"] == "0"
    assert body["retMsg"] == "Add CallOutInfo in DB successfully"
    assert isinstance(body["result"]["callSerialNo"], int)


def test_query_call_state_of_a_queued_call(platform: Platform) -> None:
    creds = platform.tenant()
    serial = post(platform, creds, SEED)["result"]["callSerialNo"]
    body = post(platform, creds, {"callSerialNo": str(serial)}, QUERY)
    assert body["retCode"] == "0"
    result = body["result"]
    assert result["state"] == 0
    assert result["callData"] == "333333"
    assert result["caller"] == "88889050" and result["called"] == "88889060"
    assert result["callerPresent"] == "640003" and result["agentPresent"] == "640060"
    assert post(platform, creds, {"callSerialNo": "123"}, QUERY)["retCode"] == "3"
    other = platform.tenant()
    assert post(platform, other, {"callSerialNo": str(serial)}, QUERY)["retCode"] == "3"


def test_code_5_numbers(platform: Platform) -> None:
    creds = platform.tenant()
    for field, value in (("caller", ""), ("called", "x1"), ("agentWorkNo", "123456")):
        assert post(platform, creds, {**SEED, field: value})["retCode"] == "5", field


def test_code_8_softphone_range(platform: Platform) -> None:
    creds = platform.tenant()
    assert post(platform, creds, {**SEED, "caller": "88880001"})["retCode"] == "8"


def test_code_2_call_data(platform: Platform) -> None:
    creds = platform.tenant()
    assert post(platform, creds, {**SEED, "callData": "x" * 1025})["retCode"] == "2"


def test_code_7_display_numbers(platform: Platform) -> None:
    creds = platform.tenant()
    assert post(platform, creds, {**SEED, "agentPresent": "999"})["retCode"] == "7"
    assert post(platform, creds, {**SEED, "callerPresent": "13800138000"})["retCode"] == "7"


def test_code_9_callback(platform: Platform) -> None:
    creds = platform.tenant()
    url = base64.b64encode(b"http://127.0.0.1:7000/cb").decode()
    assert post(platform, creds, {**SEED, "callBackUrl": url})["retCode"] == "9"


def test_code_6_vdn(platform: Platform) -> None:
    creds = platform.tenant(vdn_enabled=False)
    assert post(platform, creds, SEED)["retCode"] == "6"


def test_code_1_duplicate(platform: Platform) -> None:
    creds = platform.tenant()
    assert post(platform, creds, SEED)["retCode"] == "0"
    assert post(platform, creds, SEED)["retCode"] == "1"


def test_codes_16_and_21_trial(platform: Platform) -> None:
    creds = platform.tenant(trial=True, trusted_numbers=("88889050", "88889060"))
    assert post(platform, creds, {**SEED, "called": "88889061"})["retCode"] == "16"
    assert post(platform, creds, {**SEED, "caller": "88889051"})["retCode"] == "16"
    for i in range(10):
        body = post(platform, creds, {**SEED, "callData": f"call {i}"})
        assert body["retCode"] == "0", (i, body)
    assert post(platform, creds, {**SEED, "callData": "eleventh"})["retCode"] == "21"


def test_ita_tenants_get_ita_codes(platform: Platform) -> None:
    creds = platform.tenant(bidirectional_type="ITA")
    assert post(platform, creds, {**SEED, "caller": ""}) == {
        "retCode": "90100100",
        "retMsg": "Invalid Input Parameter",
    }
    assert post(platform, creds, {**SEED, "caller": "88880001"})["retCode"] == "90106011"
    assert post(platform, creds, SEED)["retCode"] == "0"
    assert post(platform, creds, SEED)["retCode"] == "90106001"
