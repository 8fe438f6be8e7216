"""Pattern extraction: what an agent gets back when it hands over a piece of winning code."""

from __future__ import annotations

import textwrap

import pytest

from mcp_memory.errors import InvalidInput
from mcp_memory.extraction import (
    ExtractedPattern,
    ExtractionResult,
    chunk_text,
    extract_patterns,
    normalize_language,
)


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def units(result: ExtractionResult) -> list[tuple[str, str]]:
    return [(p.kind, p.qualified_name) for p in result.patterns]


def only(result: ExtractionResult, kind: str, qualified_name: str | None = None) -> ExtractedPattern:
    found = [p for p in result.patterns if p.kind == kind and qualified_name in (None, p.qualified_name)]
    assert len(found) == 1, units(result)
    return found[0]


USER_REPOSITORY = code(
    '''
    import logging

    logger = logging.getLogger(__name__)


    class UserRepository(Repository):
        """Users kept in SQL."""

        def get(self, user_id: int) -> User | None:
            return self.session.get(User, user_id)

        def add(self, user: User) -> None:
            self.session.add(user)

        def update(self, user: User) -> None:
            self.session.merge(user)

        def delete(self, user_id: int) -> None:
            self.session.delete(self.get(user_id))


    @app.get("/users/{user_id}")
    async def read_user(user_id: int, repo: UserRepository = Depends(repository)) -> User:
        """Return one user or 404."""
        user = repo.get(user_id)
        if user is None:
            raise HTTPException(status_code=404)
        return user
    '''
)


# --- Python units -------------------------------------------------------------------------------------


def test_python_code_yields_its_class_methods_and_functions_in_source_order() -> None:
    result = extract_patterns(USER_REPOSITORY, "python")
    assert result.parsed is True
    assert result.notes == []
    assert units(result) == [
        ("class", "UserRepository"),
        ("method", "UserRepository.get"),
        ("method", "UserRepository.add"),
        ("method", "UserRepository.update"),
        ("method", "UserRepository.delete"),
        ("function", "read_user"),
    ]


def test_a_class_lists_its_bases_and_methods_and_says_so_in_its_description() -> None:
    cls = only(extract_patterns(USER_REPOSITORY, "py"), "class")
    assert cls.name == "UserRepository"
    assert cls.signature == "class UserRepository(Repository)"
    assert cls.docstring == "Users kept in SQL."
    assert cls.details == {
        "flavour": "class",
        "bases": ["Repository"],
        "method_count": 4,
        "methods": ["get", "add", "update", "delete"],
        "fields": [],
    }
    assert cls.description == (
        "python class UserRepository(Repository) with 4 methods: get, add, update, delete. Users kept in SQL"
    )
    assert (cls.start_line, cls.end_line) == (6, 19)


def test_a_method_is_qualified_by_its_class_and_keeps_its_exact_lines() -> None:
    method = only(extract_patterns(USER_REPOSITORY, "python"), "method", "UserRepository.delete")
    assert method.name == "delete"
    assert method.code == "    def delete(self, user_id: int) -> None:\n        self.session.delete(self.get(user_id))"
    assert (method.start_line, method.end_line) == (18, 19)
    assert method.signature == "def delete(self, user_id: int) -> None"
    assert method.description == "python method UserRepository.delete(user_id) -> None"
    assert method.details == {"parameters": ["self", "user_id"], "returns": "None"}


def test_a_decorated_async_function_keeps_decorators_signature_and_docstring() -> None:
    function = only(extract_patterns(USER_REPOSITORY, "python"), "function")
    assert function.name == function.qualified_name == "read_user"
    assert function.is_async is True
    assert function.decorators == ["app.get('/users/{user_id}')"]
    assert function.signature == (
        "async def read_user(user_id: int, repo: UserRepository = Depends(repository)) -> User"
    )
    assert function.docstring == "Return one user or 404."
    assert (function.start_line, function.end_line) == (22, 28)
    assert function.code.startswith('@app.get("/users/{user_id}")\nasync def read_user(')
    assert function.cyclomatic == 2
    assert function.complexity == "low"
    assert function.description == (
        "python async function read_user(user_id, repo) -> User: decorated with @app.get. Return one user or 404"
    )


def test_a_multi_line_signature_is_reported_on_one_line_as_written() -> None:
    source = code(
        """
        def connect(
            host: str = "localhost",
            port: int = 5432,
            *,
            timeout: float = 3.0,
        ) -> Connection:  # pooled
            return Connection(host, port, timeout)
        """
    )
    function = only(extract_patterns(source, "python"), "function")
    assert function.signature == (
        'def connect(host: str = "localhost", port: int = 5432, *, timeout: float = 3.0) -> Connection'
    )
    assert function.details["parameters"] == ["host", "port", "timeout"]


def test_the_description_names_retries_caught_errors_and_timeouts() -> None:
    source = code(
        """
        async def fetch_json(url, retries=3):
            for attempt in range(retries):
                try:
                    return await asyncio.wait_for(session.get(url), timeout=10)
                except ClientError:
                    await asyncio.sleep(2 ** attempt)
            raise FetchError(url)
        """
    )
    function = only(extract_patterns(source, "python"), "function")
    assert function.description == (
        "python async function fetch_json(url, retries): retries with exponential backoff, "
        "catches ClientError, uses asyncio.wait_for timeout"
    )


# --- Python behaviours: error handling, async, algorithms ---------------------------------------------


RETRYING_CLIENT = code(
    """
    class Client:
        async def fetch(self, url):
            delay = 0.5
            while True:
                try:
                    response = await self.http.get(url)
                    break
                except (TimeoutError, ConnectionError) as exc:
                    logger.warning("retrying %s: %s", url, exc)
                    await asyncio.sleep(delay)
                    delay *= 2
            return response
    """
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            RETRYING_CLIENT,
            {
                "caught": ["TimeoutError", "ConnectionError"],
                "reraises": False,
                "raises": [],
                "logs": ["logger.warning"],
                "swallows": False,
                "retries": True,
                "retry_via": "loop",
                "backoff": True,
                "has_finally": False,
                "has_else": False,
            },
            id="retry loop with backoff",
        ),
        pytest.param(
            code(
                """
                def load(path):
                    try:
                        return json.loads(Path(path).read_text())
                    except json.JSONDecodeError:
                        logging.exception("bad file %s", path)
                        raise
                    finally:
                        metrics.count("load")
                """
            ),
            {
                "caught": ["json.JSONDecodeError"],
                "reraises": True,
                "raises": [],
                "logs": ["logging.exception"],
                "swallows": False,
                "retries": False,
                "retry_via": None,
                "backoff": False,
                "has_finally": True,
                "has_else": False,
            },
            id="log and re-raise",
        ),
        pytest.param(
            code(
                """
                def save(row):
                    try:
                        db.insert(row)
                    except IntegrityError as exc:
                        raise DuplicateRow(row.id) from exc
                    except:
                        pass
                """
            ),
            {
                "caught": ["IntegrityError", "BaseException"],
                "reraises": False,
                "raises": ["DuplicateRow"],
                "logs": [],
                "swallows": True,
                "retries": False,
                "retry_via": None,
                "backoff": False,
                "has_finally": False,
                "has_else": False,
            },
            id="translate and swallow",
        ),
    ],
)
def test_a_try_block_reports_what_it_catches_reraises_logs_and_retries(source: str, expected: dict) -> None:
    block = only(extract_patterns(source, "python"), "error_handling")
    assert block.details == expected


def test_a_retry_loop_is_one_error_pattern_spanning_the_loop() -> None:
    block = only(extract_patterns(RETRYING_CLIENT, "python"), "error_handling")
    assert (block.start_line, block.end_line) == (4, 11)
    assert block.code.splitlines()[0] == "        while True:"
    assert block.qualified_name == "Client.fetch"
    assert block.description == (
        "python error handling in Client.fetch: retries with exponential backoff, "
        "catches TimeoutError, ConnectionError, logs via logger.warning"
    )


def test_a_try_inside_a_loop_over_items_is_not_a_retry() -> None:
    source = code(
        """
        def import_all(paths):
            for path in paths:
                try:
                    load(path)
                except OSError:
                    continue
        """
    )
    block = only(extract_patterns(source, "python"), "error_handling")
    assert (block.start_line, block.details["retries"]) == (3, False)


def test_a_retry_decorator_makes_an_error_pattern_even_without_a_try() -> None:
    source = code(
        """
        @backoff.on_exception(backoff.expo, requests.RequestException, max_tries=5)
        def get_page(url):
            return requests.get(url, timeout=5).text
        """
    )
    block = only(extract_patterns(source, "python"), "error_handling")
    assert block.details["caught"] == ["requests.RequestException"]
    assert (block.details["retries"], block.details["backoff"]) == (True, True)
    assert block.details["retry_via"] == "@backoff.on_exception(backoff.expo, requests.RequestException, max_tries=5)"
    assert (block.start_line, block.end_line) == (1, 3)


def test_an_async_function_that_coordinates_work_is_an_async_pattern() -> None:
    source = code(
        """
        async def crawl(urls, limit=10):
            semaphore = asyncio.Semaphore(limit)
            async with aiohttp.ClientSession() as session:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(fetch(session, url, semaphore)) for url in urls]
                pages = await asyncio.gather(*(asyncio.wait_for(t, 30) for t in tasks))
            async for event in events():
                log(event)
            return pages
        """
    )
    pattern = only(extract_patterns(source, "python"), "async")
    assert pattern.is_async is True
    assert pattern.details == {
        "awaits": 1,
        "async_for": 1,
        "awaited": ["asyncio.gather"],
        "async_with": ["aiohttp.ClientSession", "asyncio.TaskGroup"],
        "gather": ["asyncio.gather"],
        "task_group": ["asyncio.TaskGroup"],
        "tasks": ["group.create_task"],
        "timeouts": ["asyncio.wait_for"],
        "semaphore": ["asyncio.Semaphore"],
    }
    assert pattern.description == (
        "python async pattern in crawl: awaits asyncio.gather, "
        "async with aiohttp.ClientSession, asyncio.TaskGroup, runs concurrently with asyncio.gather, "
        "uses asyncio.TaskGroup, spawns tasks with group.create_task, uses asyncio.wait_for timeout, "
        "limits concurrency with asyncio.Semaphore, iterates with async for"
    )


def test_an_async_function_that_only_awaits_is_a_function_not_an_async_pattern() -> None:
    source = "async def ping(client):\n    return await client.get('/health')\n"
    assert units(extract_patterns(source, "python")) == [("function", "ping")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
            {"loops": 0, "loop_depth": 0, "recursion": True, "comprehensions": 0, "uses": []},
            id="recursion",
        ),
        pytest.param(
            code(
                """
                def pairs(xs, target):
                    seen = defaultdict(int)
                    for i, a in enumerate(xs):
                        for b in xs[i + 1 :]:
                            if a + b == target:
                                seen[a] += 1
                    return seen
                """
            ),
            {"loops": 2, "loop_depth": 2, "recursion": False, "comprehensions": 0, "uses": ["defaultdict"]},
            id="nested loops",
        ),
        pytest.param(
            "def squares(xs):\n    return sorted({x * x for x in xs if x > 0})\n",
            {"loops": 0, "loop_depth": 1, "recursion": False, "comprehensions": 1, "uses": ["sorted"]},
            id="comprehension",
        ),
    ],
)
def test_functions_whose_work_is_loops_recursion_or_comprehensions_are_algorithms(source: str, expected: dict) -> None:
    assert only(extract_patterns(source, "python"), "algorithm").details == expected


def test_a_function_that_mostly_does_io_is_not_an_algorithm() -> None:
    source = code(
        """
        def publish(event, bus):
            payload = serialize(event)
            bus.connect()
            bus.send(payload)
            for hook in HOOKS:
                hook(event)
            bus.close()
        """
    )
    assert [p.kind for p in extract_patterns(source, "python").patterns] == ["function"]


# --- Complexity ---------------------------------------------------------------------------------------


def branchy(branches: int) -> str:
    lines = ["def route(x):"] + [f"    if x == {i}:\n        return {i}" for i in range(branches)] + ["    return -1"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("branches", "cyclomatic", "complexity"),
    [(0, 1, "low"), (4, 5, "low"), (5, 6, "medium"), (9, 10, "medium"), (10, 11, "high"), (12, 13, "high")],
)
def test_complexity_is_low_up_to_5_medium_up_to_10_and_high_above(
    branches: int, cyclomatic: int, complexity: str
) -> None:
    function = only(extract_patterns(branchy(branches), "python"), "function")
    assert (function.cyclomatic, function.complexity) == (cyclomatic, complexity)


def test_cyclomatic_counts_elif_loops_except_boolean_operands_comprehension_ifs_and_match_cases() -> None:
    source = code(
        """
        def classify(items, mode):
            if mode == "a" and items or mode == "b":
                pass
            elif mode == "c":
                pass
            for item in items:
                while item:
                    item -= 1
            try:
                pass
            except ValueError:
                pass
            evens = [i for i in items if i % 2 if i]
            match mode:
                case "x":
                    pass
                case "y" | "z":
                    pass
                case _:
                    pass
        """
    )
    # 1 + if + 2 boolean operands + elif + for + while + except + 2 comprehension ifs + 2 cases
    assert only(extract_patterns(source, "python"), "function").cyclomatic == 12


def test_a_javascript_function_with_twelve_branches_is_high() -> None:
    checks = "\n".join(f"  if (x === {i}) return {i};" for i in range(12))
    function = only(extract_patterns(f"function route(x) {{\n{checks}\n  return -1;\n}}\n", "js"), "function")
    assert (function.cyclomatic, function.complexity) == (13, "high")


# --- Other languages ----------------------------------------------------------------------------------


JAVASCRIPT = code(
    """
    /** Fetch JSON, retrying on network errors. */
    export async function fetchJson(url, retries = 3) {
      for (let attempt = 0; attempt < retries; attempt++) {
        try {
          const res = await fetch(url);
          return await res.json();
        } catch (err) {
          if (!(err instanceof TypeError)) throw err;
          console.warn("retrying", err);
          await sleep(2 ** attempt * 100);
        }
      }
    }

    export const add = (a, b) => a + b;

    class Cart extends Store {
      total() { return this.items.reduce((sum, item) => sum + item.price, 0); }
      static empty() { return new Cart(); }
    }
    """
)

TYPESCRIPT = code(
    """
    @Injectable()
    export class UserService implements Service {
      constructor(private readonly repo: UserRepo) {}

      @Get(':id')
      async find(id: string): Promise<User | null> {
        try {
          return await this.repo.get(id);
        } catch (e: unknown) {
          logger.error(e);
          return null;
        }
      }
    }

    export interface Service { find(id: string): Promise<User | null>; }

    export const loadAll = async (ids: string[]): Promise<User[]> => Promise.all(ids.map(load));
    """
)

GO = code(
    """
    package store

    // Store keeps items in memory.
    type Store struct {
    \titems map[string]int
    }

    // Get returns one item.
    func (s *Store) Get(key string) (int, error) {
    \tv, err := s.lookup(key)
    \tif err != nil {
    \t\tlog.Printf("lookup %s: %v", key, err)
    \t\treturn 0, fmt.Errorf("get %s: %w", key, err)
    \t}
    \treturn v, nil
    }

    func FanOut(jobs []Job) {
    \tvar wg sync.WaitGroup
    \tfor _, job := range jobs {
    \t\twg.Add(1)
    \t\tgo func(j Job) { defer wg.Done(); j.Run() }(job)
    \t}
    \twg.Wait()
    }
    """
)

RUST = code(
    """
    /// A point on the plane.
    #[derive(Debug, Clone)]
    pub struct Point {
        x: f64,
        y: f64,
    }

    impl Point {
        /// Distance from the origin.
        pub fn norm(&self) -> f64 {
            (self.x * self.x + self.y * self.y).sqrt()
        }
    }

    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let text = fs::read_to_string(path)?;
        match toml::from_str(&text) {
            Ok(config) => Ok(config),
            Err(e) => {
                error!("bad config {}", e);
                Err(ConfigError::Parse(e))
            }
        }
    }
    """
)

JAVA = code(
    """
    package app;

    /** Users backed by JDBC. */
    @Repository
    public class UserDao extends BaseDao implements Dao<User> {
        private final DataSource source;

        public UserDao(DataSource source) { this.source = source; }

        /** Finds one user. */
        @Override
        public User find(String id) throws DaoException {
            try (Connection c = source.getConnection()) {
                return map(c.prepareStatement(SQL).executeQuery());
            } catch (SQLException | IOException e) {
                log.error("find failed", e);
                throw new DaoException(e);
            } finally {
                metrics.increment();
            }
        }
    }
    """
)


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        pytest.param(
            "javascript",
            JAVASCRIPT,
            [
                ("function", "fetchJson"),
                ("error_handling", "fetchJson"),
                ("function", "add"),
                ("class", "Cart"),
                ("method", "Cart.total"),
                ("algorithm", "Cart.total"),
                ("method", "Cart.empty"),
            ],
            id="javascript",
        ),
        pytest.param(
            "typescript",
            TYPESCRIPT,
            [
                ("class", "UserService"),
                ("method", "UserService.constructor"),
                ("method", "UserService.find"),
                ("error_handling", "UserService.find"),
                ("class", "Service"),
                ("function", "loadAll"),
                ("async", "loadAll"),
            ],
            id="typescript",
        ),
        pytest.param(
            "go",
            GO,
            [
                ("class", "Store"),
                ("method", "Store.Get"),
                ("error_handling", "Store.Get"),
                ("function", "FanOut"),
                ("async", "FanOut"),
            ],
            id="go",
        ),
        pytest.param(
            "rust",
            RUST,
            [
                ("class", "Point"),
                ("class", "impl Point"),
                ("method", "Point.norm"),
                ("function", "load"),
                ("error_handling", "load"),
            ],
            id="rust",
        ),
        pytest.param(
            "java",
            JAVA,
            [
                ("class", "UserDao"),
                ("method", "UserDao.UserDao"),
                ("method", "UserDao.find"),
                ("error_handling", "UserDao.find"),
            ],
            id="java",
        ),
    ],
)
def test_each_language_yields_its_units_with_methods_qualified_by_their_type(
    language: str, source: str, expected: list[tuple[str, str]]
) -> None:
    result = extract_patterns(source, language)
    assert (result.parsed, result.notes) == (True, [])
    assert units(result) == expected
    assert all(p.language == language for p in result.patterns)


@pytest.mark.parametrize(
    ("language", "source", "qualified_name", "signature", "decorators", "is_async", "docstring"),
    [
        (
            "javascript",
            JAVASCRIPT,
            "fetchJson",
            "async function fetchJson(url, retries = 3)",
            [],
            True,
            "Fetch JSON, retrying on network errors.",
        ),
        ("javascript", JAVASCRIPT, "add", "const add = (a, b) =>", [], False, None),
        (
            "typescript",
            TYPESCRIPT,
            "UserService.find",
            "async find(id: string): Promise<User | null>",
            ["Get(':id')"],
            True,
            None,
        ),
        (
            "go",
            GO,
            "Store.Get",
            "func (s *Store) Get(key string) (int, error)",
            [],
            False,
            "Get returns one item.",
        ),
        ("rust", RUST, "Point.norm", "pub fn norm(&self) -> f64", [], False, "Distance from the origin."),
        (
            "java",
            JAVA,
            "UserDao.find",
            "public User find(String id) throws DaoException",
            ["Override"],
            False,
            "Finds one user.",
        ),
    ],
)
def test_functions_in_other_languages_report_signature_decorators_async_and_doc_comment(
    language: str,
    source: str,
    qualified_name: str,
    signature: str,
    decorators: list[str],
    is_async: bool,
    docstring: str | None,
) -> None:
    result = extract_patterns(source, language)
    unit = next(p for p in result.patterns if p.kind in {"function", "method"} and p.qualified_name == qualified_name)
    assert (unit.signature, unit.decorators, unit.is_async, unit.docstring) == (
        signature,
        decorators,
        is_async,
        docstring,
    )


@pytest.mark.parametrize(
    ("language", "source", "qualified_name", "description"),
    [
        (
            "typescript",
            TYPESCRIPT,
            "UserService",
            "typescript class UserService(Service) with 2 methods: constructor, find",
        ),
        (
            "go",
            GO,
            "Store",
            "go struct Store with fields items and 1 method: Get. Store keeps items in memory",
        ),
        (
            "rust",
            RUST,
            "Point",
            "rust struct Point with fields x, y and 1 method: norm. A point on the plane",
        ),
        ("rust", RUST, "impl Point", "rust impl Point with 1 method: norm"),
        (
            "java",
            JAVA,
            "UserDao",
            (
                "java class UserDao(BaseDao, Dao<User>) with fields source and 2 methods: UserDao, find. "
                "Users backed by JDBC"
            ),
        ),
    ],
)
def test_types_in_other_languages_describe_bases_fields_and_methods(
    language: str, source: str, qualified_name: str, description: str
) -> None:
    assert only(extract_patterns(source, language), "class", qualified_name).description == description


def test_class_decorators_and_rust_attributes_extend_the_unit_span() -> None:
    service = only(extract_patterns(TYPESCRIPT, "ts"), "class", "UserService")
    point = only(extract_patterns(RUST, "rs"), "class", "Point")
    assert (service.decorators, service.start_line, service.code.splitlines()[0]) == (
        ["Injectable()"],
        1,
        "@Injectable()",
    )
    assert (point.decorators, point.start_line, point.end_line) == (["derive(Debug, Clone)"], 2, 6)


@pytest.mark.parametrize(
    ("language", "source", "qualified_name", "expected"),
    [
        (
            "javascript",
            JAVASCRIPT,
            "fetchJson",
            {
                "caught": ["TypeError"],
                "catches_all": False,
                "reraises": True,
                "raises": [],
                "logs": ["console.warn"],
                "swallows": False,
                "retries": True,
                "retry_via": "loop",
                "backoff": True,
                "has_finally": False,
            },
        ),
        (
            "typescript",
            TYPESCRIPT,
            "UserService.find",
            {
                "caught": [],
                "catches_all": True,
                "reraises": False,
                "raises": [],
                "logs": ["logger.error"],
                "swallows": False,
                "retries": False,
                "retry_via": None,
                "backoff": False,
                "has_finally": False,
            },
        ),
        (
            "java",
            JAVA,
            "UserDao.find",
            {
                "caught": ["SQLException", "IOException"],
                "catches_all": False,
                "reraises": False,
                "raises": ["DaoException"],
                "logs": ["log.error"],
                "swallows": False,
                "retries": False,
                "retry_via": None,
                "backoff": False,
                "has_finally": True,
            },
        ),
        (
            "go",
            GO,
            "Store.Get",
            {
                "checks": 1,
                "caught": [],
                "wraps": ["fmt.Errorf"],
                "returns_errors": True,
                "logs": ["log.Printf"],
                "recovers": False,
                "retries": False,
                "retry_via": None,
                "backoff": False,
            },
        ),
        (
            "rust",
            RUST,
            "load",
            {
                "question_marks": 1,
                "match_err": True,
                "caught": [],
                "maps_errors": [],
                "unwraps": 0,
                "error_type": "ConfigError",
                "logs": ["error!"],
                "retries": False,
                "retry_via": None,
                "backoff": False,
            },
        ),
    ],
)
def test_error_handling_in_other_languages_reports_caught_reraised_logged_and_retried(
    language: str, source: str, qualified_name: str, expected: dict
) -> None:
    assert only(extract_patterns(source, language), "error_handling", qualified_name).details == expected


def test_error_descriptions_read_like_the_task_they_solve() -> None:
    go_block = only(extract_patterns(GO, "go"), "error_handling")
    rust_block = only(extract_patterns(RUST, "rust"), "error_handling")
    assert go_block.description == (
        "go error handling in Store.Get: checks err != nil, wraps errors with fmt.Errorf, logs via log.Printf"
    )
    assert (
        rust_block.description == "rust error handling in load: propagates errors with ?, matches Err, logs via error!"
    )


def test_goroutines_and_promise_all_are_async_patterns() -> None:
    fan_out = only(extract_patterns(GO, "go"), "async")
    load_all = only(extract_patterns(TYPESCRIPT, "typescript"), "async")
    assert (fan_out.details["tasks"], fan_out.details["wait_group"]) == (["goroutines"], ["WaitGroup"])
    assert fan_out.description == "go async pattern in FanOut: spawns tasks with goroutines, waits with WaitGroup"
    assert load_all.details["gather"] == ["Promise.all"]
    assert load_all.is_async is True


def test_tsx_code_labelled_typescript_still_parses() -> None:
    source = "export const Hello = ({ name }: Props) => <div className='x'>Hello {name}</div>;\n"
    result = extract_patterns(source, "typescript")
    assert (result.parsed, units(result)) == (True, [("function", "Hello")])


# --- Structure hash -----------------------------------------------------------------------------------


HASH_CASES = {
    "python": (
        code(
            """
            def total(items, rate):
                \"\"\"Sum the prices.\"\"\"
                acc = 0
                for item in items:
                    acc += item.price * rate  # add
                return acc
            """
        ),
        code(
            """
            def compute(rows, factor):
                # other words
                s = 0
                for r in rows:
                    s   +=   r.price * factor

                return s
            """
        ),
        code(
            """
            def total(items, rate):
                acc = 0
                for item in items:
                    acc -= item.price * rate
                return acc
            """
        ),
    ),
    "javascript": (
        code(
            """
            function total(items, rate) {
              // sum
              let acc = 0;
              for (const item of items) { acc += item.price * rate; }
              return acc;
            }
            """
        ),
        code(
            """
            function compute(rows, factor) {
              let s = 0; /* start */
              for (const r of rows) {
                s += r.price * factor;
              }
              return s;
            }
            """
        ),
        code(
            """
            function total(items, rate) {
              let acc = 0;
              for (const item of items) { acc -= item.price * rate; }
              return acc;
            }
            """
        ),
    ),
    "typescript": (
        code(
            """
            function total(items: Item[], rate: number): number {
              let acc = 0;
              for (const item of items) { acc += item.price * rate; }
              return acc;
            }
            """
        ),
        code(
            """
            /** Docs. */
            function compute(rows: Item[], factor: number): number {
              let s = 0;
              for (const r of rows) { s += r.price * factor; } // add
              return s;
            }
            """
        ),
        code(
            """
            function total(items: Item[], rate: number): number {
              let acc = 1;
              for (const item of items) { acc += item.price * rate; }
              return acc;
            }
            """
        ),
    ),
    "go": (
        code(
            """
            func Total(items []Item, rate float64) float64 {
            \tacc := 0.0
            \tfor _, item := range items {
            \t\tacc += item.Price * rate
            \t}
            \treturn acc
            }
            """
        ),
        code(
            """
            // Compute sums.
            func Compute(rows []Item, factor float64) float64 {
            \ts := 0.0 // start
            \tfor _, r := range rows {
            \t\ts += r.Price * factor
            \t}
            \treturn s
            }
            """
        ),
        code(
            """
            func Total(items []Item, rate float64) float64 {
            \tacc := 0.0
            \tfor _, item := range items {
            \t\tacc += item.Price + rate
            \t}
            \treturn acc
            }
            """
        ),
    ),
    "rust": (
        code(
            """
            fn total(items: &[Item], rate: f64) -> f64 {
                let mut acc = 0.0;
                for item in items { acc += item.price * rate; }
                acc
            }
            """
        ),
        code(
            """
            /// Docs.
            fn compute(rows: &[Item], factor: f64) -> f64 {
                // start
                let mut s = 0.0;
                for r in rows {
                    s += r.price * factor;
                }
                s
            }
            """
        ),
        code(
            """
            fn total(items: &[Item], rate: f64) -> f64 {
                let mut acc = 0.0;
                for item in items { acc += item.cost * rate; }
                acc
            }
            """
        ),
    ),
    "java": (
        code(
            """
            class A { double total(List<Item> items, double rate) {
                double acc = 0;
                for (Item item : items) { acc += item.price * rate; }
                return acc;
            } }
            """
        ),
        code(
            """
            class B {
              /** Docs. */
              double compute(List<Item> rows, double factor) {
                double s = 0; // start
                for (Item r : rows) { s += r.price * factor; }
                return s;
              }
            }
            """
        ),
        code(
            """
            class A { double total(List<Item> items, double rate) {
                double acc = 0;
                for (Item item : items) { acc += item.price / rate; }
                return acc;
            } }
            """
        ),
    ),
}


def unit_hash(source: str, language: str) -> str:
    return next(
        p for p in extract_patterns(source, language).patterns if p.kind in {"function", "method"}
    ).structure_hash


@pytest.mark.parametrize("language", list(HASH_CASES))
def test_structure_hash_ignores_renamed_locals_comments_docstrings_and_layout(language: str) -> None:
    original, renamed, _ = HASH_CASES[language]
    assert unit_hash(original, language) == unit_hash(renamed, language)


@pytest.mark.parametrize("language", list(HASH_CASES))
def test_structure_hash_changes_when_the_logic_changes(language: str) -> None:
    original, _, changed = HASH_CASES[language]
    assert unit_hash(original, language) != unit_hash(changed, language)


def test_structure_hash_keeps_called_functions_and_attributes() -> None:
    first = unit_hash("def f(x):\n    return json.dumps(x.value)\n", "python")
    assert first != unit_hash("def f(x):\n    return json.loads(x.value)\n", "python")
    assert first != unit_hash("def f(x):\n    return json.dumps(x.other)\n", "python")
    assert len(first) == 64


# --- Broken, unknown and empty input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "source", "expected", "note"),
    [
        pytest.param(
            "python",
            "def complete(a):\n    return a + 1\n\n\nclass Box:\n    def ok(self):\n        return 1\n\n"
            "    def broken(self:\n        pass\n\n\ndef after(b):\n    return b * 2\n\n\ndef half(x):\n    y = (\n",
            [("function", "complete"), ("method", "Box.ok"), ("function", "after")],
            "code does not parse (line 10: invalid syntax); best-effort patterns",
            id="python",
        ),
        pytest.param(
            "javascript",
            "function complete(a) { return a + 1; }\nclass K {\n  ok() { return 1; }\n  broken( {\n",
            [("function", "complete"), ("method", "K.ok")],
            "code does not parse (line 2: unexpected 'class K {'); best-effort patterns",
            id="javascript",
        ),
        pytest.param(
            "typescript",
            "export function complete(a: number): number { return a + 1; }\nexport function broken(x: number {\n",
            [("function", "complete")],
            "code does not parse (line 2: unexpected 'export function broken(x: number {'); best-effort patterns",
            id="typescript",
        ),
        pytest.param(
            "go",
            "package main\n\nfunc Complete(a int) int { return a + 1 }\n\nfunc Broken(x int) int {\n\tif x > {\n",
            [("function", "Complete")],
            "code does not parse (line 5: unexpected '{'); best-effort patterns",
            id="go",
        ),
        pytest.param(
            "rust",
            "fn complete(a: i32) -> i32 { a + 1 }\nimpl K {\n    fn ok(&self) -> i32 { 1 }\n    fn broken(&self {\n",
            [("function", "complete"), ("method", "K.ok")],
            "code does not parse (line 2: unexpected 'impl K {'); best-effort patterns",
            id="rust",
        ),
        pytest.param(
            "java",
            "class K {\n  int ok() { return 1; }\n  int broken( { return\n",
            [("method", "K.ok")],
            "code does not parse (line 1: unexpected 'class K {'); best-effort patterns",
            id="java",
        ),
    ],
)
def test_half_written_code_is_flagged_and_keeps_the_complete_units_before_the_break(
    language: str, source: str, expected: list[tuple[str, str]], note: str
) -> None:
    result = extract_patterns(source, language)
    assert (result.parsed, units(result), result.notes) == (False, expected, [note])


def test_code_that_cannot_be_recovered_is_kept_as_one_snippet() -> None:
    result = extract_patterns("def broken(:\n    pass\n", "python")
    assert (result.parsed, result.notes) == (
        False,
        ["code does not parse (line 1: invalid syntax): stored as one snippet"],
    )
    assert [(p.kind, p.code) for p in result.patterns] == [("snippet", "def broken(:\n    pass")]


def test_an_unsupported_language_becomes_one_whole_snippet() -> None:
    source = "       IDENTIFICATION DIVISION.\n       PROGRAM-ID. HELLO.\n       PROCEDURE DIVISION.\n"
    result = extract_patterns(source, "COBOL")
    assert (result.language, result.parsed, result.notes) == (
        "cobol",
        False,
        ["language 'cobol' not supported: stored as one snippet"],
    )
    [snippet] = result.patterns
    assert (snippet.kind, snippet.name, snippet.start_line, snippet.end_line) == ("snippet", "snippet", 1, 3)
    assert snippet.code == source.rstrip("\n")
    assert snippet.description == "cobol snippet, 3 lines: IDENTIFICATION DIVISION."
    assert (snippet.cyclomatic, snippet.complexity) == (1, "low")


def test_code_without_functions_or_classes_is_one_snippet() -> None:
    result = extract_patterns("import sys\n\nprint(sys.argv)\n", "python")
    assert (result.parsed, result.notes) == (True, ["no functions or classes found: stored as one snippet"])
    assert [(p.kind, p.description) for p in result.patterns] == [("snippet", "python snippet, 3 lines: import sys")]


@pytest.mark.parametrize("source", ["", "   ", "\n\n\t\n"])
@pytest.mark.parametrize("language", ["python", "go", "klingon"])
def test_empty_code_gives_no_patterns_and_a_note(source: str, language: str) -> None:
    result = extract_patterns(source, language)
    assert (result.parsed, result.patterns, result.notes) == (True, [], ["empty code: nothing to extract"])


def test_windows_line_endings_give_the_same_lines_as_unix_ones() -> None:
    unix = extract_patterns(USER_REPOSITORY, "python")
    windows = extract_patterns(USER_REPOSITORY.replace("\n", "\r\n"), "python")
    assert [p.model_dump() for p in windows.patterns] == [p.model_dump() for p in unix.patterns]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("py", "python"),
        ("Python", "python"),
        (" python3 ", "python"),
        ("js", "javascript"),
        ("node", "javascript"),
        ("JSX", "javascript"),
        ("ts", "typescript"),
        ("tsx", "typescript"),
        ("golang", "go"),
        ("rs", "rust"),
        ("Java", "java"),
        ("c++", "cpp"),
        (".rb", "ruby"),
        ("COBOL", "cobol"),
        ("", "text"),
    ],
)
def test_language_names_are_normalized(written: str, canonical: str) -> None:
    assert normalize_language(written) == canonical


# --- Chunking -----------------------------------------------------------------------------------------


def words(text: str) -> int:
    return len(text.split())


def test_a_text_that_fits_is_one_chunk() -> None:
    assert chunk_text("def f():\n    return 1\n") == ["def f():\n    return 1\n"]


def test_empty_text_gives_no_chunks() -> None:
    assert chunk_text("") == []


def test_chunks_respect_the_limit_and_overlap_by_two_lines() -> None:
    text = "".join(f"line {i} a b\n" for i in range(10))
    chunks = chunk_text(text, max_tokens=16, count_tokens=words)
    assert chunks == [
        "line 0 a b\nline 1 a b\nline 2 a b\nline 3 a b\n",
        "line 2 a b\nline 3 a b\nline 4 a b\nline 5 a b\n",
        "line 4 a b\nline 5 a b\nline 6 a b\nline 7 a b\n",
        "line 6 a b\nline 7 a b\nline 8 a b\nline 9 a b\n",
    ]


@pytest.mark.parametrize("max_tokens", [1, 3, 7, 50])
def test_chunking_never_loses_text(max_tokens: int) -> None:
    text = USER_REPOSITORY + "x = '" + "word " * 40 + "'\n" + "z" * 300
    chunks = chunk_text(text, max_tokens=max_tokens, count_tokens=words, overlap_lines=0)
    assert "".join(chunks) == text
    assert all(words(chunk) <= max_tokens for chunk in chunks)


def test_the_default_counter_keeps_chunks_under_the_limit() -> None:
    text = USER_REPOSITORY * 20
    chunks = chunk_text(text, max_tokens=64)
    assert len(chunks) > 1
    assert all(line in "".join(chunks) for line in text.splitlines())
    assert all(len(chunk.split()) <= 64 for chunk in chunks)


def test_a_limit_below_one_token_is_refused() -> None:
    with pytest.raises(InvalidInput, match="max_tokens"):
        chunk_text("text", max_tokens=0)
