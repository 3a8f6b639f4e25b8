//! The threat picture's counts: incidents and victims per area x group x date bucket, grouped
//! in SQL within the viewer's scope and at the date precision the viewer is shown. Suppression
//! and every other disclosure rule are applied above, by `policy::aggregate`.

use super::common::{from_sql, parse_enum};
use super::db::Sql;
use super::scope::{and_scope, own_or_others, shown_date};
use super::{Store, StoreError};
use crate::domain::{
    AreaLevel, Granularity, PictureGroup, PictureQuery, Sex, StaffCategory, Verification,
    VictimDetail, VictimOutcome,
};

/// Incidents of one area x group x date bucket (threat picture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureCountRow {
    pub country: String,
    /// Lower-cased admin1 name ("" when none, or when grouping by country).
    pub admin1: String,
    /// The group's stable name, or "ALL".
    pub group: String,
    /// The bucket of the date as the viewer is shown it (see `PictureQuery::bucket`).
    pub bucket: String,
    pub incidents: u64,
    /// The sum of the counted incidents' record keys (the cell key of the cell-key method,
    /// before the modulo).
    pub key_sum: u64,
}

/// Victims of one area x group x date bucket x outcome x staff category x sex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureVictimRow {
    pub country: String,
    pub admin1: String,
    pub group: String,
    pub bucket: String,
    pub outcome: VictimOutcome,
    pub staff: StaffCategory,
    pub sex: Sex,
    pub victims: u64,
    /// The sum of the record keys of the incidents whose victims are counted.
    pub key_sum: u64,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    country: String,
    admin1: String,
    grp: String,
    bucket: String,
    incidents: i64,
    key_sum: i64,
}

#[derive(sqlx::FromRow)]
struct VictimRow {
    country: String,
    admin1: String,
    grp: String,
    bucket: String,
    outcome: String,
    staff: String,
    sex: String,
    victims: i64,
    key_sum: i64,
}

impl VictimRow {
    fn decode(self) -> Result<PictureVictimRow, StoreError> {
        Ok(PictureVictimRow {
            outcome: parse_enum(&self.outcome, VictimOutcome::parse, "victim outcome")?,
            staff: parse_enum(&self.staff, StaffCategory::parse, "staff category")?,
            sex: parse_enum(&self.sex, Sex::parse, "sex")?,
            country: self.country,
            admin1: self.admin1,
            group: self.grp,
            bucket: self.bucket,
            victims: from_sql(self.victims),
            key_sum: from_sql(self.key_sum),
        })
    }
}

impl Store {
    /// Incident counts for the threat picture, grouped in SQL within the query's scope.
    #[tracing::instrument(name = "store.picture_counts", skip_all)]
    pub async fn picture_counts(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureCountRow>, StoreError> {
        let mut sql = self.db.sql("");
        picture_select(&mut sql, query, |sql| {
            sql.push("count(*) AS incidents, ");
            key_sum(sql);
        });
        picture_from(&mut sql, query, "");
        sql.push(" GROUP BY 1, 2, 3, 4");
        let rows: Vec<CountRow> = self.db.run().fetch_all(sql).await?;
        Ok(rows
            .into_iter()
            .map(|row| PictureCountRow {
                country: row.country,
                admin1: row.admin1,
                group: row.grp,
                bucket: row.bucket,
                incidents: from_sql(row.incidents),
                key_sum: from_sql(row.key_sum),
            })
            .collect())
    }

    /// Victim sums for the threat picture, grouped in SQL within the query's scope.
    #[tracing::instrument(name = "store.picture_victims", skip_all)]
    pub async fn picture_victims(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureVictimRow>, StoreError> {
        let mut sql = self.db.sql("");
        picture_select(&mut sql, query, |sql| {
            sql.push("v.outcome AS outcome, ");
            victim_staff(sql, query);
            // PostgreSQL sums BIGINT to NUMERIC: cast back so both backends answer an integer.
            sql.push(" AS staff, v.sex AS sex, CAST(sum(v.count) AS BIGINT) AS victims, ");
            key_sum(sql);
        });
        picture_from(&mut sql, query, &victim_joins(query));
        sql.push(" GROUP BY 1, 2, 3, 4, 5, 6, 7");
        let rows: Vec<VictimRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(VictimRow::decode).collect()
    }
}

/// The sum of the record keys behind a group (a row without a key, which the hub fills at
/// start, counts 0).
fn key_sum(sql: &mut Sql) {
    sql.push("CAST(COALESCE(sum(i.record_key), 0) AS BIGINT) AS key_sum");
}

/// `SELECT area, group, bucket,` then the caller's `measures`.
fn picture_select(sql: &mut Sql, query: &PictureQuery<'_>, measures: impl FnOnce(&mut Sql)) {
    sql.push("SELECT i.country AS country, ");
    sql.push(match query.area_level {
        AreaLevel::Country => "CAST('' AS TEXT) AS admin1, ",
        AreaLevel::Admin1 => "COALESCE(i.admin1_key, '') AS admin1, ",
    });
    sql.push(match query.group_by {
        PictureGroup::ThreatCategory => "i.threat_category AS grp, ",
        PictureGroup::IncidentType => "t.incident_type AS grp, ",
        PictureGroup::None => "CAST('ALL' AS TEXT) AS grp, ",
    });
    // Week buckets are the shown date itself (a Monday); months and quarters group by month.
    let prefix = match query.bucket {
        Granularity::Week => None,
        Granularity::Month | Granularity::Quarter => Some(7),
        Granularity::Year => Some(4),
    };
    match prefix {
        None => shown_date(sql, query.scope),
        Some(length) => {
            sql.push("substr(");
            shown_date(sql, query.scope);
            sql.push(&format!(", 1, {length})"));
        }
    }
    sql.push(" AS bucket, ");
    measures(sql);
}

/// `FROM incidents i` with `joins`, and the WHERE of a picture query.
fn picture_from(sql: &mut Sql, query: &PictureQuery<'_>, joins: &str) {
    sql.push(" FROM incidents i");
    if query.group_by == PictureGroup::IncidentType {
        sql.push(" JOIN incident_types t ON t.incident_row = i.row_id");
    }
    sql.push(joins);
    sql.push(" WHERE i.verification <> ")
        .bind(Verification::Retracted.as_str());
    and_scope(sql, query.scope);
    sql.and_in("i.country", query.countries.to_vec());
    sql.and_in("i.admin1_key", query.admin1.to_vec());
    sql.push(" AND ");
    shown_date(sql, query.scope);
    sql.push(" >= ").bind(query.from.to_string());
    sql.push(" AND ");
    shown_date(sql, query.scope);
    sql.push(" <= ").bind(query.to.to_string());
}

/// The staff category of a victims row as the viewer is shown it (`VictimDetail`): for an
/// outcome merged by the small-cell rule (`sm` of `victim_joins` matched), UNKNOWN.
fn victim_staff(sql: &mut Sql, query: &PictureQuery<'_>) {
    let detail = |detail: VictimDetail| match detail {
        VictimDetail::Exact => "v.staff",
        VictimDetail::MergeSmall(_) => {
            "(CASE WHEN sm.outcome IS NULL THEN v.staff ELSE 'UNKNOWN' END)"
        }
        VictimDetail::StaffUnknown => "'UNKNOWN'",
    };
    if query.own_victims == query.others_victims {
        sql.push(detail(query.own_victims));
    } else {
        own_or_others(
            sql,
            query.scope,
            detail(query.own_victims),
            detail(query.others_victims),
        );
    }
}

/// The joins of the victims query: the victims rows, and (where the viewer gets the small-cell
/// rule) `sm`, the (incident, outcome) pairs with a staff category of 1 to `small_cell - 1`.
fn victim_joins(query: &PictureQuery<'_>) -> String {
    let mut joins = " JOIN incident_victims v ON v.incident_row = i.row_id".to_string();
    let small_cell = [query.own_victims, query.others_victims]
        .into_iter()
        .find_map(|detail| match detail {
            VictimDetail::MergeSmall(small_cell) => Some(small_cell),
            _ => None,
        });
    if let Some(small_cell) = small_cell {
        joins.push_str(&format!(
            " LEFT JOIN (SELECT w.incident_row AS incident_row, w.outcome AS outcome \
             FROM (SELECT incident_row, outcome, staff, sum(count) AS staff_victims \
             FROM incident_victims GROUP BY incident_row, outcome, staff) w \
             WHERE w.staff_victims > 0 AND w.staff_victims < {small_cell} \
             GROUP BY w.incident_row, w.outcome) sm \
             ON sm.incident_row = i.row_id AND sm.outcome = v.outcome"
        ));
    }
    joins
}
