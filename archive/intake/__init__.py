"""Intake: what comes in, and what is said about it before and after it is archived.

Scanning stations drop batch folders into a hot folder (``inbox``); records officers describe
records in a batch's manifest (``manifest``); what cannot be archived is set aside with its
reason, originals untouched (``quarantine``); each batch's progress and outcome are kept in a
ledger (``ledger``); batches sent from a browser are received whole or not at all
(``upload``); a letter's number, date, issuer, type and title are read off its first
page (``extract``; issuers matched against the authority list, ``authority``) and merged
with what people said (``describe``). Stands on the record store and the index (its
folding of text).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "authority": ["Authority", "AuthorityError", "AuthorityList", "AuthorityMatch",
                  "IssuerReading", "check_list", "load_authorities", "save_authority"],
    "describe": ["describe_record", "given_fields"],
    "extract": ["LANGUAGES", "Extracted", "extract_fields"],
    "inbox": ["FAILED", "HOLDING", "MARKER", "QUEUED", "REFUSED", "Inbox", "InboxError",
              "Ready", "Scan", "Snapshot", "claim", "holding", "listing", "problems",
              "reason_path", "refusal_text", "remove_marker", "set_aside", "snapshot",
              "watching"],
    "ledger": ["OUTCOMES", "BatchReport", "DocumentStatus", "Ledger", "load_report"],
    "manifest": ["FIELDS", "Assignment", "Manifest", "Row", "assign", "name_key",
                 "read_manifest"],
    "quarantine": ["quarantine_document"],
    "upload": ["StagedUpload", "UploadLimits", "UploadRecord", "UploadRefused", "begin_upload",
               "list_uploads", "load_upload", "relative_parts", "remove_stale", "save_upload",
               "upload_folder"],
})
