//! End-to-end tests: the real `roster` binary in a temporary directory,
//! checked by its output and exit code.

mod util;

mod account;
mod bad_input;
mod bench;
mod browser;
mod crash;
mod fairness;
mod import;
mod imports;
mod passwords;
mod security;
mod serve;
mod shutdown;
mod template;
mod tidy;
mod undo;
mod update;
mod validate;
mod workers;
