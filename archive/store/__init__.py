"""The record store: what a record is on disk, how it is named, committed and logged.

Each record is an OCFL object in the archive's storage root (``objects``, ``layout``), named
by an id of one grammar (``ids``), built in staging and committed by one rename, a change
being a new version (``packages``), and described by its sidecar (``record``: descriptive,
technical and provenance metadata). Every version is a leaf of the archive's log, a Merkle
tree whose heads the signing wing signs (``archivelog``, ``merkle``); checks of a record and
the audit trail are hash-chained logs (``events``, ``chain``) whose lengths those heads
record. Every other wing stands on this one; it imports none of them.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "archivelog": ["ArchiveLog", "ChainHead", "Leaf", "LogContents", "StoredHead",
                   "TreeHead", "canonical"],
    "chain": ["GENESIS", "ChainedLog"],
    "classification": ["FULL_CLEARANCE", "LEVELS", "level_of", "stricter"],
    "corrections": ["CORRECTIONS", "EDITABLE", "Change", "Correction", "corrected",
                    "corrected_copy_name",
                    "current_descriptive", "differences", "read_corrections", "replayed"],
    "pagetext": ["PageWords", "Word", "contents", "is_corrected", "page_file", "page_words",
                 "read_alto", "text_of", "with_words"],
    "events": ["append_check", "read_checks", "record_events", "with_event"],
    "files": ["copy_tree_verified", "copy_verified", "keep_private", "make_read_only",
              "make_writable", "sha256_file", "write_atomic", "write_json"],
    "ids": ["is_record_id", "unit_code"],
    "layout": ["EVENTS", "RENEWALS", "SIDECAR", "RecordPaths", "UnknownRecord",
               "archive_root", "audit_log_path", "chained_logs", "checks_log_path",
               "committed_record", "home_of", "log_dir", "read_sidecar", "record_paths",
               "work_dir"],
    "migrate": ["LEGACY", "Migrated", "Migration", "is_legacy", "legacy_size",
                "migrate_archive"],
    "merkle": ["consistency_proof", "inclusion_proof", "leaf_hash", "merkle_root",
               "verify_consistency", "verify_inclusion"],
    "objects": ["INVENTORY", "Inventory", "ObjectDamaged", "check_object",
                "init_storage_root", "read_inventory", "sha512_file"],
    "packages": ["STAGING", "ObjectChanged", "Stored", "Vouch", "known_record", "new_version",
                 "record_ids", "record_lock", "recover", "reserve_id", "store_record"],
    "record": ["BCP47", "Descriptive", "Event", "descriptive_from", "dublin_core", "now",
               "sidecar"],
})
