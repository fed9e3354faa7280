-- 00_schema.sql — schema, roles, grants (owner: foundation)
--
-- The extension lives in the fixed schema hedis (see pg_hedis.control).
-- Two NOLOGIN roles carry the privileges; a DBA grants them to real users:
--   hedis_reader  read the store, evaluate measures
--   hedis_loader  hedis_reader + load data (bundles, NDJSON, value-set CSV)
-- Server-side file loading additionally needs pg_read_server_files (or
-- superuser): the file loaders check it themselves.
-- Roles are cluster-wide objects: they are created only when absent and are
-- not dropped with the extension.

\echo Use "CREATE EXTENSION pg_hedis" to load this file. \quit

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'hedis_reader') THEN
        CREATE ROLE hedis_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'hedis_loader') THEN
        CREATE ROLE hedis_loader NOLOGIN;
    END IF;
END
$roles$;

GRANT hedis_reader TO hedis_loader;
GRANT USAGE ON SCHEMA hedis TO hedis_reader;
