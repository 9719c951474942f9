"""The contract checker on the PSA documents: it must catch what ConnectWise and Halo would refuse.

(Without these, the contract checks of the PSA connector tests could pass everything silently.)
"""

from __future__ import annotations

import httpx

from tests.conftest import document_or_skip

CW = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
HALO = "https://msp.halopsa.com/api"


def test_connectwise_ticket_body_is_checked() -> None:
    doc = document_or_skip("connectwise-psa")
    good = httpx.Request("POST", f"{CW}/service/tickets", json={"summary": "s", "company": {"id": 1},
                                                                 "externalXRef": "sb-1", "board": {"id": 2}})
    assert doc.request_problems(good) == []
    typo = httpx.Request("POST", f"{CW}/service/tickets", json={"summary": "s", "company": {"id": 1},
                                                                 "externalXref": "sb-1"})
    assert any("externalXref" in p for p in doc.request_problems(typo))
    missing = httpx.Request("POST", f"{CW}/service/tickets", json={"summary": "s"})
    assert any("company" in p for p in doc.request_problems(missing))


def test_connectwise_patch_values_may_be_any_json_but_paths_of_an_unknown_resource_fail() -> None:
    doc = document_or_skip("connectwise-psa")
    ops = [{"op": "replace", "path": "summary", "value": "x"}, {"op": "replace", "path": "status", "value": {"id": 5}}]
    assert doc.request_problems(httpx.Request("PATCH", f"{CW}/service/tickets/12", json=ops)) == []
    assert doc.request_problems(httpx.Request("PATCH", f"{CW}/service/ticket/12", json=ops)) != []
    assert any("pagesize" in p for p in doc.request_problems(httpx.Request("GET", f"{CW}/service/tickets?pagesize=5")))
    assert doc.request_problems(httpx.Request("GET", f"{CW}/service/tickets?pageSize=many")) != []


def test_connectwise_answers_are_checked() -> None:
    doc = document_or_skip("connectwise-psa")
    request = httpx.Request("GET", f"{CW}/service/tickets/12")
    good = httpx.Response(200, json={"id": 12, "summary": "s", "company": {"id": 1}, "closedFlag": False})
    bad = httpx.Response(200, json={"id": "twelve", "summary": "s", "company": {"id": 1}})
    assert doc.response_problems(request, good) == []
    assert doc.response_problems(request, bad) != []


def test_halo_requests_are_checked_with_the_named_quirks() -> None:
    doc = document_or_skip("halopsa")
    since = httpx.Request("GET", f"{HALO}/Tickets?pageinate=true&page_size=100&page_no=1"
                                 "&lastupdatefromdate=2026-11-02T09:00:00")
    assert doc.request_problems(since) == []  # typed bool in the file, a date in practice (named quirk)
    assert doc.request_problems(httpx.Request("GET", f"{HALO}/Tickets?page_size=lots")) != []
    assert doc.request_problems(httpx.Request("GET", f"{HALO}/Tickets?pageinate=yes")) != []
    body = [{"summary": "s", "client_id": 1, "third_party_id_string": "sb-1"}]
    assert doc.request_problems(httpx.Request("POST", f"{HALO}/Tickets", json=body)) == []
    typo = [{"summary": "s", "client_id": 1, "thirdparty_id": "sb-1"}]
    assert any("thirdparty_id" in p for p in doc.request_problems(httpx.Request("POST", f"{HALO}/Tickets", json=typo)))


def test_halo_answers_are_checked_against_the_resource_schemas() -> None:
    doc = document_or_skip("halopsa")
    request = httpx.Request("GET", f"{HALO}/Tickets?pageinate=true&page_size=100&page_no=1")
    good = httpx.Response(200, json={"record_count": 1, "tickets": [{"id": 1, "summary": "s", "status_id": 1}]})
    drifted = httpx.Response(200, json={"record_count": 1, "tickets": [{"id": 1, "summry": "s"}]})
    wrong_type = httpx.Response(200, json={"record_count": 1, "tickets": [{"id": "one"}]})
    assert doc.response_problems(request, good) == []
    assert doc.response_problems(request, drifted) != [] and doc.response_problems(request, wrong_type) != []
    statuses = httpx.Request("GET", f"{HALO}/Status")
    assert doc.response_problems(statuses, httpx.Response(200, json=[{"id": 9, "name": "Closed"}])) == []
    assert doc.response_problems(statuses, httpx.Response(200, json={"statuses": []})) != []
