"""Differences between dayledger's contract (whapi_contract.py) and the published Whapi
Partner API document (OpenAPI 3.0), as readable sentences; an empty list means none.

The direction matters. A response dayledger sends must be valid for a Whapi client, so
the contract may be narrower there: an integer where the document says number, not null
where it allows null, more required fields. A request body a Whapi client sends must fit
the contract, so there it may only be wider. Patterns are compared as text (whether one
regular expression accepts a subset of another is not decidable here); deliberate
differences are listed in ``KNOWN_PATTERN_DIFFERENCES``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from conformance.whapi_contract import Operation, Schema

Direction = Literal["request", "response"]
METHODS = ("get", "put", "post", "patch", "delete")

# (published pattern, contract pattern) -> why they differ.
KNOWN_PATTERN_DIFFERENCES: dict[tuple[str, str], str] = {
    (r"^[a-zA-Z0-9_-]*$", r"^[a-zA-Z0-9_-]+$"):
        "a partner name in a path is never empty (an empty segment cannot route)",
}


def resolve_refs(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """A copy of ``node`` with every local ``$ref`` replaced by what it points at."""
    if depth > 50:
        raise ValueError("$ref cycle in the reference document")
    if isinstance(node, list):
        return [resolve_refs(x, root, depth) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are expected, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve_refs(target, root, depth + 1)
    return {k: resolve_refs(v, root, depth) for k, v in node.items()}


def flatten(schema: Schema) -> Schema:
    """``allOf`` folded into one object schema: properties and required lists united."""
    if "allOf" not in schema:
        return schema
    out: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Schema] = dict(out.get("properties", {}))
    required = set(out.get("required", []))
    for part in schema["allOf"]:
        part = flatten(part)
        props.update(part.get("properties", {}))
        required |= set(part.get("required", []))
    out["properties"], out["required"] = props, sorted(required)
    return out


def types_of(schema: Schema) -> tuple[set[str], bool]:
    """(the JSON types, whether null is allowed), from OpenAPI 3.0 or JSON Schema forms."""
    declared = schema.get("type")
    names = set(declared) if isinstance(declared, list) else ({declared} if declared else set())
    nullable = "null" in names or schema.get("nullable") is True
    return names - {"null"}, nullable


def _type_ok(ref: set[str], ours: set[str], direction: Direction) -> bool:
    if not ref:
        return True  # the document does not constrain it
    if direction == "response":  # everything we send is one of the published types
        return bool(ours) and all(t in ref or (t == "integer" and "number" in ref) for t in ours)
    return not ours or all(t in ours or (t == "integer" and "number" in ours) for t in ref)


def _pattern_ok(ref: str, ours: str | None) -> bool:
    return ours == ref or (ours is not None and (ref, ours) in KNOWN_PATTERN_DIFFERENCES)


def compare(ref: Schema, ours: Schema, where: str, direction: Direction, out: list[str]) -> None:
    """Append to ``out`` every way ``ours`` breaks ``ref`` (both already $ref-free)."""
    ref, ours = flatten(ref), flatten(ours)
    ref_types, ref_null = types_of(ref)
    our_types, our_null = types_of(ours)
    if not _type_ok(ref_types, our_types, direction):
        out.append(f"{where}: type {sorted(our_types) or 'unstated'} is not compatible with the "
                   f"reference's {sorted(ref_types)} in a {direction}")
    if direction == "response" and our_null and not ref_null:
        out.append(f"{where}: may be null, the reference does not allow null")
    if direction == "request" and ref_null and not our_null:
        out.append(f"{where}: refuses null, the reference allows it")
    _compare_values(ref, ours, where, direction, out)
    if "properties" in ref or "object" in ref_types:
        _compare_objects(ref, ours, where, direction, out)
    if "items" in ref:
        if "items" not in ours:
            out.append(f"{where}: the reference describes the array's items, the contract does not")
        else:
            compare(ref["items"], ours["items"], f"{where}[]", direction, out)


def _compare_values(ref: Schema, ours: Schema, where: str, direction: Direction, out: list[str]) -> None:
    """Enums and patterns."""
    ref_enum = [v for v in ref.get("enum", []) if v is not None]
    our_enum = [v for v in ours.get("enum", []) if v is not None] if "enum" in ours else None
    if direction == "response" and ref_enum:
        extra = sorted(set(our_enum) - set(ref_enum)) if our_enum is not None else "any value"
        if extra:
            out.append(f"{where}: may send {extra}, outside the reference's enum {ref_enum}")
    if direction == "request":
        refused = [v for v in ref_enum if not _accepts(ours, v)]
        if refused:
            out.append(f"{where}: refuses {refused} from the reference's enum")
        if our_enum is not None and not ref_enum:
            out.append(f"{where}: enum {our_enum} refuses values the reference allows")
        if "pattern" in ours and "pattern" not in ref and not ref_enum:
            out.append(f"{where}: pattern {ours['pattern']!r} refuses values the reference allows")
    if "pattern" in ref and not _pattern_ok(ref["pattern"], ours.get("pattern")):
        out.append(f"{where}: pattern {ours.get('pattern')!r} differs from the reference's {ref['pattern']!r}")


def _accepts(ours: Schema, value: Any) -> bool:
    if "enum" in ours:
        return value in ours["enum"]
    return "pattern" not in ours or re.search(ours["pattern"], str(value)) is not None


def _compare_objects(ref: Schema, ours: Schema, where: str, direction: Direction, out: list[str]) -> None:
    ref_props: Mapping[str, Schema] = ref.get("properties", {})
    our_props: Mapping[str, Schema] = ours.get("properties", {})
    for name, schema in ref_props.items():
        if name not in our_props:
            out.append(f"{where}: property {name!r} of the reference is missing from the contract")
        else:
            compare(schema, our_props[name], f"{where}.{name}", direction, out)
    ref_required, our_required = set(ref.get("required", [])), set(ours.get("required", []))
    for name in sorted(ref_required - our_required):
        out.append(f"{where}: {name!r} is required by the reference, not by the contract")
    if direction == "request":
        for name in sorted(our_required - ref_required):
            out.append(f"{where}: the contract requires {name!r}, the reference does not")
    ref_closed, our_closed = ref.get("additionalProperties") is False, ours.get("additionalProperties") is False
    if direction == "response" and ref_closed and not our_closed:
        out.append(f"{where}: the reference allows no further properties, the contract does")
    if direction == "request" and our_closed and not ref_closed:
        out.append(f"{where}: the contract refuses further properties, the reference allows them")


def json_body(holder: Mapping[str, Any]) -> Schema | None:
    schema = holder.get("content", {}).get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) else None


def operation_drift(name: str, ref_op: Mapping[str, Any], ours: Operation) -> list[str]:
    """Differences of one operation (``ref_op`` already $ref-free)."""
    out: list[str] = []
    if ours.operation_id != ref_op.get("operationId"):
        out.append(f"{name}: operationId {ours.operation_id!r}, the reference says {ref_op.get('operationId')!r}")
    for param in ref_op.get("parameters", []):
        where = f"{name} {param['in']} parameter {param['name']}"
        if param["in"] == "path":
            if param["name"] not in ours.path_params:
                out.append(f"{where}: missing from the contract")
            elif "pattern" in param.get("schema", {}):
                compare(param["schema"], {"type": "string", "pattern": ours.path_params[param["name"]]},
                        where, "request", out)
        elif param["in"] == "query":
            if param["name"] not in ours.query_params:
                out.append(f"{where}: missing from the contract")
            else:
                compare(param.get("schema", {}), ours.query_params[param["name"]], where, "request", out)
    published_path = {p["name"] for p in ref_op.get("parameters", []) if p["in"] == "path"}
    for extra in sorted(set(ours.path_params) - published_path):
        out.append(f"{name}: path parameter {extra} is not in the reference")
    ref_body = json_body(ref_op["requestBody"]) if "requestBody" in ref_op else None
    if ref_body is not None and ours.body is None:
        out.append(f"{name} request body: missing from the contract")
    elif ref_body is None and ours.body is not None:
        out.append(f"{name} request body: the reference has none")
    elif ref_body is not None and ours.body is not None:
        compare(ref_body, ours.body, f"{name} request body", "request", out)
    published: set[int] = set()
    for code, response in ref_op.get("responses", {}).items():
        schema = json_body(response)
        if schema is None or not str(code).isdigit():
            continue
        published.add(int(code))
        our_schema = ours.response(int(code))
        if our_schema is None:
            out.append(f"{name} {code} response: missing from the contract")
        else:
            compare(schema, our_schema, f"{name} {code} response", "response", out)
    for code in sorted(set(ours.responses) - published):
        out.append(f"{name} {code} response: not listed by the reference (an addition belongs in EXTRA_STATUSES)")
    return out


def operations_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """``"METHOD /path"`` -> operation object, for every operation of an OpenAPI document."""
    return {f"{method.upper()} {path}": op for path, item in document.get("paths", {}).items()
            for method, op in item.items() if method in METHODS}


def drift(document: dict[str, Any], contract: Mapping[str, Operation], error: Schema) -> list[str]:
    """Every difference between the published ``document`` and the contract."""
    resolved = resolve_refs(document, document)
    published = operations_of(resolved)
    out = [f"{name}: in the reference, missing from the contract" for name in sorted(set(published) - set(contract))]
    out += [f"{name}: in the contract, not in the reference" for name in sorted(set(contract) - set(published))]
    for name in sorted(set(published) & set(contract)):
        out += operation_drift(name, published[name], contract[name])
    generic = resolved.get("components", {}).get("responses", {}).get("Error")
    if generic is None or json_body(generic) is None:
        out.append("the reference has no generic Error response (components.responses.Error)")
    else:
        compare(json_body(generic) or {}, error, "generic error", "response", out)
    return out
