"""The web app and its JSON API (``create_app`` in ``records.web.app``)."""
