-- PostgreSQL twin of migrations/sqlite/0001_incidents.sql: the same tables and columns, so the
-- two backends run the same queries modulo placeholders. Timestamps and JSON stay TEXT (RFC 3339
-- and serde_json output), exactly as on SQLite, so both backends store the same bytes.

CREATE TABLE hub_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The change-log epoch: a cursor from another epoch (another database) is refused, not misread.
INSERT INTO hub_meta (key, value) VALUES ('log_epoch', replace(gen_random_uuid()::text, '-', ''));

CREATE TABLE incidents (
    row_id            BIGSERIAL PRIMARY KEY,             -- stable listing order and page key
    id                TEXT NOT NULL UNIQUE,              -- client-chosen UUID
    version           BIGINT NOT NULL,
    origin_org        TEXT NOT NULL,
    origin_hub        TEXT NOT NULL,
    origin_org_type   TEXT NOT NULL,
    reported_at       TEXT NOT NULL,                     -- RFC 3339, UTC
    updated_at        TEXT NOT NULL,
    country           TEXT NOT NULL,
    admin1_key        TEXT,                              -- lower-cased admin1 name
    occurred_on       TEXT NOT NULL,                     -- YYYY-MM-DD
    -- The date as viewers below its tier see it (see the SQLite migration).
    occurred_week     TEXT NOT NULL,
    occurred_month    TEXT NOT NULL,
    occurred_year     TEXT NOT NULL,
    threat_category   TEXT NOT NULL,
    verification      TEXT NOT NULL,
    distribution      TEXT NOT NULL,
    sharing_group     TEXT,
    tlp               TEXT NOT NULL,
    retraction_reason TEXT,
    submit_hash       TEXT NOT NULL,
    content           TEXT NOT NULL                      -- JSON of the shared record
);

CREATE INDEX incidents_country ON incidents (country, occurred_on);
CREATE INDEX incidents_origin ON incidents (origin_org);

CREATE TABLE incident_private (
    incident_id TEXT PRIMARY KEY NOT NULL REFERENCES incidents (id),
    content     TEXT NOT NULL                            -- JSON of the T3 annex
);

CREATE TABLE incident_types (
    incident_row  BIGINT NOT NULL REFERENCES incidents (row_id),
    incident_type TEXT NOT NULL,
    PRIMARY KEY (incident_row, incident_type)
);

CREATE INDEX incident_types_by_type ON incident_types (incident_type, incident_row);

-- One row per write. A BIGSERIAL alone is NOT commit-ordered (seq 11 can commit before seq 10);
-- every writing transaction takes the hub's write lock (pg_advisory_xact_lock, see
-- server/src/store/postgres.rs and ARCHITECTURE.md "The change feed on PostgreSQL") before it
-- draws a seq and holds it until it commits, so seq order is commit order here too.
CREATE TABLE change_log (
    seq           BIGSERIAL PRIMARY KEY,
    incident_id   TEXT NOT NULL,
    version       BIGINT NOT NULL,
    kind          TEXT NOT NULL,                          -- CREATE, AMEND, RETRACT, ACCESS
    origin_org    TEXT NOT NULL,
    origin_hub    TEXT NOT NULL,
    distribution  TEXT NOT NULL,
    sharing_group TEXT,
    group_members TEXT,                                   -- JSON array (SHARING_GROUP only)
    tlp           TEXT NOT NULL,
    distribution_changed BOOLEAN NOT NULL DEFAULT FALSE,
    recorded_at   TEXT NOT NULL
);

CREATE INDEX change_log_by_incident ON change_log (incident_id, seq);
