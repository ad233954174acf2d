"""Settings that cannot be used are one line naming the key and what is wrong, never a
traceback, never the value given (a database URL holds a password), and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ExitCode
from config.settings import SettingsError, load_settings


@pytest.mark.parametrize(("text", "expected"), [
    ("ocr = [\n", "is not valid TOML"),
    ("[ocr]\nlanguagess = 'vie'\n", "ocr.languagess: not a setting records knows"),
    ("[signing]\npassphrase_fille = '/x'\n", "signing.passphrase_fille: not a setting"),
    ("[ocr]\njobs = 'many'\n", "ocr.jobs: input should be a valid integer"),
    ("[web]\nsession_hours = -1\n", "web.session_hours: input should be greater than 0"),
    ("[intake]\nmanifest_encoding = 'klingon'\n", "'klingon' is not an encoding"),
    ("colour = 'blue'\n", "colour: not a setting records knows"),
])
def test_a_bad_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    text: str, expected: str) -> None:
    config = tmp_path / "records.toml"
    config.write_text(text)
    monkeypatch.setenv("RECORDS_CONFIG", str(config))
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings()
    assert caught.value.exit_code == ExitCode.usage and "\n" not in caught.value.reason


@pytest.mark.parametrize("where", ["missing.toml", "."])
def test_a_config_that_is_not_a_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              where: str) -> None:
    monkeypatch.setenv("RECORDS_CONFIG", str(tmp_path / where))
    with pytest.raises(SettingsError, match="which is not a file"):
        load_settings()


def test_a_bad_variable_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDS_OCR__JOBS", "sekrit-value")
    monkeypatch.setenv("RECORDS_CATALOG__TYPO", "postgresql://u:hunter2@db/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "ocr.jobs" in caught.value.reason and "catalog.typo" in caught.value.reason
    assert "sekrit" not in caught.value.reason and "hunter2" not in caught.value.reason


def test_variables_that_are_not_settings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """RECORDS_CORPUS, RECORDS_DEBUG, RECORDS_SIGNING_PASSPHRASE are read elsewhere."""
    for name in ("RECORDS_CORPUS", "RECORDS_DEBUG", "RECORDS_SIGNING_PASSPHRASE"):
        monkeypatch.setenv(name, "x")
    assert load_settings().ocr.jobs >= 0
