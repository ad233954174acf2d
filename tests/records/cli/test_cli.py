"""End to end through the installed ``records`` command, as a records officer runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pikepdf.pdfa

from archive.store import RecordPaths
from tests.archive.signing.test_tamper import ocfl_validate
from tests.conftest import Scans, cer, pdftotext
from tests.waiting import wait_until

RECORDS = [sys.executable, "-m", "records.cli"]


def run(args: list[str], home: Path, env_extra: dict[str, str] | None = None,
        **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECORDS_", "PREFECT_")) and k != "PYTHONWARNINGS"}
    env["RECORDS_HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([*RECORDS, *args], env=env, capture_output=True, text=True,
                           timeout=600, **kwargs)


def test_ocr_writes_searchable_pdfa(scans: Scans, tmp_path: Path) -> None:
    first, text1 = scans.page("vie", seed=31, skew=-1.5)
    second, text2 = scans.page("vie", seed=32, rotation=180, bilevel=True, encoding="tiff-g4")
    out = tmp_path / "out.pdf"
    done = run(["ocr", str(first), str(second), "-o", str(out), "--lang", "vie"], tmp_path / "h")
    assert done.returncode == 0, done.stderr
    assert pikepdf.pdfa.validate_written(out, "2b").passed
    assert cer(text1 + "\n" + text2, pdftotext(out)) < 0.03
    assert not (tmp_path / "h" / "archive").exists()  # `records ocr` archives nothing


def test_ocr_refuses_bad_input_with_reason(tmp_path: Path) -> None:
    bad = tmp_path / "scan.tif"
    bad.write_text("hello")
    done = run(["ocr", str(bad), "-o", str(tmp_path / "out.pdf")], tmp_path / "h")
    assert done.returncode == 3
    assert "not an image or PDF" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_queue_json_status_and_exit_codes(scans: Scans, tmp_path: Path, home: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=33)
    (batch / "letter.png").write_bytes(page.read_bytes())
    (batch / "broken.pdf").write_bytes(b"%PDF-1.4\n% cut off")
    done = run(["queue", str(batch), "--unit", "TCCT", "--json"], home)
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"batch_id", "documents", "warnings"} and result["warnings"] == []
    docs = {d["source"]: d for d in result["documents"]}
    assert set(docs["letter.png"]) == {"source", "record_id", "status", "reason", "pages"}
    assert docs["letter.png"]["status"] == "archived" and docs["letter.png"]["pages"] == 1
    assert docs["letter.png"]["record_id"].startswith("TCCT-")
    assert docs["broken.pdf"]["status"] == "quarantined"
    assert "damaged PDF" in docs["broken.pdf"]["reason"]
    status = run(["status", result["batch_id"], "--json"], home)
    assert json.loads(status.stdout)["effective_state"] == "finished"
    listing = run(["status"], home)
    assert result["batch_id"] in listing.stdout

    record_id = docs["letter.png"]["record_id"]
    checked = run(["verify", "--all", "--json"], home)
    assert checked.returncode == 0, checked.stdout
    [verdict] = json.loads(checked.stdout)["records"]
    assert verdict["record_id"] == record_id and verdict["ok"]
    assert all(c["ok"] for c in verdict["checks"].values())
    assert all(c["ok"] for c in json.loads(checked.stdout)["log"].values())
    assert ocfl_validate(home / "archive").returncode == 0  # what a batch writes is OCFL
    pdf = RecordPaths(home / "archive" / record_id, record_id).pdf
    report = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
    assert "Signature is Valid." in report  # poppler's independent second opinion

    pdf.chmod(0o644)
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pdf.write_bytes(bytes(data))
    broken = run(["verify", record_id, "--json"], home)
    assert broken.returncode == 1
    [verdict] = json.loads(broken.stdout)["records"]
    assert not verdict["ok"] and not verdict["checks"]["file-hash"]["ok"]
    assert run(["verify"], home).returncode == 2


def test_queue_without_a_key_is_refused_up_front(scans: Scans, tmp_path: Path) -> None:
    page, _ = scans.page("eng", seed=33)
    done = run(["queue", str(page), "--unit", "VP"], tmp_path / "h")
    assert done.returncode == 2
    assert "records keys init" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "h" / "archive").exists()


def test_keys_init_makes_a_marked_dev_pki_once(tmp_path: Path) -> None:
    made = run(["keys", "init"], tmp_path / "h")
    assert made.returncode == 0, made.stderr
    assert "NOT FOR PRODUCTION" in made.stderr
    assert (tmp_path / "h" / "keys" / "organisation.p12").stat().st_mode & 0o077 == 0
    again = run(["keys", "init"], tmp_path / "h")
    assert again.returncode == 2 and "--force" in again.stderr


def test_kill_9_mid_batch_then_rerun_finishes_without_redoing(scans: Scans, tmp_path: Path,
                                                              home: Path) -> None:
    batch = tmp_path / "batch"
    for number in range(1, 4):
        record = batch / f"record-{number}"
        record.mkdir(parents=True)
        for page in (1, 2):
            path, _ = scans.page("eng", seed=40 + number * 2 + page)
            (record / f"page-{page}.png").write_bytes(path.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    victim = subprocess.Popen([*RECORDS, "queue", str(batch), "--unit", "VP", "--json"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    cache = home / "cache" / "pages"
    wait_until(lambda: len(list(cache.rglob("result.json"))) >= 2,
               "two pages recognised, to kill the batch in the middle of", 300, process=victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    survivors = {p: p.stat().st_mtime_ns for p in cache.rglob("result.json")}
    assert 2 <= len(survivors) < 6, "the kill came too late to test anything"
    for record in (home / "archive").glob("VP-*"):
        assert (record / "manifest-sha256.txt").is_file()  # whole records only
    [ledger] = (home / "batches").glob("*.json")
    state = json.loads(run(["status", ledger.stem, "--json"], home).stdout)
    assert state["effective_state"] == "interrupted"

    reserved = _reservations(home)  # ids the killed run gave the scans it reached

    again = run(["queue", str(batch), "--unit", "VP", "--json"], home)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in survivors} == survivors  # not recognised again
    ids = sorted(d["record_id"] for d in json.loads(again.stdout)["documents"])
    assert len(set(ids)) == 3
    # Each unit and year counts from 1 without a gap: no id was minted and then dropped.
    prefixes = Counter(record_id.rsplit("-", 1)[0] for record_id in ids)
    assert ids == sorted(f"{prefix}-{n:06d}" for prefix, count in prefixes.items()
                         for n in range(1, count + 1))
    after = _reservations(home)
    assert after.items() >= reserved.items()  # the killed run's reservations were reused
    assert sorted(after.values()) == ids
    assert sorted(p.name for p in (home / "archive").glob("VP-*")) == ids


def _reservations(home: Path) -> dict[str, str]:
    """Content hash -> record id, as reserved before a commit (``work/by-hash``)."""
    return {p.name: p.read_text(encoding="utf-8").strip()
            for p in (home / "work" / "by-hash").glob("*")}


def embedded_servers(prefect_home: Path) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"prefect.server.api.server:create_app" in (proc / "cmdline").read_bytes() and \
                    f"PREFECT_HOME={prefect_home}".encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_kill_9_of_the_run_alone_then_the_next_run_stops_its_server(
        scans: Scans, tmp_path: Path, home: Path) -> None:
    """kill -9 of `records queue` (not its children) leaves the embedded Prefect server
    running on the home's database; the next run stops it and finishes the batch."""
    batch = tmp_path / "batch"
    batch.mkdir()
    page, _ = scans.page("eng", seed=47)
    (batch / "letter.png").write_bytes(page.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    victim = subprocess.Popen([*RECORDS, "queue", str(batch), "--unit", "VP", "--json"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: embedded_servers(home / "prefect"), "the run's embedded Prefect server",
               120, process=victim)
    [orphan] = embedded_servers(home / "prefect")
    victim.kill()
    victim.wait()
    time.sleep(1)
    assert embedded_servers(home / "prefect") == [orphan]  # left behind
    again = run(["queue", str(batch), "--unit", "VP", "--json"], home)
    assert again.returncode == 0, again.stderr
    assert orphan not in embedded_servers(home / "prefect")
    assert [d["status"] for d in json.loads(again.stdout)["documents"]] == ["archived"]


def test_demo_archives_the_good_and_quarantines_the_bad(tmp_path: Path) -> None:
    """`make demo` runs this: it must end with every good letter archived."""
    done = run(["demo", "--letters", "2"], tmp_path / "h")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "h" / "archive").glob("*-*-*"))) == 2
    reasons = list((tmp_path / "h" / "quarantine").rglob("*.reason.json"))
    assert len(reasons) == 4
    assert "NOT FOR PRODUCTION" in done.stderr  # the demo made, and said, its dev PKI
    checked = run(["verify", "--all"], tmp_path / "h")
    assert checked.returncode == 0, checked.stdout
    found = run(["search", "cong hoa xa hoi", "--json"], tmp_path / "h")  # no diacritics typed
    assert json.loads(found.stdout)["total"] == 1, found.stdout
    roadmap_of_the_demo(tmp_path / "h")


def roadmap_of_the_demo(home: Path) -> None:
    """A manager's view of the demo: the example roadmap, with the demo's real progress."""
    shown = run(["roadmap", "--json"], home)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert len(data["units"]) == 24 and data["overall"]["records"] == 2
    busy = {u["unit"]: u for u in data["units"] if u["records"]}
    assert set(busy) <= {"VP", "LT", "HN"}  # the demo files its letters with these units
    assert sum(u["signed"] for u in busy.values()) == 2
    assert data["overall"]["quarantined"] == 4  # the broken files, counted for LT
    assert data["overall"]["units_signing_with_org"] == len(busy)
    for entry in busy.values():
        org = next(t for t in entry["targets"] if t["metric"] == "signs_with_org")
        assert org["status"] == "met" and org["value"] == data["as_of"]
    table = run(["roadmap", "--unit", "LT"], home)
    assert table.returncode == 0 and "Trung tâm Lưu trữ" in table.stdout
    rows = run(["roadmap", "--csv"], home).stdout.splitlines()
    assert rows[0].startswith("period,as_of,unit") and len(rows) > 24 * 8
    past = json.loads(run(["roadmap", "--json", "--as-of", "2024-06-30"], home).stdout)
    assert past["period"] == "2024" and past["overall"]["records"] == 0
    assert run(["roadmap", "--as-of", "30/06/2024"], home).returncode == 2
    assert run(["roadmap", "--unit", "XX"], home).returncode == 2
    set_ = run(["roadmap", "milestone", "hsm-seal", "in progress", "--note", "HSM ordered"], home)
    assert set_.returncode == 0, set_.stderr
    again = json.loads(run(["roadmap", "--json", "--unit", "CNTT"], home).stdout)
    [hsm] = [t for t in again["units"][0]["targets"] if t["id"] == "hsm-seal"]
    assert hsm["value"] == "in progress"
    assert run(["roadmap", "milestone", "hsm-seal", "finished"], home).returncode == 2


def test_roadmap_check_names_the_problems(tmp_path: Path) -> None:
    bad = tmp_path / "roadmap.toml"
    bad.write_text('[[periods]]\nid = "2024"\nstart = 2024-01-01\nend = 2024-12-31\n'
                   '[[units]]\ncode = "VP"\n[[targets]]\nid = "signed"\n'
                   'metric = "signed_share"\nperiod = "2024"\nunits = ["VP", "ZZ"]\n'
                   'threshold = 0.8\n', encoding="utf-8")
    done = run(["roadmap", "check", str(bad)], tmp_path / "h")
    assert done.returncode == 2
    assert "has no due date" in done.stderr and "Traceback" not in done.stderr
    assert run(["roadmap", "check"], tmp_path / "h").returncode == 0  # the shipped example
    env_file = tmp_path / "settings.toml"
    env_file.write_text(f'[roadmap]\nfile = "{bad}"\n', encoding="utf-8")
    shown = run(["roadmap"], tmp_path / "h", env_extra={"RECORDS_CONFIG": str(env_file)})
    assert shown.returncode == 2 and "cannot be used" in shown.stderr


def test_search_show_export_and_reindex(scans: Scans, tmp_path: Path, home: Path) -> None:
    """An archivist's day: find by words typed without diacritics, read, export, and the
    catalog rebuilt from the archive folder alone answers the same."""
    import bagit

    batch = tmp_path / "batch"
    batch.mkdir()
    for language, seed in (("vie", 51), ("deu", 52)):
        page, _ = scans.page(language, seed=seed)
        (batch / f"{language}.png").write_bytes(page.read_bytes())
    (batch / "manifest.csv").write_text("source,language\nvie.png,vie\ndeu.png,deu\n")
    queued = run(["queue", str(batch), "--unit", "TCCT", "--json"], home)
    assert queued.returncode == 0, queued.stderr
    ids = {d["source"]: d["record_id"] for d in json.loads(queued.stdout)["documents"]}

    def found(query: str) -> dict:
        done = run(["search", query, "--json"], home)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    vie = found("cong hoa xa hoi chu nghia")
    assert [h["record_id"] for h in vie["hits"]] == [ids["vie.png"]]
    assert set(vie["hits"][0]) == {"record_id", "title", "unit", "date", "page", "snippet",
                                   "score"}
    assert "<mark>CỘNG</mark>" in vie["hits"][0]["snippet"]  # the page's own spelling
    assert vie["hits"][0]["page"] == 1 and vie["hits"][0]["date"] == "2025-09-17"
    german = found("behorde*")  # the page says "Behördennetz"
    assert [h["record_id"] for h in german["hits"]] == [ids["deu.png"]]
    assert "<mark>Behördennetz</mark>" in german["hits"][0]["snippet"]
    assert found("ke hoach")["total"] == 1 and found("Behördennetz")["total"] == 1
    assert found("ke hoach")["order"] == "relevance"
    listed = json.loads(run(["search", "cong OR behorde*", "--json"], home).stdout)
    assert listed["order"] == "relevance" and listed["total"] == 2  # every match ranked
    bad = run(["search", "(ke hoach"], home)
    assert bad.returncode == 2 and "never closed" in bad.stderr and "Traceback" not in bad.stderr

    shown = run(["show", ids["vie.png"], "--json"], home)
    assert json.loads(shown.stdout)["descriptive"]["document_type"] == "KẾ HOẠCH"

    exported = run(["export", ids["vie.png"], str(tmp_path / "out")], home)
    assert exported.returncode == 0, exported.stderr
    bag = bagit.Bag(str(tmp_path / "out" / ids["vie.png"]))
    assert bag.is_valid() and "sha256" in bag.algorithms
    assert (tmp_path / "out" / ids["vie.png"] / "data" / "object" / "v1" / "content" /
            f"{ids['vie.png']}.pdf").is_file()

    before = [found(q) for q in ("cong hoa", "behorde*", "digit*", "tong cuc OR munchen")]
    (home / "catalog.sqlite").unlink()
    for extra in home.glob("catalog.sqlite-*"):
        extra.unlink()
    rebuilt = run(["reindex"], home)
    assert rebuilt.returncode == 0 and "2 records" in rebuilt.stderr
    assert [found(q) for q in ("cong hoa", "behorde*", "digit*", "tong cuc OR munchen")] == before


def test_renew_names_each_damaged_record_and_goes_on(home: Path) -> None:
    """One record whose copy is gone and one whose sidecar is damaged: each is reported, the
    run goes on to the end and exits 1, with no traceback."""
    for record_id, sidecar in (("VP-2024-000001", '{"signature": {"level": "B-LTA"}}'),
                               ("VP-2024-000002", "{not json")):
        (home / "archive" / record_id).mkdir(parents=True)
        (home / "archive" / record_id / "record.json").write_text(sidecar)
    done = run(["renew", "VP-2024-000001", "VP-2024-000002", "VP-2024-000003"], home)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "VP-2024-000001", "VP-2024-000002", "VP-2024-000003"]
    assert "no record VP-2024-000003" in lines[2] and lines[3] == "3 record(s) considered"


def test_audit_log_damage_is_named_and_a_rewrite_caught_without_a_kept_head(home: Path) -> None:
    from archive.access import AuditLog
    from tests.archive.signing.test_tamper import rechain

    audit = AuditLog(home)
    for n in range(3):
        audit.record("lan", "search", query=f"q{n}")
    assert run(["log", "sign"], home).returncode == 0
    assert run(["audit", "verify"], home).returncode == 0
    rechain(audit.path, lambda entry: entry.update(query="nothing to see"))
    rewritten = run(["audit", "verify"], home)
    assert rewritten.returncode == 1 and "entries were rewritten" in rewritten.stderr
    with audit.path.open("ab") as handle:  # a crash mid-append leaves half a line
        handle.write(b'{"time": "2026-')
    audit.record("lan", "view", record_id="VP-2024-000001")
    lines = audit.path.read_bytes().splitlines()
    assert lines[-2] == b'{"time": "2026-' and json.loads(lines[-1])["action"] == "view"
    shown = run(["audit", "show"], home)
    assert shown.returncode == 0 and "view" in shown.stdout and "Traceback" not in shown.stderr
    damaged = run(["audit", "verify"], home)
    assert damaged.returncode == 1 and "line 4 is damaged: not a JSON entry" in damaged.stderr
    assert "Traceback" not in damaged.stderr
