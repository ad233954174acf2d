"""Settings of records: defaults from ``config/records.toml``, a user file, then the environment.

Precedence (highest first): keyword arguments, environment variables
(``RECORDS_OCR__LANGUAGES``), the TOML file named by ``RECORDS_CONFIG``, the shipped defaults.
Configuration is the only global state the project has, and it is read, never written.
"""

from __future__ import annotations

import codecs
import os
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from config.errors import UsageError

DEFAULTS_FILE = Path(__file__).with_name("records.toml")


class _Section(BaseModel):
    """A section of the settings. A key it does not know is an error that names the key: a
    misspelt ``passphrase_fille`` must not leave a setting silently at its default."""

    model_config = ConfigDict(extra="forbid")


class OcrSettings(_Section):
    languages: str = "eng"
    jobs: int = Field(0, ge=0)
    page_timeout: float = Field(300, gt=0)
    rotate_pages: bool = True
    deskew: bool = True
    orientation_gate: float = 65.0
    orientation_min_confidence: float = 2.0
    low_confidence: float = 70.0
    default_dpi: int = Field(300, ge=70, le=1200)
    max_page_pixels: int = Field(400_000_000, gt=0)
    max_pages: int = Field(2000, gt=0)
    tool_memory_mb: int = Field(4096, ge=0)
    redo_ocr: bool = False
    # Several languages: "detect" reads each page with the one it is written in (decided from
    # a band of its body lines), "union" with all of them at once.
    page_language: Literal["detect", "union"] = "detect"


class IntakeSettings(_Section):
    """How what officers hand over is read."""

    # The code page of a manifest that is not Unicode: Windows Vietnamese reads German as
    # Windows Western does, and Vietnamese too. A manifest with a byte-order mark or in
    # UTF-8 is read as such whatever this says.
    manifest_encoding: str = "cp1258"

    @field_validator("manifest_encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"{value!r} is not an encoding Python knows") from None
        return value


class BatchSettings(_Section):
    ephemeral_startup_timeout: float = Field(90, gt=0)


class SigningSettings(_Section):
    """How archival copies are signed. Secrets are named here, never written here."""

    enabled: bool = True
    key: Literal["pkcs12", "pkcs11"] = "pkcs12"
    identity: Literal["organisation", "personal"] = "organisation"
    pkcs12_file: Path | None = None  # default: RECORDS_HOME/keys/<identity>.p12 (dev PKI)
    passphrase_env: str = "RECORDS_SIGNING_PASSPHRASE"
    passphrase_file: Path | None = None  # default: RECORDS_HOME/keys/passphrase (dev PKI)
    pkcs11_module: Path = Path("/usr/lib/softhsm/libsofthsm2.so")
    pkcs11_token: str = ""
    pkcs11_key_label: str = ""
    pkcs11_cert_file: Path | None = None  # the signer's certificate, then its CA chain (PEM)
    pin_env: str = "RECORDS_SIGNING_PIN"
    pin_file: Path | None = None
    docmdp: Literal[1, 2] = 1
    level: Literal["auto", "B-B", "B-T", "B-LT", "B-LTA"] = "auto"
    tsa_url: str = ""
    # When the TSA does not answer: "wait" (retry up to tsa_wait_seconds, then fail the
    # document), "fail" (at once) or "sign-without" (sign B-B now, say so in the record).
    tsa_down: Literal["wait", "fail", "sign-without"] = "wait"
    tsa_wait_seconds: float = Field(300, ge=0)
    trust_roots: list[Path] = []  # default: RECORDS_HOME/keys/root.cert.pem (dev PKI)
    # The certificates that may seal the archive's log (its tree heads and each record
    # version's promise); default: the configured key's own certificate where it can be read
    # without a secret (the token's certificate file, the development PKI's).
    seal_certificates: list[Path] = []
    reason: str = "Archival copy"
    location: str = ""
    hsm_concurrency: int = Field(1, ge=1)
    fetch_revocation: bool = True  # while signing B-LT/B-LTA; verification never fetches


class CatalogSettings(_Section):
    """Where the search catalog lives: SQLite under RECORDS_HOME by default, or PostgreSQL."""

    url: str = ""  # postgresql+psycopg://records@db/records; empty: RECORDS_HOME/catalog.sqlite
    # How long a write to the SQLite catalog waits for another program's lock before it
    # fails; the task is then retried (4 times, 2-20 s apart) before the document fails.
    busy_timeout_seconds: float = Field(30.0, gt=0)


class ServerSettings(_Section):
    """Queueing on a Prefect server: the work pool workers drain, and how much each takes on.

    Used only when ``PREFECT_API_URL`` is set; without it batches run embedded, in-process.
    """

    pool: str = "records"  # the process work pool `records worker start` polls
    batches_per_worker: int = Field(1, ge=1)  # flow runs a worker runs at once (pages use cores)
    batches_at_once: int = Field(0, ge=0)  # across all workers (deployment limit); 0: no limit
    heartbeat_seconds: int = Field(60, ge=31)  # flow-run heartbeats the zombie automation reads
    zombie_after_seconds: int = Field(300, ge=60)  # no heartbeat this long: the run is Crashed
    fixity_sample: int = Field(500, ge=1)  # records the nightly fixity audit checks
    node: str = ""  # this machine's name in batch ledgers; default: its host name


class RoadmapSettings(_Section):
    """The roadmap managers answer to: targets per unit and period (see config/roadmap.toml)."""

    file: Path | None = None  # default: the shipped example, config/roadmap.toml
    reports: Path | None = None  # weekly reports; default: RECORDS_HOME/reports


class AuthoritiesSettings(_Section):
    """The issuing bodies letterheads are matched against (see config/authorities.toml); the
    roadmap's units are in the list too, and managers' additions (``records authority
    add``) are kept in RECORDS_HOME/authorities.toml."""

    file: Path | None = None  # default: the shipped list, config/authorities.toml


class WebSettings(_Section):
    """The archivists' web app: how long a sign-in lasts, and when failed sign-ins are refused.

    Failures are counted per user name (online guessing of one account) and per client address
    (one machine trying many names, or many API tokens). The address limit is higher because an
    office behind one NAT or proxy shares an address: one person's typos must not lock it out.
    """

    session_hours: float = Field(8, gt=0)  # a sign-in ends this long after it was made
    login_attempts: int = Field(5, ge=1)  # failed sign-ins per user name within the window
    client_attempts: int = Field(20, ge=1)  # failed sign-ins and bad API tokens per address
    login_window_minutes: float = Field(15, gt=0)  # failures older than this no longer count
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto is believed. Empty: none is,
    # and every client is the address it connects from (a header anyone can send never names
    # the audit log's client or escapes the per-address sign-in limit).
    trusted_proxies: list[str] = Field(default_factory=list)
    secure_cookies: bool = False  # mark the session cookie Secure: on whenever served over TLS
    # A batch uploaded in the browser: at most this many bytes in all (a zip's contents count
    # as they are unpacked) and this many files. Larger batches go through `records queue`.
    page_size: int = Field(20, ge=1, le=200)  # records on one page of search results
    max_upload_mb: int = Field(2048, ge=1)
    max_upload_files: int = Field(5000, ge=1)
    workers: int = Field(0, ge=0, le=64)  # processes serving requests; 0: one per core

    def processes(self) -> int:
        """How many processes ``records serve`` starts: ``workers``, or one per usable core."""
        return self.workers or len(os.sched_getaffinity(0))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _TomlFiles(PydanticBaseSettingsSource):
    """The shipped defaults merged with the user's file, section by section."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        data = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
        user = os.environ.get("RECORDS_CONFIG")
        if user:
            path = Path(user)
            if not path.is_file():
                raise SettingsError(f"RECORDS_CONFIG names {path}, which is not a file")
            data = _deep_merge(data, tomllib.loads(path.read_text(encoding="utf-8")))
        return data


class Settings(BaseSettings):
    """Everything a run of records can be told."""

    model_config = SettingsConfigDict(
        env_prefix="RECORDS_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Path("records-home")
    ocr: OcrSettings = OcrSettings()
    batch: BatchSettings = BatchSettings()
    intake: IntakeSettings = IntakeSettings()
    signing: SigningSettings = SigningSettings()
    catalog: CatalogSettings = CatalogSettings()
    roadmap: RoadmapSettings = RoadmapSettings()
    authorities: AuthoritiesSettings = AuthoritiesSettings()
    server: ServerSettings = ServerSettings()
    web: WebSettings = WebSettings()

    def node_name(self) -> str:
        """This machine's name in batch ledgers (several workers may share one archive)."""
        return self.server.node or socket.gethostname()

    def catalog_url(self) -> str:
        return self.catalog.url or (f"sqlite:///{self.home.resolve() / 'catalog.sqlite'}"
                                    f"?timeout={self.catalog.busy_timeout_seconds:g}")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFiles(settings_cls))


class SettingsError(UsageError):
    """The settings cannot be used as they are: a bad TOML file, a wrong type, an unknown key."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings afresh (cheap), so tests and workers see their own environment.

    Raises :class:`SettingsError` with one line naming each bad key and what is wrong with
    it, but never the value given (a database URL holds a password).
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
                             f"{_unknown_or(e['type'], e['msg'])}" for e in exc.errors())
        raise SettingsError(f"the settings cannot be used ({_where()}): {problems}") from None
    except PydanticSettingsError as exc:  # a variable that is not even parsed (bad JSON)
        raise SettingsError(f"the settings cannot be used ({_where()}): "
                            f"{' '.join(str(exc).split())}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"RECORDS_CONFIG {os.environ.get('RECORDS_CONFIG')} is not valid "
                            f"TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"RECORDS_CONFIG {os.environ.get('RECORDS_CONFIG')} cannot be "
                            f"read: {reason}") from None


def _unknown_or(kind: str, message: str) -> str:
    return "not a setting records knows" if kind == "extra_forbidden" else message.lower()


def _where() -> str:
    user = os.environ.get("RECORDS_CONFIG")
    return f"RECORDS_CONFIG {user} or RECORDS_* variables" if user else "RECORDS_* variables"
