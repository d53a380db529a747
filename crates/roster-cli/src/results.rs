//! `roster results` (one result per data row, CSV or JSON) and `roster
//! failed-rows` (the rows not created, as CSV to fix and import again).

use std::io::{BufWriter, Write};

use anyhow::Context;
use roster_csv::csv_line;
use roster_jobs::{ResultLine, for_each_result, write_failed_rows};
use roster_server::contract::{RESULTS_CSV_HEADER, ResultJson, result_csv};
use roster_store::{Import, Store};

use crate::Outcome;
use crate::args::TableFormat;
use crate::import_id;

pub(crate) async fn results(db: &str, id: &str, format: TableFormat) -> anyhow::Result<Outcome> {
    to_stdout(db, id, move |store, import, runtime, out| {
        let mut first = true;
        match format {
            TableFormat::Csv => out.write_all(csv_line(RESULTS_CSV_HEADER).as_bytes())?,
            TableFormat::Json => out.write_all(b"[")?,
        }
        for_each_result(store, import, runtime, &mut |line, _| {
            write_result(out, line, format, first).map_err(roster_jobs::Error::Output)?;
            first = false;
            Ok(())
        })?;
        if format == TableFormat::Json {
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        }
        Ok(())
    })
    .await
}

pub(crate) async fn failed_rows(db: &str, id: &str) -> anyhow::Result<Outcome> {
    to_stdout(db, id, |store, import, runtime, out| {
        write_failed_rows(store, import, runtime, out)?;
        Ok(())
    })
    .await
}

/// Runs `write` on a blocking thread (it reads the import's stored file)
/// with buffered standard output.
async fn to_stdout(
    db: &str,
    id: &str,
    write: impl FnOnce(&Store, &Import, tokio::runtime::Handle, &mut dyn Write) -> anyhow::Result<()>
    + Send
    + 'static,
) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let import = import_id::resolve(&store, id).await?;
    let runtime = tokio::runtime::Handle::current();
    let reader_store = store.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut out = BufWriter::new(std::io::stdout().lock());
        write(&reader_store, &import, runtime, &mut out)?;
        out.flush()?;
        Ok(())
    })
    .await
    .context("the output task stopped")??;
    store.close().await;
    Ok(Outcome::Done)
}

fn write_result(
    out: &mut dyn Write,
    line: &ResultLine,
    format: TableFormat,
    first: bool,
) -> std::io::Result<()> {
    match format {
        TableFormat::Csv => out.write_all(result_csv(line).as_bytes()),
        TableFormat::Json => {
            out.write_all(if first { b"\n  " } else { b",\n  " })?;
            serde_json::to_writer(&mut *out, &ResultJson::new(line)).map_err(std::io::Error::other)
        }
    }
}
