"""A throw-away database of its own on the shared PostgreSQL (127.0.0.1:5432,
user postgres, trust), for benchmarks that must not touch the test database."""

from __future__ import annotations

import subprocess


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql],
        check=True,
        capture_output=True,
    )


def fresh_database(name: str) -> str:
    """Drop and make `name` again; its DATABASE_URL."""
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name}")
    return f"postgres://postgres@127.0.0.1:5432/{name}"
