"""Called routes, skill queues and IVR flows in the Huawei dialect."""

from __future__ import annotations

from tests.support.harness import Platform

BASE = "/apiaccess/rest/cc-management/v1"


def call(platform: Platform, headers: dict[str, str], path: str, body: dict) -> dict:
    r = platform.http.post(BASE + path, json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_route_lifecycle_and_seed_example(platform: Platform) -> None:
    creds = platform.tenant(access_codes=("9911411",))
    h = platform.huawei_headers(creds)
    skill = call(platform, h, "/skill/createSkill", {"name": "sales", "mediaTypeId": 19})
    assert skill["returnCode"] == "0"
    skill_id = int(skill["data"]["skillId"])
    seed = {
        "accessCode": "9911411",
        "extCode": "11",
        "devicetype": 1,
        "deviceId": skill_id,
        "mediaTypeId": 19,
    }
    assert call(platform, h, "/calledRoute/createCalledRoute", seed) == {
        "returnCode": "0",
        "description": "data create success",
    }
    assert call(platform, h, "/calledRoute/createCalledRoute", seed)["returnCode"] == "4"
    found = call(platform, h, "/calledRoute/queryCalledRoute", {"accessCode": "9911411"})
    assert found["data"]["total"] == 1
    item = found["data"]["calledRouteList"][0]
    assert item["accessCode"] == "9911411" and item["extCode"] == "11"
    assert item["mediatypeId"] == "19" and item["deviceDesc"] == "sales"
    flow_id = platform.run(
        lambda s: s.tenants.add_ivr_flow(creds.name, "menu", {"steps": [{"op": "hangup"}]})
    )
    changed = call(
        platform,
        h,
        "/calledRoute/modifyCalledRoute",
        {"id": item["id"], "devicetype": 3, "deviceId": flow_id},
    )
    assert changed["description"] == "data update success"
    flows = call(platform, h, "/ivrFlow/queryIVRFlowList", {})
    assert flows["data"]["ivrFlowList"][0]["flowName"] == "menu"
    deleted = call(platform, h, "/calledRoute/deleteCalledRoute", {"dnids": f"{item['id']},999"})
    assert deleted["data"]["content"] == "Success:1,Failed:1"


def test_route_return_codes(platform: Platform) -> None:
    creds = platform.tenant(access_codes=("9911411",))
    h = platform.huawei_headers(creds)
    skill_id = int(
        call(platform, h, "/skill/createSkill", {"name": "q", "mediaTypeId": 5})["data"]["skillId"]
    )
    good = {"accessCode": "9911411", "devicetype": 1, "deviceId": skill_id}
    cases = [
        ({**good, "accessCode": ""}, "1"),
        ({**good, "accessCode": "1" * 33}, "1"),
        ({**good, "extCode": "1" * 13}, "1"),
        ({**good, "devicetype": 2}, "1"),
        ({**good, "mediaTypeId": 7}, "1"),
        ({**good, "deviceId": "abc"}, "1"),
        ({**good, "accessCode": "12345"}, "2"),
        ({**good, "deviceId": 424242}, "3"),
        ({**good, "mediaTypeId": 53}, "5"),
    ]
    for body, code in cases:
        assert call(platform, h, "/calledRoute/createCalledRoute", body)["returnCode"] == code, body


def test_tenants_cannot_see_or_touch_each_others_routes(platform: Platform) -> None:
    a = platform.tenant(access_codes=("5550001",))
    b = platform.tenant(access_codes=("5550002",))
    ha, hb = platform.huawei_headers(a), platform.huawei_headers(b)
    skill_a = int(call(platform, ha, "/skill/createSkill", {"name": "a"})["data"]["skillId"])
    assert (
        call(
            platform,
            ha,
            "/calledRoute/createCalledRoute",
            {"accessCode": "5550001", "devicetype": 1, "deviceId": skill_a},
        )["returnCode"]
        == "0"
    )
    # b cannot route to a's skill nor see a's routes or skills
    assert (
        call(
            platform,
            hb,
            "/calledRoute/createCalledRoute",
            {"accessCode": "5550002", "devicetype": 1, "deviceId": skill_a},
        )["returnCode"]
        == "3"
    )
    assert call(platform, hb, "/calledRoute/queryCalledRoute", {})["data"]["total"] == 0
    assert call(platform, hb, "/skill/querySkills", {})["data"]["total"] == 0
    route_id = call(platform, ha, "/calledRoute/queryCalledRoute", {})["data"]["calledRouteList"][
        0
    ]["id"]
    gone = call(platform, hb, "/calledRoute/deleteCalledRoute", {"dnids": route_id})
    assert gone["data"]["content"] == "Success:0,Failed:1"
    assert (
        call(
            platform,
            hb,
            "/calledRoute/modifyCalledRoute",
            {"id": route_id, "devicetype": 1, "deviceId": skill_a},
        )["returnCode"]
        == "6"
    )
    assert call(platform, ha, "/calledRoute/queryCalledRoute", {})["data"]["total"] == 1
