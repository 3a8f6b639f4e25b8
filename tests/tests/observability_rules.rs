//! The operator's alerting rules and dashboard (docs/observability/), checked with the tools an
//! operator runs: `promtool test rules` fires each alert on the series that should raise it and
//! keeps it quiet on a healthy one; every dashboard query is parsed by promtool as a rule; and
//! (tests/observability_federation.rs checks that every metric they name is one a real hub
//! exports). promtool is required (`.ci/run`
//! installs it; locally `apt-get install prometheus`): without it these tests fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use slt_tests::workspace_root;

fn docs() -> PathBuf {
    workspace_root().join("docs/observability")
}

/// Runs promtool with `args` in `dir`; its output, or a failure naming what went wrong.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "promtool could not run ({error}): install it (apt-get install prometheus); \
                 CI installs it in .ci/run"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_tests() {
    let checked = promtool(&docs(), &["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS: 6 rules found"), "{checked}");
    let tested = promtool(&docs(), &["test", "rules", "alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn a_broken_rule_test_fails_promtool() {
    // The rule tests can fail: the same tests against rules whose CRL threshold is wrong.
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = std::fs::read_to_string(docs().join("alerts.yml")).expect("alerts.yml");
    let broken = rules.replace("< 2 * 86400", "< 0.5 * 86400");
    assert_ne!(rules, broken);
    std::fs::write(dir.path().join("alerts.yml"), broken).expect("write");
    std::fs::copy(
        docs().join("alerts.test.yml"),
        dir.path().join("alerts.test.yml"),
    )
    .expect("copy");
    let output = Command::new("promtool")
        .args(["test", "rules", "alerts.test.yml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool runs (apt-get install prometheus)");
    assert!(
        !output.status.success(),
        "a wrong threshold must fail the rule tests"
    );
}

/// Every PromQL expression of the dashboard: panel targets and template variable queries.
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(docs().join("dashboard.json")).expect("dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "slt-hub");
    assert!(
        dashboard["schemaVersion"]
            .as_u64()
            .is_some_and(|version| version >= 36)
    );
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut queries = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        for key in ["x", "y", "w", "h"] {
            assert!(panel["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            queries.push((title.to_string(), expr.to_string()));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if let Some(query) = variable["definition"].as_str() {
            // label_values(METRIC, LABEL) is Grafana's, not PromQL: check its metric as a query.
            let metric = query
                .strip_prefix("label_values(")
                .and_then(|rest| rest.split(',').next())
                .expect("label_values(metric, label)");
            queries.push((format!("variable {}", variable["name"]), metric.to_string()));
        }
    }
    queries
}

#[test]
fn every_dashboard_query_parses() {
    // Each query becomes a recording rule with Grafana's variables filled in; promtool parses
    // them all as PromQL.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let queries = dashboard_queries();
    for (index, (_, expr)) in queries.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        assert!(!expr.contains('$'), "an unknown variable in {expr}");
        rules.push_str(&format!(
            "      - record: dashboard:query_{index}\n        expr: {}\n",
            serde_json::to_string(&expr).expect("quoted")
        ));
    }
    std::fs::write(dir.path().join("dashboard-rules.yml"), rules).expect("write");
    let checked = promtool(dir.path(), &["check", "rules", "dashboard-rules.yml"]);
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{checked}"
    );
}
