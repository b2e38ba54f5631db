"""The contract (whapi_contract.py) against the published Whapi Partner API document.

The document lives outside the repository (../shared/reference); where it is present the
contract must not have drifted from it, and the checks that name each difference run
against it. The checker's own tests use a small document written here and always run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.reference_drift import drift, operations_of, resolve_refs
from conformance.whapi_contract import ERROR, OPERATIONS, Operation, Schema, array, boolean, integer, obj, string
from conftest import REFERENCE_SPEC

needs_reference = pytest.mark.skipif(
    not REFERENCE_SPEC.is_file(),
    reason=f"the published Whapi Partner API document is not here ({REFERENCE_SPEC}); "
           "it sits beside the repository, not in it, so a plain clone skips the drift check")


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads(REFERENCE_SPEC.read_text())


def report(differences: list[str]) -> str:
    return "the contract drifted from the reference:\n  " + "\n  ".join(differences)


# ---------------------------------------------------------------- the contract itself


def test_contract_schemas_are_valid_json_schema():
    for name, op in OPERATIONS.items():
        for schema in [*op.responses.values(), *([op.body] if op.body else []), *op.query_params.values()]:
            Draft202012Validator.check_schema(schema)
        params = set(re.findall(r"\{(\w+)\}", name))
        assert params == set(op.path_params), (name, params, set(op.path_params))
        for pattern in op.path_params.values():
            re.compile(pattern)
    Draft202012Validator.check_schema(ERROR)


# ---------------------------------------------------------------- against the published document


@needs_reference
def test_the_same_operations(reference):
    published = set(operations_of(reference))
    assert published - set(OPERATIONS) == set(), "in the reference, missing from the contract"
    assert set(OPERATIONS) - published == set(), "in the contract, not in the reference"


@needs_reference
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_matches_the_reference(name, reference):
    differences = [d for d in drift(reference, OPERATIONS, ERROR) if d.startswith(f"{name} ")]
    assert differences == [], report(differences)


@needs_reference
def test_no_drift_at_all(reference):
    """Everything at once, including the generic error shape."""
    differences = drift(reference, OPERATIONS, ERROR)
    assert differences == [], report(differences)


# ---------------------------------------------------------------- the check fails when it should

Contract = dict[str, Operation]


def with_schema(contract: Contract, name: str, change: Callable[[Operation], None]) -> Contract:
    changed = copy.deepcopy(contract)
    change(changed[name])
    return changed


def drop_channel_token(op: Operation) -> None:
    channel = op.responses[200]
    del channel["properties"]["token"]
    channel["required"].remove("token")


def nullable_stopped(op: Operation) -> None:
    op.responses[200]["properties"]["stopped"]["type"] = ["boolean", "null"]


def string_server(op: Operation) -> None:
    op.responses[200]["properties"]["server"]["type"] = "string"


def optional_project_id(op: Operation) -> None:
    op.responses[200]["required"].remove("projectId")


def narrow_currency(op: Operation) -> None:
    assert op.body is not None
    op.body["properties"]["currency"] = string(enum=["USD"])


def unrequired_comment(op: Operation) -> None:
    assert op.body is not None
    op.body["required"].remove("comment")


def mode_enum_widened(op: Operation) -> None:
    op.responses[200]["properties"]["mode"]["enum"].append("gold")


MUTATIONS: list[tuple[str, str, Callable[[Contract], Contract]]] = [
    ("removed response field", "GET /channels/{ChannelID} 200 response: property 'token'",
     lambda c: with_schema(c, "GET /channels/{ChannelID}", drop_channel_token)),
    ("null where the reference forbids it", "PUT /channels 200 response.stopped: may be null",
     lambda c: with_schema(c, "PUT /channels", nullable_stopped)),
    ("incompatible type", "PUT /channels 200 response.server: type ['string']",
     lambda c: with_schema(c, "PUT /channels", string_server)),
    ("required list shrank", "GET /channels/{ChannelID} 200 response: 'projectId' is required by the reference",
     lambda c: with_schema(c, "GET /channels/{ChannelID}", optional_project_id)),
    ("request enum narrowed", "POST /channels/{ChannelID}/extend request body.currency: refuses ['RUB'",
     lambda c: with_schema(c, "POST /channels/{ChannelID}/extend", narrow_currency)),
    ("request required list differs", "POST /channels/{ChannelID}/extend request body: 'comment' is required",
     lambda c: with_schema(c, "POST /channels/{ChannelID}/extend", unrequired_comment)),
    ("response enum widened", "GET /channels/{ChannelID} 200 response.mode: may send ['gold']",
     lambda c: with_schema(c, "GET /channels/{ChannelID}", mode_enum_widened)),
    ("path pattern changed", "GET /channels/{ChannelID} path parameter ChannelID: pattern '^[A-Z]{6}-[A-Z0-9]{5}$'",
     lambda c: {**c, "GET /channels/{ChannelID}": dataclasses.replace(
         c["GET /channels/{ChannelID}"], path_params={"ChannelID": r"^[A-Z]{6}-[A-Z0-9]{5}$"})}),
    ("query parameter removed", "GET /projects query parameter uid: missing",
     lambda c: {**c, "GET /projects": dataclasses.replace(
         c["GET /projects"], query_params={k: v for k, v in c["GET /projects"].query_params.items() if k != "uid"})}),
    ("published status missing", "POST /channels/{ChannelID}/start 503 response: missing",
     lambda c: {**c, "POST /channels/{ChannelID}/start": dataclasses.replace(
         c["POST /channels/{ChannelID}/start"],
         responses={k: v for k, v in c["POST /channels/{ChannelID}/start"].responses.items() if k != 503})}),
    ("status the reference does not list", "GET /channels/{ChannelID} 409 response: not listed",
     lambda c: {**c, "GET /channels/{ChannelID}": dataclasses.replace(
         c["GET /channels/{ChannelID}"], responses={**c["GET /channels/{ChannelID}"].responses, 409: ERROR})}),
    ("operation missing", "PUT /projects: in the reference, missing from the contract",
     lambda c: {k: v for k, v in c.items() if k != "PUT /projects"}),
    ("operation invented", "POST /channels/{ChannelID}/pause: in the contract, not in the reference",
     lambda c: {**c, "POST /channels/{ChannelID}/pause": c["POST /channels/{ChannelID}/start"]}),
    ("operationId changed", "GET /projects: operationId 'listProjects'",
     lambda c: {**c, "GET /projects": dataclasses.replace(c["GET /projects"], operation_id="listProjects")}),
]


@needs_reference
@pytest.mark.parametrize("what,expected,mutate", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_drift_is_reported_by_name(what, expected, mutate, reference):
    differences = drift(reference, mutate(OPERATIONS), ERROR)
    assert any(d.startswith(expected) for d in differences), (expected, differences)


@needs_reference
def test_a_removed_error_field_is_reported(reference):
    error = copy.deepcopy(ERROR)
    del error["properties"]["error"]["properties"]["message"]
    error["properties"]["error"]["required"].remove("message")
    assert drift(reference, OPERATIONS, error) == [
        "generic error.error: property 'message' of the reference is missing from the contract",
        "generic error.error: 'message' is required by the reference, not by the contract",
    ]


# A small published document in the reference's style ($ref, allOf, nullable), so the
# checker is tested where ../shared is absent too.
TINY_DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.0",
    "paths": {"/things/{ThingID}": {"get": {
        "operationId": "getThing",
        "parameters": [{"$ref": "#/components/parameters/ThingID"}],
        "responses": {"200": {"$ref": "#/components/responses/Thing"},
                      "404": {"$ref": "#/components/responses/Error"}},
    }}},
    "components": {
        "parameters": {"ThingID": {"name": "ThingID", "in": "path", "required": True,
                                   "schema": {"type": "string", "pattern": "^[A-Z]{4}$"}}},
        "schemas": {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
            "Thing": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "properties": {
                "size": {"type": "number"}, "note": {"type": "string", "nullable": True},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}}],
                "required": ["size"]},
        },
        "responses": {
            "Thing": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
            "Error": {"content": {"application/json": {"schema": {"type": "object", "required": ["error"],
                                                                  "properties": {"error": {"type": "string"}}}}}},
        },
    },
}
TINY_ERROR = obj(required=["error"], props={"error": string()})


def tiny_contract(thing: Schema) -> dict[str, Operation]:
    return {"GET /things/{ThingID}": Operation("getThing", {200: thing, 404: TINY_ERROR}, {"ThingID": "^[A-Z]{4}$"})}


def tiny_thing(**changes: Schema | None) -> Schema:
    props: dict[str, Schema] = {"id": string(), "size": integer(), "note": string(nullable=True),
                                "tags": array(string(enum=["a"])), "extra": boolean()}
    for name, schema in changes.items():
        if schema is None:
            del props[name]
        else:
            props[name] = schema
    return obj(required=[n for n in ("id", "size", "extra") if n in props], props=props)


def test_checker_follows_refs_and_all_of():
    """An integer for a number, a narrower enum and an extra field are fine in a response."""
    assert drift(TINY_DOCUMENT, tiny_contract(tiny_thing()), TINY_ERROR) == []
    resolved = resolve_refs(TINY_DOCUMENT, TINY_DOCUMENT)
    assert "$ref" not in json.dumps(resolved)


@pytest.mark.parametrize("change,expected", [
    ({"size": None}, "GET /things/{ThingID} 200 response: property 'size' of the reference is missing"),
    ({"id": None}, "GET /things/{ThingID} 200 response: property 'id' of the reference is missing"),
    ({"note": string()}, None),  # never null is narrower than nullable: allowed
    ({"size": string()}, "GET /things/{ThingID} 200 response.size: type ['string']"),
    ({"tags": array(string(enum=["a", "c"]))}, "GET /things/{ThingID} 200 response.tags[]: may send ['c']"),
    ({"tags": array(string())}, "GET /things/{ThingID} 200 response.tags[]: may send any value"),
], ids=["removed field", "removed field from allOf part", "narrower nullability", "wrong type",
        "widened enum", "enum dropped"])
def test_checker_names_the_difference(change, expected):
    differences = drift(TINY_DOCUMENT, tiny_contract(tiny_thing(**change)), TINY_ERROR)
    if expected is None:
        assert differences == []
    else:
        assert any(d.startswith(expected) for d in differences), differences


def test_checker_sees_required_lists_of_all_of_parts():
    thing = tiny_thing()
    thing["required"].remove("id")  # "id" is required by the first allOf part only
    assert drift(TINY_DOCUMENT, tiny_contract(thing), TINY_ERROR) == [
        "GET /things/{ThingID} 200 response: 'id' is required by the reference, not by the contract"]


def test_checker_reports_path_patterns_and_missing_statuses():
    contract = {"GET /things/{ThingID}": Operation("getThing", {200: tiny_thing()}, {"ThingID": "^[A-Z]+$"})}
    assert drift(TINY_DOCUMENT, contract, TINY_ERROR) == [
        "GET /things/{ThingID} path parameter ThingID: pattern '^[A-Z]+$' differs from the reference's '^[A-Z]{4}$'",
        "GET /things/{ThingID} 404 response: missing from the contract",
    ]
