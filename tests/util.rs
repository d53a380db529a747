//! Runs the `roster` binary against a scratch database.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use roster_store::testing::{self, ScratchDatabase};

/// The repository's root, where `fixtures/` and `templates/` are.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// What a run of `roster` did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A running `roster serve`, killed when dropped.
pub struct Served {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What it prints after the line with its address.
    pub stderr: BufReader<ChildStderr>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `roster` with its own database and working directory.
pub struct Roster {
    pub db: ScratchDatabase,
    pub dir: tempfile::TempDir,
}

impl Roster {
    pub fn sqlite() -> Roster {
        Roster::on(testing::sqlite())
    }

    /// PostgreSQL, or `None` (with a notice) when it is not configured.
    pub async fn postgres(test: &str) -> Option<Roster> {
        testing::postgres(test).await.map(Roster::on)
    }

    /// SQLite, and PostgreSQL when configured.
    pub async fn both(test: &str) -> Vec<Roster> {
        testing::both(test)
            .await
            .into_iter()
            .map(Roster::on)
            .collect()
    }

    fn on(db: ScratchDatabase) -> Roster {
        Roster {
            db,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Runs `roster ARGS` with this database.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        self.run_with(args, stdin, &[])
    }

    /// Runs `roster ARGS` with these environment variables besides.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_with(args, None, env)
    }

    fn run_with(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("ROSTER_DATABASE_URL", &self.db.url)
            .env_remove("RUST_LOG")
            .env_remove("ROSTER_SMTP_URL")
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the roster binary starts");
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            pipe.write_all(bytes)
                .expect("writing to roster's standard input");
        }
        let out = child.wait_with_output().expect("roster runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Writes `bytes` to a file in the working directory and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("writing a test file");
        path
    }

    /// `roster import --account demo FLAGS fixtures/valid-users.csv`.
    pub fn import_valid_users(&self, flags: &[&str]) -> Output {
        let file = fixture("valid-users.csv");
        let mut args = vec!["import", "--account", "demo"];
        args.extend(flags);
        args.push(path(&file));
        self.run(&args)
    }

    /// Starts `roster serve` on a free port, logging at `log` (a
    /// `RUST_LOG` filter) or not at all.
    pub fn serve(&self, log: Option<&str>) -> Served {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(self.dir.path())
            .env("ROSTER_DATABASE_URL", &self.db.url)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(log) = log {
            command.env("RUST_LOG", log);
        }
        let mut child = command.spawn().expect("roster serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        // Log lines may come before the line that says where it listens.
        let mut line = String::new();
        while !line.contains("roster serving") {
            line.clear();
            let read = stderr.read_line(&mut line).expect("roster serve's output");
            assert!(read > 0, "roster serve ended before it listened");
        }
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("no address in {line}"));
        Served {
            child,
            base,
            stderr,
        }
    }

    /// Queues an import with `roster import --detach ARGS` and returns its
    /// id.
    pub fn detach(&self, args: &[&str]) -> String {
        let mut all = vec!["import", "--detach", "--format", "json"];
        all.extend(args);
        let queued = self.run(&all);
        assert_eq!(queued.code, 0, "{queued:?}");
        json(&queued)["id"]
            .as_str()
            .expect("an import id")
            .to_string()
    }

    /// `roster status ID --format json`.
    pub fn status(&self, id: &str) -> serde_json::Value {
        json(&self.run(&["status", id, "--format", "json"]))
    }

    /// The import's status once `done` holds of it; fails the test after
    /// `within`.
    pub fn wait_for(
        &self,
        id: &str,
        within: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let status = self.status(id);
            if done(&status) {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "{}: not there after {within:?}: {status}",
                self.db.kind
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Generates `rows` users into `users.csv` and their account `bench`
    /// into `bench.toml`, and loads the account.
    pub fn generate(&self, rows: usize) {
        let generated = self.run(&[
            "generate",
            "--rows",
            &rows.to_string(),
            "--csv",
            "users.csv",
            "--account-file",
            "bench.toml",
        ]);
        assert_eq!(generated.code, 0, "{generated:?}");
        let loaded = self.run(&["account", "load", "bench.toml"]);
        assert_eq!(loaded.code, 0, "{loaded:?}");
    }

    /// Loads the demo account.
    pub fn load_demo(&self) {
        let out = self.run(&["account", "load", path(&fixture("demo-account.toml"))]);
        assert_eq!(out.code, 0, "{}: {out:?}", self.db.kind);
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The import id in a line like `import 3f2a… completed: …`.
pub fn import_id(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("import ")
                .and_then(|rest| rest.split_whitespace().next())
        })
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no import id in {out:?}"))
}

/// Whether `password` is the one stored for the user `email` of `account`,
/// as its hash says, with a change required at first sign-in.
pub async fn password_works(roster: &Roster, account: &str, email: &str, password: &str) -> bool {
    let store = roster_store::Store::open(&roster.db.url)
        .await
        .expect("the database");
    let slug = roster_store::AccountSlug::parse(account).expect("a valid slug");
    let account = store.existing_account(&slug).await.expect("the account");
    let stored = store
        .stored_password(&account, email)
        .await
        .expect("read")
        .expect("the user");
    store.close().await;
    stored.must_change
        && stored
            .hash
            .is_some_and(|h| roster_mail::verify_password(password, &h))
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

/// A `roster worker` process, stopped with SIGTERM or SIGKILL when asked and
/// killed if dropped. It logs warnings to a file of its own.
pub struct Worker {
    child: Child,
    pub log: PathBuf,
}

impl Worker {
    /// Starts `roster worker FLAGS` on the database of `roster`, in its
    /// directory.
    pub fn start(roster: &Roster, flags: &[&str]) -> Worker {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let log = roster.dir.path().join(format!(
            "worker-{}.log",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("worker")
            .args(flags)
            .current_dir(roster.dir.path())
            .env("ROSTER_DATABASE_URL", &roster.db.url)
            .env("RUST_LOG", "warn")
            .env_remove("ROSTER_SMTP_URL")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("a worker starts");
        Worker { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit code, if it has exited.
    pub fn exited(&mut self) -> Option<Option<i32>> {
        self.child
            .try_wait()
            .expect("the worker's state")
            .map(|s| s.code())
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(term.success());
        self.child.wait().expect("the worker exits").code()
    }

    /// Kills it with SIGKILL: no handler runs, nothing is finished.
    pub fn kill(mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("the worker ends");
        assert_eq!(status.signal(), Some(9), "killed, not exited: {status:?}");
    }

    /// What it has logged so far.
    pub fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
