"""Per-language node vocabularies for the tree-sitter languages (which node means what)."""

from __future__ import annotations

from dataclasses import dataclass, field

Binding = tuple[str, str | None]


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


@dataclass(frozen=True)
class TsSpec:
    """What the generic tree-sitter analysis needs to know about one grammar."""

    comments: frozenset[str]
    branches: frozenset[str]
    loops: frozenset[str]
    iterating_loops: frozenset[str]
    calls: frozenset[str]
    identifiers: frozenset[str]
    bindings: frozenset[Binding]
    tries: frozenset[str] = frozenset()
    catches: frozenset[str] = frozenset()
    throws: frozenset[str] = frozenset()
    finally_clauses: frozenset[str] = frozenset()
    exits: frozenset[str] = _set("return_statement", "break_statement")
    awaits: frozenset[str] = frozenset()
    bool_operators: frozenset[str] = _set("&&", "||")
    async_calls: dict[str, frozenset[str]] = field(default_factory=dict)
    async_nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    async_names: dict[str, str] = field(default_factory=dict)
    functional: frozenset[str] = frozenset()
    data_structures: frozenset[str] = frozenset()


_JS_BINDINGS: frozenset[Binding] = frozenset(
    {
        ("variable_declarator", "name"),
        ("formal_parameters", None),
        ("required_parameter", "pattern"),
        ("optional_parameter", "pattern"),
        ("catch_clause", "parameter"),
        ("for_in_statement", "left"),
        ("arrow_function", "parameter"),
        ("assignment_pattern", "left"),
        ("array_pattern", None),
        ("rest_pattern", None),
        ("pair_pattern", "value"),
        ("object_assignment_pattern", "left"),
        ("object_pattern", None),
        ("function_declaration", "name"),
    }
)

JAVASCRIPT = TsSpec(
    comments=_set("comment", "html_comment"),
    branches=_set(
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "catch_clause",
        "switch_case",
        "ternary_expression",
    ),
    loops=_set("for_statement", "for_in_statement", "while_statement", "do_statement"),
    iterating_loops=_set("for_in_statement"),
    calls=_set("call_expression", "new_expression"),
    identifiers=_set("identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"),
    bindings=_JS_BINDINGS,
    tries=_set("try_statement"),
    catches=_set("catch_clause"),
    throws=_set("throw_statement"),
    finally_clauses=_set("finally_clause"),
    awaits=_set("await_expression"),
    bool_operators=_set("&&", "||", "??"),
    async_calls={
        "gather": _set("Promise.all", "Promise.allSettled", "Promise.race", "Promise.any"),
        "timeouts": _set("AbortSignal.timeout"),
        "promises": _set("Promise"),
    },
    functional=_set("map", "filter", "reduce", "flatMap"),
    data_structures=_set("Map", "Set", "sort", "splice", "WeakMap"),
)

GO = TsSpec(
    comments=_set("comment"),
    branches=_set("if_statement", "for_statement", "expression_case", "type_case", "communication_case"),
    loops=_set("for_statement"),
    iterating_loops=_set("range_clause"),
    calls=_set("call_expression"),
    identifiers=_set("identifier"),
    bindings=frozenset(
        {
            ("parameter_declaration", "name"),
            ("variadic_parameter_declaration", "name"),
            ("short_var_declaration", "left"),
            ("var_spec", "name"),
            ("const_spec", "name"),
            ("range_clause", "left"),
            ("func_literal", "name"),
        }
    ),
    async_calls={
        "timeouts": _set("context.WithTimeout", "context.WithDeadline", "time.After", "time.NewTimer"),
        "gather": _set("errgroup.WithContext"),
    },
    async_nodes={
        "go_statement": ("tasks", "goroutines"),
        "select_statement": ("select", "select"),
        "send_statement": ("channels", "channels"),
        "channel_type": ("channels", "channels"),
    },
    async_names={"WaitGroup": "wait_group", "errgroup": "wait_group", "Semaphore": "semaphore"},
    data_structures=_set("sort", "heap", "list", "slices", "maps"),
)

RUST = TsSpec(
    comments=_set("line_comment", "block_comment"),
    branches=_set("if_expression", "while_expression", "for_expression", "match_arm", "try_expression"),
    loops=_set("for_expression", "while_expression", "loop_expression"),
    iterating_loops=_set("for_expression"),
    calls=_set("call_expression", "macro_invocation"),
    identifiers=_set("identifier"),
    bindings=frozenset(
        {
            ("parameter", "pattern"),
            ("let_declaration", "pattern"),
            ("closure_parameters", None),
            ("for_expression", "pattern"),
            ("tuple_pattern", None),
            ("tuple_struct_pattern", None),
            ("let_condition", "pattern"),
            ("match_pattern", None),
            ("ref_pattern", None),
            ("mut_pattern", None),
            ("reference_pattern", None),
            ("captured_pattern", None),
            ("slice_pattern", None),
            ("field_pattern", "pattern"),
        }
    ),
    exits=_set("return_expression", "break_expression"),
    awaits=_set("await_expression"),
    async_calls={
        "gather": _set("join!", "try_join!", "join_all", "try_join_all", "buffer_unordered"),
        "select": _set("select!"),
        "tasks": _set("spawn", "spawn_blocking"),
        "timeouts": _set("timeout", "timeout_at"),
        "channels": _set("channel", "unbounded_channel"),
    },
    async_names={"JoinSet": "task_group", "Semaphore": "semaphore"},
    functional=_set("map", "filter", "fold", "filter_map", "flat_map", "reduce"),
    data_structures=_set("HashMap", "HashSet", "BTreeMap", "BTreeSet", "VecDeque", "BinaryHeap", "sort", "sort_by"),
)

JAVA = TsSpec(
    comments=_set("line_comment", "block_comment"),
    branches=_set(
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
        "catch_clause",
        "ternary_expression",
        "switch_label",
    ),
    loops=_set("for_statement", "enhanced_for_statement", "while_statement", "do_statement"),
    iterating_loops=_set("enhanced_for_statement"),
    calls=_set("method_invocation", "object_creation_expression"),
    identifiers=_set("identifier"),
    bindings=frozenset(
        {
            ("formal_parameter", "name"),
            ("variable_declarator", "name"),
            ("catch_formal_parameter", "name"),
            ("enhanced_for_statement", "name"),
            ("lambda_expression", "parameters"),
            ("inferred_parameters", None),
            ("resource", "name"),
        }
    ),
    tries=_set("try_statement", "try_with_resources_statement"),
    catches=_set("catch_clause"),
    throws=_set("throw_statement"),
    finally_clauses=_set("finally_clause"),
    async_calls={
        "gather": _set("allOf", "anyOf", "invokeAll", "invokeAny"),
        "tasks": _set("supplyAsync", "runAsync", "submit", "execute", "Thread", "newFixedThreadPool"),
        "timeouts": _set("orTimeout", "completeOnTimeout", "awaitTermination"),
        "semaphore": _set("Semaphore"),
    },
    async_names={"CompletableFuture": "tasks", "ExecutorService": "tasks"},
    functional=_set("map", "filter", "reduce", "collect", "flatMap"),
    data_structures=_set(
        "HashMap",
        "HashSet",
        "TreeMap",
        "PriorityQueue",
        "ArrayDeque",
        "LinkedList",
        "Collections",
        "Arrays",
    ),
)

SPECS: dict[str, TsSpec] = {
    "javascript": JAVASCRIPT,
    "typescript": JAVASCRIPT,
    "go": GO,
    "rust": RUST,
    "java": JAVA,
}
