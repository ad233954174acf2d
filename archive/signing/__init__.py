"""Signing: archival copies certified with PAdES, the archive's log signed, every promise
verified offline, copies renewed and exported with their proof.

Each record's PDF/A is certified once with the organisation's key (``sign``: a PKCS#12 file or
a PKCS#11 token, loaded once per run), and the archive's log gets a signed tree head after
every change (``heads``). ``verify`` checks every promise a record makes, ``fixity`` checks
the whole archive against the log (missing, added, changed, unreadable: each named) and logs
each outcome; B-LTA copies get fresh document time-stamps before their proof ages
(``renew``); ``export`` writes a verified record with its proof as a bag. ``devpki`` makes a
development PKI, marked NOT FOR PRODUCTION. Stands on the record store and the index (the
fixity audit notes its verifications in the catalog).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "derive": ["CorrectedCopy", "Sealer", "archival_unsigned", "corrected_altos",
               "make_corrected_copy"],
    "devpki": ["DEFAULT_SERVICE_URL", "WARNING", "DevPki", "dev_pki", "init_dev_pki"],
    "export": ["Exported", "NotExported", "export_record"],
    "fixity": ["ArchiveVerdict", "check_fixity", "due_for_check", "stray", "verify_archive"],
    "heads": ["LogState", "inclusion", "promise_ok", "read_log", "sign_bytes", "sign_log",
              "verify_signature", "vouch_with"],
    "renew": ["NotRenewable", "is_due", "last_timestamp_expiry", "renew_record",
              "signature_level_of"],
    "sign": ["FIELD_NAME", "ArchiveSigner", "Signature", "SignOptions", "SigningError",
             "SigningSetupError", "TsaUnavailable", "load_pkcs12", "load_signer", "public_url",
             "sign_archival", "sign_options", "sign_pdf", "signed_revision_sha256",
             "seal_certificates", "trust_roots", "validation_context"],
    "verify": ["Check", "Expected", "LogCheck", "Verdict", "expected_of", "verify_bytes",
               "verify_file", "verify_record"],
})
