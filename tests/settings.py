"""Settings of the apps under test: cheap Argon2, no rate limits unless a test wants them."""

from __future__ import annotations

from typing import Any

from service.settings import Settings

# Cheap Argon2 for tests; the production cost is the settings' default.
FAST_HASHING = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024}
FAST_HASHING_ENV = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024"}


# A search's statements may take this long in tests: a loaded machine stalls a 10 ms search
# for hundreds of ms now and then, past production's 0.5 s. The tests of the bound set it.
SEARCH_BOUND = {"search_timeout": 5.0}


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ratelimit_enabled": False,
        **FAST_HASHING,
        **SEARCH_BOUND,
        **overrides,
    }
    return Settings(environment="test", database_url=database_url, **values)
