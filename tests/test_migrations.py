"""Schema migrations: a database at an older revision is brought to the newest on open; one already there, or a new
one (made from the schema as the migrations make it), opens without running (or importing) the migration tool."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from mcp_memory.config import Settings, sqlalchemy_url
from mcp_memory.storage import database as database_module
from mcp_memory.storage.database import Database, schema_head
from tests.conftest import BOTH_DATABASES

MIGRATIONS = Path(database_module.__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_the_head_read_from_the_file_names_is_alembics_head() -> None:
    assert schema_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def opening_imports_alembic(database_url: str | None, data_dir: Path) -> bool:
    """Whether opening the database, in a process of its own, imported the migration tool."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mcp_memory.storage.database import Database\n"
        f"database = Database({database_url!r}, Path({str(data_dir)!r}))\n"
        "database.open()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = done.stdout.strip()
    assert answer in ("True", "False"), done.stdout
    return answer == "True"


@BOTH_DATABASES
def test_an_older_schema_is_migrated_on_open_and_one_at_head_opens_without_alembic(settings: Settings) -> None:
    first = Database(settings.database_url, settings.data_dir)
    first.open()
    config = alembic_config()
    with first.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")  # as a server of the release before the newest migration left it
        connection.commit()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    first.engine.dispose()

    again = Database(settings.database_url, settings.data_dir)
    again.open()
    with again.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == schema_head()
        assert connection.execute(text("SELECT count(*) FROM memory_links")).scalar() == 0  # 0006's table is back
    # 0007: a language's ids are read through an index, not a walk of every row of the type.
    assert "memories_by_language" in {index["name"] for index in inspect(again.engine).get_indexes("memories")}
    again.engine.dispose()

    assert not opening_imports_alembic(settings.database_url, settings.data_dir)


def schema_of(engine: Any) -> dict[str, Any]:
    """Every table's columns (in order, with types, nullability and defaults), keys and indexes, as reflected."""
    found = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in found.get_columns(table)
            ],
            "primary key": found.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
            ),
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(table)),
            "foreign keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]), str(f["options"]))
                for f in found.get_foreign_keys(table)
            ),
        }
        for table in sorted(found.get_table_names())
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_new_database_is_made_without_alembic_exactly_as_the_migrations_make_it(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        new_url, migrated_url = (cluster.create_database(f"memory_{uuid.uuid4().hex[:12]}") for _ in range(2))
    else:
        new_url, migrated_url = None, None  # each in its own data dir
    assert not opening_imports_alembic(new_url, tmp_path / "data")  # a new database: no migration ran

    made = Database(new_url, tmp_path / "data")
    made.open()  # at head already: opens as it is
    (tmp_path / "migrated").mkdir()
    migrated = create_engine(sqlalchemy_url(migrated_url, tmp_path / "migrated"))
    with migrated.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")  # every migration, from an empty database
        connection.commit()
    try:
        assert schema_of(made.engine) == schema_of(migrated)
        with made.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                schema_head()
            ]
    finally:
        made.engine.dispose()
        migrated.dispose()
