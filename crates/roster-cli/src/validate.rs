//! `roster validate`: checks a file against the template and the account,
//! prints every error, and writes nothing.

use std::fs::File;
use std::io::{self, Read};

use anyhow::Context;
use roster_store::{AccountSlug, Store};
use roster_validate::{Limits, Report};

use crate::Outcome;
use crate::args::{Format, ValidateArgs};
use roster_server::contract::ReportJson;

use crate::report::text;

pub(crate) async fn run(db: &str, args: ValidateArgs) -> anyhow::Result<Outcome> {
    let slug = AccountSlug::parse(&args.account)?;
    let store = Store::open(db).await?;
    let account = store.existing_account(&slug).await?;
    let limits = Limits {
        max_bytes: args.max_bytes,
        max_rows: args.max_rows,
        ..Limits::DEFAULT
    };
    let input = open(&args.file)?;
    let report = roster_jobs::check(&store, &account, input, !args.no_voice, limits)
        .await
        .with_context(|| format!("validating {}", args.file.display()))?;
    store.close().await;
    print(&report, &args.file.display().to_string(), args.format)?;
    Ok(if report.is_valid() {
        Outcome::Done
    } else {
        Outcome::Invalid
    })
}

/// Opens the file, or standard input for `-`.
pub(crate) fn open(path: &std::path::Path) -> anyhow::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Box::new(file))
}

pub(crate) fn print(report: &Report, name: &str, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Text => print!("{}", text(name, report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&ReportJson::new(report))?
        ),
    }
    Ok(())
}
