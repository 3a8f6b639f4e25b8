-- The threat picture and advisories (issue 8). Additive: new tables, one new change-log column.

-- One row per victim cell of an incident (outcome x staff category x sex), so that the picture
-- sums victims with a plain GROUP BY instead of reading every incident's JSON. Rewritten with
-- the incident on every write, like incident_types.
CREATE TABLE incident_victims (
    incident_row INTEGER NOT NULL REFERENCES incidents (row_id),
    outcome      TEXT NOT NULL,
    staff        TEXT NOT NULL,
    sex          TEXT NOT NULL,
    count        INTEGER NOT NULL
);

-- Covering: the picture's join reads victims from the index alone.
CREATE INDEX incident_victims_by_incident
    ON incident_victims (incident_row, outcome, staff, sex, count);

-- Covering index for the picture: every column its scope condition, filters and GROUP BY read,
-- led by country, so a picture never touches the table rows (each holds the incident's JSON and
-- fills most of a page).
CREATE INDEX incidents_picture ON incidents (
    country, origin_org, distribution, sharing_group, tlp, origin_hub, verification,
    threat_category, occurred_on, occurred_week, occurred_month, occurred_year, admin1_key
);

-- Incidents stored before this migration (SQLite's JSON functions, here only).
INSERT INTO incident_victims (incident_row, outcome, staff, sex, count)
SELECT i.row_id, json_extract(v.value, '$.outcome'), json_extract(v.value, '$.staff'),
       json_extract(v.value, '$.sex'), json_extract(v.value, '$.count')
FROM incidents i, json_each(i.content, '$.victims') v;

-- Advisories: the current version of each (a new version supersedes the previous one; the
-- change log keeps each version's sharing state).
CREATE TABLE advisories (
    row_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,               -- UUID chosen by the issuer
    version        INTEGER NOT NULL,
    origin_org     TEXT NOT NULL,                      -- the issuing organisation
    origin_hub     TEXT NOT NULL,
    issued_at      TEXT NOT NULL,                      -- RFC 3339, UTC (of this version)
    country        TEXT NOT NULL,
    admin1_key     TEXT,
    security_level TEXT NOT NULL,
    valid_from     TEXT NOT NULL,                      -- YYYY-MM-DD
    valid_until    TEXT NOT NULL,
    distribution   TEXT NOT NULL,
    sharing_group  TEXT,
    tlp            TEXT NOT NULL,
    content        TEXT NOT NULL                       -- JSON of the advisory content
);

CREATE INDEX advisories_country ON advisories (country, valid_until);

-- What a change-log row is about: an incident (every row before this migration) or an
-- advisory. `incident_id` holds the advisory's id for advisory rows.
ALTER TABLE change_log ADD COLUMN entity TEXT NOT NULL DEFAULT 'INCIDENT';
