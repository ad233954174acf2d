"""Signing: archival copies certified with PAdES, verified offline, renewed, audited for fixity.

Each record's PDF/A is certified once with the organisation's key (``sign``: a PKCS#12 file or
a PKCS#11 token, loaded once per run); every promise a record makes is checked by
``verify``, by ``records verify`` and by the nightly ``fixity`` audit, which logs each outcome;
B-LTA copies get fresh document time-stamps before their proof ages (``renew``). ``devpki``
makes a development PKI, marked NOT FOR PRODUCTION. Stands on the record store and the index
(the fixity audit notes its verifications in the catalog).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "devpki": ["DEFAULT_SERVICE_URL", "WARNING", "DevPki", "dev_pki", "init_dev_pki"],
    "fixity": ["check_fixity", "due_for_check"],
    "renew": ["NotRenewable", "is_due", "last_timestamp_expiry", "renew_record",
              "signature_level_of"],
    "sign": ["FIELD_NAME", "ArchiveSigner", "Signature", "SignOptions", "SigningError",
             "SigningSetupError", "TsaUnavailable", "load_pkcs12", "load_signer", "public_url",
             "sign_archival", "sign_options", "sign_pdf", "signed_revision_sha256",
             "trust_roots", "validation_context"],
    "verify": ["Check", "Expected", "Verdict", "expected_of", "verify_bytes", "verify_file",
               "verify_record"],
})
