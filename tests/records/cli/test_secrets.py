"""Secrets never leak: a full run with a passphrase in the environment, a database password in
the catalog URL and an API token in use, then every output and every file it wrote is grepped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from archive.access import add_user, issue_token
from archive.index import Catalog
from config.settings import Settings
from records.web.app import create_app
from tests.conftest import Scans, new_database

RECORDS = [sys.executable, "-m", "records.cli"]
DB_PASSWORD = "db-Secret-9f3k2"  # a test secret, looked for everywhere


def test_no_secret_in_any_output_or_file(scans: Scans, home: Path, tmp_path: Path,
                                         postgres_url: str) -> None:
    passphrase = (home / "keys" / "passphrase").read_text().strip()
    catalog_url = make_url(new_database(postgres_url, "catalog_secrets")).set(
        password=DB_PASSWORD).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env.update(RECORDS_HOME=str(home), RECORDS_SIGNING_PASSPHRASE=passphrase,
               RECORDS_CATALOG__URL=catalog_url)
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=121)
    (batch / "letter.png").write_bytes(page.read_bytes())
    (batch / "broken.pdf").write_bytes(b"%PDF-1.4 cut")
    outputs = []
    for args in (["queue", str(batch), "--unit", "VP", "--json"], ["status", "--json"],
                 ["verify", "--all", "--json"], ["search", "letter", "--json"],
                 ["roadmap", "--json"], ["reindex"], ["audit", "verify"]):
        done = subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode in (0, 3), (args, done.stderr)
        outputs += [done.stdout, done.stderr]
    wrong = subprocess.run([*RECORDS, "queue", str(batch), "--unit", "VP"], capture_output=True,
                           text=True, timeout=600,
                           env={**env, "RECORDS_SIGNING_PASSPHRASE": passphrase + "-wrong"})
    assert wrong.returncode == 2 and "passphrase" in wrong.stderr
    outputs += [wrong.stdout, wrong.stderr]

    settings = Settings(home=home, catalog={"url": catalog_url})
    add_user(Catalog.open(catalog_url), "reader", "archivist", "public",
             "correct horse battery")
    _, token = issue_token(Catalog.open(catalog_url), "reader")
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/search", params={"q": "letter"},
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        outputs.append(answer.text)

    secrets = {"passphrase": passphrase, "database password": DB_PASSWORD, "API token": token}
    for name, secret in secrets.items():
        for output in outputs:
            assert secret not in output, f"the {name} is in a command's output"
        for path in home.rglob("*"):
            if path.is_file() and not path.is_relative_to(home / "keys"):
                assert secret.encode() not in path.read_bytes(), f"the {name} is in {path}"
