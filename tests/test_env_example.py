""".env.example lists every setting config/ reads from the environment (the README says so)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(
    r"""(?:os\.environ\.get|os\.environ\[|os\.getenv|env_[a-z]+)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def test_env_example_lists_every_variable_the_settings_read():
    read = {
        name for path in (ROOT / "config").glob("*.py") for name in READ.findall(path.read_text())
    }
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 30  # the pattern still finds them
    assert read - listed == set(), "add these to .env.example"
