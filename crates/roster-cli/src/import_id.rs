//! An import named on the command line: by its id, or by any unique prefix
//! of it, as git takes a commit's.
//!
//! Only the rules of the command line live here: how short a prefix may
//! be, and what an ambiguous or unknown one says. The store finds the
//! imports a prefix names; it does not know these rules.

use roster_store::{Import, ImportId, Store};

/// The shortest prefix taken: shorter ones name too many imports to help.
const MIN_PREFIX: usize = 4;

/// Candidates an ambiguous prefix names; the rest are counted.
const NAMED: usize = 10;

/// Candidates read at most: past this many, the count says "at least".
const READ: u32 = 1000;

/// The import `given` names: its whole id in any case, or a unique prefix
/// of its id of at least [`MIN_PREFIX`] characters.
pub(crate) async fn resolve(store: &Store, given: &str) -> anyhow::Result<Import> {
    let given = given.trim();
    if let Some(id) = ImportId::parse(given) {
        return Ok(store.existing_import(&id).await?);
    }
    if !given.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        anyhow::bail!(
            "'{given}' is not an import id; ids look like 3f2a…-…, as `roster import` printed"
        );
    }
    if given.len() < MIN_PREFIX {
        anyhow::bail!("'{given}' is too short: give at least {MIN_PREFIX} characters of the id");
    }
    let mut found = store.imports_by_prefix(given, READ).await?;
    match found.len() {
        0 => anyhow::bail!("no import with id starting {given}"),
        1 => Ok(found.remove(0)),
        _ => anyhow::bail!("{}", ambiguous(given, &found)),
    }
}

/// What an ambiguous prefix says: the first candidates by id, one a line,
/// and how many more there are.
fn ambiguous(given: &str, found: &[Import]) -> String {
    let mut out = format!("the id prefix {given} is ambiguous; it could be:");
    for import in found.iter().take(NAMED) {
        out.push_str(&format!("\n  {}", import.id));
    }
    let more = found.len().saturating_sub(NAMED);
    if found.len() >= READ as usize {
        out.push_str(&format!("\n  and at least {more} more"));
    } else if more > 0 {
        out.push_str(&format!("\n  and {more} more"));
    }
    out.push_str("\ngive more characters of the id");
    out
}
