"""The front ends: the ``records`` command (``cli``) and the web app (``web``), over the
flows and the archive. ``batches`` runs and queues batches for both, ``runtime`` readies
Prefect before it is imported, and ``samples`` renders the sample scans the demo uses.
"""
