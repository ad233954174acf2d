"""Access: who may use the archive, what they may see, and a record of what they did.

Local accounts with roles and clearances, Argon2id passwords and revocable API tokens
(``accounts``), disabled, re-enabled, given a new password, role, clearance or units
(``lifecycle``); each account's saved searches (``saved``); web sign-ins kept server-side
(``sessions``); failed sign-ins counted where every web worker sees them, so guessing stops
(``throttle``); and the hash-chained audit log of every search, view, download and
verification (``audit``). Accounts, sign-ins, saved searches and failures live in the
catalog's database in tables of their own, which a rebuild never drops. Stands on the record
store and the index.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "accounts": ["MIN_PASSWORD", "ROLES", "AccessError", "User", "add_user", "authenticate",
                 "get_user", "issue_token", "list_users", "revoke_token", "user_for_token"],
    "audit": ["AuditLog"],
    "lifecycle": ["set_access", "set_active", "set_password", "set_units", "units_of"],
    "saved": ["SavedSearch", "SavedSearchError", "clean_query", "delete_saved_search",
              "save_search", "saved_searches"],
    "sessions": ["close_session", "open_session", "session_user"],
    "throttle": ["Attempt", "Refused", "Throttle"],
})
