//! The `slotgate proxy` under test, as a child process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::cluster::RedisCluster;
use super::ports::{free_port, loopback};
use super::resp::{RawConn, READ_TIMEOUT};
use super::temp_dir::{tail, TempDir};
use super::wait::wait_for_exit;

/// How long the proxy may take to accept connections: long enough for a dead seed's connect
/// timeout before a live seed answers.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts at starting the proxy when a port it was given turned out to be taken.
const START_ATTEMPTS: usize = 5;
/// Lines of the proxy's log shown when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// A running `slotgate proxy`, SIGKILLed and reaped on drop. Its stderr goes to a log file whose
/// tail is printed if the test panics.
pub struct Proxy {
    child: Option<Child>,
    port: u16,
    metrics_port: u16,
    log_path: PathBuf,
    /// Holds the log; declared last so it is removed after the proxy is dead. `None` only while
    /// starting.
    _dir: Option<TempDir>,
}

impl Proxy {
    /// Starts a proxy seeded with every master of `cluster`.
    pub fn start(cluster: &RedisCluster) -> Proxy {
        Proxy::start_with(&cluster.master_addrs(), &[])
    }

    /// Starts a proxy with `seeds` and more command-line arguments (e.g.
    /// `["--request-timeout-ms", "1000"]`), and returns once it accepts connections.
    pub fn start_with(seeds: &[SocketAddr], extra_args: &[&str]) -> Proxy {
        let dir = TempDir::new("proxy");
        let log_path = dir.path().join("proxy.log");
        let seeds = seeds
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(",");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let metrics_port = free_port();
            let log = std::fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let child = Command::new(env!("CARGO_BIN_EXE_slotgate"))
                .arg("proxy")
                .args(["--listen", &loopback(port).to_string()])
                .args(["--seeds", &seeds])
                .args(["--metrics-listen", &loopback(metrics_port).to_string()])
                .args(extra_args)
                .env("RUST_BACKTRACE", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run slotgate: {e}"));
            let mut proxy = Proxy {
                child: Some(child),
                port,
                metrics_port,
                log_path: log_path.clone(),
                _dir: None,
            };
            match proxy.wait_until_ready() {
                Ok(()) => {
                    proxy._dir = Some(dir);
                    return proxy;
                }
                // Another test took one of the ports between our check and the proxy's bind.
                Err(_) if proxy.log().contains("in use") => continue,
                Err(failure) => {
                    // Keep the log for the reader of the panic message.
                    proxy._dir = Some(dir);
                    panic!("{failure}");
                }
            }
        }
        panic!("slotgate proxy did not start after {START_ATTEMPTS} attempts: ports were taken");
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// The address of the Prometheus metrics endpoint.
    pub fn metrics_addr(&self) -> SocketAddr {
        loopback(self.metrics_port)
    }

    /// A new connection through the proxy, as an ordinary (non-cluster) client makes it.
    #[track_caller]
    pub fn client(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://{}/", self.addr())).expect("valid redis URL");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to the proxy at {}: {e}", self.addr()));
        con.set_read_timeout(Some(READ_TIMEOUT))
            .expect("set read timeout");
        con
    }

    /// A new raw RESP connection through the proxy.
    #[track_caller]
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr())
    }

    /// Everything the proxy has logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// The proxy's exit status if it has exited (crashed, or refused its arguments).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("wait on the proxy")
    }

    /// The proxy's process id, e.g. to read its `/proc` entries.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the proxy and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.exit_status() {
                self.child = None;
                return Err(format!(
                    "slotgate proxy exited with {status} before accepting connections"
                ));
            }
            // Accepting counts only while our child lives: if it died, the port may be another's.
            if std::net::TcpStream::connect(self.addr()).is_ok() && self.exit_status().is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "slotgate proxy did not accept connections on {} within {START_TIMEOUT:?}",
                    self.addr()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- last {LOG_TAIL_LINES} lines of the proxy's log ({}) ---\n{}\n--- end of proxy log ---",
                self.log_path.display(),
                tail(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}

/// Runs `slotgate proxy <args>` (on free ports, seeded with `seeds`) expecting it to exit by
/// itself within `within`: its exit status and what it wrote to stderr. Panics if it is still
/// running then.
pub fn run_proxy_to_exit(seeds: &str, args: &[&str], within: Duration) -> (ExitStatus, String) {
    let dir = TempDir::new("proxy-exit");
    let log_path = dir.path().join("proxy.log");
    let log = std::fs::File::create(&log_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotgate"))
        .args(["proxy", "--listen", &loopback(free_port()).to_string()])
        .args(["--seeds", seeds])
        .args(["--metrics-listen", &loopback(free_port()).to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run slotgate: {e}"));
    let status = wait_for_exit(&mut child, within, &format!("slotgate proxy {args:?}"));
    (
        status,
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    )
}
