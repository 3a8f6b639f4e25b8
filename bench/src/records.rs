//! The cost of the record rule (issue 18): list, pull and picture for an analyst of another
//! organisation (T1) over N synthetic incidents, with the rule off (`[records] k = 0`) and on
//! (the built-in k = 3), one hub process each on the same database, in one run.

use std::path::Path;
use std::time::{Duration, Instant};

use slt_client::{Mirror, SyncOptions, proto as pb};

use crate::{HubProcess, connect, free_port, percentile};

pub(crate) async fn records_scenario(total: usize, csv: &Path, calls: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("slt-data");
    let port = free_port()?;
    let hub = HubProcess::start(&data, port)?;
    connect(&data.join("profiles/ngo-alpha.reporter.toml")).await?;
    hub.stop();
    let started = Instant::now();
    crate::bulk_insert(&data, csv, total).await?;
    println!(
        "incidents: {total} (bulk insert {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    for (label, k) in [("rule off (k = 0)", 0), ("rule on (k = 3)", 3)] {
        // The dev hub reads policy.toml from its data directory.
        std::fs::write(
            data.join("policy.toml"),
            slt_hub::policy::rules::DEFAULT_POLICY_TOML
                .replace("[records]\nk = 3\n", &format!("[records]\nk = {k}\n")),
        )?;
        let hub = HubProcess::start(&data, port)?;
        let mut analyst = connect(&data.join("profiles/ngo-beta.analyst.toml")).await?;
        let mut reporter = connect(&data.join("profiles/ngo-alpha.reporter.toml")).await?;
        println!("{label}:");

        let first_page = |client: &mut slt_client::HubClient| {
            let mut client = client.clone();
            async move {
                let started = Instant::now();
                let page = client
                    .list(pb::IncidentFilter::default(), 1_000, String::new())
                    .await?;
                anyhow::Ok((started.elapsed(), page.incidents.len()))
            }
        };
        let (cold, _) = first_page(&mut analyst).await?;
        let mut warm = Vec::with_capacity(calls);
        for _ in 0..calls {
            warm.push(first_page(&mut analyst).await?.0);
        }
        warm.sort();
        // One new incident moves the change log: the next read computes the classes again.
        let mut incident = slt_client::awsd::open_awsd(csv)?
            .filter_map(|record| record.ok())
            .find(|record| record.is_submittable())
            .map(|record| record.incident)
            .ok_or_else(|| anyhow::anyhow!("no submittable AWSD row"))?;
        incident.id = uuid::Uuid::new_v4().to_string();
        reporter.submit(vec![incident]).await?;
        let (after_write, _) = first_page(&mut analyst).await?;
        println!(
            "  list, first page of 1,000: first call {:.1} ms (classes computed), then p50 {:.1} ms, \
             p99 {:.1} ms over {calls}; first call after a write {:.1} ms",
            ms(cold),
            ms(percentile(&warm, 0.5)),
            ms(percentile(&warm, 0.99)),
            ms(after_write),
        );

        let started = Instant::now();
        let listed = analyst.list_all(pb::IncidentFilter::default()).await?.len();
        let list_time = started.elapsed();
        println!(
            "  list, every page: {listed} incidents in {:.1} s ({:.0} per s)",
            list_time.as_secs_f64(),
            listed as f64 / list_time.as_secs_f64()
        );

        let mirror = Mirror::open(dir.path().join(format!("mirror-k{k}.db"))).await?;
        let started = Instant::now();
        let stats = mirror
            .sync(&mut analyst, &SyncOptions::default(), |_| {})
            .await?;
        let pull_time = started.elapsed();
        println!(
            "  pull into an empty mirror: {} incidents in {:.1} s ({:.0} per s)",
            stats.upserts,
            pull_time.as_secs_f64(),
            stats.upserts as f64 / pull_time.as_secs_f64()
        );

        let request = pb::GetThreatPictureRequest {
            countries: vec!["AFG".into()],
            granularity: pb::Granularity::Month as i32,
            area_level: pb::AreaLevel::Admin1 as i32,
            group_by: pb::PictureGroup::ThreatCategory as i32,
            from: Some(slt_proto::google::r#type::Date {
                year: 2012,
                month: 1,
                day: 1,
            }),
            to: Some(slt_proto::google::r#type::Date {
                year: 2021,
                month: 12,
                day: 31,
            }),
            ..Default::default()
        };
        let mut times: Vec<Duration> = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            analyst.threat_picture(request.clone()).await?;
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "  picture (AFG x admin1 x 120 months x category): p50 {:.1} ms, p99 {:.1} ms",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
        );
        println!("  hub peak RSS {:.1} MiB", hub.peak_mib()?);
        hub.stop();
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}
