"""Commands about archival copies: ``records keys init``, ``records verify``, ``records renew``.

Exit codes as everywhere: 0 all good, 1 something failed, 2 usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archive.access import AuditLog
from archive.index import Catalog
from archive.signing import (
    DEFAULT_SERVICE_URL,
    WARNING,
    SigningError,
    Verdict,
    check_fixity,
    dev_pki,
    init_dev_pki,
    is_due,
    load_signer,
    renew_record,
    sign_options,
    signature_level_of,
    trust_roots,
    verify_file,
)
from archive.store import Event, append_event, archive_root, record_ids, recover
from config.errors import ExitCode, RecordsError
from config.settings import load_settings
from records.cli.console import cli_user, err, fail, out, stop
from records.runtime import quiet_pyhanko

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
        stop(str(exc))
    err.print(f"[yellow]{WARNING}[/yellow]: wrote {pki.folder}")
    err.print(f"  signing keys: {pki.pkcs12('organisation')}, {pki.pkcs12('personal')}")
    err.print(f"  trust root:   {pki.root_cert}")
    err.print(f"  TSA/OCSP:     certomancer --config {pki.certomancer_config} animate "
                  f"--port {service_url.rsplit(':', 1)[-1].split('/')[0]}  (TSA {pki.tsa_url})")


def ensure_dev_pki(home: Path) -> None:
    """The demo signs with the development PKI; make it if no key is configured at all."""
    settings = load_settings().signing
    if settings.enabled and settings.key == "pkcs12" and not settings.pkcs12_file and \
            not dev_pki(home).certomancer_config.is_file():
        init_dev_pki(home)
        err.print(f"[yellow]{WARNING}[/yellow]: made one under {home / 'keys'} for the demo")


def verify(
    ids: Annotated[list[str] | None, typer.Argument(metavar="RECORD_IDS", help="Record ids")
               ] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Every archived record")] = False,
    file: Annotated[Path | None, typer.Option("--file", help="A PDF anywhere")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify archival copies: hashes, signature, trust, changes, AdES, XMP, PDF/A."""
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    if not (ids or all_records or file):
        stop("name record ids, --all, or --file PATH")
    try:
        roots = trust_roots(settings.signing, home)
    except SigningError as exc:
        fail(exc)
    wanted = record_ids(archive) if all_records else list(ids or [])
    verdicts = check_fixity(archive, wanted, roots,
                            catalog=Catalog.open(settings.catalog_url())) if wanted else []
    if file:
        verdicts.append(verify_file(file, roots))
    audit = AuditLog(home)
    for verdict in verdicts:
        audit.record(cli_user(), "verify", record_id=verdict.record_id,
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
    ids: Annotated[list[str] | None, typer.Argument(metavar="RECORD_IDS", help="Record ids")
               ] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Every B-LTA record due")] = False,
    within: Annotated[int, typer.Option(help="With --all: renew when the last time-stamp's "
                                        "certificate expires within this many days")] = 365,
) -> None:
    """Add a fresh document time-stamp to B-LTA copies before their proof ages."""
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    recover(archive)
    try:
        signer = load_signer(settings.signing, home)
        options = sign_options(settings.signing)
    except SigningError as exc:
        fail(exc)
    wanted = list(ids or [])
    if all_records:
        wanted = [r for r in record_ids(archive)
                  if signature_level_of(archive / r) == "B-LTA" and is_due(archive / r, within)]
    failed = False
    for record_id in wanted:
        try:
            entry = renew_record(archive, record_id, signer, options)
            append_event(archive, record_id, Event(
                "renewed", "success", f"document time-stamp from {entry['tsa_url']}",
                checksums_in={"pdf": entry["previous_sha256"]},
                checksums_out={"pdf": entry["pdf_sha256"]}))
            err.print(f"{record_id}: renewed, now {entry['pdf_sha256'][:16]}...")
        except RecordsError as exc:
            err.print(f"[red]{escape(record_id)}: {escape(exc.reason)}[/red]")
            failed = True
        except (OSError, ValueError) as exc:  # a damaged record: say so, renew the others
            err.print(f"[red]{escape(record_id)}: {escape(str(exc))}[/red]")
            failed = True
    err.print(f"{len(wanted)} record(s) considered")
    raise typer.Exit(ExitCode.failure if failed else ExitCode.ok)
