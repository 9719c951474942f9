"""The contract checker itself: it must catch traffic the vendors' documents do not allow.

(Without these, a contract check that silently passes everything would look like a green suite.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import document_or_skip


def req(method: str, url: str, **kw) -> httpx.Request:
    return httpx.Request(method, url, **kw)


AT_HEADERS = {"ApiIntegrationCode": "x", "UserName": "u", "Secret": "s"}
AT = "https://webservices14.autotask.net/ATServicesRest"


def test_autotask_good_create_passes() -> None:
    doc = document_or_skip("autotask")
    r = req("POST", f"{AT}/V1.0/Tickets", headers=AT_HEADERS,
            json={"title": "t", "companyID": 1, "status": 1, "priority": 2, "externalID": "sb-1"})
    assert doc.request_problems(r) == []


def test_autotask_misspelt_field_is_caught() -> None:
    doc = document_or_skip("autotask")
    r = req("POST", f"{AT}/V1.0/Tickets", headers=AT_HEADERS, json={"title": "t", "externalId": "sb-1"})
    problems = doc.request_problems(r)
    assert any("externalId" in p for p in problems)


def test_autotask_wrong_type_is_caught() -> None:
    doc = document_or_skip("autotask")
    r = req("POST", f"{AT}/V1.0/Tickets", headers=AT_HEADERS, json={"title": "t", "companyID": "one"})
    assert any("companyID" in p for p in doc.request_problems(r))


def test_missing_required_header_is_caught() -> None:
    doc = document_or_skip("autotask")
    r = req("GET", f"{AT}/V1.0/Tickets/5", headers={"UserName": "u"})
    problems = doc.request_problems(r)
    assert any("ApiIntegrationCode" in p for p in problems) and any("Secret" in p for p in problems)


def test_unknown_path_and_query_parameter_are_caught() -> None:
    doc = document_or_skip("datto-rmm")
    assert doc.request_problems(req("GET", "https://x.example/api/v2/account/alarms")) != []
    problems = doc.request_problems(req("GET", "https://x.example/api/v2/account/alerts/open?limit=10"))
    assert any("limit" in p for p in problems)
    assert doc.request_problems(req("GET", "https://x.example/api/v2/account/alerts/open?max=abc")) != []
    assert doc.request_problems(req("GET", "https://x.example/api/v2/account/alerts/open?max=250&page=1")) == []


def test_response_that_does_not_fit_is_caught() -> None:
    doc = document_or_skip("hudu")
    request = req("GET", "https://docs.example/api/v1/articles?page=1")
    good = httpx.Response(200, json={"articles": [{"id": 1, "name": "A"}]})
    bad = httpx.Response(200, json={"articles": [{"id": "one", "name": 5}]})
    assert doc.response_problems(request, good) == []
    assert doc.response_problems(request, bad) != []


@pytest.mark.parametrize("vendor", ["datto-rmm", "autotask", "hudu", "ninjaone", "halopsa", "connectwise-psa"])
def test_every_document_loads(vendor: str) -> None:
    doc = document_or_skip(vendor)
    assert len(doc.operations) > 10
