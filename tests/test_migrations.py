"""Schema migrations: a database at an older revision is brought to the newest on open; one already there opens
without running (or importing) the migration tool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from mcp_memory.config import Settings
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

    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mcp_memory.storage.database import Database\n"
        f"database = Database({settings.database_url!r}, Path({str(settings.data_dir)!r}))\n"
        "database.open()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
