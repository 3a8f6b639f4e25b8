//! `slt`: the partner CLI. A thin shell over the slt-client SDK: this file parses the command
//! line and hands each command to its module.

mod advisory;
mod args;
mod audit;
mod audit_watch;
mod feed;
mod forecast;
mod import;
mod incidents;
mod input;
mod output;
mod peers;
mod picture;

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use slt_client::{ClientError, HubClient, Profile};

use args::{AuditCommand, Cli, Command, ImportSource};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(ClientError::InvalidArgument { violations, .. }) =
                error.downcast_ref::<ClientError>()
            {
                for violation in violations {
                    eprintln!("  {}: {}", violation.field, violation.description);
                }
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Verification is offline on purpose: it must not depend on the hub being honest or up.
    if let Command::Audit {
        command: AuditCommand::Verify { file, key, trusted },
    } = &cli.command
    {
        return audit::verify(file, key, trusted.as_deref());
    }
    let Some(profile_path) = cli.profile else {
        bail!("no profile: pass --profile FILE or set SLT_PROFILE");
    };
    let profile = Profile::load(&profile_path)?;
    let mut hub = HubClient::connect(&profile).await?;
    let hub = &mut hub;
    let format = cli.format;
    match cli.command {
        Command::Submit { file } => incidents::submit(hub, format, &file).await,
        Command::Get { id } => incidents::get(hub, format, &id).await,
        Command::List(args) => incidents::list(hub, format, args).await,
        Command::Amend {
            file,
            expected_version,
        } => incidents::amend(hub, format, &file, expected_version).await,
        Command::Sync {
            mirror,
            filter,
            page_size,
            follow,
            resync,
        } => {
            let filter = filter.to_proto()?;
            feed::sync(hub, &mirror, filter, page_size, follow, resync).await
        }
        Command::Import {
            source: ImportSource::Awsd { file, batch_size },
        } => import::awsd(hub, &file, batch_size).await,
        Command::Audit { command } => audit::run(hub, format, command).await,
        Command::Peers => peers::list(hub, format).await,
        Command::Subscribe {
            cursor,
            filter,
            heartbeat,
        } => feed::subscribe(hub, format, &cursor, filter.to_proto()?, heartbeat).await,
        Command::Picture(args) => picture::show(hub, format, &args).await,
        Command::Forecast(args) => forecast::show(hub, format, &args).await,
        Command::Advisory { command } => advisory::run(hub, format, command).await,
        Command::Retract {
            id,
            reason,
            expected_version,
        } => incidents::retract(hub, format, &id, &reason, expected_version).await,
    }
}
