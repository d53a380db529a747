//! `roster validate`: checks a file against the template and the account,
//! prints every error, and writes nothing.

use std::fs::File;
use std::io::{self, Read};

use anyhow::Context;
use roster_store::{Account, AccountSlug, Store, StoreDirectory};
use roster_validate::{Limits, Options, Report, validate};

use crate::Outcome;
use crate::args::{Format, ValidateArgs};
use crate::report::{ReportJson, text};

pub(crate) async fn run(db: &str, args: ValidateArgs) -> anyhow::Result<Outcome> {
    let slug = AccountSlug::parse(&args.account)?;
    let store = Store::open(db).await?;
    let account = store.existing_account(&slug).await?;
    let options = Options {
        voice: !args.no_voice,
        limits: Limits {
            max_bytes: args.max_bytes,
            max_rows: args.max_rows,
            ..Limits::DEFAULT
        },
        extensions: account.extensions,
    };
    let input = open(&args.file)?;
    let mut directory =
        StoreDirectory::new(store.clone(), &account, tokio::runtime::Handle::current());
    // The validator is synchronous and blocks on the directory's queries.
    let report = tokio::task::spawn_blocking(move || validate(input, &mut directory, &options))
        .await
        .context("the validation task stopped")?
        .with_context(|| format!("validating {}", args.file.display()))?;
    store.close().await;
    print(&report, &args.file.display().to_string(), args.format)?;
    Ok(if report.is_valid() {
        Outcome::Done
    } else {
        Outcome::Invalid
    })
}

/// Validates `input` against the account in the store.
pub(crate) async fn check(
    store: &Store,
    account: &Account,
    input: Box<dyn Read + Send>,
    voice: bool,
    limits: Limits,
) -> anyhow::Result<Report> {
    let options = Options {
        voice,
        limits,
        extensions: account.extensions,
    };
    let mut directory =
        StoreDirectory::new(store.clone(), account, tokio::runtime::Handle::current());
    // The validator is synchronous and blocks on the directory's queries.
    let report = tokio::task::spawn_blocking(move || validate(input, &mut directory, &options))
        .await
        .context("the validation task stopped")??;
    Ok(report)
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
