"""Commands about archival copies: ``records keys init``, ``records verify``, ``records renew``.

Registered on the main ``records`` app in ``records.cli``. Exit codes as everywhere: 0 all
good, 1 something failed, 2 usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from archive import audit as audit_log
from archive import events
from archive.catalog import Catalog
from archive.fixity import audit
from archive.keys import DEFAULT_SERVICE_URL, WARNING, dev_pki, init_dev_pki
from archive.metadata import Event
from archive.renew import is_due, level_of, renew_record
from archive.sign import SigningError, load_signer, sign_options, trust_roots
from archive.store import records, recover
from archive.verify import Verdict, verify_file
from config.settings import load_settings
from ocr.errors import ExitCode
from records.admin import cli_user
from records.runtime import quiet_pyhanko

console = Console(stderr=True)
out = Console()
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys: a development PKI.")


@keys_app.command("init")
def keys_init(
    force: Annotated[bool, typer.Option(help="Replace an existing development PKI")] = False,
    organisation: Annotated[str, typer.Option(help="Organisation named in the certificates")]
    = "Records Development Organisation",
    person: Annotated[str, typer.Option(help="Holder of the personal certificate")]
    = "Nguyễn Văn An",
    service_url: Annotated[str, typer.Option(help="Where TSA/OCSP/CRLs will be served")]
    = DEFAULT_SERVICE_URL,
) -> None:
    """Make a development PKI under RECORDS_HOME/keys (NOT for production)."""
    home = load_settings().home.resolve()
    try:
        pki = init_dev_pki(home, organisation=organisation, person=person,
                           service_url=service_url, force=force)
    except FileExistsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.usage) from None
    console.print(f"[yellow]{WARNING}[/yellow]: wrote {pki.folder}")
    console.print(f"  signing keys: {pki.pkcs12('organisation')}, {pki.pkcs12('personal')}")
    console.print(f"  trust root:   {pki.root_cert}")
    console.print(f"  TSA/OCSP:     certomancer --config {pki.certomancer_config} animate "
                  f"--port {service_url.rsplit(':', 1)[-1].split('/')[0]}  (TSA {pki.tsa_url})")


def ensure_dev_pki(home: Path) -> None:
    """The demo signs with the development PKI; make it if no key is configured at all."""
    settings = load_settings().signing
    if settings.enabled and settings.key == "pkcs12" and not settings.pkcs12_file and \
            not dev_pki(home).certomancer_config.is_file():
        init_dev_pki(home)
        console.print(f"[yellow]{WARNING}[/yellow]: made one under {home / 'keys'} for the demo")


def verify(
    record_ids: Annotated[list[str] | None, typer.Argument(help="Record ids")] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Every archived record")] = False,
    file: Annotated[Path | None, typer.Option("--file", help="A PDF anywhere")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify archival copies: hashes, signature, trust, changes, AdES, XMP, PDF/A."""
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = home / "archive"
    if not (record_ids or all_records or file):
        console.print("[red]name record ids, --all, or --file PATH[/red]")
        raise typer.Exit(ExitCode.usage)
    try:
        roots = trust_roots(settings.signing, home)
    except SigningError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.usage) from None
    ids = records(archive) if all_records else list(record_ids or [])
    verdicts = audit(archive, ids, roots, catalog=Catalog.open(settings.catalog_url())) \
        if ids else []
    if file:
        verdicts.append(verify_file(file, roots))
    for verdict in verdicts:
        audit_log.record(home, cli_user(), "verify", record_id=verdict.record_id,
                         outcome="ok" if verdict.ok else "failed",
                         **({} if verdict.record_id else {"file": str(verdict.path)}))
    if as_json:
        out.print_json(json.dumps({"records": [v.as_dict() for v in verdicts]},
                                  ensure_ascii=False))
    else:
        out.print(_verdicts_table(verdicts))
    raise typer.Exit(ExitCode.ok if all(v.ok for v in verdicts) else ExitCode.failure)


def _verdicts_table(verdicts: list[Verdict]) -> Table:
    table = Table(title=f"{sum(v.ok for v in verdicts)} of {len(verdicts)} copies verified")
    table.add_column("record", no_wrap=True)
    table.add_column("result")
    table.add_column("what is wrong", overflow="fold")
    for v in verdicts:
        table.add_row(v.record_id or str(v.path), "[green]ok[/green]" if v.ok else
                      "[red]FAILED[/red]", "\n".join(v.failures()))
    return table


def renew(
    record_ids: Annotated[list[str] | None, typer.Argument(help="Record ids")] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Every B-LTA record due")] = False,
    within: Annotated[int, typer.Option(help="With --all: renew when the last time-stamp's "
                                        "certificate expires within this many days")] = 365,
) -> None:
    """Add a fresh document time-stamp to B-LTA copies before their proof ages."""
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = home / "archive"
    recover(archive)
    try:
        signer = load_signer(settings.signing, home)
        options = sign_options(settings.signing)
    except SigningError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.usage) from None
    ids = list(record_ids or [])
    if all_records:
        ids = [r for r in records(archive)
               if level_of(archive / r) == "B-LTA" and is_due(archive / r, within)]
    failed = False
    for record_id in ids:
        try:
            entry = renew_record(archive, record_id, signer, options)
            events.append(archive, record_id, Event(
                "renewed", "success", f"document time-stamp from {entry['tsa_url']}",
                checksums_in={"pdf": entry["previous_sha256"]},
                checksums_out={"pdf": entry["pdf_sha256"]}))
            console.print(f"{record_id}: renewed, now {entry['pdf_sha256'][:16]}...")
        except (ValueError, SigningError, FileNotFoundError) as exc:
            console.print(f"[red]{record_id}: {exc}[/red]")
            failed = True
    console.print(f"{len(ids)} record(s) considered")
    raise typer.Exit(ExitCode.failure if failed else ExitCode.ok)
