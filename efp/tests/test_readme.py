"""The README's settings table is the operator's list: every `EFP_*` variable the code reads from the
environment has a row there, and every row names one the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import SimpleTestCase

EFP = Path(__file__).resolve().parent.parent
README = EFP.parent / "README.md"
# A variable read from the environment: env_str("EFP_X", ...), os.environ.get("EFP_X"), ...
READ = re.compile(r"(?:env_\w+|environ\.get|getenv)\(\s*\"(EFP_[A-Z0-9_]+)\"")
ROW = re.compile(r"^\| `(EFP_[A-Z0-9_]+)` \|", re.MULTILINE)


def variables_read(root: Path) -> set[str]:
    return {
        name
        for path in root.rglob("*.py")
        if "tests" not in path.relative_to(root).parts
        for name in READ.findall(path.read_text())
    }


class ReadmeSettingsTests(SimpleTestCase):
    def test_it_lists_every_variable_the_code_reads(self) -> None:
        read = variables_read(EFP)
        assert {"EFP_DATABASE_URL", "EFP_SECRET_KEY", "EFP_WORKERS"} <= read
        listed = set(ROW.findall(README.read_text()))
        assert read - listed == set(), "add these to the README's settings table"
        assert listed - read == set(), "the README lists settings nothing reads"

    def test_it_would_notice_a_variable_read_without_a_row(self) -> None:
        text = 'X = env_int("EFP_NEW_THING", 3)\nY = os.environ.get("EFP_OTHER")\n'
        assert READ.findall(text) == ["EFP_NEW_THING", "EFP_OTHER"]
