-- The application's database role (issue 16). Run once, by the owner role (the
-- image's POSTGRES_USER, the one `migrate` uses), in the portal's database:
--   psql -v ON_ERROR_STOP=1 -v app_password="$APP_DB_PASSWORD" -f postgres-roles.sql
-- (deploy/postgres-init.sh does so when the PostgreSQL container first starts).
--
-- portal_app reads and writes rows, and nothing more: it owns no table, so it
-- cannot ALTER TABLE (no DISABLE TRIGGER: the record's append-only trigger
-- stays on), DROP or TRUNCATE anything, and it creates no tables of its own.
-- Only the owner role, used by the `migrate` service alone, changes the schema.

CREATE ROLE portal_app LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- No one but the owner creates objects in the schema (PostgreSQL 15's default; said again).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO portal_app;

-- The tables and sequences that exist now, and every one `migrate` creates later.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO portal_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO portal_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO portal_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO portal_app;
