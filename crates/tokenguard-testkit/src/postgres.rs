//! [`TestPostgres`]: a private, throwaway PostgreSQL server for tests.
//!
//! Started from the installed server binaries (`initdb`, `pg_ctl`) in a
//! temporary directory, on a free loopback port, with its own superuser
//! `tokenguard` and `trust` authentication on that port only; stopped and
//! deleted when dropped. Tests need no pre-configured cluster, and may stop
//! and start their server to rehearse an outage.
//!
//! The binaries are found in `TOKENGUARD_PG_BIN`, else `pg_config --bindir`,
//! else the newest `/usr/lib/postgresql/*/bin`, else `PATH`. PostgreSQL
//! refuses to run as root: as root, the server runs as the `postgres` user
//! (which the Debian packages create) through `runuser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What to install when the server binaries are missing.
const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found: install them \
     (Debian/Ubuntu: apt-get install postgresql) or set TOKENGUARD_PG_BIN to the directory that holds them";

/// A private PostgreSQL server. Stopped and deleted when dropped.
#[derive(Debug)]
pub struct TestPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

impl TestPostgres {
    /// Creates a cluster in a new temporary directory and starts it.
    /// Blocks for the second or so this takes.
    pub fn start() -> Result<Self, String> {
        let bin = server_binaries()?;
        let run_as = running_as_root().then_some("postgres");
        let dir = std::env::temp_dir().join(format!("tokenguard-pg-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut server = Self { bin, dir, port: free_port()?, run_as };
        if let Some(user) = run_as {
            check(Command::new("chown").arg(format!("{user}:")).arg(&server.dir).output(), "chown")?;
        }
        let data = server.data_dir();
        server.run(
            "initdb",
            &["-D", path(&data)?, "-U", "tokenguard", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
        )?;
        // A port taken between our probe and the server's bind: try another.
        let mut attempts = 0;
        loop {
            match server.start_again() {
                Ok(()) => return Ok(server),
                Err(error) if attempts < 3 => {
                    attempts += 1;
                    eprintln!("TestPostgres: retrying on another port after: {error}");
                    server.port = free_port()?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// `postgres://tokenguard@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://tokenguard@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: connections are closed). Its data stays.
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", path(&self.data_dir())?, "-m", "fast", "-w", "stop"]).map(drop)
    }

    /// Starts the server again, on the same port, and waits until it accepts connections.
    pub fn start_again(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off -c synchronous_commit=off",
            self.port,
            path(&self.dir)?
        );
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            &["-D", path(&self.data_dir())?, "-l", path(&log)?, "-o", &options, "-w", "-t", "60", "start"],
        )
        .map(drop)
        .map_err(|error| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{error}\nserver log:\n{log}")
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let program = self.bin.join(program);
        let output = match self.run_as {
            Some(user) => Command::new("runuser").args(["-u", user, "--"]).arg(&program).args(args).output(),
            None => Command::new(&program).args(args).output(),
        };
        check(output, &program.display().to_string())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Ok(data) = path(&self.data_dir()) {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check(output: std::io::Result<Output>, what: &str) -> Result<Output, String> {
    let output = output.map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn path(path: &Path) -> Result<&str, String> {
    path.to_str().ok_or_else(|| format!("not UTF-8: {}", path.display()))
}

fn server_binaries() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("TOKENGUARD_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) { Ok(dir) } else { Err(format!("TOKENGUARD_PG_BIN: {INSTALL_HINT}")) };
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort_by_key(|dir| {
        let version = dir.parent().and_then(Path::file_name).and_then(|name| name.to_str()?.parse::<u32>().ok());
        std::cmp::Reverse(version)
    });
    let on_path = std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).collect()).unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(debian)
        .chain::<Vec<PathBuf>>(on_path)
        .find(|dir| has_server(dir))
        .ok_or_else(|| INSTALL_HINT.to_owned())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| format!("no free port: {e}"))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) << 16 | NEXT.fetch_add(1, Ordering::Relaxed)
}
