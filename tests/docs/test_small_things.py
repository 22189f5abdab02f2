"""Issue 11 item 7: the small things a new user trips over first (labels, README, docs, LICENSE)."""

from __future__ import annotations

import re
from pathlib import Path

from loom_django.orm.builder import _plural

ROOT = Path(__file__).resolve().parents[2]


def test_plural_labels_follow_english_endings():
    assert _plural("address") == "addresses"
    assert _plural("category") == "categories"
    assert _plural("day") == "days"
    assert _plural("order item") == "order items"


def test_admin_label_of_a_model_ending_in_s_is_not_addresss():
    from django.apps import apps

    labels = {str(m._meta.verbose_name_plural) for m in apps.get_models()}
    assert not any(label.endswith("sss") for label in labels)


def test_license_file_is_the_mit_license_pyproject_declares():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()


def test_readme_commands_paste_as_is():
    readme = (ROOT / "README.md").read_text()
    assert "<jobId>" not in readme
    assert not re.search(r"^\s*open\s", readme, flags=re.M)
    assert "$JOB" in readme


def test_development_lanes_match_the_test_script():
    script = (ROOT / "scripts" / "test.sh").read_text()
    doc = (ROOT / "docs" / "development.md").read_text()
    lanes = re.findall(r"^#\s+(\d)\. ", script, flags=re.M)
    section = doc.split("## Test lanes")[1].split("\n## ")[0]
    documented = re.findall(r"^(\d)\. ", section, flags=re.M)
    assert lanes == documented
    flat = " ".join(doc.split())
    assert "without Django" in flat and "tests/app" in flat


def test_store_walkthrough_names_only_files_in_the_repository():
    doc = (ROOT / "docs" / "store.md").read_text()
    paths = set(re.findall(r"`([\w./-]+\.(?:py|yaml|md))`", doc))
    assert paths
    missing = [
        p for p in paths if not (ROOT / p).exists() and not (ROOT / "example_project" / p).exists()
    ]
    assert missing == []
    assert "shared/spec" not in doc
