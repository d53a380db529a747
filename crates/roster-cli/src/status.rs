//! `roster status`: an import's state and counts, as text or as the
//! contract's JSON shape (which `import --format json` prints too).

use roster_server::contract::StatusJson;
use roster_store::{Import, ImportId, Store};

use crate::Outcome;
use crate::args::Format;

pub(crate) async fn run(db: &str, id: &str, format: Format) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let import = store.existing_import(&parse_id(id)?).await?;
    store.close().await;
    print(&import, format)?;
    Ok(Outcome::Done)
}

pub(crate) fn print(import: &Import, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&StatusJson::new(import))?
        ),
        Format::Text => print!("{}", text(import)),
    }
    Ok(())
}

/// The status as a few aligned lines.
pub(crate) fn text(import: &Import) -> String {
    let mut out = format!(
        "import    {}\naccount   {}\nfile      {} ({} bytes)\nstate     {}\nrows      {} total, {} processed: {} created, {} failed, {} not processed\n",
        import.id,
        import.account_slug,
        import.file_name,
        import.file_bytes,
        import.state,
        import.total,
        import.processed,
        import.created,
        import.failed,
        import.not_processed
    );
    out.push_str(&format!(
        "options   voice services {}, passwords {}\n",
        if import.voice { "on" } else { "off" },
        import.passwords
    ));
    if import.passwords.sends() {
        let d = import.deliveries;
        out.push_str(&format!(
            "passwords {} sent, {} queued, {} failed\n",
            d.sent, d.queued, d.failed
        ));
    }
    out.push_str(&format!("queued    {}\n", import.created_at));
    if let Some(at) = &import.started_at {
        out.push_str(&format!("started   {at}\n"));
    }
    if let Some(at) = &import.finished_at {
        out.push_str(&format!("finished  {at}\n"));
    }
    if let Some(error) = &import.error {
        out.push_str(&format!("error     {error}\n"));
    }
    out
}

/// An import id from the command line.
pub(crate) fn parse_id(id: &str) -> anyhow::Result<ImportId> {
    ImportId::parse(id).ok_or_else(|| {
        anyhow::anyhow!(
            "'{id}' is not an import id; ids look like 3f2a…-…, as `roster import` printed"
        )
    })
}
