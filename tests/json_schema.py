"""A small JSON Schema validator for the subset docs/report.schema.json uses
(type, required, properties, additionalProperties: false, items, minItems,
maxItems, minimum, exclusiveMinimum, $ref into #/$defs); jsonschema is not a
dependency.  Unknown keywords are an error, so the schema cannot outgrow it."""

from __future__ import annotations

KNOWN = {"$schema", "$id", "title", "description", "type", "required", "properties",
         "additionalProperties", "items", "minItems", "maxItems", "minimum",
         "exclusiveMinimum", "$ref", "$defs"}
TYPES = {"object": dict, "array": list, "string": str, "number": (int, float),
         "integer": int, "boolean": bool, "null": type(None)}


def errors(value, schema: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as 'path: problem'."""
    root = root or schema
    unknown = set(schema) - KNOWN
    if unknown:
        return [f"{where}: the validator does not know {sorted(unknown)}"]
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return errors(value, root["$defs"][name], root, where)
    found: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, k) for k in kinds):
            return [f"{where}: {value!r} is not {' or '.join(kinds)}"]
    if isinstance(value, dict):
        found += [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            found += [f"{where}: unexpected {k!r}" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                found += errors(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for k, item in enumerate(value):
                found += errors(item, schema["items"], root, f"{where}[{k}]")
    if _is(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: {value} < {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            found.append(f"{where}: {value} <= {schema['exclusiveMinimum']}")
    return found


def _is(value, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    return isinstance(value, TYPES[kind])
