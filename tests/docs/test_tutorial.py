"""docs/tutorial.md is executed: its project is built in a temp dir, migrated and tested."""

from __future__ import annotations

from .blocks import ROOT, blocks, run_page


def test_every_tutorial_block_is_a_file_or_a_command():
    for block in blocks("tutorial.md"):
        assert block.target is not None or block.lang == "bash", block.text


def test_tutorial_project_builds_checks_migrates_and_passes_its_tests(tmp_path):
    run_page("tutorial.md", tmp_path)
    assert (tmp_path / "library" / "migrations" / "0001_initial.py").exists()
    assert (tmp_path / "db.sqlite3").exists()


def test_tutorial_shows_install_from_a_checkout_or_git_not_pypi():
    text = (ROOT / "docs" / "tutorial.md").read_text()
    assert "not published on PyPI" in text
    assert "git+" in text
    assert "django_celery_results" in text
