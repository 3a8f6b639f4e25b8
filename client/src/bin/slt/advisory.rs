//! Security advisories: issue (focal points), supersede, list.

use slt_client::{HubClient, json, proto as pb};

use crate::args::{AdvisoryCommand, Format};
use crate::input::{date, read_input};
use crate::output::{print_rows, short};

/// Issues (or supersedes) an advisory, or lists the advisories in force.
pub(crate) async fn run(
    hub: &mut HubClient,
    format: Format,
    command: AdvisoryCommand,
) -> anyhow::Result<()> {
    let advisories = match command {
        AdvisoryCommand::Issue {
            file,
            expected_version,
        } => {
            let advisory: pb::Advisory =
                json::message_from_json(&read_input(&file)?, "slt.v1.Advisory")?;
            vec![hub.issue_advisory(advisory, expected_version).await?]
        }
        AdvisoryCommand::List {
            countries,
            valid_on,
        } => {
            hub.list_advisories(pb::ListAdvisoriesRequest {
                countries,
                valid_on: valid_on
                    .as_deref()
                    .map(|d| date("valid-on", d))
                    .transpose()?,
                ..Default::default()
            })
            .await?
        }
    };
    if format == Format::Json {
        let values = advisories
            .iter()
            .map(|a| json::to_json(a, "slt.v1.Advisory"))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    let day = |d: &Option<slt_proto::google::r#type::Date>| {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = advisories
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.version.to_string(),
                format!(
                    "{}{}",
                    a.country,
                    a.admin1
                        .as_ref()
                        .map(|area| format!("/{}", area.name))
                        .unwrap_or_default()
                ),
                pb::SecurityLevel::try_from(a.security_level)
                    .map(|l| short(l.as_str_name(), "SECURITY_LEVEL_"))
                    .unwrap_or_default(),
                day(&a.valid_from),
                day(&a.valid_until),
                a.issuing_org.clone(),
                a.summary.clone(),
            ]
        })
        .collect();
    print_rows(
        format,
        &[
            "id", "version", "area", "level", "from", "until", "issuer", "summary",
        ],
        &rows,
    )
}
