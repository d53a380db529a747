//! `roster status`: an import's state and counts, as text or as the
//! contract's JSON shape (which `import --format json` prints too).

use roster_server::contract::{StatusJson, eta};
use roster_store::{Import, Store};

use crate::Outcome;
use crate::args::Format;
use crate::import_id;

pub(crate) async fn run(db: &str, id: &str, format: Format) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let import = import_id::resolve(&store, id).await?;
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
        "import    {}\naccount   {}\nfile      {} ({} bytes)\nstate     {}\nrows      {} total, {} processed: {}, {} not processed\n",
        import.id,
        import.account_slug,
        import.file_name,
        import.file_bytes,
        import.state,
        import.total,
        import.processed,
        crate::import::counts_line(import),
        import.not_processed
    );
    out.push_str(&format!(
        "options   mode {}, voice services {}, passwords {}\n",
        import.mode,
        if import.voice { "on" } else { "off" },
        import.passwords
    ));
    if import.passwords.sends() {
        let d = import.deliveries;
        out.push_str(&format!(
            "passwords {} sent, {} queued, {} failed{}\n",
            d.sent,
            d.queued,
            d.failed,
            pace(import)
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
    if let Some(undo) = &import.undo {
        out.push_str(&format!(
            "undo      {}: {} of {} rows{}, asked {}{}\n",
            undo.state,
            crate::undo::counts(undo),
            undo.total,
            if undo.cancelled > 0 {
                format!(", {} password messages cancelled", undo.cancelled)
            } else {
                String::new()
            },
            undo.asked_at,
            undo.finished_at
                .as_deref()
                .map(|at| format!(", finished {at}"))
                .unwrap_or_default()
        ));
        if let Some(error) = &undo.error {
            out.push_str(&format!("undo error {error}\n"));
        }
    }
    out
}

/// How fast the import's passwords go out, and when the queued ones will
/// be, as `, 8123/s, about 2 min left`; empty when nothing is sending.
pub(crate) fn pace(import: &Import) -> String {
    let Some(rate) = import.deliveries_pace.per_second() else {
        return if import.deliveries.queued > 0 {
            ", none going out now (is a `roster worker` or `roster serve` running?)".to_string()
        } else {
            String::new()
        };
    };
    match eta(import) {
        Some(left) => format!(", {rate:.0}/s, about {} left", duration(left)),
        None => format!(", {rate:.0}/s"),
    }
}

/// A duration as a person reads it: `45 s`, `3 min`, `2 h 5 min`.
fn duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{} s", s.max(1)),
        60..3600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}
