"""A signing token shared by the workers of a Prefect server (``flows.token``), for real: a
Prefect server, a SoftHSM2 token, certomancer's TSA, and two worker processes signing
time-stamped copies with the signer the flows load (B in a task of a flow run, as a batch
signs).

Two promises, each made to happen rather than hoped for:
- the server's `records-hsm` limit (one slot) keeps the two processes out of the token at
  the same time: worker A stays in the token until B has asked for its slot, and B gets in
  only after A has left;
- the slot covers the token's own work only: A's time-stamp authority answers only once B
  has signed, which a slot held through the TSA's answer would never let happen.

Only the waits are injected (a token and a TSA that pause until the other worker has done
something); the signatures, the slot and the time-stamps are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pyhanko.keys import load_certs_from_pemder

from archive.signing import DevPki, Expected, verify_bytes
from tests.archive.signing.test_hsm_concurrency import signing_env
from tests.archive.signing.test_pkcs11 import token  # noqa: F401 (a fixture)
from tests.conftest import free_port
from tests.records.cli.test_workers import prefect_server  # noqa: F401 (a fixture)
from tests.waiting import wait_until

WAIT = 120  # seconds a worker waits for the other before it gives up, naming what it missed

# One worker: loads the signer as a flow does (load_shared_signer), injects a pause into the
# token's raw sign call and the TSA's answer, then signs one time-stamped copy. Each worker
# notes when it entered and left the token (CLOCK_MONOTONIC, the same in both processes).
WORKER = """
import json, sys, time
from pathlib import Path

from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import HTTPTimeStamper

from archive.signing import SignOptions, sign_pdf
from config.settings import load_settings
from flows.token import load_shared_signer

role, source, folder, tsa, wait = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), \\
    sys.argv[4], float(sys.argv[5])
settings = load_settings()
signer = load_shared_signer(settings.signing, settings.home.resolve())
raw = PKCS11Signer.async_sign_raw
asked = HTTPTimeStamper.async_request_tsa_response
seen = {}

def flag(name):
    (folder / name).write_text(str(time.monotonic()))

def until(name, why):
    deadline = time.monotonic() + wait
    while not (folder / name).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"worker {role}: {why}")
        time.sleep(0.05)

async def token(self, data, digest_algorithm, dry_run=False):
    if dry_run:
        return await raw(self, data, digest_algorithm, dry_run=True)
    seen["entered"] = time.monotonic()
    flag(f"{role}-in-token")
    if role == "a":  # stay in the token until B has asked for the slot, and a while after
        until("b-asks", "B never asked for the token's slot")
        time.sleep(1)
    try:
        return await raw(self, data, digest_algorithm)
    finally:
        seen["left"] = time.monotonic()
        flag(f"{role}-signed")

async def tsa_answer(self, req):
    # pyHanko asks the TSA once before signing too, to size the signature: only the
    # time-stamp of A's signature, once made, waits.
    if role == "a" and (folder / "a-signed").exists():  # slower than B's signature
        until("b-signed", "B never signed while A waited for the time-stamp authority")
    return await asked(self, req)

shared = signer.signer.shared
def asking():  # B, about to take the server's slot
    flag(f"{role}-asks")
    return shared()

PKCS11Signer.async_sign_raw = token
HTTPTimeStamper.async_request_tsa_response = tsa_answer
signer.signer.shared = asking
if role == "b":  # B asks while A is in the token
    until("a-in-token", "A never entered the token")

def sign():
    return sign_pdf(signer, SignOptions(level="B-T", tsa_url=tsa), source,
                    folder / f"signed-{role}.pdf").as_dict()

if role == "b":  # as in a batch: a task of a flow run, in the task runner's thread
    from prefect import flow, task

    @flow
    def signing_flow():
        return task(sign).submit().result()

    signature = signing_flow()
else:
    signature = sign()
print(json.dumps({"seen": seen, "signature": signature}))
"""


def make_limit(env: dict[str, str]) -> None:
    """The server's `records-hsm` limit, as `records deploy` makes it, with one slot."""
    done = subprocess.run(
        [sys.executable, "-c", "from flows.deployments import ensure_hsm_limit; "
                               "ensure_hsm_limit(1)"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_workers_share_the_token_but_not_the_wait_for_the_time_stamp(
        prefect_server: str, token: Path, animator: DevPki, pdfa: Path,  # noqa: F811
        tmp_path: Path) -> None:
    env = signing_env(token, animator, tmp_path / "home", 1)
    env.update(PREFECT_API_URL=prefect_server, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_HOME=str(tmp_path / "prefect"))
    make_limit(env)
    folder = tmp_path / "flags"
    folder.mkdir()
    workers = {role: subprocess.Popen(
        [sys.executable, "-c", WORKER, role, str(pdfa), str(folder), animator.tsa_url,
         str(WAIT)],
        env=env | {"RECORDS_HOME": str(tmp_path / f"home-{role}")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for role in "ab"}
    wait_until(lambda: all(w.poll() is not None for w in workers.values()),
               "both workers to sign", WAIT * 3)
    reports = {}
    for role, worker in workers.items():
        out, err = worker.communicate()
        assert worker.returncode == 0, f"worker {role}: {err[-3000:]}"
        reports[role] = json.loads(out.strip().splitlines()[-1])

    a, b = reports["a"]["seen"], reports["b"]["seen"]
    # The server's slot kept B out while A was in the token, though B asked meanwhile.
    asked = float((folder / "b-asks").read_text())
    assert a["entered"] < asked < a["left"] <= b["entered"], (a, asked, b)
    # B signed while A waited for its time-stamp: A's TSA answered only after B had signed.
    roots = list(load_certs_from_pemder([str(animator.root_cert)]))
    for role, report in reports.items():
        signature = report["signature"]
        assert signature["level"] == "B-T", role
        data = (folder / f"signed-{role}.pdf").read_bytes()
        verdict = verify_bytes(data, roots, Expected(signature["pdf_sha256"], signature))
        assert verdict.ok, (role, verdict.failures())


def test_deploy_sizes_the_servers_token_limit_to_hsm_concurrency(
        prefect_server: str, tmp_path: Path) -> None:  # noqa: F811
    """`records deploy` makes the limit the signer takes, sized to signing.hsm_concurrency."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env.update(PREFECT_API_URL=prefect_server, RECORDS_HOME=str(tmp_path),
               PREFECT_HOME=str(tmp_path / "prefect"),
               RECORDS_SIGNING__HSM_CONCURRENCY="3")
    done = subprocess.run(
        [sys.executable, "-c",
         "from prefect import get_client\n"
         "from config.settings import load_settings\n"
         "from flows.deployments import ensure_hsm_limit\n"
         "from flows.token import HSM_LIMIT\n"
         "ensure_hsm_limit(load_settings().signing.hsm_concurrency)\n"
         "with get_client(sync_client=True) as client:\n"
         "    limit = client.read_global_concurrency_limit_by_name(HSM_LIMIT)\n"
         "print(limit.name, limit.limit, limit.active)"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["records-hsm", "3", "True"]


def test_a_server_that_does_not_answer_refuses_the_signature_naming_it(
        token: Path, pki: DevPki, pdfa: Path, tmp_path: Path) -> None:  # noqa: F811
    """No slot can be had, so the token is not used (another worker may hold it): the
    signature is refused in one line that names the server, not the token."""
    api = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    env = signing_env(token, pki, tmp_path / "home", 1) | {
        "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect")}
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys\n"
         "from pathlib import Path\n"
         "from archive.signing import SigningError, SignOptions, sign_pdf\n"
         "from config.settings import load_settings\n"
         "from flows.token import load_shared_signer\n"
         "settings = load_settings()\n"
         "signer = load_shared_signer(settings.signing, settings.home.resolve())\n"
         "try:\n"
         "    sign_pdf(signer, SignOptions(), Path(sys.argv[1]), Path(sys.argv[2]))\n"
         "except SigningError as exc:\n"
         "    print(exc.reason)\n",
         str(pdfa), str(tmp_path / "signed.pdf")],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (
        f"the Prefect server {api} gave no slot of the signing token's limit 'records-hsm': "
        "is it running? Nothing was signed"), done.stdout
    assert not (tmp_path / "signed.pdf").exists()
