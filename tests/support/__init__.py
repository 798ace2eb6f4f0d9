"""Helpers shared by the test suite (plain functions and classes; the fixtures live in conftest.py files).

`ids` (spec ids, API paths), `net` (free ports, polling), `seed` (the suite's random seed), `pg` (the
local PostgreSQL), `cluster` (a private PostgreSQL cluster), `server` (a real `headwater serve`),
`tenants` (an org with a token), `chain` (a whole resource chain over HTTP, and running its runs).
"""
