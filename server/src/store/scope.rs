//! The visibility scope as SQL: which rows a viewer's query may touch, and the date it is shown.
//! Kept in step with `PolicyEngine::tier_for`, which still decides every row the API returns.

use super::db::Sql;
use crate::domain::{DatePrecision, Distribution, VisibilityScope};

/// ` AND (...)`: the scope over `incidents i`.
pub(super) fn and_scope(sql: &mut Sql, scope: &VisibilityScope) {
    and_scope_on(sql, scope, true);
}

/// [`and_scope`] for a table with (`foreign_copies`: incidents) or without (advisories, which do
/// not federate) a `received_from` column.
pub(super) fn and_scope_on(sql: &mut Sql, scope: &VisibilityScope, foreign_copies: bool) {
    // `0 = 1` keeps the disjunction well-formed when a part is absent.
    sql.push(" AND (0 = 1");
    if let Some(org) = &scope.own_org {
        // A foreign copy is never "own", whatever its origin org is called.
        sql.push(if foreign_copies {
            " OR (i.received_from IS NULL AND i.origin_org = "
        } else {
            " OR (i.origin_org = "
        });
        sql.bind(org).push(")");
    }
    if !scope.shared_distributions.is_empty() {
        sql.push(" OR i.distribution IN (");
        sql.bind_list(scope.shared_distributions.iter().map(|d| d.as_str()));
        sql.push(")");
    }
    if !scope.sharing_groups.is_empty() {
        sql.push(" OR (i.distribution = ")
            .bind(Distribution::SharingGroup.as_str())
            .push(" AND i.sharing_group IN (");
        sql.bind_list(scope.sharing_groups.iter());
        sql.push("))");
    }
    sql.push(")");
    if let Some(tlps) = &scope.allowed_tlps {
        sql.and_in(
            "i.tlp",
            tlps.iter().map(|tlp| tlp.as_str().to_string()).collect(),
        );
        if tlps.is_empty() {
            sql.push(" AND 0 = 1");
        }
    }
    if let Some(hub) = &scope.excluded_origin_hub {
        sql.push(" AND i.origin_hub <> ").bind(hub);
    }
}

/// The incidents column holding the occurrence date at `precision`.
fn date_column(precision: DatePrecision) -> &'static str {
    match precision {
        DatePrecision::Day => "i.occurred_on",
        DatePrecision::Week => "i.occurred_week",
        DatePrecision::Month => "i.occurred_month",
        DatePrecision::Year => "i.occurred_year",
    }
}

/// The date of an incident as the viewer of `scope` is shown it (its own org's at one
/// precision, other orgs' at another), as an SQL expression.
pub(super) fn shown_date(sql: &mut Sql, scope: &VisibilityScope) {
    own_or_others(
        sql,
        scope,
        date_column(scope.own_date_precision),
        date_column(scope.others_date_precision),
    );
}

/// `(CASE WHEN <own local incident> THEN own ELSE others END)`: an expression that differs
/// between the viewer's own incidents and everyone else's.
pub(super) fn own_or_others(sql: &mut Sql, scope: &VisibilityScope, own: &str, others: &str) {
    sql.push("(CASE WHEN i.received_from IS NULL AND i.origin_org = ")
        .bind(scope.own_org.clone().unwrap_or_default())
        .push(" THEN ")
        .push(own)
        .push(" ELSE ")
        .push(others)
        .push(" END)");
}
