//! roster's HTTP API and admin web page.

pub mod contract;
