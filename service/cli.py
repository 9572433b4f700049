"""Console commands: `create-admin` (idempotent) and `seed` (demo data).

    python -m service.cli create-admin EMAIL PASSWORD [--name NAME]
    python -m service.cli seed

Both use DATABASE_URL like the service; run `make migrate` first.
"""

from __future__ import annotations

import argparse
import sys

from models import user as users
from models.db import Database
from models.passwords import Passwords
from service.settings import Settings

DEMO_USERS = [
    ("Ada Admin", "ada.admin@example.com", "admin"),
    ("Mo Moderator", "mo.moderator@example.com", "moderator"),
    ("Una User", "una.user@example.com", "user"),
    ("Ulf User", "ulf.user@example.com", "user"),
]
DEMO_PASSWORD = "demo-password-1"


def ensure_admin(
    database: Database, passwords: Passwords, email: str, password: str, name: str | None = None
) -> str:
    """Create the admin, or promote the user with that email; say what was done."""
    with database.session() as session:
        user = users.find_by_email(session, email)
        if user is None:
            fields = {"name": name or email.split("@")[0], "email": email}
            users.create(session, {**fields, "password": password, "role": "admin"}, passwords)
            return f"created admin {users.normalise_email(email)}"
        if user.role == "admin":
            return f"{user.email} is already an admin; nothing changed"
        before = user.role
        users.update(session, user, {"role": "admin"}, passwords)
        return f"promoted {user.email} from {before} to admin"


def seed(database: Database, passwords: Passwords) -> list[str]:
    """Demo users of every role, all with DEMO_PASSWORD; existing emails are left alone."""
    lines = []
    with database.session() as session:
        for name, email, role in DEMO_USERS:
            if users.find_by_email(session, email) is not None:
                lines.append(f"exists   {role:<9} {email}")
                continue
            fields = {"name": name, "email": email, "role": role, "password": DEMO_PASSWORD}
            users.create(session, fields, passwords)
            lines.append(f"created  {role:<9} {email}  password: {DEMO_PASSWORD}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create or promote an admin")
    admin.add_argument("email")
    admin.add_argument("password")
    admin.add_argument("--name")
    commands.add_parser("seed", help="fill the database with demo users")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    database = Database(settings.database_url)
    passwords = Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    try:
        if args.command == "create-admin":
            if not 8 <= len(args.password) <= 128:
                parser.error("the password must have 8 to 128 characters")
            print(ensure_admin(database, passwords, args.email, args.password, args.name))
        else:
            print("\n".join(seed(database, passwords)))
    finally:
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
