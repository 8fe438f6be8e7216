"""Where the functions, methods and types are in a tree-sitter tree, one walker per language family.

Nested functions and closures belong to the unit that holds them; broken units are left to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tree_sitter import Node

from mcp_memory.extraction.ts_nodes import field_text, text

UnitKind = Literal["function", "method", "class"]
_JS_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
_JS_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_JS_CLASSES = {
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
}
_JAVA_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "record",
}
_JS_METHODS = frozenset({"method_definition"})
_JAVA_METHODS = frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"})
_GENERICS = re.compile(r"<.*>|\[.*\]")
_CONTAINER_KEYWORDS = frozenset({"class", "interface", "impl", "trait", "struct", "enum"})


@dataclass
class TsUnit:
    """A function, method or type declaration and what the walker learnt about it."""

    kind: UnitKind
    node: Node
    name: str
    qualified_name: str
    func: Node | None = None
    extras: list[Node] = field(default_factory=list)
    flavour: str = "class"
    bases: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    owner: str | None = None

    @property
    def first_node(self) -> Node:
        """Where the unit's text starts: its first decorator/attribute, else the declaration."""
        return self.extras[0] if self.extras else self.node


def _qualify(prefix: list[str], name: str) -> str:
    return ".".join([*prefix, name])


def error_container(node: Node) -> str | None:
    """Inside a broken region, the type whose body it was: 'class K {' -> K, 'impl T for P {' -> P."""
    keyword: str | None = None
    names: list[str] = []
    for child in node.children:
        if child.type == "{":
            break
        if child.type in _CONTAINER_KEYWORDS:
            keyword, names = child.type, []
        elif keyword and child.type in {"identifier", "type_identifier"}:
            names.append(text(child))
    if not names:
        return None
    return names[-1] if keyword == "impl" else names[0]


def _error_members(node: Node, prefix: list[str], out: list[TsUnit], types: frozenset[str]) -> None:
    """Complete methods left inside a broken type body, named after that type when it can be told."""
    owner = error_container(node)
    for member in node.named_children:
        if member.type in types and member.child_by_field_name("body") is not None:
            name = field_text(member, "name")
            qualified = _qualify([*prefix, owner] if owner else prefix, name)
            out.append(TsUnit("method", member, name, qualified, member, owner=owner))


def find_units(root: Node, language: str) -> list[TsUnit]:
    """All units of a tree in source order (a type before its methods)."""
    walkers: dict[str, Callable[[Node, list[str], list[TsUnit]], None]] = {
        "javascript": _js_body,
        "typescript": _js_body,
        "go": _go_body,
        "rust": _rust_body,
        "java": _java_body,
    }
    units: list[TsUnit] = []
    if root.type == "ERROR" and language == "rust":
        _rust_body(root, [], units, error_container(root))
    else:
        walkers[language](root, [], units)
    if root.type == "ERROR" and language in {"javascript", "typescript", "java"}:
        _error_members(root, [], units, _JAVA_METHODS if language == "java" else _JS_METHODS)
    for unit in units:
        if unit.kind == "class" and unit.flavour in {"struct", "enum"} and not unit.methods:
            unit.methods = [u.name for u in units if u.kind == "method" and u.owner == unit.name]
    return units


def _js_body(node: Node, prefix: list[str], out: list[TsUnit]) -> None:
    pending: list[Node] = []
    for child in node.named_children:
        if child.type == "decorator":
            pending.append(child)
            continue
        if child.type in _JS_FUNCTIONS:
            name = field_text(child, "name")
            out.append(TsUnit("function", child, name, _qualify(prefix, name), child, pending))
        elif child.type in {"lexical_declaration", "variable_declaration"}:
            declarators = [d for d in child.named_children if d.type == "variable_declarator"]
            for declarator in declarators:
                value = declarator.child_by_field_name("value")
                if value is not None and value.type in _JS_VALUES:
                    name = field_text(declarator, "name")
                    holder = child if len(declarators) == 1 else declarator
                    out.append(TsUnit("function", holder, name, _qualify(prefix, name), value, pending))
        elif child.type in _JS_CLASSES:
            _js_class(child, prefix, out, pending)
        elif child.type == "export_statement":
            _js_body(child, prefix, out)
        elif child.type == "ERROR":
            _js_body(child, prefix, out)
            _error_members(child, prefix, out, _JS_METHODS)
        pending = []


def _js_class(node: Node, prefix: list[str], out: list[TsUnit], extras: list[Node]) -> None:
    name = field_text(node, "name")
    unit = TsUnit("class", node, name, _qualify(prefix, name), extras=extras, flavour=_JS_CLASSES[node.type])
    unit.bases = _js_bases(node)
    out.append(unit)
    body = node.child_by_field_name("body")
    pending: list[Node] = []
    for member in body.named_children if body is not None else []:
        if member.type == "decorator":
            pending.append(member)
            continue
        member_name = field_text(member, "name") or field_text(member, "property")
        value = member.child_by_field_name("value")
        if member.type == "method_definition":
            unit.methods.append(member_name)
            if member.child_by_field_name("body") is not None:
                out.append(
                    TsUnit("method", member, member_name, _qualify([*prefix, name], member_name), member, pending)
                )
        elif member.type in {"field_definition", "public_field_definition"} and value and value.type in _JS_VALUES:
            unit.methods.append(member_name)
            out.append(TsUnit("method", member, member_name, _qualify([*prefix, name], member_name), value, pending))
        elif member.type in {"method_signature", "abstract_method_signature"}:
            unit.methods.append(member_name)
        elif member.type in {"field_definition", "public_field_definition", "property_signature"}:
            unit.fields.append(member_name)
        pending = []


def _js_bases(node: Node) -> list[str]:
    bases: list[str] = []
    for child in node.named_children:
        if child.type == "class_heritage":
            for part in child.named_children:
                if part.type in {"extends_clause", "implements_clause"}:
                    bases.extend(text(t) for t in part.named_children if t.type != "type_arguments")
                else:
                    bases.append(text(part))
        elif child.type == "extends_type_clause":
            bases.extend(text(t) for t in child.named_children)
    return bases


def _go_body(node: Node, prefix: list[str], out: list[TsUnit]) -> None:
    for child in node.named_children:
        if child.type in {"function_declaration", "method_declaration"} and child.child_by_field_name("body") is None:
            continue
        if child.type == "function_declaration":
            name = field_text(child, "name")
            out.append(TsUnit("function", child, name, name, child))
        elif child.type == "method_declaration":
            name = field_text(child, "name")
            receiver_list = child.child_by_field_name("receiver")
            receivers = (
                [p for p in receiver_list.named_children if p.type == "parameter_declaration"] if receiver_list else []
            )
            owner = _GENERICS.sub("", field_text(receivers[0], "type")).lstrip("*").strip() if receivers else ""
            qualified = f"{owner}.{name}" if owner else name
            out.append(TsUnit("method", child, name, qualified, child, owner=owner or None))
        elif child.type == "type_declaration":
            specs = [s for s in child.named_children if s.type == "type_spec"]
            for spec in specs:
                _go_type(child if len(specs) == 1 else spec, spec, out)
        elif child.type == "ERROR":
            _go_body(child, prefix, out)


def _go_type(holder: Node, spec: Node, out: list[TsUnit]) -> None:
    shape = spec.child_by_field_name("type")
    flavour = {"struct_type": "struct", "interface_type": "interface"}.get(shape.type if shape else "")
    if flavour is None or shape is None:
        return
    name = field_text(spec, "name")
    unit = TsUnit("class", holder, name, name, flavour=flavour)
    for member in (n for part in shape.named_children for n in [part, *part.named_children]):
        if member.type == "field_declaration":
            names = [text(n) for n in member.children_by_field_name("name")]
            unit.fields.extend(names or [field_text(member, "type")])
        elif member.type in {"method_elem", "method_spec"}:
            unit.methods.append(field_text(member, "name"))
    out.append(unit)


def _rust_body(node: Node, prefix: list[str], out: list[TsUnit], owner: str | None = None) -> None:
    pending: list[Node] = []
    for child in node.named_children:
        if child.type == "attribute_item":
            pending.append(child)
            continue
        if child.type in {"line_comment", "block_comment"}:
            continue
        name = field_text(child, "name")
        body = child.child_by_field_name("body")
        if child.type == "function_item" and owner:
            out.append(TsUnit("method", child, name, _qualify([*prefix, owner], name), child, pending, owner=owner))
        elif child.type == "function_item":
            out.append(TsUnit("function", child, name, _qualify(prefix, name), child, pending))
        elif child.type in {"struct_item", "enum_item", "union_item", "trait_item"}:
            unit = TsUnit("class", child, name, _qualify(prefix, name), extras=pending)
            unit.flavour = {"enum_item": "enum", "trait_item": "trait"}.get(child.type, "struct")
            for member in body.named_children if body is not None else []:
                if member.type in {"field_declaration", "enum_variant"}:
                    unit.fields.append(field_text(member, "name"))
                elif member.type in {"function_item", "function_signature_item"}:
                    unit.methods.append(field_text(member, "name"))
            out.append(unit)
            if child.type == "trait_item" and body is not None:
                _rust_body(body, prefix, out, owner=name)
        elif child.type == "impl_item" and body is not None:
            target = _GENERICS.sub("", field_text(child, "type")).strip()
            trait = field_text(child, "trait")
            unit = TsUnit("class", child, target, f"impl {trait} for {target}" if trait else f"impl {target}")
            unit.extras, unit.flavour, unit.bases = pending, "impl", [trait] if trait else []
            unit.methods = [field_text(m, "name") for m in body.named_children if m.type == "function_item"]
            out.append(unit)
            _rust_body(body, prefix, out, owner=target)
        elif child.type == "mod_item" and body is not None:
            _rust_body(body, [*prefix, name], out)
        elif child.type == "ERROR":
            _rust_body(child, prefix, out, error_container(child) or owner)
        pending = []


def _java_body(node: Node, prefix: list[str], out: list[TsUnit]) -> None:
    for child in node.named_children:
        if child.type in _JAVA_TYPES:
            _java_type(child, prefix, out)
        elif child.type == "ERROR":
            _java_body(child, prefix, out)
            _error_members(child, prefix, out, _JAVA_METHODS)


def _java_type(node: Node, prefix: list[str], out: list[TsUnit]) -> None:
    name = field_text(node, "name")
    unit = TsUnit("class", node, name, _qualify(prefix, name), flavour=_JAVA_TYPES[node.type])
    for key in ("superclass", "interfaces"):
        part = node.child_by_field_name(key)
        types = [
            t
            for n in (part.named_children if part else [])
            for t in ([n] if n.type != "type_list" else n.named_children)
        ]
        unit.bases.extend(text(t) for t in types)
    unit.bases.extend(
        text(t)
        for c in node.named_children
        if c.type == "extends_interfaces"
        for listed in c.named_children
        for t in listed.named_children
    )
    parameters = node.child_by_field_name("parameters")
    unit.fields.extend(field_text(p, "name") for p in (parameters.named_children if parameters else []))
    out.append(unit)
    body = node.child_by_field_name("body")
    members = list(body.named_children) if body is not None else []
    members += [m for part in members if part.type == "enum_body_declarations" for m in part.named_children]
    for member in members:
        member_name = field_text(member, "name")
        if member.type in _JAVA_METHODS:
            unit.methods.append(member_name)
            if member.child_by_field_name("body") is not None:
                out.append(TsUnit("method", member, member_name, _qualify([*prefix, name], member_name), member))
        elif member.type in {"field_declaration", "constant_declaration"}:
            unit.fields.extend(field_text(d, "name") for d in member.named_children if d.type == "variable_declarator")
        elif member.type in _JAVA_TYPES:
            _java_type(member, [*prefix, name], out)
