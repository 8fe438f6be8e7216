"""The causes behind the error dev set: for each, what an agent was doing, the fix, and snippets that fail that way.

Every snippet is a small Python program that really fails under the interpreter; ``generate.py`` runs it and
keeps the exact message. Snippets of one cause fail with *different* concrete messages (other names, values,
paths or types) that share the cause and the fix. ``files`` are written beside ``main.py`` before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Snippet:
    code: str
    files: dict[str, str] = field(default_factory=dict)
    project: str = "app"  # the folder it runs in, as the message shows it


@dataclass(frozen=True)
class Cause:
    id: str
    context: str
    resolution: str
    snippets: tuple[Snippet, ...]


def s(code: str, project: str = "app", **files: str) -> Snippet:
    # Keyword names stand for file names: a__py is a.py; names with a folder are passed as they are.
    return Snippet(
        code, {name if "/" in name else name.replace("__", "."): text for name, text in files.items()}, project
    )


CAUSES: tuple[Cause, ...] = (
    Cause(
        "missing-third-party-package",
        "Starting the service in a fresh virtualenv",
        "The package is not installed in the active interpreter: pip install it (python -m pip install <package>) "
        "and add it to the project's dependencies.",
        (
            s("import fastapi", "api"),
            s("from flask import Flask", "web"),
            s("import boto3\nboto3.client('s3')", "uploader"),
            s("import redis", "cache"),
            s("from sqlalchemy import create_engine", "db"),
            s("import pandas as pd", "reports"),
        ),
    ),
    Cause(
        "module-shadows-package",
        "Importing a subpackage while a module file of the same name sits beside the script",
        "A file named like the package (e.g. app.py next to the app/ folder) shadows it: rename or delete the "
        "module file (and its __pycache__) so the package is imported.",
        (
            s("import app.core", "svc", app__py="X = 1\n"),
            s("from utils.text import slug", "tools", utils__py="def f(): pass\n"),
            s("import config.settings", "site", config__py="DEBUG = True\n"),
            s("from models.user import User", "crm", models__py="class Base: pass\n"),
        ),
    ),
    Cause(
        "circular-import",
        "Two modules import names from each other at import time",
        "Circular import: move the shared code into a third module, or import the module (import b) instead of "
        "the name (from b import x), or import inside the function that needs it.",
        (
            s(
                "import a",
                "loop",
                a__py="from b import helper\ndef run(): pass\n",
                b__py="from a import run\ndef helper(): pass\n",
            ),
            s(
                "import models",
                "shop",
                models__py="from services import charge\nclass Order: pass\n",
                services__py="from models import Order\ndef charge(): pass\n",
            ),
            s(
                "import users",
                "auth",
                users__py="from tokens import sign\nclass User: pass\n",
                tokens__py="from users import User\ndef sign(): pass\n",
            ),
        ),
    ),
    Cause(
        "collections-abc-moved",
        "Running older code on Python 3.10+",
        "The abstract base classes live in collections.abc since Python 3.3 and were removed from collections in "
        "3.10: from collections.abc import Mapping (or Iterable, Callable, ...).",
        (
            s("from collections import Mapping", "legacy"),
            s("from collections import MutableMapping", "compat"),
            s("from collections import Iterable", "old"),
            s("from collections import Callable", "plugin"),
            s("from collections import Sequence", "lib"),
        ),
    ),
    Cause(
        "import-name-typo",
        "Importing a function from the standard library",
        "The module has no such name: check the spelling and the documentation of that module for the right name.",
        (
            s("from json import loadz", "cfg"),
            s("from os.path import exist", "fs"),
            s("from math import sqroot", "calc"),
            s("from itertools import chunked", "batch"),
        ),
    ),
    Cause(
        "none-has-no-attribute",
        "Calling a method on the result of a lookup or regex match",
        "The value is None: the call before it found nothing (re.match with no match, dict.get of a missing key, "
        "a function without return). Check for None before using it, or fix the lookup.",
        (
            s("import re\nre.match(r'(\\d+)', 'abc').group(1)", "parser"),
            s("d = {}\nd.get('user').strip()", "api"),
            s("def load():\n    pass\nload().json()", "client"),
            s("import re\nm = re.search('x', 'y')\nprint(m.span())", "scan"),
            s("cfg = {'db': None}\ncfg['db'].cursor()", "store"),
        ),
    ),
    Cause(
        "py2-dict-methods",
        "Porting Python 2 code",
        "Python 3 dicts have no iteritems/itervalues/iterkeys/has_key: use items(), values(), keys() and `key in d`.",
        (
            s("d = {'a': 1}\nfor k, v in d.iteritems(): pass", "port"),
            s("d = {'a': 1}\nd.has_key('a')", "legacy"),
            s("d = {'a': 1}\nlist(d.itervalues())", "old"),
            s("d = {'a': 1}\nfor k in d.iterkeys(): pass", "py2"),
        ),
    ),
    Cause(
        "str-method-on-list",
        "Processing lines read from a file",
        "The value is a list, not a string: apply the method to each item ([x.strip() for x in lines]) or join "
        "the list first.",
        (
            s("lines = ['a ', 'b']\nlines.strip()", "etl"),
            s("parts = 'a,b'.split(',')\nparts.split(';')", "csvtool"),
            s("names = ['Ann']\nnames.lower()", "users"),
            s("words = ['x']\nwords.replace('x', 'y')", "text"),
        ),
    ),
    Cause(
        "module-has-no-attribute-typo",
        "Calling a standard library function",
        "The module has no such attribute: fix the spelling (json.loads, os.makedirs, ...) or check that the name "
        "exists in this Python version.",
        (
            s("import json\njson.loadz('{}')", "cfg"),
            s("import os\nos.make_dirs('x')", "fs"),
            s("import time\ntime.sleeps(1)", "worker"),
            s("import math\nmath.squareroot(4)", "calc"),
        ),
    ),
    Cause(
        "script-shadows-stdlib",
        "Running a script named like a standard library module",
        "Your file (random.py, json.py, csv.py ...) shadows the standard module it imports: rename your file and "
        "delete its __pycache__.",
        (
            s("import random", "game", random__py="import random\nrandom.randint(1, 6)\n"),
            s("import json", "conf", json__py="import json\njson.dumps({})\n"),
            s("import csv", "sheet", csv__py="import csv\ncsv.reader([])\n"),
            s("import string", "fmt", string__py="import string\nstring.ascii_letters\n"),
        ),
    ),
    Cause(
        "none-not-subscriptable",
        "Indexing the result of a function",
        "The value is None, not a list or dict: a function returned None (list.sort() sorts in place and returns "
        "None; a lookup found nothing). Use sorted(), return the value, or check for None.",
        (
            s("x = [3, 1].sort()\nx[0]", "rank"),
            s("def get():\n    pass\nget()['id']", "api"),
            s("d = {}\nd.get('cfg')['port']", "server"),
            s("import re\nre.match('a', 'b')[0]", "parse"),
        ),
    ),
    Cause(
        "none-not-iterable",
        "Looping over the result of a function",
        "The function returned None instead of a list: make it return the collection (or an empty one), or "
        "check for None before looping.",
        (
            s("def items():\n    pass\nfor i in items(): pass", "loop"),
            s("x = None\nsorted(x)", "sort"),
            s("d = {}\nlist(d.get('tags'))", "tags"),
            s("def rows():\n    print('no rows')\nset(rows())", "sql"),
        ),
    ),
    Cause(
        "unpack-non-iterable",
        "Unpacking the return value of a function into two variables",
        "The function returned a single value (or None) instead of a tuple: return both values (return a, b) or "
        "unpack into one variable.",
        (
            s("def f():\n    return None\na, b = f()", "pair"),
            s("def size():\n    return 3\nw, h = size()", "img"),
            s("def ratio():\n    return 0.5\nx, y = ratio()", "calc"),
            s("def ok():\n    return True\nstatus, msg = ok()", "check"),
        ),
    ),
    Cause(
        "str-concat-non-str",
        "Building a message string",
        "Only strings can be concatenated to a string: convert with str(value) or use an f-string (f'total: {n}').",
        (
            s("n = 3\nprint('total: ' + n)", "report"),
            s("price = 9.5\n'price=' + price", "shop"),
            s("user = None\n'hello ' + user", "greet"),
            s("ids = [1]\n'ids: ' + ids", "log"),
        ),
    ),
    Cause(
        "arithmetic-on-str-input",
        "Doing arithmetic on values read from input, a file or the environment",
        "The value is still a string: convert it first with int(...) or float(...).",
        (
            s("x = 1 + '2'", "sum"),
            s("total = '10' - 3", "bill"),
            s("half = '8' / 2", "split"),
            s("n = 0\nn += '5'", "count"),
        ),
    ),
    Cause(
        "builtin-shadowed",
        "Calling a builtin after assigning a variable of the same name",
        "A variable shadows the builtin (sum = 0, list = [...], str = '...'): rename the variable; in a REPL, "
        "del it to get the builtin back.",
        (
            s("sum = 0\nsum([1, 2])", "stats"),
            s("list = [1]\nlist((1, 2))", "coll"),
            s("str = 'a'\nstr(1)", "fmt"),
            s("max = 3.0\nmax(1, 2)", "limits"),
            s("dict = {}\ndict(a=1)", "cfg"),
        ),
    ),
    Cause(
        "number-not-subscriptable",
        "Indexing a value expected to be a list",
        "The value is a number, not a sequence: check where it was assigned; to get digits use str(n)[i].",
        (
            s("x = 5\nx[0]", "digits"),
            s("price = 9.99\nprice[1]", "shop"),
            s("flag = True\nflag[0]", "opts"),
        ),
    ),
    Cause(
        "immutable-item-assignment",
        "Changing one character of a string or one item of a tuple",
        "Strings and tuples are immutable: build a new one (s[:i] + c + s[i+1:], or convert to a list, change "
        "it, and convert back).",
        (
            s("s = 'abc'\ns[0] = 'x'", "text"),
            s("t = (1, 2)\nt[0] = 5", "point"),
            s("b = b'abc'\nb[0] = 1", "bytes"),
        ),
    ),
    Cause(
        "unhashable-key",
        "Using a value as a dict key or adding it to a set",
        "Lists, dicts and sets are mutable and unhashable: use a tuple (or frozenset) as the key, or a string "
        "made from it.",
        (
            s("d = {}\nd[[1, 2]] = 'x'", "cache"),
            s("s = set()\ns.add({'a': 1})", "dedup"),
            s("{{1}: 2}", "groups"),
            s("import functools\n@functools.lru_cache\ndef f(x):\n    return x\nf({'a': 1})", "memo"),
        ),
    ),
    Cause(
        "len-of-non-sized",
        "Taking the length of a value",
        "The value has no length (a number, None, or a generator/iterator): convert iterators with list(...) "
        "first, or check the value's type.",
        (
            s("len(5)", "count"),
            s("len(None)", "resp"),
            s("len(x for x in range(3))", "gen"),
            s("len(map(str, [1]))", "conv"),
            s("len(3.5)", "calc"),
        ),
    ),
    Cause(
        "missing-required-argument",
        "Calling a function or creating an object",
        "A required argument was not passed: pass it, or give the parameter a default value.",
        (
            s("def greet(name):\n    pass\ngreet()", "hello"),
            s("class User:\n    def __init__(self, email):\n        pass\nUser()", "users"),
            s("def move(x, y):\n    pass\nmove()", "geo"),
            s("def send(to, body):\n    pass\nsend('a@b')", "mail"),
        ),
    ),
    Cause(
        "method-called-on-class",
        "Calling a method through the class instead of an instance",
        "The method needs an instance: create one first (Client().fetch()), or make it a @staticmethod / @classmethod.",
        (
            s("class Client:\n    def fetch(self):\n        pass\nClient.fetch()", "http"),
            s("class Repo:\n    def save(self, x):\n        pass\nRepo.save(1)", "db"),
            s("class Job:\n    def run(self):\n        pass\nJob.run()", "cron"),
        ),
    ),
    Cause(
        "too-many-positional-arguments",
        "Calling a function with more arguments than it takes",
        "The call passes more positional arguments than the function accepts: check its signature and pass "
        "extra values by keyword or remove them.",
        (
            s("def f(x):\n    pass\nf(1, 2)", "calc"),
            s("def log(msg):\n    pass\nlog('a', 'b', 'c')", "log"),
            s("def area(w, h):\n    pass\narea(1, 2, 3)", "geo"),
        ),
    ),
    Cause(
        "method-missing-self",
        "Calling a method defined in a class",
        "The method was defined without self: add self as the first parameter (or mark it @staticmethod).",
        (
            s("class A:\n    def ping():\n        pass\nA().ping()", "net"),
            s("class Cart:\n    def total(items):\n        pass\nCart().total([1])", "shop"),
            s("class Bot:\n    def reply(msg, lang):\n        pass\nBot().reply('hi', 'en')", "chat"),
        ),
    ),
    Cause(
        "unexpected-keyword-argument",
        "Calling a function with keyword arguments",
        "The function has no parameter with that name: check the spelling and the signature (the argument may "
        "have been renamed in a newer version of the library).",
        (
            s("def connect(host, port):\n    pass\nconnect(host='h', prot=1)", "net"),
            s("def save(path):\n    pass\nsave(filename='x')", "io"),
            s("import json\njson.dumps({}, indnt=2)", "cfg"),
            s("sorted([1], reversed=True)", "rank"),
        ),
    ),
    Cause(
        "multiple-values-for-argument",
        "Calling a function with the same argument both by position and by keyword",
        "The argument was given twice (positionally and by keyword): pass it one way only.",
        (
            s("def f(a, b):\n    pass\nf(1, a=2)", "calc"),
            s("def open_db(path, mode='r'):\n    pass\nopen_db('x', path='y')", "db"),
            s("class P:\n    def __init__(self, x):\n        pass\nP(1, x=2)", "geo"),
        ),
    ),
    Cause(
        "missing-dict-key",
        "Reading a field from a dict built from JSON or a request",
        "The key is not in the dict: use d.get('key') with a default, check `if 'key' in d`, or fix the "
        "producer of the dict.",
        (
            s("user = {'name': 'a'}\nuser['email']", "users"),
            s("cfg = {}\ncfg['timeout']", "cfg"),
            s("row = {'id': 1}\nprint(row['created_at'])", "db"),
            s("payload = {'a': 1}\npayload['items'][0]", "api"),
        ),
    ),
    Cause(
        "missing-environment-variable",
        "Reading configuration from environment variables at start",
        "The environment variable is not set: export it (or put it in .env and load it), or read it with "
        "os.environ.get('NAME', default) / os.getenv.",
        (
            s("import os\nos.environ['DATABASE_URL']", "api"),
            s("import os\nkey = os.environ['OPENAI_API_KEY']", "bot"),
            s("import os\nport = int(os.environ['PORT'])", "web"),
            s("import os\nos.environ['AWS_REGION']", "deploy"),
        ),
    ),
    Cause(
        "sequence-index-out-of-range",
        "Accessing an element by position",
        "The index is past the end: check len(seq) first, handle the empty case, or iterate instead of indexing.",
        (
            s("a = [1]\na[3]", "list"),
            s("t = (1, 2)\nt[5]", "tuple"),
            s("s = ''\ns[0]", "text"),
            s("a = []\na[0] = 1", "init"),
        ),
    ),
    Cause(
        "pop-from-empty",
        "Taking the next item from a queue or stack",
        "The container is empty: check it before popping (if stack:), or catch IndexError at the end of the work.",
        (
            s("[].pop()", "stack"),
            s("import collections\ncollections.deque().popleft()", "queue"),
            s("import heapq\nheapq.heappop([])", "sched"),
        ),
    ),
    Cause(
        "division-by-zero",
        "Computing an average or a ratio",
        "The divisor is zero (e.g. an empty list): guard it (if n: ...) or return a default when there is "
        "nothing to divide by.",
        (
            s("total, n = 10, 0\ntotal / n", "avg"),
            s("1.5 / 0", "ratio"),
            s("10 // 0", "pages"),
            s("7 % 0", "mod"),
        ),
    ),
    Cause(
        "int-parse-invalid",
        "Converting text from a form, file or CLI argument to an integer",
        "The text is not an integer: strip it, check it with str.isdigit(), use float() for decimals, or catch "
        "ValueError and report the bad input.",
        (
            s("int('abc')", "form"),
            s("int('3.5')", "qty"),
            s("int('')", "csv"),
            s("int('12a')", "id"),
        ),
    ),
    Cause(
        "float-parse-invalid",
        "Converting text to a number",
        "The text is not a number: strip currency signs and thousands separators, replace a decimal comma, or "
        "catch ValueError.",
        (
            s("float('abc')", "prices"),
            s("float('1,5')", "eu"),
            s("float('$10')", "shop"),
            s("float('')", "csv"),
        ),
    ),
    Cause(
        "file-not-found-relative-path",
        "Opening a data file with a relative path",
        "The path is resolved against the current working directory, not the script: build it from the "
        "script's folder (Path(__file__).parent / 'data.csv') or run from the project root.",
        (
            s("open('data.csv')", "etl"),
            s("open('config/settings.yaml')", "svc"),
            s("import json\njson.load(open('fixtures/users.json'))", "tests"),
            s("open('../templates/index.html')", "web"),
        ),
    ),
    Cause(
        "is-a-directory",
        "Opening a path as a file",
        "The path is a directory: open a file inside it (os.path.join(dir, name)) or check with os.path.isfile first.",
        (
            s("import os\nos.mkdir('out')\nopen('out')", "export"),
            s("open('/tmp')", "tmp"),
            s("import os\nos.mkdir('logs')\nopen('logs', 'w')", "logs"),
        ),
    ),
    Cause(
        "not-a-directory",
        "Listing or creating files under a path",
        "A part of the path is a file, not a directory: check the path components (a file may have the name "
        "you meant for a folder).",
        (
            s("import os\nos.listdir('/etc/passwd')", "scan"),
            s("open('/etc/hostname/x')", "cfg"),
            s("open('main.py/data.txt', 'w')", "out"),
        ),
    ),
    Cause(
        "directory-exists",
        "Creating an output directory",
        "The directory already exists: use os.makedirs(path, exist_ok=True) or Path(path).mkdir(parents=True, "
        "exist_ok=True).",
        (
            s("import os\nos.mkdir('/tmp')", "tmp"),
            s("import os\nos.mkdir('build')\nos.mkdir('build')", "build"),
            s("import pathlib\npathlib.Path('out').mkdir()\npathlib.Path('out').mkdir()", "out"),
        ),
    ),
    Cause(
        "name-not-imported",
        "Using a module without importing it",
        "The module was never imported in this file: add the import at the top (import numpy as np, import os, ...).",
        (
            s("np.array([1])", "math"),
            s("pd.DataFrame()", "report"),
            s("json.dumps({})", "api"),
            s("os.getcwd()", "fs"),
            s("datetime.now()", "clock"),
        ),
    ),
    Cause(
        "name-typo",
        "Using a variable defined a few lines above",
        "The name is misspelled (Python suggests the close name): fix the spelling.",
        (
            s("count = 1\nprint(conut)", "loop"),
            s("result = 2\nreturn_value = reslt", "calc"),
            s("user_name = 'a'\nprint(username)", "users"),
        ),
    ),
    Cause(
        "unbound-local-variable",
        "Updating a module-level counter inside a function",
        "Assigning to the name inside the function makes it local: declare it global (or nonlocal in a nested "
        "function), or pass the value in and return the new one.",
        (
            s("count = 0\ndef inc():\n    count += 1\ninc()", "stats"),
            s("total = 0\ndef add(x):\n    total = total + x\nadd(1)", "bill"),
            s("def outer():\n    n = 0\n    def inner():\n        n += 1\n    inner()\nouter()", "closure"),
        ),
    ),
    Cause(
        "infinite-recursion",
        "Calling a recursive function or a property",
        "The recursion never stops: add or fix the base case; a property that reads itself (self.x inside the "
        "x property) must read the backing field (self._x) instead.",
        (
            s("def f(n):\n    return f(n - 1)\nf(5)", "math"),
            s("class A:\n    @property\n    def x(self):\n        return self.x\nA().x", "model"),
            s("class B:\n    def __repr__(self):\n        return repr(self)\nrepr(B())", "eq"),
        ),
    ),
    Cause(
        "json-not-json",
        "Parsing an HTTP response body or a file as JSON",
        "The text is not JSON (empty, HTML error page, or plain text): check the status code and content type "
        "before json.loads, and log the raw text.",
        (
            s("import json\njson.loads('')", "api"),
            s("import json\njson.loads('\\n\\n  <html>')", "scrape"),
            s('import json\njson.loads(\'{"a": 1, "b": }\')', "cfg"),
            s("import json\njson.loads('[1, 2, oops]')", "data"),
        ),
    ),
    Cause(
        "json-single-quotes",
        "Parsing a JSON-like string written by hand or by str(dict)",
        "JSON needs double-quoted keys and no trailing commas: produce it with json.dumps instead of str(), or "
        "parse Python literals with ast.literal_eval.",
        (
            s("import json\njson.loads(\"{'a': 1}\")", "cfg"),
            s("import json\njson.loads('{\"a\": 1,}')", "fixture"),
            s("import json\njson.loads(str([{'name': 'x'}]))", "cache"),
        ),
    ),
    Cause(
        "json-extra-data",
        "Parsing a file with one JSON document per line",
        "The text holds several JSON documents (JSON Lines): parse it line by line "
        "([json.loads(l) for l in f if l.strip()]).",
        (
            s('import json\njson.loads(\'{"a": 1}\\n{"a": 2}\')', "logs"),
            s("import json\njson.loads('[1] [2]')", "stream"),
            s("import json\njson.loads('1 2 3')", "nums"),
        ),
    ),
    Cause(
        "json-not-serializable",
        "Returning a value as JSON",
        "json.dumps does not know this type: convert it first (isoformat() for datetimes, list() for sets, "
        "str/float for Decimal) or pass default=str.",
        (
            s("import json, datetime\njson.dumps(datetime.datetime.now())", "api"),
            s("import json\njson.dumps({1, 2})", "tags"),
            s("import json, decimal\njson.dumps(decimal.Decimal('1.5'))", "money"),
            s("import json\njson.dumps(b'x')", "blob"),
        ),
    ),
    Cause(
        "compare-mixed-types",
        "Sorting or comparing values of mixed types",
        "Values of different types cannot be ordered: convert them to one type first (e.g. key=int, or replace "
        "None with a default) before sorting or comparing.",
        (
            s("sorted([1, '2'])", "sort"),
            s("None > 1", "max"),
            s("min([None, 3])", "stats"),
            s("'a' < 3.5", "cmp"),
        ),
    ),
    Cause(
        "naive-aware-datetime",
        "Comparing or subtracting timestamps",
        "One datetime has a timezone and the other does not: make both aware (datetime.now(timezone.utc), "
        "dt.replace(tzinfo=timezone.utc)) before comparing.",
        (
            s("from datetime import datetime, timezone\ndatetime.now() < datetime.now(timezone.utc)", "sched"),
            s("from datetime import datetime, timezone\ndatetime.now(timezone.utc) - datetime.now()", "ttl"),
            s("from datetime import datetime, timezone\nsorted([datetime.now(), datetime.now(timezone.utc)])", "log"),
        ),
    ),
    Cause(
        "strptime-format-mismatch",
        "Parsing a date string with strptime",
        "The format string does not match the text: make it match exactly (order, separators, %m vs %d), or use "
        "datetime.fromisoformat for ISO dates.",
        (
            s("from datetime import datetime\ndatetime.strptime('2020-13-01', '%Y-%m-%d')", "import"),
            s("from datetime import datetime\ndatetime.strptime('01/02/2020', '%Y-%m-%d')", "csv"),
            s("from datetime import datetime\ndatetime.strptime('2020-01-01 10:00', '%Y-%m-%d')", "log"),
        ),
    ),
    Cause(
        "too-many-values-to-unpack",
        "Unpacking items in a loop",
        "There are more values than names: iterate over dict.items() for key/value pairs, or match the number "
        "of names to the items (use *rest for the remainder).",
        (
            s("d = {'abc': 1}\nfor k, v in d: pass", "cfg"),
            s("a, b, c = [1, 2, 3, 4]", "split"),
            s("x, y = 'abc'", "coords"),
            s("a, b, c, d = range(6)", "rows"),
        ),
    ),
    Cause(
        "not-enough-values-to-unpack",
        "Splitting a line into fields",
        "The line has fewer fields than names: check the separator and skip or pad short lines "
        "(str.partition, or *rest).",
        (
            s("a, b = 'x'.split(',')", "csv"),
            s("k, v, t = 'a=b'.split('=')", "env"),
            s("x, y, z, w = (1, 2)", "vec"),
            s("host, port = []", "net"),
        ),
    ),
    Cause(
        "changed-during-iteration",
        "Removing entries from a dict or set while looping over it",
        "The collection changed while being iterated: loop over a copy (for k in list(d):) or build a new "
        "collection with a comprehension.",
        (
            s("d = {'a': 1, 'b': 2}\nfor k in d:\n    del d[k]", "cache"),
            s("s = {1, 2}\nfor x in s:\n    s.add(x + 10)", "graph"),
            s("d = {'a': 1}\nfor k in d:\n    d.pop(k)\n    d['b'] = 2", "keys"),
        ),
    ),
    Cause(
        "utf8-decode-binary",
        "Reading a file or subprocess output as UTF-8 text",
        "The bytes are not UTF-8: open the file with the right encoding (e.g. encoding='latin-1' or 'utf-16'), "
        "in binary mode for binary data, or with errors='replace'.",
        (
            s("b'\\xff\\xfe'.decode('utf-8')", "read"),
            s("b'caf\\xe9'.decode()", "csv"),
            s("open('img.bin', 'wb').write(bytes([0x89, 0x50, 0xc3]))\nopen('img.bin').read()", "img"),
            s("b'ab\\x80cd'.decode('utf-8')", "log"),
        ),
    ),
    Cause(
        "ascii-encode",
        "Writing non-ASCII text with an ASCII codec",
        "The text has non-ASCII characters: encode as UTF-8 (open(..., encoding='utf-8'), .encode('utf-8')), "
        "or set PYTHONIOENCODING=utf-8 for the console.",
        (
            s("'café'.encode('ascii')", "menu"),
            s("'naïve'.encode('ascii')", "text"),
            s("open('o.txt', 'w', encoding='ascii').write('→')", "out"),
        ),
    ),
    Cause(
        "bytes-vs-str-required-bytes",
        "Sending or writing text where bytes are expected",
        "Bytes are required: encode the text (s.encode('utf-8')), or open the file in text mode if you meant "
        "to write text.",
        (
            s("open('o.bin', 'wb').write('x')", "out"),
            s("b'abc'.startswith('a')", "parse"),
            s("import hashlib\nhashlib.sha256('x')", "hash"),
            s("import base64\nbase64.b64decode(1)", "b64"),
        ),
    ),
    Cause(
        "text-file-write-bytes",
        "Writing bytes to a file opened in text mode",
        "The file is open in text mode: decode the bytes first (data.decode('utf-8')) or open it with 'wb'.",
        (
            s("open('o.txt', 'w').write(b'x')", "out"),
            s("open('o.txt', 'w').write(bytearray(b'x'))", "buf"),
            s("import io\nio.StringIO().write(b'hi')", "cli"),
        ),
    ),
    Cause(
        "join-non-str-items",
        "Joining a list of values into a string",
        "str.join needs strings: convert the items first (', '.join(map(str, items))).",
        (
            s("', '.join([1, 2])", "csv"),
            s("'-'.join(['a', 2])", "slug"),
            s("' '.join([None])", "msg"),
        ),
    ),
    Cause(
        "coroutine-not-awaited",
        "Using the result of an async function",
        "The async function was called without await, so you hold a coroutine, not its result: await it "
        "(inside async code) or run it with asyncio.run(...).",
        (
            s("import asyncio\nasync def get():\n    return {}\nr = get()\nr.json()", "client"),
            s("async def rows():\n    return [1]\nrows()[0]", "db"),
            s("async def items():\n    return [1]\nfor i in items(): pass", "loop"),
            s("async def user():\n    return {}\nlen(user())", "api"),
        ),
    ),
    Cause(
        "nested-event-loop",
        "Calling asyncio.run from code that already runs in an event loop",
        "An event loop is already running (async code, Jupyter): await the coroutine directly instead of "
        "asyncio.run, or run it in a separate thread.",
        (
            s(
                "import asyncio\nasync def f():\n    pass\nasync def main():\n    asyncio.run(f())\n"
                "asyncio.run(main())",
                "svc",
            ),
            s(
                "import asyncio\nasync def f():\n    pass\nasync def main():\n    "
                "asyncio.get_running_loop().run_until_complete(f())\nasyncio.run(main())",
                "nb",
            ),
        ),
    ),
    Cause(
        "await-non-awaitable",
        "Awaiting a function result",
        "The awaited value is not awaitable: the function is a plain def (make it async def, or drop the "
        "await), or you awaited its result twice.",
        (
            s("import asyncio\ndef f():\n    return 1\nasync def main():\n    await f()\nasyncio.run(main())", "a"),
            s("import asyncio\ndef g():\n    pass\nasync def main():\n    await g()\nasyncio.run(main())", "b"),
            s("import asyncio\nasync def main():\n    await [1]\nasyncio.run(main())", "c"),
        ),
    ),
    Cause(
        "coroutine-expected",
        "Passing an async function to asyncio",
        "asyncio needs a coroutine object: call the async function (asyncio.run(main()), not asyncio.run(main)); "
        "functions that return plain values cannot be scheduled.",
        (
            s("import asyncio\nasync def main():\n    pass\nasyncio.run(main)", "svc"),
            s(
                "import asyncio\nasync def work():\n    pass\nasync def main():\n    asyncio.create_task(work)\n"
                "asyncio.run(main())",
                "tasks",
            ),
            s(
                "import asyncio\nasync def f():\n    pass\nasync def main():\n    await asyncio.gather(f)\n"
                "asyncio.run(main())",
                "batch",
            ),
        ),
    ),
    Cause(
        "sqlite-no-such-table",
        "Querying a SQLite database",
        "The table does not exist in this database file: run the migrations / CREATE TABLE first, and check "
        "the database path (a wrong path silently creates an empty database).",
        (
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT * FROM users')", "auth"),
            s("import sqlite3\nsqlite3.connect('app.db').execute('INSERT INTO orders VALUES (1)')", "shop"),
            s("import sqlite3\nsqlite3.connect('x.db').execute('DELETE FROM sessions')", "web"),
        ),
    ),
    Cause(
        "sqlite-unique-constraint",
        "Inserting a row into SQLite",
        "A row with the same unique key exists: use INSERT ... ON CONFLICT DO UPDATE (upsert) or INSERT OR "
        "IGNORE, or check for the row first.",
        (
            s(
                "import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute('CREATE TABLE users (email TEXT UNIQUE)')\n"
                "c.execute(\"INSERT INTO users VALUES ('a')\")\nc.execute(\"INSERT INTO users VALUES ('a')\")",
                "auth",
            ),
            s(
                "import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)')\n"
                "c.execute('INSERT INTO t VALUES (1)')\nc.execute('INSERT INTO t VALUES (1)')",
                "ids",
            ),
            s(
                "import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute('CREATE TABLE tags (name TEXT, post INT, "
                "UNIQUE(name, post))')\nc.execute(\"INSERT INTO tags VALUES ('x', 1)\")\n"
                "c.execute(\"INSERT INTO tags VALUES ('x', 1)\")",
                "blog",
            ),
        ),
    ),
    Cause(
        "sqlite-syntax-error",
        "Running a hand-written SQL statement",
        "The SQL has a syntax error near the quoted token: check commas, keywords used as names (quote them) "
        "and string quoting; use ? placeholders instead of formatting values in.",
        (
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT a, FROM t')", "report"),
            s("import sqlite3\nsqlite3.connect(':memory:').execute('CREATE TABLE order (id INT)')", "shop"),
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELEC 1')", "q"),
        ),
    ),
    Cause(
        "sqlite-bindings-count",
        "Passing a parameter to a SQLite query",
        "The parameters must be a sequence: pass a one-element tuple (name,) — a bare string is read as one "
        "parameter per character — and match the number of ? placeholders.",
        (
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT ?', 'abc')", "q"),
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT ?, ?', (1,))", "pair"),
            s("import sqlite3\nsqlite3.connect(':memory:').execute('SELECT ?', 'hello')", "name"),
        ),
    ),
    Cause(
        "subprocess-nonzero-exit",
        "Running a shell command with subprocess.run(check=True)",
        "The command failed: print its stderr (capture_output=True, text=True) to see why, fix the command, "
        "or handle the non-zero exit instead of check=True.",
        (
            s("import subprocess\nsubprocess.run(['false'], check=True)", "ci"),
            s("import subprocess\nsubprocess.run('exit 3', shell=True, check=True)", "build"),
            s("import subprocess\nsubprocess.check_call(['ls', '/nonexistent-dir'], stderr=subprocess.DEVNULL)", "fs"),
            s("import subprocess\nsubprocess.check_output(['grep', 'zzz', '/etc/hostname'])", "grep"),
        ),
    ),
    Cause(
        "subprocess-command-not-found",
        "Starting an external program with subprocess",
        "The executable is not installed or not on PATH: install it, use its absolute path, or check with "
        "shutil.which(...) first.",
        (
            s("import subprocess\nsubprocess.run(['ffmpeg-missing', '-i', 'a.mp4'])", "video"),
            s("import subprocess\nsubprocess.Popen(['nodejs-missing', 'build.js'])", "web"),
            s("import subprocess\nsubprocess.check_output(['kubectl-missing', 'get', 'pods'])", "ops"),
        ),
    ),
    Cause(
        "connection-refused",
        "Connecting to a local service (database, API, cache)",
        "Nothing listens on that host and port: start the service, check the port, and wait for it to be "
        "ready before connecting (retry with backoff).",
        (
            s("import socket\nsocket.create_connection(('127.0.0.1', 9))", "net"),
            s("import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/health')", "health"),
            s(
                "import asyncio\nasync def main():\n    await asyncio.open_connection('127.0.0.1', 9)\nasyncio.run(main())",
                "api",
            ),
        ),
    ),
    Cause(
        "unknown-host",
        "Calling a service by host name",
        "The host name does not resolve: check its spelling and the DNS or /etc/hosts entry (inside containers, "
        "use the service name of the network).",
        (
            s("import socket\nsocket.getaddrinfo('no-such-host.invalid', 80)", "net"),
            s("import urllib.request\nurllib.request.urlopen('http://db-primary.invalid/')", "api"),
            s("import socket\nsocket.create_connection(('cache.invalid', 6379))", "cache"),
        ),
    ),
    Cause(
        "address-in-use",
        "Starting a server on a fixed port",
        "Another process already listens on that port: stop it (lsof -i :PORT), pick another port, or set "
        "SO_REUSEADDR for a quick restart.",
        (
            s(
                "import socket\na = socket.socket()\na.bind(('127.0.0.1', 0))\na.listen()\nb = socket.socket()\n"
                "b.bind(a.getsockname())",
                "srv",
            ),
            s(
                "import asyncio, socket\na = socket.socket()\na.bind(('127.0.0.1', 0))\na.listen()\n"
                "port = a.getsockname()[1]\nasync def main():\n    await asyncio.start_server(lambda r, w: None, "
                "'127.0.0.1', port)\nasyncio.run(main())",
                "aio",
            ),
            s(
                "import socket, http.server\na = socket.socket()\na.bind(('127.0.0.1', 0))\na.listen()\n"
                "http.server.HTTPServer(a.getsockname(), http.server.BaseHTTPRequestHandler)",
                "http",
            ),
        ),
    ),
    Cause(
        "regex-unescaped-input",
        "Building a regular expression from user input",
        "The text has regex metacharacters: escape it with re.escape(text) before putting it in a pattern.",
        (
            s("import re\nre.compile('[abc')", "search"),
            s("import re\nre.search('*.txt', 'a.txt')", "glob"),
            s("import re\nre.compile('price (usd')", "shop"),
            s("import re\nre.findall('a|*b', 'x')", "phone"),
        ),
    ),
    Cause(
        "regex-on-non-string",
        "Running a regex over a value",
        "re functions need a str (or bytes): the value is None or a number; convert with str() or skip missing values.",
        (
            s("import re\nre.match('a', None)", "parse"),
            s("import re\nre.findall(r'\\d', 123)", "digits"),
            s("import re\nre.sub('a', 'b', ['a'])", "clean"),
        ),
    ),
    Cause(
        "indentation-expected",
        "Writing a block (function, if, loop) with no body",
        "A block needs at least one indented statement: indent its body, or write `pass` as a placeholder.",
        (
            s("compile('def f():\\nreturn 1\\n', 'handlers.py', 'exec')", "a"),
            s("compile('x = 1\\nif x:\\nprint(x)\\n', 'check.py', 'exec')", "b"),
            s("compile('for i in range(3):\\n\\ny = i\\n', 'loop.py', 'exec')", "c"),
            s("compile('class A:\\n\\n\\nz = 1\\n', 'model.py', 'exec')", "d"),
        ),
    ),
    Cause(
        "unclosed-bracket",
        "Editing a long expression across several lines",
        "A bracket is never closed: find the opening bracket the message names and close it (an editor with "
        "bracket matching helps).",
        (
            s("compile('print(1, 2\\nx = 3\\n', 'main.py', 'exec')", "a"),
            s("compile('items = [1, 2,\\n', 'data.py', 'exec')", "b"),
            s("compile('cfg = {\"a\": 1\\n\\n\\n', 'cfg.py', 'exec')", "c"),
        ),
    ),
    Cause(
        "unterminated-string",
        "Writing a string literal",
        "A quote is missing: close the string on the same line, or use triple quotes for text that spans lines.",
        (
            s("compile('x = \"abc\\n', 'a.py', 'exec')", "a"),
            s("compile('a = 1\\nb = 2\\nmsg = \\'hello\\n', 'b.py', 'exec')", "b"),
            s("compile('\\n\\n\\n\\ny = \"it\\'s\\n', 'c.py', 'exec')", "c"),
        ),
    ),
    Cause(
        "abstract-class-instantiated",
        "Instantiating a subclass of an abstract base class",
        "The class does not implement every @abstractmethod of its base: implement the missing methods (same "
        "names) in the subclass.",
        (
            s(
                "import abc\nclass Base(abc.ABC):\n    @abc.abstractmethod\n    def run(self): ...\nclass Job(Base): "
                "pass\nJob()",
                "jobs",
            ),
            s(
                "import abc\nclass Store(abc.ABC):\n    @abc.abstractmethod\n    def get(self): ...\n    "
                "@abc.abstractmethod\n    def put(self): ...\nclass Mem(Store): pass\nMem()",
                "kv",
            ),
            s(
                "import abc\nclass Shape(abc.ABC):\n    @abc.abstractmethod\n    def area(self): ...\n"
                "class Circle(Shape):\n    def aera(self): return 1\nCircle()",
                "geo",
            ),
        ),
    ),
    Cause(
        "attribute-typo-suggested",
        "Reading an attribute of your own object",
        "The attribute name is misspelled (Python suggests the close name): fix the spelling.",
        (
            s("class U:\n    def __init__(self):\n        self.name = 'a'\nU().nmae", "users"),
            s("class C:\n    def __init__(self):\n        self.total = 0\nC().totl", "cart"),
            s("class S:\n    def __init__(self):\n        self.timeout = 1\nS().timout", "cfg"),
        ),
    ),
    Cause(
        "property-without-setter",
        "Assigning to a property",
        "The property has no setter: add one (@x.setter) or assign to the backing attribute (self._x).",
        (
            s("class A:\n    @property\n    def x(self):\n        return 1\nA().x = 2", "model"),
            s(
                "class User:\n    @property\n    def email(self):\n        return ''\nu = User()\nu.email = 'a'",
                "users",
            ),
            s("class Temp:\n    @property\n    def celsius(self):\n        return 0\nTemp().celsius = 5", "temp"),
        ),
    ),
    Cause(
        "closed-file-io",
        "Reading a file after the with-block",
        "The file was closed when its with-block ended: do the reading inside the block, or keep the content "
        "(data = f.read()) and use that.",
        (
            s("with open('main.py') as f:\n    pass\nf.read()", "text"),
            s("with open('main.py', 'rb') as f:\n    pass\nf.read()", "bin"),
            s("f = open('o.txt', 'w')\nf.close()\nf.write('x')", "out"),
        ),
    ),
    Cause(
        "wrong-file-mode",
        "Reading from or writing to a file object",
        "The file was opened in the wrong mode: 'r' to read, 'w'/'a' to write, 'r+' for both.",
        (
            s("open('o.txt', 'w').read()", "read"),
            s("open('main.py').write('x')", "write"),
            s("open('o.bin', 'wb').read()", "bin"),
        ),
    ),
    Cause(
        "value-not-in-list",
        "Removing or finding an item in a list",
        "The value is not in the list: check `if x in items` first, or catch ValueError.",
        (
            s("[1, 2].remove(3)", "rm"),
            s("['a'].index('b')", "find"),
            s("[1.5].index(2)", "num"),
        ),
    ),
    Cause(
        "str-index-on-sequence",
        "Reading a field of parsed data with a string key",
        "The data is a list or string, not a dict: parse the JSON text first (json.loads), or index the list by "
        "position and then by key (data[0]['name']).",
        (
            s("data = '{\"name\": 1}'\ndata['name']", "api"),
            s("rows = [{'id': 1}]\nrows['id']", "db"),
            s("pair = ('a', 1)\npair['key']", "kv"),
        ),
    ),
    Cause(
        "float-index",
        "Indexing with the result of a division",
        "/ always returns a float: use integer division (len(a) // 2) or int(...) for indexes, sizes and ranges.",
        (
            s("a = [1, 2, 3]\na[len(a) / 2]", "median"),
            s("t = (1, 2)\nt[2 / 2]", "pick"),
            s("s = 'abcd'\ns[len(s) / 2]", "mid"),
            s("range(10 / 2)", "loop"),
            s("[0] * (4 / 2)", "init"),
        ),
    ),
    Cause(
        "str-used-as-int",
        "Using a number read from input() or argv",
        "input() and sys.argv give strings: convert with int(...) before using the value as a count or size.",
        (
            s("n = '3'\nrange(n)", "loop"),
            s("n = '3'\n'ab' * n", "rep"),
            s("n = '2'\n[1, 2, 3][:n]", "init"),
        ),
    ),
    Cause(
        "in-on-non-container",
        "Testing membership with `in`",
        "The right-hand side is not a container (None or a number): make sure it is a list, set, dict or str, "
        "or check for None first.",
        (
            s("'a' in None", "tags"),
            s("'x' in 5", "flags"),
            s("1 in 2.5", "nums"),
        ),
    ),
    Cause(
        "view-not-subscriptable",
        "Indexing the result of dict.keys(), map() or zip()",
        "In Python 3 these return views or iterators: wrap them in list(...) to index, or use next(iter(...)) "
        "for the first item.",
        (
            s("d = {'a': 1}\nd.keys()[0]", "cfg"),
            s("d = {'a': 1}\nd.values()[0]", "vals"),
            s("m = map(str, [1])\nm[0]", "conv"),
            s("z = zip([1], [2])\nz[0]", "pairs"),
            s("f = filter(None, [1])\nf[0]", "flt"),
        ),
    ),
    Cause(
        "format-spec-on-non-number",
        "Formatting a value with a number format (f'{x:.2f}')",
        "The value is not a number (None, a list ...): check for None or convert it before formatting.",
        (
            s("x = None\nf'{x:.2f}'", "price"),
            s("x = [1]\n'{:>5}'.format(x)", "table"),
            s("x = {}\nf'{x:,}'", "count"),
        ),
    ),
    Cause(
        "format-code-type-mismatch",
        "Formatting a value with a format code for another type",
        "The format code does not fit the type (d is for int, f for float, s for str): convert the value or "
        "change the code.",
        (
            s("'{:d}'.format(1.5)", "a"),
            s("f'{\"abc\":d}'", "b"),
            s("'{:f}'.format('x')", "c"),
        ),
    ),
    Cause(
        "format-missing-positional",
        "Filling a template with str.format",
        "The template has more {} placeholders than arguments: pass one argument per placeholder (or use "
        "named placeholders).",
        (
            s("'{} {}'.format(1)", "a"),
            s("'{} {} {}'.format(1, 2)", "b"),
            s("'{0} {3}'.format(1, 2)", "c"),
        ),
    ),
    Cause(
        "format-missing-keyword",
        "Filling a named template with str.format",
        "A {name} placeholder has no matching keyword argument: pass it (.format(name=...)), or use "
        "format_map with a dict that has every key.",
        (
            s("'hello {name}'.format(user='a')", "greet"),
            s("'{host}:{port}'.format(host='h')", "url"),
            s("'Dear {title} {last}'.format(last='x')", "mail"),
        ),
    ),
    Cause(
        "percent-format-mismatch",
        "Formatting with the % operator",
        "The number of % placeholders and values differ (and a single tuple value must be wrapped: (t,)): "
        "match them, or use an f-string.",
        (
            s("'%d' % (1, 2)", "a"),
            s("'%s %s' % ('a',)", "b"),
            s("'no placeholder' % 5", "c"),
        ),
    ),
    Cause(
        "min-max-empty",
        "Taking the max or min of a filtered list",
        "The sequence is empty: pass a default (max(values, default=0)) or check it first.",
        (
            s("max([])", "stats"),
            s("min(x for x in [1] if x > 5)", "filter"),
            s("import statistics\nstatistics.mean([])", "dict"),
        ),
    ),
    Cause(
        "dict-from-bad-pairs",
        "Building a dict from a list",
        "dict() needs (key, value) pairs: build pairs first (zip(keys, values) or [(k, v) ...]).",
        (
            s("dict(['ab', 'c'])", "a"),
            s("dict([1, 2])", "b"),
            s("dict([('a', 1, 2)])", "c"),
        ),
    ),
    Cause(
        "numpy-broadcast-shapes",
        "Adding or multiplying numpy arrays",
        "The arrays have incompatible shapes: check .shape of both, reshape or add an axis (a[:, None]) so the "
        "dimensions match or are 1.",
        (
            s("import numpy as np\nnp.ones(3) + np.ones(4)", "vec"),
            s("import numpy as np\nnp.ones((2, 3)) * np.ones((3, 2))", "mat"),
            s("import numpy as np\nnp.zeros((5, 1, 4)) - np.zeros((3, 2))", "t3"),
        ),
    ),
    Cause(
        "numpy-matmul-mismatch",
        "Multiplying matrices",
        "The inner dimensions differ: for A @ B, A.shape[1] must equal B.shape[0]; transpose one (B.T) or fix "
        "the shapes.",
        (
            s("import numpy as np\nnp.ones((2, 3)) @ np.ones((2, 3))", "lin"),
            s("import numpy as np\nnp.dot(np.ones((4, 5)), np.ones((4, 5)))", "dot"),
            s("import numpy as np\nnp.matmul(np.ones((3, 2)), np.ones(3))", "vec"),
        ),
    ),
    Cause(
        "numpy-index-out-of-bounds",
        "Indexing a numpy array",
        "The index is larger than the axis: check arr.shape (and off-by-one errors; the last index is size-1).",
        (
            s("import numpy as np\nnp.zeros(3)[5]", "a"),
            s("import numpy as np\nnp.zeros((2, 2))[0, 7]", "b"),
            s("import numpy as np\nnp.arange(10)[-11]", "c"),
        ),
    ),
    Cause(
        "dunder-returns-wrong-type",
        "Defining __str__, __repr__ or __len__",
        "The special method must return the right type: __str__/__repr__ a str, __len__ an int, __bool__ a "
        "bool; convert the value in the method.",
        (
            s("class A:\n    def __str__(self):\n        return 1\nstr(A())", "a"),
            s("class B:\n    def __repr__(self):\n        return None\nrepr(B())", "b"),
            s("class C:\n    def __len__(self):\n        return '3'\nlen(C())", "c"),
            s("class D:\n    def __bool__(self):\n        return 1\nbool(D())", "d"),
        ),
    ),
    Cause(
        "plus-on-dict-or-set",
        "Merging two dicts or sets with +",
        "dicts and sets do not support +: merge dicts with {**a, **b} or a | b, sets with a | b.",
        (
            s("{'a': 1} + {'b': 2}", "cfg"),
            s("{1} + {2}", "tags"),
            s("{}.keys() + {}.keys()", "keys"),
        ),
    ),
    Cause(
        "list-concat-non-list",
        "Adding an item to a list with +",
        "list + needs another list: use items.append(x), items + [x], or items.extend(iterable).",
        (
            s("[1] + 2", "nums"),
            s("['a'] + 'b'", "names"),
            s("[1] + (2,)", "mix"),
        ),
    ),
    Cause(
        "pickle-local-function",
        "Sending a function to a process pool or pickling it",
        "Only module-level functions pickle: move the function (not a lambda or nested function) to module "
        "level, or use a thread pool.",
        (
            s("import pickle\npickle.dumps(lambda x: x)", "mp"),
            s(
                "import pickle\ndef outer():\n    def inner():\n        pass\n    return inner\npickle.dumps(outer())",
                "job",
            ),
            s(
                "import pickle\nclass A:\n    pass\ndef f():\n    class Local:\n        pass\n    return Local()\n"
                "pickle.dumps(f())",
                "obj",
            ),
        ),
    ),
    Cause(
        "pickle-unpicklable-object",
        "Pickling an object that holds a lock, a file or a generator",
        "The object holds something that cannot be pickled (lock, open file, generator): drop it in "
        "__getstate__ and recreate it in __setstate__, or pass plain data.",
        (
            s("import pickle, threading\npickle.dumps(threading.Lock())", "lock"),
            s("import pickle\npickle.dumps(open('main.py'))", "file"),
            s("import pickle\npickle.dumps(x for x in [1])", "gen"),
            s("import pickle, threading\npickle.dumps({'l': threading.RLock()})", "rlock"),
        ),
    ),
    Cause(
        "unknown-encoding",
        "Opening a file with an encoding name",
        "The encoding name is wrong: use a known codec name such as 'utf-8', 'latin-1', 'cp1252' or 'utf-16'.",
        (
            s("open('main.py', encoding='utf8x')", "a"),
            s("'x'.encode('latin-9')", "b"),
            s("b'x'.decode('utf-88')", "c"),
        ),
    ),
    Cause(
        "path-arg-wrong-type",
        "Passing a path to open() or os.path",
        "The path is not a string (None from a missing setting, a number, a list): pass a str or Path; check "
        "where the value comes from.",
        (
            s("open(None)", "cfg"),
            s("import os\nos.path.join('a', None)", "join"),
            s("import os\nos.listdir(['a'])", "ls"),
            s("import os\nos.path.exists(3.5) or open(3.5)", "num"),
        ),
    ),
    Cause(
        "invalid-date-component",
        "Building a date from year, month and day numbers",
        "A component is out of range: validate it, and use timedelta for date arithmetic instead of adding to "
        "day or month numbers.",
        (
            s("import datetime\ndatetime.date(2024, 13, 1)", "a"),
            s("import datetime\ndatetime.date(2023, 2, 30)", "b"),
            s("import datetime\ndatetime.datetime(2024, 1, 1, 25)", "c"),
            s("import datetime\ndatetime.time(10, 61)", "d"),
        ),
    ),
    Cause(
        "date-arithmetic-with-str",
        "Subtracting or comparing dates read as text",
        "One side is still a string: parse it first (datetime.fromisoformat or strptime).",
        (
            s("import datetime\ndatetime.datetime.now() - '2024-01-01'", "age"),
            s("import datetime\ndatetime.date.today() - '2024-01-01'", "days"),
            s("import datetime\n'2024-01-01' - datetime.date.today()", "due"),
        ),
    ),
    Cause(
        "module-datetime-vs-class",
        "Calling datetime.now() after `import datetime`",
        "datetime is both a module and a class: with `import datetime` write datetime.datetime.now(), or import "
        "the class (from datetime import datetime).",
        (
            s("import datetime\ndatetime.now()", "a"),
            s("import datetime\ndatetime.strptime('2020', '%Y')", "b"),
            s("import datetime\ndatetime.fromisoformat('2020-01-01')", "c"),
        ),
    ),
    Cause(
        "class-datetime-vs-module",
        "Calling datetime.datetime.now() after `from datetime import datetime`",
        "`from datetime import datetime` imported the class: call datetime.now() (not datetime.datetime.now()), "
        "or import the module instead.",
        (
            s("from datetime import datetime\ndatetime.datetime.now()", "a"),
            s("from datetime import datetime\ndatetime.timedelta(days=1)", "b"),
            s("from datetime import datetime\ndatetime.timezone.utc", "c"),
        ),
    ),
    Cause(
        "json-loads-on-parsed",
        "Calling json.loads on the result of response.json() or an already parsed value",
        "The value is already parsed (a dict or list): use it directly; json.loads only takes text.",
        (
            s("import json\njson.loads({'a': 1})", "a"),
            s("import json\njson.loads([1, 2])", "b"),
            s("import json\njson.loads(None)", "c"),
        ),
    ),
    Cause(
        "json-loads-on-file",
        "Reading JSON from an open file",
        "json.loads takes a string; for a file object use json.load(f) (no s).",
        (
            s("import json\nopen('c.json', 'w').write('{}')\njson.loads(open('c.json'))", "a"),
            s("import json\nopen('c.json', 'w').write('{}')\njson.loads(open('c.json', 'rb'))", "b"),
            s("import io, json\njson.loads(io.StringIO('{}'))", "c"),
        ),
    ),
    Cause(
        "struct-buffer-size",
        "Unpacking binary data with struct",
        "The buffer length does not match the format: read exactly struct.calcsize(fmt) bytes (or slice the "
        "buffer) before unpacking.",
        (
            s("import struct\nstruct.unpack('<I', b'ab')", "a"),
            s("import struct\nstruct.unpack('>HHH', b'ab')", "b"),
            s("import struct\nstruct.unpack('q', b'')", "c"),
        ),
    ),
    Cause(
        "base64-padding",
        "Decoding a base64 string (e.g. a JWT part)",
        "The base64 text is unpadded or not base64: add '=' padding to a multiple of 4 (s + '=' * (-len(s) % 4)) "
        "and use urlsafe_b64decode for URL-safe input.",
        (
            s("import base64\nbase64.b64decode('abc')", "a"),
            s("import base64\nbase64.b64decode('abcde')", "b"),
            s("import base64\nbase64.urlsafe_b64decode('eyJhbGciOiJIUzI1NiJ9x')", "jwt"),
        ),
    ),
    Cause(
        "rmdir-not-empty",
        "Deleting a directory",
        "os.rmdir only removes empty directories: use shutil.rmtree(path) to delete it with its content.",
        (
            s("import os\nos.makedirs('build/x')\nos.rmdir('build')", "a"),
            s("import os\nos.makedirs('cache/y')\nos.removedirs('cache')", "b"),
            s("import os, pathlib\nos.makedirs('out/z')\npathlib.Path('out').rmdir()", "c"),
        ),
    ),
    Cause(
        "dataclass-field-order",
        "Declaring a dataclass with default values",
        "Fields without defaults must come before fields with defaults: reorder them, give the later field a "
        "default, or use kw_only=True.",
        (
            s("from dataclasses import dataclass\n@dataclass\nclass A:\n    x: int = 0\n    y: int", "a"),
            s("from dataclasses import dataclass\n@dataclass\nclass User:\n    name: str = ''\n    email: str", "b"),
            s("from dataclasses import dataclass\n@dataclass\nclass B:\n    a: int\n    b: int = 1\n    c: str", "c"),
        ),
    ),
    Cause(
        "dataclass-mutable-default",
        "Giving a dataclass field a list or dict default",
        "Mutable defaults would be shared: use field(default_factory=list) (or dict, set).",
        (
            s("from dataclasses import dataclass\n@dataclass\nclass A:\n    items: list = []", "a"),
            s("from dataclasses import dataclass\n@dataclass\nclass B:\n    meta: dict = {}", "b"),
            s("from dataclasses import dataclass\n@dataclass\nclass C:\n    tags: set = set()", "c"),
        ),
    ),
    Cause(
        "enum-invalid-value",
        "Converting a stored value to an Enum",
        "No member has that value: check the stored value, look members up by name with Color['RED'], or "
        "handle ValueError for unknown values.",
        (
            s("import enum\nclass Color(enum.Enum):\n    RED = 1\nColor(5)", "a"),
            s("import enum\nclass Status(enum.Enum):\n    OK = 'ok'\nStatus('done')", "b"),
            s("import enum\nclass Level(enum.IntEnum):\n    LOW = 1\nLevel(0)", "c"),
        ),
    ),
    Cause(
        "relative-import-no-package",
        "Running a module of a package directly as a script",
        "Relative imports need the package context: run it as a module from the project root "
        "(python -m pkg.module) or switch to absolute imports.",
        (
            s(
                "import runpy\nrunpy.run_path('pkg/mod.py')",
                "a",
                **{"pkg/__init__.py": "", "pkg/mod.py": "from . import util\n"},
            ),
            s(
                "import pkg.sub.mod",
                "b",
                **{"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": "from ...outside import x\n"},
            ),
            s("exec(compile('from .helpers import x', 'tool.py', 'exec'))", "c"),
        ),
    ),
    Cause(
        "cli-missing-argument",
        "Running a command-line script",
        "A required command-line argument is missing or invalid: pass it (see --help); give optional flags a default.",
        (
            s(
                "import argparse\np = argparse.ArgumentParser()\np.add_argument('--name', required=True)\np.parse_args()",
                "cli",
            ),
            s(
                "import argparse\np = argparse.ArgumentParser()\np.add_argument('src')\np.add_argument('dst')\n"
                "p.parse_args(['a'])",
                "copy",
            ),
            s(
                "import argparse\np = argparse.ArgumentParser()\np.add_argument('--port', type=int)\n"
                "p.parse_args(['--port', 'http'])",
                "serve",
            ),
        ),
    ),
    Cause(
        "int-of-non-scalar",
        "Converting a value to int or float",
        "The value is a container or None, not a number or numeric string: pick the element you meant "
        "(x[0], d['n']) or handle None first.",
        (
            s("int(None)", "a"),
            s("int([1])", "b"),
            s("float({'a': 1})", "c"),
            s("float(None)", "d"),
        ),
    ),
    Cause(
        "project-not-on-path",
        "Running the tests or a script of the project from another directory",
        "The project's own package is not on sys.path: run from the project root (python -m pytest, python -m "
        "pkg.main) or install it in editable mode (pip install -e .).",
        (
            s("import src.main", "tests"),
            s("from myproject.settings import DEBUG", "scripts"),
            s("from tests.helpers import make_user", "tools"),
            s("import billing.models", "jobs"),
        ),
    ),
    Cause(
        "linear-layer-shape",
        "Feeding a batch through a torch model",
        "The input's last dimension does not match the layer's in_features: check x.shape against "
        "nn.Linear(in_features, ...), and flatten (x.view(x.size(0), -1)) before the first Linear layer.",
        (
            s("import torch\ntorch.nn.Linear(4, 2)(torch.ones(3, 5))", "mlp"),
            s("import torch\ntorch.nn.Linear(128, 10)(torch.ones(8, 784))", "mnist"),
            s("import torch\ntorch.nn.Linear(512, 2)(torch.ones(16, 256))", "clf"),
            s("import torch\ntorch.ones(2, 3) @ torch.ones(2, 3)", "mat"),
        ),
    ),
    Cause(
        "jwt-malformed-token",
        "Verifying a bearer token from the Authorization header",
        "The token string is malformed: strip the 'Bearer ' prefix and whitespace before jwt.decode, and "
        "check the client sends the whole token.",
        (
            s("import jwt\njwt.decode('abc', 'k', algorithms=['HS256'])", "auth"),
            s("import jwt\njwt.decode('Bearer a.b.c', 'k', algorithms=['HS256'])", "api"),
            s("import jwt\njwt.decode('eyJhbGciOiJIUzI1NiJ9.e30.x y', 'k', algorithms=['HS256'])", "gw"),
        ),
    ),
    Cause(
        "numpy-reshape-size",
        "Reshaping a numpy array",
        "The new shape must hold exactly as many elements as the array: check arr.size and use -1 for the "
        "dimension numpy should infer.",
        (
            s("import numpy as np\nnp.arange(6).reshape(4)", "a"),
            s("import numpy as np\nnp.zeros((3, 4)).reshape(5, 2)", "b"),
            s("import numpy as np\nnp.ones(10).reshape(3, -1)", "c"),
        ),
    ),
    Cause(
        "numpy-ragged-array",
        "Building a numpy array from nested lists",
        "The rows have different lengths: pad them to one length, or keep a list of arrays (dtype=object only "
        "if you really need a ragged array).",
        (
            s("import numpy as np\nnp.array([[1, 2], [3]], dtype=float)", "a"),
            s("import numpy as np\nnp.array([[1, 2, 3], [4, 5, 6], [7]], dtype=int)", "b"),
            s("import numpy as np\nnp.array([[[1], [2]], [[3]]], dtype=float)", "c"),
        ),
    ),
    Cause(
        "http-5xx-upstream",
        "Calling an upstream HTTP API with requests",
        "The server failed (5xx), not your request: retry with exponential backoff (urllib3 Retry on "
        "500/502/503/504) and alert if it persists.",
        (
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 503, 'Service Unavailable'\n"
                "r.url = 'http://api.local/v1/orders'\nr.raise_for_status()",
                "shop",
            ),
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 502, 'Bad Gateway'\n"
                "r.url = 'https://payments.example/charge'\nr.raise_for_status()",
                "pay",
            ),
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 500, 'Internal Server Error'\n"
                "r.url = 'http://users-svc:8080/users/7'\nr.raise_for_status()",
                "users",
            ),
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 504, 'Gateway Timeout'\n"
                "r.url = 'http://search.internal/q?term=x'\nr.raise_for_status()",
                "search",
            ),
        ),
    ),
    Cause(
        "http-401-unauthorized",
        "Calling an authenticated HTTP API with requests",
        "The request has no valid credentials: send the token (headers={'Authorization': f'Bearer {token}'}), "
        "and refresh it when it expires.",
        (
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 401, 'Unauthorized'\n"
                "r.url = 'https://api.github.com/user'\nr.raise_for_status()",
                "gh",
            ),
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 401, 'Unauthorized'\n"
                "r.url = 'http://api.local/v1/me'\nr.raise_for_status()",
                "me",
            ),
            s(
                "import requests\nr = requests.models.Response()\nr.status_code, r.reason = 401, 'UNAUTHORIZED'\n"
                "r.url = 'https://billing.example/invoices'\nr.raise_for_status()",
                "bill",
            ),
        ),
    ),
    Cause(
        "too-many-open-files",
        "Opening many files in a loop or long-running process",
        "File handles leak: open files in with-blocks so they close, or close them explicitly; raise the limit "
        "(ulimit -n) only if you really need that many at once.",
        (
            s(
                "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (20, 20))\n"
                "fs = [open(f'log{i}.txt', 'w') for i in range(40)]",
                "logs",
            ),
            s(
                "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (30, 30))\n"
                "fs = [open(f'part-{i:03d}.csv', 'w') for i in range(60)]",
                "export",
            ),
            s(
                "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (12, 12))\n"
                "fs = [open('main.py') for i in range(20)]",
                "scan",
            ),
        ),
    ),
    Cause(
        "format-spec-typo",
        "Writing a format specification",
        "The format spec is malformed: the order is [fill][align][width][,][.precision][type], e.g. f'{x:>10,.2f}'.",
        (
            s("f'{3:.2.f}'", "a"),
            s("'{:,.2x%}'.format(1.5)", "b"),
            s("f'{2.5:10.2d}'", "c"),
        ),
    ),
    Cause(
        "non-iso-date-string",
        "Parsing a date string with datetime.fromisoformat",
        "The text is not ISO 8601 (YYYY-MM-DD[THH:MM:SS]): parse it with strptime and the matching format, or "
        "normalize it first.",
        (
            s("import datetime\ndatetime.datetime.fromisoformat('2024/01/02')", "a"),
            s("import datetime\ndatetime.date.fromisoformat('01-02-2024')", "b"),
            s("import datetime\ndatetime.datetime.fromisoformat('March 3, 2024')", "c"),
        ),
    ),
    Cause(
        "class-without-init",
        "Creating an object with constructor arguments",
        "The class has no __init__ that takes them (often a typo such as __int__ or _init_): define "
        "__init__(self, ...) with those parameters.",
        (
            s("class A:\n    pass\nA(1)", "a"),
            s("class User:\n    def __int__(self, name):\n        self.name = name\nUser('ann')", "users"),
            s("class Config:\n    def _init_(self, path):\n        pass\nConfig('x.ini')", "cfg"),
            s("class Point:\n    def __init(self, x, y):\n        pass\nPoint(1, 2)", "geo"),
        ),
    ),
    Cause(
        "forgot-call-parentheses",
        "Using a method or function without calling it",
        "The parentheses are missing, so you hold the function itself: call it (d.items(), get_users()).",
        (
            s("d = {'a': 1}\nfor k, v in d.items: pass", "a"),
            s("class R:\n    def rows(self):\n        return []\nR().rows[0]", "b"),
            s("def get_users():\n    return []\nget_users.append(1)", "c"),
            s("'abc'.upper[0]", "d"),
        ),
    ),
    Cause(
        "none-in-arithmetic",
        "Doing arithmetic with a value that may be missing",
        "One operand is None (a function without return, a missing field): return or default the value "
        "(x or 0) before computing.",
        (
            s("def price():\n    pass\nprice() + 1", "a"),
            s("d = {}\nd.get('count') * 2", "b"),
            s("total = None\ntotal += 1.5", "c"),
            s("def n():\n    pass\n10 - n()", "d"),
        ),
    ),
)
