"""The README's set-up commands install the CPU build of torch anywhere, and CI runs exactly the documented one."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

CPU_TORCH = "--index-url https://download.pytorch.org/whl/cpu torch=="


def _readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    return [
        line for line in re.findall(r"```bash\n(.*?)\n```", readme, re.DOTALL) if line.startswith("python3 -m venv")
    ]


def test_readme_setup_commands_take_torch_from_the_cpu_index_before_the_package() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, commands  # set up and serve; set up and test
    for command in commands:
        steps = command.split(" && ")
        torch_step = next(step for step in steps if "torch==" in step)
        assert CPU_TORCH in torch_step and "--retries 0" in torch_step, torch_step
        assert "-e " not in torch_step  # the package comes after, from the ordinary index, with torch in place
        assert steps.index(torch_step) < next(i for i, step in enumerate(steps) if "install -e" in step)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(c for c in _readme_commands() if c.endswith(".venv/bin/pytest"))
    assert test_command in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
