//! Tidy checks: the house style as tests, so a review never has to repeat it.

use std::path::{Path, PathBuf};

use crate::util::root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    assert!(files.len() > 20, "the walk found the sources");
    files
}

/// Every file says what it is for in its first line (STYLE.md, Files and docs).
#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).is_ok_and(|s| s.starts_with("//!")))
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(missing, Vec::<String>::new());
}

/// `foo.rs` + `foo/`, never `mod.rs` (STYLE.md).
#[test]
fn no_mod_rs_files() {
    let mod_rs: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "mod.rs"))
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(mod_rs, Vec::<String>::new());
}

/// The README's test command is the one `.ci/run` runs.
#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let command = readme
        .lines()
        .find(|l| l.contains("cargo test"))
        .expect("the README gives a test command")
        .trim();
    assert!(
        ci.contains(command),
        ".ci/run does not run the README's `{command}`"
    );
}
