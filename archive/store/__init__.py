"""The record store: what a record is on disk, how it is named, and how it is committed.

A record is a write-once folder under ``RECORDS_HOME/archive`` (``layout``), named by an id of
one grammar (``ids``), built in staging and committed by one rename (``packages``), described
by its sidecar (``record``: descriptive, technical and provenance metadata) and followed by an
append-only, hash-chained log of later events (``events``, ``chain``). Every other wing stands
on this one; it imports none of them.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "chain": ["GENESIS", "ChainedLog"],
    "classification": ["FULL_CLEARANCE", "LEVELS", "level_of"],
    "events": ["append_event", "check_events", "read_events"],
    "files": ["copy_tree_verified", "copy_verified", "make_read_only", "sha256_file",
              "write_atomic", "write_json"],
    "ids": ["is_record_id", "unit_code"],
    "layout": ["RecordPaths", "UnknownRecord", "archive_root", "committed_record",
               "events_path", "read_sidecar", "record_paths"],
    "packages": ["Stored", "known_record", "record_ids", "recover", "replace_copy",
                 "reserve_id", "store_record", "verify_package"],
    "record": ["BCP47", "Descriptive", "Event", "descriptive_from", "dublin_core", "now",
               "sidecar"],
})
