//! One private PostgreSQL cluster per test process: `initdb` and `pg_ctl` from Debian's
//! packages (`/usr/lib/postgresql/<version>/bin`) in a temporary directory, listening only on
//! a unix socket there; no system service. As root (CI), initdb refuses to run, so the
//! cluster belongs to the `postgres` user the Debian package creates and its commands run
//! through `runuser`. A watchdog shell stops the cluster and removes the directory once the
//! test process has exited. Missing PostgreSQL fails the test that needs it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The running cluster.
pub(crate) struct Cluster {
    /// Holds the data directory and the socket.
    dir: PathBuf,
    /// Databases made so far, by the test directory they stand for.
    databases: Mutex<HashMap<PathBuf, String>>,
}

/// The newest Debian PostgreSQL's binaries.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not installed ({}: {e}); .ci/run installs Debian's postgresql",
                root.display()
            )
        })
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, b)| b)
        .expect("no /usr/lib/postgresql/<version>/bin/initdb: .ci/run installs Debian's postgresql")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A command run as the cluster's owner: `postgres` when the tests run as root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("enrolld-pg-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        if is_root() {
            let mut c = Command::new("chown");
            c.arg("postgres:").arg(&dir);
            run(c, "chown of the cluster directory to postgres");
        }
        let data = dir.join("data");
        let mut c = as_owner(&bin.join("initdb"));
        c.arg("-D").arg(&data).args([
            "-U",
            "enrolld",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        run(c, "initdb");
        let mut c = as_owner(&bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-k {} -c listen_addresses='' -c fsync=off -c max_connections=300",
                dir.display()
            ))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        run(c, "pg_ctl start");
        // Stops the cluster and removes its directory once this process has gone.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {owner}{pg_ctl} -D {data} -m immediate stop; rm -rf {dir}",
            pid = std::process::id(),
            owner = if is_root() { "runuser -u postgres -- " } else { "" },
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        // Left running on purpose: it outlives this process.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watchdog");
        Cluster {
            dir,
            databases: Mutex::new(HashMap::new()),
        }
    }

    /// The directory of the cluster's unix socket (a `host` in connection strings).
    pub(crate) fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// Connection settings for `dbname`.
    pub(crate) fn config(&self, dbname: &str) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host_path(&self.dir).user("enrolld").dbname(dbname);
        c
    }

    /// The database that stands for `test_dir`: created (and migrated) on first use, the
    /// same one again on a reopen.
    pub(crate) fn database_for(&self, test_dir: &Path) -> postgres::Config {
        let mut dbs = self.databases.lock().unwrap();
        let n = dbs.len();
        let name = dbs
            .entry(test_dir.to_owned())
            .or_insert_with(|| {
                let name = format!("conformance_{n}");
                let (admin, db) = (self.config("postgres"), self.config(&name));
                let create = format!("CREATE DATABASE {name}");
                // On a thread of its own: the synchronous client may not run inside an async
                // test's runtime.
                std::thread::spawn(move || {
                    let mut admin = admin.connect(postgres::NoTls).unwrap();
                    admin.batch_execute(&create).unwrap();
                    super::migrate::migrate(&db).unwrap();
                })
                .join()
                .unwrap();
                name
            })
            .clone();
        self.config(&name)
    }
}

/// The process's cluster, started on first use.
pub(crate) fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}
