"""Verifying an archival copy: every promise the record makes, checked one by one, offline.

A copy passes only if its OCFL object is intact (every file its inventory names, with its
SHA-512, and nothing added), the log holds that very version under a signed head (checked by
the caller, ``archive.signing.heads``), the PDF is byte for byte what was recorded, the
certification signature is intact, valid and from the recorded, trusted certificate, nothing
but DSS and time-stamp updates came after it, a B-LTA copy gets an AdES "passed" verdict,
the XMP signed is the XMP the record describes (pyHanko's difference analysis lets a later
XMP replacement through, even under DocMDP P=1: we do not), and the unsigned revision is
still the validated PDF/A-2b. Each check names what is wrong when it fails.

Verification never fetches anything: revocation data must be in the file (B-LT, B-LTA) or is
not required (B-B, B-T), so the verdict is the same offline, years later.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
import pikepdf.pdfa
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from archive.signing.sign import FIELD_NAME
from archive.store import (
    Inventory,
    ObjectDamaged,
    RecordPaths,
    check_object,
    corrected_copy_name,
    descriptive_from,
    dublin_core,
    read_corrections,
    replayed,
)
from ocr.xmp import read_info

ACCEPTED_CHANGES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


LogCheck = Callable[[str, Inventory | None], Check]
"""Whether the log holds a record's current version: (record id, inventory) -> check."""


@dataclass
class Verdict:
    """The outcome for one copy: ``ok`` only if every check passed."""

    record_id: str | None
    path: Path
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks.values())

    def failures(self) -> list[str]:
        return [f"{name}: {c.detail}" for name, c in self.checks.items() if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "path": str(self.path), "ok": self.ok,
                "checks": {n: {"ok": c.ok, "detail": c.detail} for n, c in self.checks.items()}}


@dataclass(frozen=True)
class Expected:
    """What the record says the copy is; None fields are not checked (a loose file)."""

    pdf_sha256: str | None = None
    signature: dict[str, Any] | None = None
    dublin_core: Any = None


def expected_of(record_dir: Path) -> tuple[str, Expected, dict[str, Any]]:
    paths = RecordPaths(record_dir, record_dir.name)
    record = paths.read_sidecar()
    signature = record.get("signature") or {}
    renewals = _renewals(paths)
    current = renewals[-1]["pdf_sha256"] if renewals else signature.get("pdf_sha256")
    dc = dublin_core(descriptive_from(record), record["record_id"])
    return record["record_id"], Expected(current, signature or None, dc), record


def _renewals(paths: RecordPaths) -> list[dict[str, Any]]:
    path = paths.renewals
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else []


def verify_record(record_dir: Path, roots: list[x509.Certificate],
                  log: LogCheck | None = None) -> Verdict:
    """Verify an archived record object ``archive/<record id>``; ``log`` says whether the
    archive's log holds the object's current version (``archive.signing.heads``)."""
    verdict = Verdict(record_dir.name, record_dir)
    paths = RecordPaths(record_dir, record_dir.name)
    if not paths.committed:
        verdict.checks["object"] = Check(False, f"no record at {record_dir}")
        if log is not None:
            verdict.checks["log"] = log(record_dir.name, None)
        return verdict
    problems = check_object(record_dir)
    verdict.checks["object"] = Check(not problems, "; ".join(problems[:10]) or
                                     "every file matches the OCFL inventory")
    try:
        inventory = paths.inventory
    except ObjectDamaged as exc:
        verdict.checks["object"] = Check(False, exc.reason)
        return verdict
    if log is not None:
        verdict.checks["log"] = log(record_dir.name, inventory)
    try:
        record_id, expected, _ = expected_of(record_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        verdict.checks["sidecar"] = Check(False, f"record.json cannot be read: {_short(exc)}")
        return verdict
    paths = RecordPaths(record_dir, record_id)
    if not paths.pdf.is_file():
        verdict.checks["file"] = Check(False, f"the archival copy {paths.pdf.name} is missing")
        return verdict
    _verify_pdf(paths.pdf.read_bytes(), verdict, roots, expected)
    _guard(verdict.checks, "corrected-copies", lambda: _corrected_copies(paths, roots))
    return verdict


def _corrected_copies(paths: RecordPaths, roots: list[x509.Certificate]) -> Check | None:
    """Every signed corrected copy of the record's history (``archive.signing.derive``),
    each in the version that made it: the file its correction recorded, certified by a
    trusted key, PDF/A, its signed XMP the description of that version. None: no copies."""
    acts = read_corrections(paths)
    original = descriptive_from(paths.read_sidecar())
    made = [(n, act) for n, act in enumerate(acts) if act.copy]
    for n, act in made:
        name = corrected_copy_name(paths.record_id)
        if act.copy.get("file") != name:  # never another file, such as the archival copy
            return Check(False, f"{act.version} names {str(act.copy.get('file'))[:60]!r} as "
                                f"its corrected copy, not {name}")
        file = paths.file(name, act.version)
        if file is None:
            return Check(False, f"the corrected copy of {act.version} is missing")
        described = replayed(original, acts[:n + 1], paths.record_id)
        expected = Expected(str(act.copy.get("pdf_sha256") or "-"), act.copy,
                            dublin_core(described, paths.record_id))
        copy = verify_bytes(file.read_bytes(), roots, expected, paths.record_id)
        if not copy.ok:
            return Check(False, f"the corrected copy of {act.version}: {copy.failures()[0]}")
    if stray := _unmade_copy(paths, [act.version for _, act in made]):
        return Check(False, stray)
    if not made:
        return None
    return Check(True, f"the corrected copies of {', '.join(a.version for _, a in made)} are "
                       "signed, PDF/A, and say what their version says")


def verify_file(pdf: Path, roots: list[x509.Certificate]) -> Verdict:
    """Verify a loose copy (e.g. one downloaded): its own signature, trust and PDF/A.

    If the file is a record's current copy in the archive, the record's expectations apply
    too.
    """
    record = _record_holding(pdf)
    if record is not None:
        return verify_record(record, roots)
    verdict = Verdict(None, pdf)
    if not pdf.is_file():
        verdict.checks["file"] = Check(False, f"{pdf} does not exist")
        return verdict
    return _verify_pdf(pdf.read_bytes(), verdict, roots, Expected())


def _record_holding(pdf: Path) -> Path | None:
    """The record object whose current copy ``pdf`` is (``archive/<id>/vN/content/<id>.pdf``),
    if it is one."""
    for folder in pdf.resolve().parents:
        paths = RecordPaths(folder, folder.name)
        if paths.committed:
            try:
                return folder if paths.pdf == pdf.resolve() else None
            except ObjectDamaged:
                return None
    return None


def verify_bytes(data: bytes, roots: list[x509.Certificate], expected: Expected,
                 record_id: str | None = None) -> Verdict:
    """Verify a copy held in memory (e.g. just signed, before it is stored)."""
    return _verify_pdf(data, Verdict(record_id, Path(record_id or "<memory>")), roots, expected)


def _unmade_copy(paths: RecordPaths, made_in: list[str]) -> str:
    """Why a version holds a corrected copy no correction made ("" when none does): every
    version must hold exactly the copy of the latest correction before it that made one,
    or none, so a copy swapped in by a later version is not passed over."""
    name = corrected_copy_name(paths.record_id)
    inventory = paths.inventory
    for version in sorted(inventory.data["versions"], key=lambda v: int(v[1:])):
        earlier = [v for v in made_in if int(v[1:]) <= int(version[1:])]
        expected = inventory.state(earlier[-1]).get(name) if earlier else None
        actual = inventory.state(version).get(name)
        if actual != expected:
            return (f"{version} lost the corrected copy of {earlier[-1]}" if actual is None
                    else f"{version} holds a corrected copy that no correction made")
    return ""


def _verify_pdf(data: bytes, verdict: Verdict, roots: list[x509.Certificate],
                expected: Expected) -> Verdict:
    checks = verdict.checks
    if expected.pdf_sha256:
        actual = hashlib.sha256(data).hexdigest()
        checks["file-hash"] = _compare("whole-file SHA-256", actual, expected.pdf_sha256)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sig = next((s for s in reader.embedded_regular_signatures
                    if s.field_name == FIELD_NAME), None)
    except Exception as exc:
        checks["signature"] = Check(False, f"the PDF cannot be read: {_short(exc)}")
        return verdict
    if sig is None:
        checks["signature"] = Check(False, f"no {FIELD_NAME} certification signature")
        return verdict
    signed_end = sig.byte_range[2] + sig.byte_range[3]
    recorded = expected.signature or {}
    if recorded.get("signed_revision_sha256"):
        checks["signed-revision-hash"] = _compare(
            "signed-revision SHA-256", hashlib.sha256(data[:signed_end]).hexdigest(),
            recorded["signed_revision_sha256"])
    _guard(checks, "signature", lambda: _signature_checks(sig, roots, recorded, checks))
    level = recorded.get("level") or _level_of(reader, sig)
    if level == "B-LTA":
        _guard(checks, "ades", lambda: _ades(sig, roots))
    else:
        checks["ades"] = Check(True, f"not applicable: the copy is {level}, not B-LTA")
    _guard(checks, "xmp", lambda: _xmp(data, signed_end, expected))
    _guard(checks, "pdfa", lambda: _pdfa(data, sig.byte_range[1], recorded))
    return verdict


def _guard(checks: dict[str, Check], name: str, run: Callable[[], Check | None]) -> None:
    """Run one check; a file broken enough to raise fails that check, not the run."""
    try:
        result = run()
    except Exception as exc:
        result = Check(False, _short(exc))
    if result is not None:
        checks[name] = result


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _compare(what: str, actual: str, recorded: str) -> Check:
    if actual == recorded:
        return Check(True, f"{what} {actual[:16]}... matches the record")
    return Check(False, f"{what} is {actual[:16]}..., the record says {recorded[:16]}...: "
                        "the file changed since it was archived")


def _level_of(reader: PdfFileReader, sig: Any) -> str:
    """The PAdES level a loose file shows (a record states its own)."""
    if reader.embedded_timestamp_signatures:
        return "B-LTA"
    if "/DSS" in reader.root:
        return "B-LT"
    unsigned = sig.signer_info["unsigned_attrs"].native or []
    if any(a["type"] == "signature_time_stamp_token" for a in unsigned):
        return "B-T"
    return "B-B"


def _signature_checks(sig: Any, roots: list[x509.Certificate], recorded: dict[str, Any],
                      checks: dict[str, Check]) -> None:
    context = ValidationContext(trust_roots=roots, allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context)
    except SignatureValidationError as exc:
        checks["signature"] = Check(False, f"the signature is broken: {_short(exc)}")
        return
    checks["signature"] = Check(
        status.intact and status.valid,
        "intact and cryptographically valid" if status.intact and status.valid else
        ("the signed bytes changed (digest mismatch)" if not status.intact else
         "the signature value does not match the signer's key"))
    cert_sha = hashlib.sha256(status.signing_cert.dump()).hexdigest()
    subject = status.signing_cert.subject.human_friendly
    if recorded.get("signer", {}).get("certificate_sha256"):
        want = recorded["signer"]["certificate_sha256"]
        checks["signer"] = Check(cert_sha == want, f"signed by {subject}" if cert_sha == want
                                 else f"signed by {subject} (certificate {cert_sha[:16]}...), "
                                      f"but the record names certificate {want[:16]}...")
    if not (status.intact and status.valid):
        checks["trust"] = Check(False, "not assessed: the signature itself is broken")
        return
    checks["trust"] = Check(bool(status.trusted),
                            "the chain ends at a configured trust root" if status.trusted else
                            f"the certificate of {subject} does not chain to a trusted root")
    checks["certification"] = _certification(sig.docmdp_level, recorded)
    level = status.modification_level or ModificationLevel.NONE
    fine = level in ACCEPTED_CHANGES and status.docmdp_ok is not False
    checks["modifications"] = Check(
        fine, "nothing but DSS or time-stamp updates after signing" if fine else
        f"the file was changed after signing ({level.name.lower().replace('_', ' ')}"
        f"{', breaking the DocMDP permissions' if status.docmdp_ok is False else ''})")


def _certification(perm: Any, recorded: dict[str, Any]) -> Check:
    if perm is None:
        return Check(False, "an approval signature, not a certification (no DocMDP)")
    want = recorded.get("docmdp")
    if want is not None and perm.value != want:
        return Check(False, f"DocMDP P={perm.value}, the record says P={want}")
    return Check(True, f"certification signature, DocMDP P={perm.value}")


def _ades(sig: Any, roots: list[x509.Certificate]) -> Check:
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=roots),
            revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            RevinfoOnlineFetchingRule.LOCAL_ONLY),
    ))
    result = asyncio.run(ades_lta_validation(sig, spec))
    code = result.ades_subindic
    ok = code == AdESPassed.OK
    return Check(ok, f"AdES LTA verdict {type(code).__name__}.{code.name}")


def _xmp(data: bytes, signed_end: int, expected: Expected) -> Check:
    with pikepdf.open(io.BytesIO(data[:signed_end])) as signed:
        at_signing = read_info(signed)
    with pikepdf.open(io.BytesIO(data)) as current_pdf:
        current = read_info(current_pdf)
    if current != at_signing:
        return Check(False, "the XMP metadata was replaced after signing (fields: "
                     f"{', '.join(current.differences(at_signing))})")
    if expected.dublin_core is not None and at_signing != expected.dublin_core:
        return Check(False, "the signed XMP differs from the record's metadata (fields: "
                     f"{', '.join(at_signing.differences(expected.dublin_core))})")
    return Check(True, "signed XMP matches the record" if expected.dublin_core is not None
                 else "XMP unchanged since signing")


def _pdfa(data: bytes, contents_start: int, recorded: dict[str, Any]) -> Check:
    """The revision before the signature: the PDF/A that was validated, and still valid."""
    size = recorded.get("unsigned_size")
    if size is None:
        end = data.rfind(b"%%EOF", 0, contents_start)
        size = end + len(b"%%EOF") if end >= 0 else 0
    unsigned = data[:size]
    if recorded.get("unsigned_sha256"):
        digest = hashlib.sha256(unsigned).hexdigest()
        if digest != recorded["unsigned_sha256"]:
            return Check(False, "the unsigned revision is not the PDF/A that was validated")
    report = pikepdf.pdfa.validate_written(io.BytesIO(unsigned), "2b")
    if not report.passed:
        return Check(False, f"the unsigned revision fails PDF/A-2b: {report.findings[0]}")
    return Check(True, "the unsigned revision passes PDF/A-2b")
