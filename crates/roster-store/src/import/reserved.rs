//! The extensions an import's file names: recorded when the import is
//! queued (validation found them), never given to a row that leaves its
//! extension empty, and read once per import by each store.

use std::collections::HashSet;
use std::sync::Arc;

use roster_validate::{Extension, ExtensionPolicy};

use super::id::ImportKey;
use crate::db::{Tx, query};
use crate::error::Context;
use crate::store::KeptReserved;
use crate::{Error, Store};

/// Records the extensions the import's file names, in the transaction that
/// queues it.
pub(crate) async fn record(
    tx: &mut Tx<'_>,
    import: ImportKey,
    extensions: &[Extension],
) -> Result<u64, sqlx::Error> {
    const SQL: &str =
        "INSERT INTO import_reserved_extensions (import_id, extensions) VALUES ($1, $2)";
    query(SQL)
        .bind(import.0)
        .bind(extensions_text(extensions))
        .execute(tx)
        .await
}

impl Store {
    /// The extensions the import's file names. Read once per import by
    /// this store: a million of them take a tenth of a second to read, and
    /// every chunk asks.
    pub async fn reserved_extensions(
        &self,
        import: ImportKey,
    ) -> Result<Arc<HashSet<Extension>>, Error> {
        const SQL: &str = "SELECT extensions FROM import_reserved_extensions WHERE import_id = $1";
        if let Some((key, reserved)) = self.kept_reserved().as_ref()
            && *key == import
        {
            return Ok(reserved.clone());
        }
        let text: Option<(String,)> = query(SQL)
            .bind(import.0)
            .fetch_optional(&self.db)
            .await
            .context("reading reserved extensions")?;
        let reserved = Arc::new(text.map(|(t,)| parse_extensions(&t)).unwrap_or_default());
        *self.kept_reserved() = Some((import, reserved.clone()));
        Ok(reserved)
    }

    fn kept_reserved(&self) -> std::sync::MutexGuard<'_, KeptReserved> {
        // A panic while the lock was held left nothing half-written: the
        // value is replaced whole.
        self.reserved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Extensions as the table keeps them: comma-separated digits.
fn extensions_text(extensions: &[Extension]) -> String {
    let mut text = String::with_capacity(extensions.len() * 6);
    for (i, e) in extensions.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&e.to_string());
    }
    text
}

fn parse_extensions(text: &str) -> HashSet<Extension> {
    // Stored extensions were valid under some policy: read them back under
    // the widest one.
    let any_length = ExtensionPolicy {
        min_digits: 1,
        max_digits: ExtensionPolicy::MAX_DIGITS,
    };
    text.split(',')
        .filter(|t| !t.is_empty())
        .filter_map(|t| Extension::parse(t, any_length).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_extensions_survive_their_text() {
        let policy = ExtensionPolicy::DEFAULT;
        let list: Vec<Extension> = ["7001", "0700", "123456"]
            .iter()
            .map(|t| Extension::parse(t, policy).expect("valid"))
            .collect();
        let text = extensions_text(&list);
        assert_eq!(text, "7001,0700,123456");
        assert_eq!(parse_extensions(&text), list.into_iter().collect());
        assert!(parse_extensions("").is_empty());
    }
}
