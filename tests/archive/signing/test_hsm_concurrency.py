"""``signing.hsm_concurrency``: a signing token takes at most that many signatures at once,
however many threads ask. A real SoftHSM2 token, real pyHanko signing; the only thing
injected is a slow token (a pause inside its raw sign call) and a count of the calls in it.

The signing runs in a process of its own: SoftHSM reads its configuration once per process,
and the count must be taken where the token is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyhanko.keys import load_certs_from_pemder

from archive.signing import DevPki, Expected, promise_ok, verify_bytes
from archive.store import Leaf
from tests.archive.signing.test_pkcs11 import PIN, token  # noqa: F401 (a fixture)

THREADS = 6  # more than either setting allows
PAUSE = 0.4  # seconds the injected slow token takes per signature

# Loads the signer from the settings (RECORDS_SIGNING__*), as every command does, wraps its
# raw sign call to count the calls in flight, then signs copies (and seals log leaves, the
# other use of the key) from THREADS threads released at once.
SIGNING_RUN = """
import asyncio, json, sys, threading, time
from dataclasses import asdict
from pathlib import Path

from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import HTTPTimeStamper

from archive.signing import SignOptions, load_signer, sign_pdf, vouch_with
from archive.store import Leaf
from config.settings import load_settings

source, out, threads, pause, tsa = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), \\
    float(sys.argv[4]), sys.argv[5]
settings = load_settings()
signer = load_signer(settings.signing, settings.home.resolve())
raw = PKCS11Signer.async_sign_raw
asked = HTTPTimeStamper.async_request_tsa_response
guard = threading.Lock()
seen = {"now": 0, "max": 0, "calls": 0, "dry": 0, "tsa_now": 0, "during_tsa": 0}

async def counted(self, data, digest_algorithm, dry_run=False):
    if dry_run:  # sizing the signature slot: the token is not used
        with guard:
            seen["dry"] += 1
        return await raw(self, data, digest_algorithm, dry_run=True)
    with guard:
        seen["now"] += 1
        seen["calls"] += 1
        seen["max"] = max(seen["max"], seen["now"])
        seen["during_tsa"] += seen["tsa_now"] > 0  # another thread waits for the TSA
    try:
        time.sleep(pause)  # a slow token
        return await raw(self, data, digest_algorithm)
    finally:
        with guard:
            seen["now"] -= 1

async def slow_tsa(self, req):
    with guard:
        seen["tsa_now"] += 1
    try:
        time.sleep(pause * 3)  # a TSA far away answers slower than the token signs
        return await asked(self, req)
    finally:
        with guard:
            seen["tsa_now"] -= 1

# The token's own signing call, under whatever records puts around it.
PKCS11Signer.async_sign_raw = counted
HTTPTimeStamper.async_request_tsa_response = slow_tsa
start = threading.Barrier(threads)
results, errors = {}, []
vouch = vouch_with(signer)

def work(n):
    start.wait()
    try:
        if tsa:  # a time-stamped copy (B-T): the token signs, then the TSA is asked
            signature = sign_pdf(signer, SignOptions(level="B-T", tsa_url=tsa), source,
                                 out / f"signed-{n}.pdf")
            results[n] = {"signature": signature.as_dict()}
        elif n % 3 == 2:  # every third thread seals a log leaf instead of signing a copy
            leaf = vouch(Leaf(f"VP-2024-{n:06d}", "v1", f"{n:0128x}"))
            results[n] = {"leaf": [leaf.record_id, leaf.version, leaf.inventory_sha512,
                                   leaf.promise, leaf.signer]}
        else:
            signature = sign_pdf(signer, SignOptions(), source, out / f"signed-{n}.pdf")
            results[n] = {"signature": signature.as_dict()}
    except Exception as exc:
        errors.append(f"{n}: {type(exc).__name__}: {exc}")

workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print(json.dumps({"seen": seen, "results": results, "errors": errors}))
"""


def signing_env(conf: Path, pki: DevPki, home: Path, slots: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env.update(RECORDS_HOME=str(home), SOFTHSM2_CONF=str(conf), RECORDS_SIGNING_PIN=PIN,
               RECORDS_SIGNING__KEY="pkcs11", RECORDS_SIGNING__PKCS11_TOKEN="records",
               RECORDS_SIGNING__PKCS11_KEY_LABEL="seal",
               RECORDS_SIGNING__PKCS11_CERT_FILE=str(pki.chain("organisation")),
               RECORDS_SIGNING__TRUST_ROOTS=json.dumps([str(pki.root_cert)]),
               RECORDS_SIGNING__HSM_CONCURRENCY=str(slots))
    return env


def signing_run(conf: Path, pki: DevPki, pdfa: Path, out: Path, slots: int,
                tsa: str = "") -> dict:
    """SIGNING_RUN's report: what the threads saw, and each one's signature or leaf."""
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", SIGNING_RUN, str(pdfa), str(out), str(THREADS), str(PAUSE), tsa],
        env=signing_env(conf, pki, out.parent / "home", slots), capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == [], report["errors"]
    return report


@pytest.mark.parametrize("slots", [1, 2])
def test_no_more_token_signatures_at_once_than_hsm_concurrency(
        slots: int, token: Path, pki: DevPki, pdfa: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "signed"
    report = signing_run(token, pki, pdfa, out, slots)
    seen = report["seen"]
    assert seen["calls"] == THREADS and seen["now"] == 0  # every thread used the token once
    # Six threads released at once against a token that takes PAUSE per signature: the
    # setting is the bound, and it is reached (the value is the one used, not 1 always).
    assert seen["max"] == slots, seen

    roots = list(load_certs_from_pemder([str(pki.root_cert)]))
    [seal] = list(load_certs_from_pemder([str(pki.chain("organisation"))]))[:1]
    copies = leaves = 0
    for n, result in report["results"].items():
        if "signature" in result:
            signature = result["signature"]
            data = (out / f"signed-{n}.pdf").read_bytes()
            assert hashlib.sha256(data).hexdigest() == signature["pdf_sha256"]
            assert signature["signer"]["key"] == "pkcs11"
            verdict = verify_bytes(data, roots, Expected(signature["pdf_sha256"], signature))
            assert verdict.ok, verdict.failures()
            copies += 1
        else:
            record_id, version, digest, promise, signer = result["leaf"]
            leaf = Leaf(record_id, version, digest, promise, signer)
            assert len(base64.b64decode(promise)) == 256  # an RSA-2048 signature
            assert promise_ok(leaf, [seal]), leaf
            leaves += 1
    assert (copies, leaves) == (4, 2)


def test_a_slow_time_stamp_authority_holds_no_token_slot(
        token: Path, animator: DevPki, pdfa: Path, tmp_path: Path) -> None:  # noqa: F811
    """With one slot, six threads signing time-stamped copies: while one waits for a slow TSA
    the token signs for another (the slot covers the token's own work only), still never two
    at once, and every copy's time-stamp verifies."""
    out = tmp_path / "signed"
    report = signing_run(token, animator, pdfa, out, 1, tsa=animator.tsa_url)
    seen = report["seen"]
    assert seen["calls"] == THREADS and seen["max"] == 1, seen
    assert seen["during_tsa"] > 0, seen  # a held slot would have made every thread wait
    roots = list(load_certs_from_pemder([str(animator.root_cert)]))
    for n, result in report["results"].items():
        signature = result["signature"]
        assert signature["level"] == "B-T"
        data = (out / f"signed-{n}.pdf").read_bytes()
        verdict = verify_bytes(data, roots, Expected(signature["pdf_sha256"], signature))
        assert verdict.ok, verdict.failures()


def test_hsm_concurrency_below_one_is_refused(token: Path, pki: DevPki,  # noqa: F811
                                              tmp_path: Path) -> None:
    """0 would mean no signature ever: the settings refuse it, naming the key."""
    env = signing_env(token, pki, tmp_path / "home", 0)
    done = subprocess.run([sys.executable, "-m", "records.cli", "log", "sign"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "signing.hsm_concurrency" in done.stderr and "Traceback" not in done.stderr
