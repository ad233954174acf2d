"""The archive: everything records keeps, in seven wings, each importing only those below it.

``roadmap`` | ``review`` (targets, progress, forecasts; people's corrections and their queue)
``intake`` | ``access`` | ``signing`` (what comes in; who may see what; certified copies)
``index`` (the catalog and search)
``store`` (records on disk: ids, layout, packages, sidecars, event logs)

Each wing is a package whose ``__init__`` names its public surface; other code imports from
the wing, never from its modules. None of it knows Prefect, the flows or the command line
(``docs/architecture.md``; the rules are import-linter contracts run by ``make test``).
"""
