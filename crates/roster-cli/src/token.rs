//! `roster token create`: a new API token for an account, printed once.

use roster_store::{AccountSlug, Store};

use crate::Outcome;

pub(crate) async fn create(db: &str, slug: &str) -> anyhow::Result<Outcome> {
    let slug = AccountSlug::parse(slug)?;
    let store = Store::open(db).await?;
    let account = store.existing_account(&slug).await?;
    let token = roster_server::token::create(&store, &account).await?;
    store.close().await;
    println!("{}", token.expose());
    eprintln!(
        "API token for account {slug}: shown this once, only its hash is kept. \
         Send it as `Authorization: Bearer TOKEN`, or paste it into the web page's sign-in."
    );
    Ok(Outcome::Done)
}
