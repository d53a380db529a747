//! `roster validate`: checks a file against the template and the account,
//! prints every error, and writes nothing.

use std::fs::File;
use std::io::{self, Read, Write};

use anyhow::Context;
use roster_jobs::Checked;
use roster_server::contract::write_report_json;
use roster_store::{AccountSlug, Store};
use roster_validate::Limits;

use crate::Outcome;
use crate::args::{Format, ValidateArgs};
use crate::report::write_text;

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
    let checked = roster_jobs::check(
        &store,
        &account,
        input,
        !args.no_voice,
        limits,
        args.mode.into(),
    )
    .await
    .with_context(|| format!("validating {}", args.file.display()))?;
    store.close().await;
    let valid = checked.report.is_valid();
    print(checked, &args.file.display().to_string(), args.format).await?;
    Ok(if valid {
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

/// Prints the report with every error, read from its file one at a time,
/// on a blocking thread.
pub(crate) async fn print(mut checked: Checked, name: &str, format: Format) -> anyhow::Result<()> {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let errors = checked
            .errors
            .errors()
            .context("reading the report's errors")?;
        let planned = checked.plan.rows().context("reading the report's plan")?;
        let mut out = io::BufWriter::new(io::stdout().lock());
        match format {
            Format::Text => write_text(&mut out, &name, &checked.report, errors, Some(planned))?,
            Format::Json => write_report_json(&mut out, &checked.report, errors, planned)?,
        }
        out.flush()?;
        anyhow::Ok(())
    })
    .await
    .context("the report task stopped")?
}
