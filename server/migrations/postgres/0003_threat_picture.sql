-- PostgreSQL twin of migrations/sqlite/0003_threat_picture.sql (the threat picture and
-- advisories): the same tables, columns and indexes.

CREATE TABLE incident_victims (
    incident_row BIGINT NOT NULL REFERENCES incidents (row_id),
    outcome      TEXT NOT NULL,
    staff        TEXT NOT NULL,
    sex          TEXT NOT NULL,
    count        BIGINT NOT NULL
);

CREATE INDEX incident_victims_by_incident
    ON incident_victims (incident_row, outcome, staff, sex, count);

-- Incidents stored before this migration.
INSERT INTO incident_victims (incident_row, outcome, staff, sex, count)
SELECT i.row_id, v ->> 'outcome', v ->> 'staff', v ->> 'sex', (v ->> 'count')::BIGINT
FROM incidents i, jsonb_array_elements(i.content::jsonb -> 'victims') v;

CREATE INDEX incidents_picture ON incidents (
    country, origin_org, distribution, sharing_group, tlp, origin_hub, verification,
    threat_category, occurred_on, occurred_week, occurred_month, occurred_year, admin1_key
);

CREATE TABLE advisories (
    row_id         BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    version        BIGINT NOT NULL,
    origin_org     TEXT NOT NULL,                      -- the issuing organisation
    origin_hub     TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    country        TEXT NOT NULL,
    admin1_key     TEXT,
    security_level TEXT NOT NULL,
    valid_from     TEXT NOT NULL,
    valid_until    TEXT NOT NULL,
    distribution   TEXT NOT NULL,
    sharing_group  TEXT,
    tlp            TEXT NOT NULL,
    content        TEXT NOT NULL
);

CREATE INDEX advisories_country ON advisories (country, valid_until);

ALTER TABLE change_log ADD COLUMN entity TEXT NOT NULL DEFAULT 'INCIDENT';
