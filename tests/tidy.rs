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

/// Every repository file that the code and the docs cite exists, so a file
/// moved or removed cannot leave its cites behind.
///
/// The cites are those [`cites`] finds in every `.rs` under `crates/` and
/// `tests/` and every `.md` at the root and in `docs/`; [`resolve`] says
/// where each may be.
#[test]
fn every_cited_repository_file_exists() {
    let root = root();
    let mut files = all_rust_files();
    files.extend(markdown_files(&root));
    let mut found = 0;
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file is text");
        let markdown = file.extension().is_some_and(|e| e == "md");
        for (line, cite) in cites(&text, markdown) {
            match resolve(&root, file, &cite) {
                Resolved::Found => found += 1,
                Resolved::Outside => {}
                Resolved::Missing => {
                    let file = file.strip_prefix(&root).unwrap_or(file);
                    missing.push(format!("{}:{line} cites {}", file.display(), cite.path));
                }
            }
        }
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "cited files that do not exist"
    );
    assert!(found > 50, "the walk found the cites: {found}");
}

/// The rule of [`every_cited_repository_file_exists`], on examples of what
/// it takes and what it leaves.
#[test]
fn cites_are_repository_paths_and_documents_only() {
    let text = "\
`docs/cli.md`, `crates/roster-cli/src/args.rs:12`, [errors](errors.md#api-error-codes)
[a heading](#performance), [a site](https://example.com), `SECURITY.md`
`foo.rs` + `foo/`, `/api/imports/{id}`, `/api/openapi.json`, `text/csv`, `postgres://…`
`crates/<name>`, `fuzz/corpus/<target>/`, `target/screenshots/`, `outbox/`
`../shared/CONTRACT.md`, `fixtures/bad/`, `templates/users.csv`, `a `docs/x.md
";
    let found: Vec<String> = cites(text, true)
        .into_iter()
        .map(|(line, cite)| format!("{line} {:?} {}", cite.kind, cite.path))
        .collect();
    assert_eq!(
        found,
        [
            "1 Code docs/cli.md",
            "1 Code crates/roster-cli/src/args.rs",
            "1 Link errors.md",
            "2 Code SECURITY.md",
            "5 Code ../shared/CONTRACT.md",
            "5 Code fixtures/bad/",
            "5 Code templates/users.csv",
        ]
    );

    let root = root();
    let at = |file: &str, kind: Kind, path: &str| {
        resolve(&root, &root.join(file), &Cite::new(kind, path))
    };
    assert_eq!(at("README.md", Kind::Code, "docs/cli.md"), Resolved::Found);
    assert_eq!(at("docs/README.md", Kind::Link, "cli.md"), Resolved::Found);
    assert_eq!(at("docs/README.md", Kind::Code, "cli.md"), Resolved::Found);
    assert_eq!(
        at("README.md", Kind::Code, "docs/no-such.md"),
        Resolved::Missing
    );
    assert_eq!(at("README.md", Kind::Link, "cli.md"), Resolved::Missing);
    // A crate's own paths are cited from its root, in its sources only.
    let main = "crates/roster-cli/src/main.rs";
    assert_eq!(at(main, Kind::Code, "src/args.rs"), Resolved::Found);
    assert_eq!(
        at("README.md", Kind::Code, "src/args.rs"),
        Resolved::Missing
    );
    // Outside the repository: by name, and wherever a path leads out.
    assert_eq!(
        at("docs/README.md", Kind::Code, "../shared/CONTRACT.md"),
        Resolved::Outside
    );
    assert_eq!(
        at("README.md", Kind::Code, "../shared/CONTRACT.md"),
        Resolved::Outside
    );
    assert_eq!(
        at("docs/README.md", Kind::Link, "../../other/x.md"),
        Resolved::Outside
    );
}

/// Documents outside the repository, cited from its root: never looked for.
const OUTSIDE: [&str; 1] = ["../shared/"];

/// The first folders of the paths cited: the repository's, and a crate's.
const FOLDERS: [&str; 12] = [
    ".cargo",
    ".ci",
    "assets",
    "crates",
    "docs",
    "fixtures",
    "fuzz",
    "migrations",
    "src",
    "templates",
    "tests",
    "vendor",
];

/// The kinds of file a path with a slash may name wherever it starts.
const EXTENSIONS: [&str; 12] = [
    ".css", ".csv", ".html", ".js", ".json", ".md", ".png", ".py", ".rs", ".sql", ".toml", ".txt",
];

/// A path cited in a file.
#[derive(Debug)]
struct Cite {
    kind: Kind,
    path: String,
}

impl Cite {
    fn new(kind: Kind, path: &str) -> Cite {
        Cite {
            kind,
            path: path.to_string(),
        }
    }
}

/// How a path is cited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// In backticks: `docs/cli.md`.
    Code,
    /// The target of a Markdown link: [the CLI](cli.md).
    Link,
}

/// Where a cite leads.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    Found,
    Missing,
    /// Outside the repository: not checked.
    Outside,
}

/// The cites of `text`, with their line numbers.
///
/// A span in backticks, on one line, is a cite when it is made of letters,
/// digits and `_ . - /` only (so not a placeholder like `<id>`, a glob, a
/// URL or a sentence), does not start with `/` (an API route, an absolute
/// path), and either contains a `/` and starts with one of [`FOLDERS`] or
/// ends with one of [`EXTENSIONS`], or is a bare document name like
/// `SECURITY.md`. A bare `foo.rs` or `foo/` is not a cite: style text uses
/// them as examples. A trailing `:LINE` is dropped. In Markdown, the target
/// of every link is a cite too, its `#anchor` dropped, unless it is a URL or
/// an anchor of the page itself.
fn cites(text: &str, markdown: bool) -> Vec<(usize, Cite)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let pieces: Vec<&str> = line.split('`').collect();
        // Odd pieces are inside backticks, the last one only when closed.
        for k in (1..pieces.len().saturating_sub(1)).step_by(2) {
            let span = without_line_number(pieces[k].trim());
            if is_path(span) {
                out.push((i + 1, Cite::new(Kind::Code, span)));
            }
        }
        if !markdown {
            continue;
        }
        for (_, rest) in line
            .match_indices("](")
            .map(|(at, _)| line.split_at(at + 2))
        {
            let target = rest.split([')', ' ']).next().unwrap_or("");
            let target = target.split('#').next().unwrap_or("");
            if !target.is_empty() && !target.contains(':') {
                out.push((i + 1, Cite::new(Kind::Link, target)));
            }
        }
    }
    out
}

fn without_line_number(span: &str) -> &str {
    match span.rsplit_once(':') {
        Some((path, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => path,
        _ => span,
    }
}

fn is_path(span: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    if span.is_empty() || span.starts_with('/') || !span.chars().all(allowed) {
        return false;
    }
    if !span.contains('/') {
        return span.len() > ".md".len() && span.ends_with(".md");
    }
    let first = span
        .split('/')
        .find(|c| *c != "." && *c != "..")
        .unwrap_or("");
    FOLDERS.contains(&first) || EXTENSIONS.iter().any(|e| span.ends_with(e))
}

/// Where `cite`, cited in `file`, leads. A link is read from the file's
/// folder, as Markdown reads it. A path in backticks is read from the
/// repository's root, from the file's folder, and in a `.rs` file from its
/// crate's root too (migrations/sqlite in roster-store): found from any
/// of them, it is found. A path that starts with one of [`OUTSIDE`], or
/// leads out of the repository from every one of them, is outside.
fn resolve(root: &Path, file: &Path, cite: &Cite) -> Resolved {
    if OUTSIDE.iter().any(|o| cite.path.starts_with(o)) {
        return Resolved::Outside;
    }
    let folder = file.parent().unwrap_or(root);
    let mut bases = vec![folder];
    if cite.kind == Kind::Code {
        bases.push(root);
        if file.extension().is_some_and(|e| e == "rs") {
            let crate_root = folder
                .ancestors()
                .take_while(|a| *a != root)
                .find(|a| a.join("Cargo.toml").is_file());
            bases.extend(crate_root);
        }
    }
    let inside: Vec<PathBuf> = bases
        .into_iter()
        .filter_map(|base| within(root, base, &cite.path))
        .collect();
    if inside.is_empty() {
        Resolved::Outside
    } else if inside.iter().any(|p| p.exists()) {
        Resolved::Found
    } else {
        Resolved::Missing
    }
}

/// `path` read from `base`, both under `root`, as a path under `root`;
/// `None` when its `..` lead out of it.
fn within(root: &Path, base: &Path, path: &str) -> Option<PathBuf> {
    let base = base.strip_prefix(root).ok()?;
    let mut parts: Vec<&str> = base.iter().filter_map(|c| c.to_str()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(
        parts
            .iter()
            .fold(root.to_path_buf(), |p, part| p.join(part)),
    )
}

/// The `.md` files at the root and in `docs/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [root.to_path_buf(), root.join("docs")] {
        let entries = std::fs::read_dir(&dir).expect("the folder is there");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 4, "the walk found the Markdown files");
    files
}
