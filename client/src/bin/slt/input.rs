//! Reading what the user gave: input files (or stdin) and flag values (enum names, dates).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};

/// The file's text; `-` reads stdin.
pub(crate) fn read_input(file: &Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Accepts `KILLING`, `killing` or `INCIDENT_TYPE_KILLING`.
pub(crate) fn enum_value(
    flag: &str,
    value: &str,
    prefix: &str,
    parse: fn(&str) -> Option<i32>,
) -> anyhow::Result<i32> {
    let upper = value.trim().to_ascii_uppercase().replace('-', "_");
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    parse(&full).with_context(|| format!("--{flag} '{value}' is not a known value"))
}

/// A `YYYY-MM-DD` flag value.
pub(crate) fn date(flag: &str, text: &str) -> anyhow::Result<slt_proto::google::r#type::Date> {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        bail!("--{flag} '{text}': expected YYYY-MM-DD");
    };
    let number = |part: &str| {
        part.parse::<i32>()
            .with_context(|| format!("--{flag} '{text}': expected YYYY-MM-DD"))
    };
    Ok(slt_proto::google::r#type::Date {
        year: number(year)?,
        month: number(month)?,
        day: number(day)?,
    })
}
