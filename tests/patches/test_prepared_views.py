"""Every operation's view is built once, when Connexion registers it, and still receives
its path, query and body arguments (the handler tests exercise each of them)."""

from __future__ import annotations

from connexion.apps.flask import FlaskOperation

from service.contract import Contract


def test_every_operation_has_a_prepared_view(client):
    assert client.get("/api/health").status_code == 200  # Connexion registers views by now
    views = client.app.app.view_functions
    operations = [view for name, view in views.items() if name != "static"]
    assert len(operations) == len(Contract.load().operations)
    assert not [view for view in operations if isinstance(view, FlaskOperation)]
