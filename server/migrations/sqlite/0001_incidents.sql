-- Incidents, their T3 annex (kept apart), the type index used by filters, and the change log
-- that the partner sync feed will serve. Every write appends to change_log in its transaction.

CREATE TABLE hub_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The change-log epoch: a cursor from another epoch (another database) is refused, not misread.
INSERT INTO hub_meta (key, value) VALUES ('log_epoch', lower(hex(randomblob(16))));

CREATE TABLE incidents (
    row_id            INTEGER PRIMARY KEY AUTOINCREMENT, -- stable listing order and page key
    id                TEXT NOT NULL UNIQUE,              -- client-chosen UUID
    version           INTEGER NOT NULL,
    origin_org        TEXT NOT NULL,
    origin_hub        TEXT NOT NULL,
    origin_org_type   TEXT NOT NULL,
    reported_at       TEXT NOT NULL,                     -- RFC 3339, UTC
    updated_at        TEXT NOT NULL,
    -- Columns that filters and the visibility condition use; the full record is `content`.
    country           TEXT NOT NULL,
    admin1_key        TEXT,                              -- lower-cased admin1 name
    occurred_on       TEXT NOT NULL,                     -- YYYY-MM-DD
    -- The date as viewers below its tier see it (start of ISO week / month / year, never finer
    -- than reported): date filters for them compare these, so a filter cannot reveal more
    -- than the viewer is shown.
    occurred_week     TEXT NOT NULL,
    occurred_month    TEXT NOT NULL,
    occurred_year     TEXT NOT NULL,
    threat_category   TEXT NOT NULL,
    verification      TEXT NOT NULL,
    distribution      TEXT NOT NULL,
    sharing_group     TEXT,
    tlp               TEXT NOT NULL,
    retraction_reason TEXT,
    -- SHA-256 of the original submission: a retried submit with the same hash is a no-op.
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
    incident_row  INTEGER NOT NULL REFERENCES incidents (row_id),
    incident_type TEXT NOT NULL,
    PRIMARY KEY (incident_row, incident_type)
);

CREATE INDEX incident_types_by_type ON incident_types (incident_type, incident_row);

-- One row per write, in commit order (writes take the database lock before they append, so
-- AUTOINCREMENT order is commit order on SQLite). The sharing columns are a snapshot of who could
-- see the incident after this write: the feed uses them to decide whether a caller may have held
-- a copy that it must now be told to delete (REVOKE).
CREATE TABLE change_log (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   TEXT NOT NULL,
    version       INTEGER NOT NULL,
    kind          TEXT NOT NULL,                          -- CREATE, AMEND, RETRACT, ACCESS
    origin_org    TEXT NOT NULL,
    origin_hub    TEXT NOT NULL,
    distribution  TEXT NOT NULL,
    sharing_group TEXT,
    -- For SHARING_GROUP: the group's member orgs at the time of this row (JSON array), so that
    -- an org removed from the group later is still known to have been able to see it.
    group_members TEXT,
    tlp           TEXT NOT NULL,
    distribution_changed INTEGER NOT NULL DEFAULT 0,
    recorded_at   TEXT NOT NULL
);

CREATE INDEX change_log_by_incident ON change_log (incident_id, seq);
