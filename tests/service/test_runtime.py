"""Two apps with different settings in one process share nothing: each request finds
its own app's database, password hashing, rate limits and failed-credential guard."""

from __future__ import annotations

import subprocess
import sys

from service.app import create_app, runtime_of
from tests.builders import user_payload
from tests.database import migrate, run_sql
from tests.settings import settings_for

BAD_TOKEN = {"Authorization": "Bearer " + "x" * 43}


def test_two_apps_in_one_process_do_not_see_each_others_state(tmp_path):
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("a", "b")]
    for url in urls:
        migrate(url)
    first = create_app(
        settings_for(urls[0], ratelimit_enabled=True, password_hash_memory_kib=1024)
    ).test_client()
    second = create_app(settings_for(urls[1], password_hash_memory_kib=2048)).test_client()
    assert runtime_of(first.app).database is not runtime_of(second.app).database

    # Interleaved: each app writes to its own database only.
    same_user = user_payload()
    statuses = [api.post("/api/users", json=same_user).status_code for api in (first, second)]
    assert statuses == [201, 201]
    assert first.post("/api/users", json=same_user).status_code == 409
    hashes = [run_sql(url, "SELECT password_hash FROM users")[0][0] for url in urls]
    assert "m=1024," in hashes[0]
    assert "m=2048," in hashes[1]

    # The first app counts failed credentials (5/minute), the second has no limits.
    first_statuses = [first.get("/api/me", headers=BAD_TOKEN).status_code for _ in range(6)]
    second_statuses = [second.get("/api/me", headers=BAD_TOKEN).status_code for _ in range(6)]
    assert first_statuses == [401] * 5 + [429]
    assert second_statuses == [401] * 6
    assert "x-ratelimit-limit" in first.get("/api/posts").headers
    assert "x-ratelimit-limit" not in second.get("/api/posts").headers
    for api in (first, second):
        runtime_of(api.app).database.dispose()


def test_importing_the_models_loads_no_web_framework():
    probe = (
        "import sys, models, models.user, models.post, models.comment, models.token,"
        " models.user_removal, models.db, models.passwords, models.errors;"
        " print(sorted(m for m in ('flask', 'connexion', 'starlette', 'werkzeug')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
