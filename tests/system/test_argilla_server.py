"""The Argilla test server itself: up, owner and annotators usable, single-response updates
(the patched path) work."""

from __future__ import annotations

pytest_plugins = ["argilla_server"]  # the fixture module, tests/argilla_server.py


def test_owner_and_annotators_reach_the_server(argilla_server):
    with argilla_server.owner_client() as owner:
        me = owner.get("/api/v1/me").json()
        assert me["username"] == "owner" and me["role"] == "owner"
    for name in argilla_server.annotators:
        with argilla_server.annotator_client(name) as c:
            assert c.get("/api/v1/me").json()["role"] == "annotator"
