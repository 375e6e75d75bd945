//! `slotgate node` under test, as a child process, and side-by-side comparison with a real
//! `redis-server`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::ports::{free_port, loopback};
use super::redis_node::RedisNode;
use super::resp::{encode_command, RawConn, Reply, READ_TIMEOUT};
use super::temp_dir::{tail, TempDir};
use super::wait::wait_for_exit;

/// How long the node may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at starting when the chosen port turned out to be taken.
const START_ATTEMPTS: usize = 5;
/// Lines of the node's log shown when a test fails.
const LOG_TAIL_LINES: usize = 40;

/// A running `slotgate node`, SIGKILLed and reaped on drop; its log tail is printed if the test
/// panics.
pub struct SlotgateNode {
    child: Option<Child>,
    port: u16,
    log_path: PathBuf,
    dir: Option<TempDir>,
    /// The arguments it was started with, for [`restart`](Self::restart).
    args: Vec<String>,
}

impl SlotgateNode {
    /// Starts a node with default settings.
    pub fn start() -> SlotgateNode {
        SlotgateNode::start_with(&[])
    }

    /// Starts a node with more arguments: a config file and/or `--directive value` pairs. The
    /// harness adds `--port` and `--dir` (its scratch directory) last.
    pub fn start_with(args: &[&str]) -> SlotgateNode {
        SlotgateNode::start_in(TempDir::new("node"), args)
    }

    /// [`start_with`](Self::start_with) in `dir`, which may already hold files the node reads
    /// at start (a `dump.rdb`).
    pub fn start_in(dir: TempDir, args: &[&str]) -> SlotgateNode {
        let mut node = SlotgateNode {
            child: None,
            port: 0,
            log_path: dir.path().join("node.log"),
            dir: Some(dir),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        node.spawn_and_wait();
        node
    }

    /// Starts the node again in the same directory with the same arguments (on a new port),
    /// after [`kill`](Self::kill) or a shutdown; SIGKILLs it first if it still runs.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_and_wait();
    }

    fn spawn_and_wait(&mut self) {
        let dir = self.dir().to_path_buf();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log = std::fs::File::create(&self.log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", self.log_path.display()));
            self.child = Some(spawn_node(&dir, &self.args, port, log));
            self.port = port;
            match self.wait_until_ready() {
                Ok(()) => return,
                Err(_) if self.log().contains("in use") => continue,
                Err(failure) => panic!("{failure}"),
            }
        }
        panic!("slotgate node did not start after {START_ATTEMPTS} attempts: ports were taken");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// The node's scratch directory (its `dir`).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("started").path()
    }

    /// A new `redis` crate connection.
    #[track_caller]
    pub fn client(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://{}/", self.addr())).expect("valid redis URL");
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to slotgate node {}: {e}", self.addr()));
        con.set_read_timeout(Some(READ_TIMEOUT))
            .expect("set read timeout");
        con
    }

    /// A new raw RESP connection.
    #[track_caller]
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr())
    }

    /// Everything the node has logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// The exit status if the node has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("wait on the node")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the node and reaps it.
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
                    "slotgate node exited with {status} before accepting connections; log:\n{}",
                    tail(&self.log_path, LOG_TAIL_LINES)
                ));
            }
            if let Ok(mut conn) = RawConn::try_connect(self.addr()) {
                let reply = conn.request(&["PING"]);
                let answered = reply == Reply::Simple("PONG".into())
                    || reply.as_error().is_some_and(|e| e.starts_with("NOAUTH"));
                if self.exit_status().is_none() && answered {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "slotgate node did not answer PING on {} within {START_TIMEOUT:?}",
                    self.addr()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs `slotgate node <args>` in `dir` (on a free port) expecting it to exit by itself within
/// `within`, as it must when it cannot start: its exit status and what it logged. Panics if it
/// is still running then.
pub fn run_node_to_exit(dir: &Path, args: &[&str], within: Duration) -> (ExitStatus, String) {
    let log_path = dir.join("node-exit.log");
    let log = std::fs::File::create(&log_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
    let mut child = spawn_node(dir, args, free_port(), log);
    let status = wait_for_exit(&mut child, within, &format!("slotgate node {args:?}"));
    (
        status,
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    )
}

/// `slotgate node <args> --port <port> --bind 127.0.0.1 --dir <dir>`, started in `dir` with
/// its stderr going to `log`.
fn spawn_node<A: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[A],
    port: u16,
    log: std::fs::File,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_slotgate"))
        .arg("node")
        .args(args)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.display().to_string()])
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run slotgate: {e}"))
}

impl Drop for SlotgateNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- last {LOG_TAIL_LINES} lines of the node's log ({}) ---\n{}\n--- end of node log ---",
                self.log_path.display(),
                tail(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}

/// A `slotgate node` and a real `redis-server` side by side, each with one raw connection:
/// every command goes to both and the replies must be the same bytes.
pub struct Differential {
    pub ours: SlotgateNode,
    pub redis: RedisNode,
    pub ours_conn: RawConn,
    pub redis_conn: RawConn,
}

impl Differential {
    pub fn start() -> Differential {
        Differential::start_with(&[])
    }

    /// Both servers started with the same extra `redis.conf` directives (name, value).
    pub fn start_with(directives: &[(&str, &str)]) -> Differential {
        let args: Vec<String> = directives
            .iter()
            .flat_map(|(name, value)| [format!("--{name}"), value.to_string()])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = SlotgateNode::start_with(&args);
        let redis = RedisNode::standalone_with(directives);
        let ours_conn = ours.raw();
        let redis_conn = redis.raw();
        Differential {
            ours,
            redis,
            ours_conn,
            redis_conn,
        }
    }

    /// Sends `command` to both and requires identical reply bytes; returns redis-server's reply.
    #[track_caller]
    pub fn check<A: AsRef<[u8]>>(&mut self, command: &[A]) -> Vec<u8> {
        let bytes = encode_command(command);
        self.ours_conn.send(&bytes);
        self.redis_conn.send(&bytes);
        let ours = self.ours_conn.read_raw_reply();
        let theirs = self.redis_conn.read_raw_reply();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "replies differ for {:?}",
            command
                .iter()
                .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
        theirs
    }

    /// [`check`](Self::check) for each command in order.
    #[track_caller]
    pub fn check_all(&mut self, commands: &[&[&str]]) {
        for command in commands {
            self.check(command);
        }
    }

    /// Sends `commands` to both as one pipeline (one write) and requires identical reply bytes
    /// for each, in order.
    #[track_caller]
    pub fn check_pipeline(&mut self, commands: &[&[&str]]) {
        let bytes: Vec<u8> = commands.iter().flat_map(|c| encode_command(c)).collect();
        self.ours_conn.send(&bytes);
        self.redis_conn.send(&bytes);
        for command in commands {
            let ours = self.ours_conn.read_raw_reply();
            let theirs = self.redis_conn.read_raw_reply();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "pipelined replies differ for {command:?}"
            );
        }
    }

    /// Sends `command` to both without comparing (e.g. for replies that differ by nature, such
    /// as `INFO`), returning both raw replies.
    pub fn both<A: AsRef<[u8]>>(&mut self, command: &[A]) -> (Vec<u8>, Vec<u8>) {
        let bytes = encode_command(command);
        self.ours_conn.send(&bytes);
        self.redis_conn.send(&bytes);
        (
            self.ours_conn.read_raw_reply(),
            self.redis_conn.read_raw_reply(),
        )
    }
}
