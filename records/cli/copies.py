"""Commands about archival copies: ``records keys init``, ``records verify``, ``records renew``.

Exit codes as everywhere: 0 all good, 1 something failed, 2 usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from config.errors import ExitCode, RecordsError
from records.cli.console import (
    Listing,
    cli_user,
    err,
    fail,
    literal,
    out,
    print_json,
    shown,
    stop,
)

if TYPE_CHECKING:
    from archive.signing import ArchiveSigner, Check, SignOptions, Verdict

log_app = typer.Typer(no_args_is_help=True, help="The archive's signed log.")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys: a development PKI.")


@keys_app.command("init")
def keys_init(
    force: Annotated[bool, typer.Option(help="Replace an existing development PKI")] = False,
    organisation: Annotated[str, typer.Option(help="Organisation named in the certificates")]
    = "Records Development Organisation",
    person: Annotated[str, typer.Option(help="Holder of the personal certificate")]
    = "Nguyễn Văn An",
    service_url: Annotated[str | None, typer.Option(
        help="Where TSA/OCSP/CRLs will be served (default: this machine, port 9780)")] = None,
) -> None:
    """Make a development PKI under RECORDS_HOME/keys (NOT for production)."""
    from archive.signing import DEFAULT_SERVICE_URL, WARNING, init_dev_pki
    from config.settings import load_settings
    home = load_settings().home.resolve()
    service_url = service_url or DEFAULT_SERVICE_URL
    try:
        pki = init_dev_pki(home, organisation=organisation, person=person,
                           service_url=service_url, force=force)
    except FileExistsError as exc:
        stop(str(exc))
    err.print(f"[yellow]{WARNING}[/yellow]: wrote {shown(pki.folder)}")
    err.print(f"  signing keys: {shown(pki.pkcs12('organisation'))}, "
              f"{shown(pki.pkcs12('personal'))}")
    err.print(f"  trust root:   {shown(pki.root_cert)}")
    err.print(f"  TSA/OCSP:     certomancer --config {shown(pki.certomancer_config)} animate "
                  f"--port {service_url.rsplit(':', 1)[-1].split('/')[0]}  (TSA {pki.tsa_url})")


def ensure_dev_pki(home: Path) -> None:
    """The demo signs with the development PKI; make it if no key is configured at all."""
    from archive.signing import WARNING, dev_pki, init_dev_pki
    from config.settings import load_settings
    settings = load_settings().signing
    if settings.enabled and settings.key == "pkcs12" and not settings.pkcs12_file and \
            not dev_pki(home).certomancer_config.is_file():
        init_dev_pki(home)
        err.print(f"[yellow]{WARNING}[/yellow]: made one under {shown(home / 'keys')} for the "
                  "demo")


def verify(
    ids: Annotated[list[str] | None, typer.Argument(metavar="RECORD_IDS", help="Record ids")
               ] = None,
    all_records: Annotated[bool, typer.Option(
        "--all", help="The whole archive against its signed log: every record, and nothing "
                      "missing or added")] = False,
    file: Annotated[Path | None, typer.Option("--file", help="A PDF anywhere")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify archival copies: the log, the object, hashes, signature, trust, changes, AdES,
    XMP, PDF/A. Exit 1 when anything is wrong."""
    from archive.access import AuditLog
    from archive.index import Catalog
    from archive.signing import (
        SigningError,
        check_fixity,
        read_log,
        seal_certificates,
        trust_roots,
        verify_archive,
        verify_file,
    )
    from archive.store import archive_root
    from config.settings import load_settings
    from records.runtime import quiet_pyhanko
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    if not (ids or all_records or file):
        stop("name record ids, --all, or --file PATH")
    try:
        roots = trust_roots(settings.signing, home)
        seals = seal_certificates(settings.signing, home)
    except SigningError as exc:
        fail(exc)
    catalog = Catalog.open(settings.catalog_url())
    log: dict[str, Check] = {}
    verdicts: list[Verdict] = []
    if all_records:
        whole = verify_archive(archive, roots, seals, catalog)
        log, verdicts = whole.log, whole.records
    elif ids:
        state = read_log(home, roots, seals, all_signatures=False)
        log, verdicts = state.checks, check_fixity(archive, list(ids), roots, seals,
                                                   catalog=catalog, log=state)
    if file:
        verdicts.append(verify_file(file, roots))
    audit = AuditLog(home)
    for verdict in verdicts:
        audit.record(cli_user(), "verify", record_id=verdict.record_id,
                     outcome="ok" if verdict.ok else "failed",
                     **({} if verdict.record_id else {"file": str(verdict.path)}))
    ok = all(c.ok for c in log.values()) and all(v.ok for v in verdicts)
    if as_json:
        print_json({"ok": ok, "log": {n: {"ok": c.ok, "detail": c.detail}
                                      for n, c in log.items()},
                    "records": [v.as_dict() for v in verdicts]})
    else:
        if log:
            out.print(_log_table(log))
        out.print(_verdicts_table(verdicts))
    raise typer.Exit(ExitCode.ok if ok else ExitCode.failure)


def _log_table(checks: dict[str, Check]) -> Table:
    table = Listing(title="the archive's log: " + ("intact" if all(c.ok for c in checks.values())
                                                   else "FAILED"))
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for name, check in checks.items():
        table.add_row(name, _result(check.ok), check.detail)
    return table


def _verdicts_table(verdicts: list[Verdict]) -> Table:
    table = Listing(title=f"{sum(v.ok for v in verdicts)} of {len(verdicts)} copies verified")
    table.add_column("record", no_wrap=True)
    table.add_column("result")
    table.add_column("what is wrong", overflow="fold")
    for v in verdicts:
        # Failures one per line: each is shown literally, the breaks between them are ours.
        failures = Text("\n").join(literal(f) for f in v.failures())
        table.add_row(v.record_id or str(v.path), _result(v.ok), failures)
    return table


def _result(ok: bool) -> Text:
    return Text("ok", style="green") if ok else Text("FAILED", style="red")


def renew(
    ids: Annotated[list[str] | None, typer.Argument(metavar="RECORD_IDS", help="Record ids")
               ] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Every B-LTA record due")] = False,
    within: Annotated[int, typer.Option(help="With --all: renew when the last time-stamp's "
                                        "certificate expires within this many days")] = 365,
) -> None:
    """Add a fresh document time-stamp to B-LTA copies before their proof ages."""
    from archive.signing import (
        SigningError,
        is_due,
        renew_record,
        sign_options,
        signature_level_of,
    )
    from archive.store import archive_root, record_ids, recover
    from config.settings import load_settings
    from flows.token import load_shared_signer
    from records.runtime import quiet_pyhanko
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    recover(archive)
    try:
        signer = load_shared_signer(settings.signing, home)
        options = sign_options(settings.signing)
    except SigningError as exc:
        fail(exc)
    wanted = list(ids or [])
    if all_records:
        wanted = [r for r in record_ids(archive)
                  if signature_level_of(archive / r) == "B-LTA" and is_due(archive / r, within)]
    failed, renewed = False, 0
    for record_id in wanted:
        try:
            entry = renew_record(archive, record_id, signer, options)
            err.print(f"{record_id}: renewed, now {entry['pdf_sha256'][:16]}...")
            renewed += 1
        except RecordsError as exc:
            err.print(f"[red]{shown(record_id)}: {shown(exc.reason)}[/red]")
            failed = True
        except (OSError, ValueError) as exc:  # a damaged record: say so, renew the others
            err.print(f"[red]{shown(record_id)}: {shown(str(exc))}[/red]")
            failed = True
    if renewed:
        _sign_log(home, signer, options)
    err.print(f"{len(wanted)} record(s) considered")
    raise typer.Exit(ExitCode.failure if failed else ExitCode.ok)


def _sign_log(home: Path, signer: ArchiveSigner, options: SignOptions) -> None:
    from archive.signing import sign_log
    head, fallback = sign_log(home, signer, options)
    err.print(f"log head {head.number} signed: {head.tree_size} record versions"
              + (f" (without a time-stamp: {fallback})" if fallback else ""))


@log_app.command("sign")
def log_sign() -> None:
    """Sign a head of the archive's log as it is now (after each batch, renewal and
    migration this happens by itself; run it from cron to cover the audit log too)."""
    from archive.signing import SigningError, sign_options
    from config.settings import load_settings
    from flows.token import load_shared_signer
    from records.runtime import quiet_pyhanko
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    try:
        signer = load_shared_signer(settings.signing, home)
        options = sign_options(settings.signing)
    except SigningError as exc:
        fail(exc)
    _sign_log(home, signer, options)


@log_app.command("show")
def log_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest signed head: what an auditor keeps to check the archive later."""
    from archive.store import ArchiveLog
    from config.settings import load_settings
    stored, problems = ArchiveLog(load_settings().home.resolve()).heads()
    for problem in problems:
        err.print(f"[red]{shown(problem)}[/red]")
    if not stored:
        stop("no signed head yet: `records log sign` makes one", ExitCode.failure)
    latest = stored[-1]
    if as_json:
        out.print(latest.raw.decode(), soft_wrap=True, markup=False, highlight=False)
        return
    head = latest.head
    out.print(f"head {head.number}, signed {head.time}: {head.tree_size} record versions, "
              f"root {head.root}", soft_wrap=True)
    for name, chain in head.chains.items():
        out.print(f"  {name} log: {chain.entries} entries, last {chain.head}", soft_wrap=True)
    out.print(f"  {latest.path} (signature: {latest.path.with_suffix('.p7s').name})",
              soft_wrap=True)


def migrate() -> None:
    """Convert an archive written by records 0.1 (plain folders with manifest-sha256.txt)
    into OCFL objects and a signed log, keeping every byte; the old folder stays beside it
    as archive-0.1 until you remove it."""
    from archive.signing import (
        SigningError,
        sign_options,
        trust_roots,
        verify_record,
        vouch_with,
    )
    from archive.store import archive_root, is_legacy, legacy_size, migrate_archive
    from config.settings import load_settings
    from flows.token import load_shared_signer
    from records.runtime import quiet_pyhanko
    quiet_pyhanko()
    settings = load_settings()
    home = settings.home.resolve()
    archive = archive_root(home)
    if not is_legacy(archive):
        stop(f"nothing to migrate: {archive} is not an archive of the first layout")
    try:
        roots = trust_roots(settings.signing, home)
        signer = load_shared_signer(settings.signing, home)
        options = sign_options(settings.signing)
    except SigningError as exc:
        fail(exc)

    def check(staged: Path) -> list[str]:
        return verify_record(staged, roots).failures()

    done = migrate_archive(archive, check, vouch_with(signer))
    for record in done.records:
        if record.logged:
            err.print(f"{record.record_id}: {record.files} files, entered in the log")
        else:
            err.print(f"[red]{shown(record.record_id)}: migrated but NOT entered in the log: "
                      f"{shown('; '.join(record.problems))}[/red]")
    _sign_log(home, signer, options)
    refused = [r for r in done.records if not r.logged]
    err.print(f"{len(done.records)} records migrated, {len(refused)} not vouched for; the old "
              f"folder is {done.legacy} ({legacy_size(done.legacy) / 1e6:,.0f} MB): remove it "
              "once `records verify --all` passes")
    raise typer.Exit(ExitCode.failure if refused else ExitCode.ok)
