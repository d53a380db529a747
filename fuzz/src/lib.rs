//! Support for roster's fuzz targets: the invariants they check, kept in
//! one file that the regression tests include too. Nothing here runs in
//! roster itself.

pub mod invariants;
