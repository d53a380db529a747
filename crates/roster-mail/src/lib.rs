//! Password delivery: temporary passwords, the welcome message that carries
//! one, the outbox that sends it (a folder of `.eml` files by default, SMTP
//! when configured), and the password job that puts them together for one
//! user, run by a worker of the password queue.
//!
//! A temporary password exists in clear only between [`TemporaryPassword::generate`]
//! and the message being handed to the outbox; what is kept is its argon2id
//! hash. This crate never stores, queues or logs the clear text, and its
//! `Debug` output redacts it.

mod delivery;
mod error;
mod message;
mod outbox;
mod pace;
mod password;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use delivery::{DeliveryConfig, MAX_WAIT, deliver, run_password_worker};
pub use error::{Error, SendError};
pub use message::{Recipient, Welcome, welcome_message};
pub use outbox::{Outbox, write_to_folder};
pub use password::{TemporaryPassword, hash_password, verify_password};
