"""Contract checks: does a request (and its response) fit the vendor's published API document?

The documents live outside the project (``../shared/specs`` by default, or the directory in
``SWITCHBOARD_SPECS_DIR``) and are read at run time, never copied. Both Swagger 2.0 (Autotask,
Hudu) and OpenAPI 3.x (Datto RMM, NinjaOne, HaloPSA, ConnectWise) are understood.

What is checked for a request: the path and method exist; every query parameter is declared and
its value fits the declared type/enum; required query, path and header parameters are present;
a JSON body fits the body schema *and* uses no property the schema does not declare (so a typo
such as ``externalId`` for ``externalID`` fails). For a response: a JSON body fits the schema
documented for its status. Vendors send ``null`` for unset fields, so response schemas accept null
everywhere; request bodies must not send null where the document does not allow it.

Known quirks of the published files (see ``shared/specs/SOURCES.md``) are handled here, each
named: Autotask's ``Filter.value`` is typed ``object`` but takes scalars and arrays, and its
``OperationResultModel.itemId`` (the id of what a create made) is typed as a generic object but is an
integer; HaloPSA uses
non-standard type names (``bool``, ``int``, ``double``, ``DateTime``, ``List<int>``); Hudu has a
top-level ``$ref`` to a file it does not ship; Datto RMM documents no 200 responses, so a success
is checked against the schema the operation documents for its other answers (the same page type),
and its ``alertContext`` is a discriminated ``oneOf`` without a mapping, checked as the base
``AlertContext`` (an object with ``@class``). HaloPSA documents no response bodies (answers are
checked against its own resource schemas, see :func:`_halo_quirks`) and types
``lastupdatefromdate`` as ``bool``; ConnectWise's ``PatchOperation.value`` is typed ``object`` but
takes any JSON value; Autotask's ``FieldInformationModel.isSupportedWebhookField`` refs the generic
``Object`` but is a boolean.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

__all__ = ["ApiDocument", "ContractChecker", "SpecsMissing", "load_document", "specs_dir", "SPEC_FILES"]

SPEC_FILES = {
    "datto-rmm": "datto-rmm.json",
    "autotask": "autotask.json",
    "hudu": "hudu.json",
    "ninjaone": "ninjaone.yaml",
    "halopsa": "halopsa.json",
    "connectwise-psa": "connectwise-psa.json",
}

_HALO_TYPES = {
    "bool": "boolean",
    "int": "integer",
    "double": "number",
    "DateTime": "string",
    "obj": "object",
    "List<int>": "array",
    "long": "integer",
    "float": "number",
}
_JSON_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}


class SpecsMissing(RuntimeError):
    pass


def specs_dir() -> Path:
    """Where the vendors' API documents are: ``SWITCHBOARD_SPECS_DIR`` or ``../shared/specs``."""
    configured = os.environ.get("SWITCHBOARD_SPECS_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve().parent.parent
    return here.parent / "shared" / "specs"


def _fix_schema_types(node: Any, nullable_everywhere: bool) -> Any:
    """Normalise non-standard type names; optionally let every typed schema accept null."""
    if isinstance(node, dict):
        out = {k: _fix_schema_types(v, nullable_everywhere) for k, v in node.items()}
        t = out.get("type")
        if isinstance(t, str) and "$ref" not in out:
            t = _HALO_TYPES.get(t, t)
            if t not in _JSON_TYPES:
                out.pop("type")
            else:
                if t == "array" and "items" not in out and node.get("type") == "List<int>":
                    out["items"] = {"type": "integer"}
                if nullable_everywhere or out.get("nullable") is True:
                    out["type"] = [t, "null"]
                    if "enum" in out and None not in out["enum"]:
                        out["enum"] = [*out["enum"], None]
                else:
                    out["type"] = t
        if out.get("nullable") is True and "$ref" in out:
            ref = out.pop("$ref")
            out["anyOf"] = [{"$ref": ref}, {"type": "null"}]
        if isinstance(out.get("type"), list) and "null" not in out["type"] and out.get("nullable") is True:
            out["type"] = [*out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_fix_schema_types(v, nullable_everywhere) for v in node]
    return node


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and isinstance(node["$ref"], str):
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
        seen += 1
        if seen > 50:
            return {}
    return node


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    params: list[dict[str, Any]]
    body_pointer: str | None
    body_required: bool
    responses: dict[str, str | None]
    """status ("200", "2XX", "default") -> JSON pointer of its schema, or None."""


@dataclass
class ApiDocument:
    vendor: str
    path: Path
    raw: dict[str, Any]
    version: int
    base_path: str
    operations: list[Operation] = field(default_factory=list)
    _validators: dict[tuple[str, bool], Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def _strict(self) -> dict[str, Any]:
        return _fix_schema_types(self.raw, nullable_everywhere=False)

    @functools.cached_property
    def _lenient(self) -> dict[str, Any]:
        return _fix_schema_types(self.raw, nullable_everywhere=True)

    def _validator(self, pointer: str, lenient: bool) -> Any:
        cached = self._validators.get((pointer, lenient))
        if cached is None:
            cached = self._validators[(pointer, lenient)] = self._make_validator(pointer, lenient)
        return cached

    def _make_validator(self, pointer: str, lenient: bool) -> Any:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT202012 if self.version == 31 else DRAFT4
        contents = self._lenient if lenient else self._strict
        registry: Registry = Registry().with_resource("urn:api-doc", Resource(contents=contents, specification=spec))
        cls = jsonschema.Draft202012Validator if self.version == 31 else jsonschema.Draft4Validator
        return cls({"$ref": "urn:api-doc" + pointer}, registry=registry)

    # -- lookup --------------------------------------------------------------------------------
    def relative_path(self, path: str) -> str:
        if self.base_path:
            idx = path.find(self.base_path)
            if idx >= 0:
                return path[idx + len(self.base_path) :] or "/"
        return path

    def find(self, method: str, path: str) -> Operation | None:
        rel = self.relative_path(path)
        for op in self.operations:
            if op.method == method.upper() and op.regex.match(rel):
                return op
        return None

    # -- checks --------------------------------------------------------------------------------
    def _param_schema(self, param: dict[str, Any]) -> dict[str, Any]:
        schema = param.get("schema") if self.version >= 30 else param
        schema = _resolve(self.raw, schema) if schema else {}
        return _fix_schema_types(schema, nullable_everywhere=False) if schema else {}

    def _check_value(self, name: str, where: str, value: str, schema: dict[str, Any]) -> str | None:
        t = schema.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), None)
        try:
            if t == "integer":
                int(value)
            elif t == "number":
                float(value)
            elif t == "boolean" and value.lower() not in ("true", "false"):
                raise ValueError
        except ValueError:
            return f"{where} parameter {name}={value!r} is not a valid {t}"
        enum = schema.get("enum")
        if enum and t != "array" and value not in [str(e) for e in enum]:
            return f"{where} parameter {name}={value!r} is not one of {enum}"
        return None

    def request_problems(self, request: httpx.Request) -> list[str]:
        url = urlsplit(str(request.url))
        op = self.find(request.method, url.path)
        label = f"{request.method} {self.relative_path(url.path)}"
        if op is None:
            return [f"{label}: no such path and method in {self.path.name}"]
        problems: list[str] = []
        query = parse_qsl(url.query, keep_blank_values=True)
        declared = {p["name"]: p for p in op.params if p.get("in") == "query"}
        for name, value in query:
            param = declared.get(name)
            if param is None:
                problems.append(f"{label}: query parameter {name!r} is not in the document")
                continue
            schema = self._param_schema(param)
            values = value.split(",") if schema.get("type") == "array" else [value]
            item_schema = _resolve(self.raw, schema.get("items", {})) if schema.get("type") == "array" else schema
            for v in values:
                problem = self._check_value(name, "query", v, _fix_schema_types(item_schema, False))
                if problem:
                    problems.append(f"{label}: {problem}")
        names = {n for n, _ in query}
        header_names = {h.lower() for h in request.headers}
        match = op.regex.match(self.relative_path(url.path))
        for p in op.params:
            if p.get("in") == "query" and p.get("required") and p["name"] not in names:
                problems.append(f"{label}: required query parameter {p['name']!r} is missing")
            if p.get("in") == "header" and p.get("required") and p["name"].lower() not in header_names:
                problems.append(f"{label}: required header {p['name']!r} is missing")
            if p.get("in") == "path" and match:
                value = unquote(match.groupdict().get(_group(p["name"]), "") or "")
                problem = self._check_value(p["name"], "path", value, self._param_schema(p))
                if problem:
                    problems.append(f"{label}: {problem}")
        content_type = request.headers.get("content-type", "")
        body = request.content
        if body and "json" in content_type:
            if op.body_pointer is None:
                problems.append(f"{label}: sends a JSON body but the document declares none")
            else:
                try:
                    instance = json.loads(body)
                except ValueError:
                    problems.append(f"{label}: body is not valid JSON")
                else:
                    problems += [f"{label}: body {m}" for m in self._schema_problems(op.body_pointer, instance, False)]
                    problems += [f"{label}: body {m}" for m in self._unknown_keys(op.body_pointer, instance)]
        elif op.body_required and not body:
            problems.append(f"{label}: the document requires a body and none was sent")
        return problems

    def response_problems(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        url = urlsplit(str(request.url))
        op = self.find(request.method, url.path)
        if op is None or "json" not in response.headers.get("content-type", ""):
            return []
        status = str(response.status_code)
        pointer = op.responses.get(status) or op.responses.get(status[0] + "XX")
        if pointer is None and response.is_success:
            pointer = op.responses.get("default")
            if pointer is None and self.vendor == "datto-rmm":
                # Datto RMM's document lists only its error answers; they carry the success type.
                pointer = next((p for p in op.responses.values() if p), None)
        if pointer is None:
            return []
        try:
            instance = response.json()
        except ValueError:
            return [f"{request.method} {url.path} -> {status}: response is not JSON"]
        label = f"{request.method} {self.relative_path(url.path)} -> {status}"
        return [f"{label}: response {m}" for m in self._schema_problems(pointer, instance, True)]

    def _schema_problems(self, pointer: str, instance: Any, lenient: bool) -> list[str]:
        validator = self._validator(pointer, lenient)
        out = []
        for error in validator.iter_errors(instance):
            where = "/".join(str(p) for p in error.absolute_path) or "<root>"
            out.append(f"at {where}: {error.message[:200]}")
            if len(out) >= 5:
                break
        return out

    def _unknown_keys(self, pointer: str, instance: Any) -> list[str]:
        """Object keys the schema does not declare (only where it lists ``properties`` plainly)."""
        problems: list[str] = []

        def walk(schema: Any, value: Any, where: str, depth: int) -> None:
            schema = _resolve(self.raw, schema)
            if depth > 12 or not isinstance(schema, dict):
                return
            if isinstance(value, dict):
                props = schema.get("properties")
                composed = any(k in schema for k in ("allOf", "anyOf", "oneOf"))
                if isinstance(props, dict) and not composed and "additionalProperties" not in schema:
                    for key, sub in value.items():
                        if key not in props:
                            problems.append(f"at {where or '<root>'}: property {key!r} is not in the document")
                        else:
                            walk(props[key], sub, f"{where}/{key}".lstrip("/"), depth + 1)
            elif isinstance(value, list) and isinstance(schema.get("items"), dict):
                for i, item in enumerate(value):
                    walk(schema["items"], item, f"{where}/{i}".lstrip("/"), depth + 1)

        walk(_at_pointer(self.raw, pointer), instance, "", 0)
        return problems


def _at_pointer(doc: Any, pointer: str) -> Any:
    target = doc
    for part in pointer[2:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(target, list) and part.isdigit():
            target = target[int(part)] if int(part) < len(target) else {}
        elif isinstance(target, dict):
            target = target.get(part, {})
        else:
            return {}
    return target


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    out = "".join(f"(?P<{_group(p[1:-1])}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile("^" + out + "/?$")


def _quirks(vendor: str, raw: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    if vendor == "hudu":
        raw.pop("$ref", None)  # points at an info.json Hudu does not ship
    if vendor == "datto-rmm":
        # Alert.alertContext is a oneOf over ~26 context schemas with an "@class" discriminator but no
        # mapping, and none of the alternatives closes its properties, so every context matches many
        # of them and a strict oneOf can never pass. Check what the document does pin down: an
        # object with "@class" (the AlertContext base).
        alert = raw.get("components", {}).get("schemas", {}).get("Alert", {}).get("properties", {})
        if "alertContext" in alert:
            alert["alertContext"] = {"$ref": "#/components/schemas/AlertContext"}
    if vendor == "autotask":
        # Filter.value is typed object, but the API takes scalars and arrays (its own description says so).
        value = raw.get("definitions", {}).get("Filter", {}).get("properties", {}).get("value")
        if isinstance(value, dict):
            value.pop("type", None)
            value.pop("properties", None)
        # OperationResultModel.itemId refs a generic "Object" definition; the API returns the new id (an integer).
        result = raw.get("definitions", {}).get("OperationResultModel", {}).get("properties", {})
        if "itemId" in result:
            result["itemId"] = {"type": "integer", "format": "int64"}
        # FieldInformationModel.isSupportedWebhookField refs the generic "Object" too; the API sends a boolean.
        info = raw.get("definitions", {}).get("FieldInformationModel", {}).get("properties", {})
        if "isSupportedWebhookField" in info:
            info["isSupportedWebhookField"] = {"type": "boolean"}
    if vendor == "halopsa":
        _halo_quirks(raw)
    if vendor == "connectwise-psa":
        # PatchOperation.value is typed ``object``, but ConnectWise takes any JSON value there, as
        # JSON Patch does: a string for ``summary``, a reference object for ``status``.
        patch = raw.get("components", {}).get("schemas", {}).get("PatchOperation", {}).get("properties", {})
        if "value" in patch:
            patch["value"] = {}
    return raw


_HALO_PAGED = {"page_no": {"type": "integer"}, "page_size": {"type": "integer"}, "record_count": {"type": "integer"}}


def _halo_quirks(raw: dict[str, Any]) -> None:
    """Two quirks of Halo's published file, named here.

    1. ``lastupdatefromdate``/``lastupdatetodate`` on ``GET /Tickets`` are typed ``bool`` but take a
       date-time (Halo filters ``last_update`` by them; its public clients send an ISO date).
    2. Every answer is documented as a bare "Success" with no body. Answers are checked against the
       document's own schema for the resource, in the envelope Halo serves: a paginated list is
       ``{"record_count", "<plural>": [...]}``, a small list is a bare array, a saved record is the
       object (an array when several were posted).
    """
    paths = raw.get("paths", {})
    for param in paths.get("/Tickets", {}).get("get", {}).get("parameters", []):
        if isinstance(param, dict) and param.get("name") in ("lastupdatefromdate", "lastupdatetodate"):
            param["schema"] = {"type": "string"}

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def paged(key: str, name: str) -> dict[str, Any]:
        return {"type": "object", "properties": {**_HALO_PAGED, key: {"type": "array", "items": ref(name)}}}

    def saved(name: str) -> dict[str, Any]:
        return {"anyOf": [ref(name), {"type": "array", "items": ref(name)}]}

    shapes = {
        ("/Tickets", "get"): paged("tickets", "Faults"),
        ("/Tickets/{id}", "get"): ref("Faults"),
        ("/Tickets", "post"): saved("Faults"),
        ("/Actions", "get"): paged("actions", "Actions"),
        ("/Actions", "post"): saved("Actions"),
        ("/Client", "get"): paged("clients", "Area"),
        ("/Users", "get"): paged("users", "Users"),
        ("/Agent", "get"): {"type": "array", "items": ref("Uname")},
        ("/Status", "get"): {"type": "array", "items": ref("TStatus")},
        ("/Priority", "get"): {"type": "array", "items": ref("Policy")},
        ("/TicketType", "get"): {"type": "array", "items": ref("RequestType")},
        ("/Category", "get"): {"type": "array", "items": ref("CategoryDetail")},
        ("/SLA", "get"): {"type": "array", "items": ref("SlaHead")},
        ("/Webhook", "get"): {"type": "array", "items": ref("Webhook")},
        ("/TimesheetEvent", "get"): {"type": "array", "items": ref("TimesheetEvent")},
    }
    for (path, method), schema in shapes.items():
        op = paths.get(path, {}).get(method)
        if isinstance(op, dict):
            op.setdefault("responses", {})["200"] = {
                "description": "Success", "content": {"application/json": {"schema": schema}},
            }


@functools.cache
def load_document(vendor: str, directory: str | None = None) -> ApiDocument:
    """Load (once per process) the API document for ``vendor`` from the specs directory."""
    base = Path(directory) if directory else specs_dir()
    name = SPEC_FILES.get(vendor)
    if name is None:
        raise SpecsMissing(f"{vendor} has no API document in the specs directory (see its connector docstring)")
    path = base / name
    if not path.exists():
        raise SpecsMissing(f"API document {path} is missing")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        raw = yaml.safe_load(path.read_text())
    else:
        raw = json.loads(path.read_text())
    raw = _quirks(vendor, raw)
    if "swagger" in raw:
        version, base_path = 2, raw.get("basePath", "")
    else:
        version = 31 if str(raw.get("openapi", "")).startswith("3.1") else 30
        servers = raw.get("servers") or [{"url": ""}]
        base_path = urlsplit(servers[0].get("url", "")).path
    doc = ApiDocument(vendor=vendor, path=path, raw=raw, version=version, base_path=base_path.rstrip("/"))
    for template, item in raw.get("paths", {}).items():
        item = _resolve(raw, item)
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params: dict[tuple[str, str], dict[str, Any]] = {}
            for p in [*shared, *op.get("parameters", [])]:
                p = _resolve(raw, p)
                params[(p.get("name", ""), p.get("in", ""))] = p
            body_pointer: str | None = None
            body_required = False
            if version == 2:
                for i, p in enumerate(op.get("parameters", [])):
                    p = _resolve(raw, p)
                    if p.get("in") == "body":
                        body_pointer = _pointer("paths", template, method, "parameters", str(i), "schema")
                        body_required = bool(p.get("required"))
            else:
                rb = _resolve(raw, op.get("requestBody"))
                if isinstance(rb, dict) and rb.get("content"):
                    for ctype in rb["content"]:
                        if "json" in ctype or ctype == "*/*":
                            body_pointer = _pointer("paths", template, method, "requestBody", "content", ctype, "schema")
                            if "$ref" in op.get("requestBody", {}):
                                ref = op["requestBody"]["$ref"]
                                body_pointer = ref + "/content/" + ctype.replace("/", "~1") + "/schema"
                            break
                    body_required = bool(rb.get("required"))
            responses: dict[str, str | None] = {}
            for status, resp in op.get("responses", {}).items():
                resp_node = _resolve(raw, resp)
                if version == 2:
                    responses[str(status)] = (
                        _pointer("paths", template, method, "responses", str(status), "schema")
                        if isinstance(resp_node, dict) and resp_node.get("schema")
                        else None
                    )
                else:
                    content = resp_node.get("content", {}) if isinstance(resp_node, dict) else {}
                    ctype = next((c for c in content if "json" in c or c == "*/*"), None)
                    if ctype and content[ctype].get("schema"):
                        base = (
                            resp["$ref"] if isinstance(resp, dict) and "$ref" in resp
                            else _pointer("paths", template, method, "responses", str(status))
                        )
                        responses[str(status)] = base + "/content/" + ctype.replace("/", "~1") + "/schema"
                    else:
                        responses[str(status)] = None
            doc.operations.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    regex=_template_regex(template),
                    params=list(params.values()),
                    body_pointer=body_pointer,
                    body_required=body_required,
                    responses=responses,
                )
            )
    doc.operations.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
    return doc


class ContractChecker:
    """Collects contract problems of every request/response a simulator sees."""

    def __init__(self, doc: ApiDocument | None, *, vendor: str) -> None:
        self.doc = doc
        self.vendor = vendor
        self.problems: list[str] = []
        self.checked_requests = 0
        self.checked_responses = 0
        self.undocumented_calls = 0

    def check(
        self,
        request: httpx.Request,
        response: httpx.Response,
        *,
        vendor: str = "",
        undocumented: Iterable[tuple[str, str]] = (),
    ) -> None:
        path = urlsplit(str(request.url)).path
        for method, pattern in undocumented:
            if method == request.method and re.search(pattern, path):
                self.undocumented_calls += 1
                return
        if self.doc is None:
            return
        self.checked_requests += 1
        self.problems += self.doc.request_problems(request)
        if response.status_code < 500 and response.status_code != 429:
            self.problems += self.doc.response_problems(request, response)
            self.checked_responses += 1
