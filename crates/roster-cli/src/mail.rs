//! The password-delivery flags as roster-mail's configuration, for the
//! commands that run a worker of the password queue (`import`, `worker`).

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::Context;
use roster_mail::{DeliveryConfig, Outbox};

use crate::args::MailArgs;

/// The configuration the flags describe. An SMTP URL that cannot be used,
/// an outbox folder that cannot be made or a sender that is no address is
/// an error here, before any work starts.
pub(crate) fn config(args: &MailArgs, orphan_after: Duration) -> anyhow::Result<DeliveryConfig> {
    let outbox = match &args.smtp_url {
        Some(url) => {
            let authority = match &args.smtp_ca {
                Some(path) => Some(
                    std::fs::read(path)
                        .with_context(|| format!("reading --smtp-ca {}", path.display()))?,
                ),
                None => None,
            };
            // The URL may hold a password: it is not repeated here.
            let flags = match &args.smtp_ca {
                Some(_) => "--smtp-url (or ROSTER_SMTP_URL) with --smtp-ca",
                None => "--smtp-url (or ROSTER_SMTP_URL)",
            };
            Outbox::smtp(url, authority.as_deref()).context(flags)?
        }
        None => Outbox::folder(&args.outbox)
            .with_context(|| format!("the outbox folder {}", args.outbox.display()))?,
    };
    let defaults = DeliveryConfig::new(outbox);
    let config = DeliveryConfig {
        from: args.mail_from.clone(),
        sign_in_url: args.sign_in_url.clone(),
        attempts: args.mail_attempts,
        retry_after: Duration::from_secs(args.mail_retry_after),
        rate: args.mail_rate.map_or(defaults.rate, NonZeroU32::new),
        concurrency: args.mail_concurrency as usize,
        orphan_after,
        ..defaults
    };
    config.check().context("--mail-from")?;
    Ok(config)
}
