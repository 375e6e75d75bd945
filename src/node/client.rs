//! A connected client: its session's own state, and the handle other sessions see it by
//! (`CLIENT LIST`, `CLIENT KILL`, pub/sub delivery).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::acl::User;
use crate::resp::Command;

/// A session's own state; only its session touches it (and commands run on its behalf).
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    /// The selected database.
    pub db: usize,
    /// Protocol 3 after `HELLO 3`.
    pub resp3: bool,
    pub authenticated: bool,
    /// The user the client runs as (`default` until `AUTH`), as of `acl_generation`.
    pub user: Arc<User>,
    /// The [`Acl::generation`](super::acl::Acl::generation) `user` was read at: when the
    /// users change, the session reads its user again before the next command.
    pub acl_generation: u64,
    /// `MULTI` was called: commands are queued until `EXEC`/`DISCARD`.
    pub multi: Option<Multi>,
    /// True while `EXEC` runs the queue: blocking commands must not block.
    pub in_exec: bool,
    /// `WATCH`ed keys: (database, key, version when watched).
    pub watched: Vec<(usize, Vec<u8>, u64)>,
    /// Close after the reply to this command (`QUIT`).
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    /// Subscribed to a channel, pattern or shard channel (Redis's `CLIENT_PUBSUB`): a RESP2
    /// client may then run only the pub/sub commands, `PING`, `QUIT` and `RESET`.
    pub subscriber: bool,
    /// In `MONITOR` mode: shown every command the node runs, never closed for idling.
    pub monitor: bool,
    /// Its script command runs to its end where it is (on a blocking thread, or where no
    /// other path exists): it does not give way.
    pub script_must_finish: bool,
    /// Its script command gave way without effects: the session runs it again on a
    /// blocking thread.
    pub script_yielded: bool,
    /// A replica of this node (after `SYNC`/`PSYNC`): it is sent the replication stream and
    /// no replies.
    pub replica: Option<ReplicaLink>,
    /// What `REPLCONF listening-port` and `REPLCONF ip-address` said, before `PSYNC`.
    pub repl_listening_port: Option<u16>,
    pub repl_ip: Option<std::net::IpAddr>,
    /// Set by `WAIT`: (stream offset, replicas, timeout) for the session to wait on.
    pub wait_acks: Option<(u64, usize, Option<std::time::Duration>)>,
    pub handle: Arc<ClientHandle>,
}

/// Where a replica's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaLink {
    /// `PSYNC`'s answer and snapshot are being written: that reply goes out.
    Attaching,
    /// Receiving the stream: replies to its commands (`REPLCONF ACK`) are dropped.
    Attached,
}

impl Client {
    pub fn new(
        handle: Arc<ClientHandle>,
        authenticated: bool,
        user: Arc<User>,
        acl_generation: u64,
    ) -> Client {
        Client {
            id: handle.id,
            db: 0,
            resp3: false,
            authenticated,
            user,
            acl_generation,
            multi: None,
            in_exec: false,
            watched: Vec::new(),
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            subscriber: false,
            monitor: false,
            script_must_finish: false,
            script_yielded: false,
            replica: None,
            repl_listening_port: None,
            repl_ip: None,
            wait_acks: None,
            handle,
        }
    }

    /// A stand-in for a client whose command runs while it is not in its session (a blocked
    /// client being served): it has an id and, once set, a database and protocol.
    pub fn detached(id: u64) -> Client {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let handle = ClientHandle {
            id,
            peer: unspecified,
            local: unspecified,
            created: Instant::now(),
            kill: CancellationToken::new(),
            push: mpsc::unbounded_channel().0,
            pending_push_bytes: AtomicUsize::new(0),
            info: Mutex::new(ClientInfo::default()),
        };
        static DEFAULT: std::sync::LazyLock<Arc<User>> =
            std::sync::LazyLock::new(|| Arc::new(User::new_default()));
        Client::new(Arc::new(handle), true, DEFAULT.clone(), 0)
    }

    /// Runs as `user` from now on (`AUTH`, `HELLO … AUTH`, `RESET`), and shows it in
    /// `CLIENT LIST`.
    pub fn set_user(&mut self, user: Arc<User>) {
        let mut info = self.handle.info.lock().unwrap_or_else(|p| p.into_inner());
        info.user = (user.name != b"default").then(|| user.name.clone());
        drop(info);
        self.user = user;
    }
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    pub queued: Vec<Command>,
    /// A command failed to queue: `EXEC` answers `EXECABORT`.
    pub aborted: bool,
}

/// `CLIENT REPLY ON|OFF|SKIP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply to the next command only.
    Skip,
}

/// What other sessions may see of and do to a client.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub created: Instant,
    /// Cancelled to close the connection (`CLIENT KILL`, output limit, shutdown).
    pub kill: CancellationToken,
    /// Out-of-band messages for this client (pub/sub), already encoded in its protocol.
    pub push: mpsc::UnboundedSender<Bytes>,
    /// Bytes in `push` not yet written: the pub/sub output buffer that
    /// `client-output-buffer-limit pubsub` bounds.
    pub pending_push_bytes: AtomicUsize,
    /// What `CLIENT LIST` shows; updated by the session.
    pub info: Mutex<ClientInfo>,
}

impl ClientHandle {
    /// Queues a push message; false if the client is gone.
    pub fn send_push(&self, bytes: Bytes) -> bool {
        self.pending_push_bytes
            .fetch_add(bytes.len(), Ordering::Relaxed);
        self.push.send(bytes).is_ok()
    }
}

/// The parts of a client's state `CLIENT LIST` and `CLIENT INFO` report.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub last_command: &'static str,
    pub last_active: Option<Instant>,
    pub resp: u8,
    pub lib_name: Option<String>,
    pub lib_ver: Option<String>,
    /// The client's user when not `default`.
    pub user: Option<Vec<u8>>,
}

impl ClientInfo {
    /// The name of the client's user.
    pub fn user_name(&self) -> &[u8] {
        self.user.as_deref().unwrap_or(b"default")
    }
}

/// Every connected client, by id. The lock is held only to add, remove or look up a handle.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: Mutex<HashMap<u64, Arc<ClientHandle>>>,
}

impl Clients {
    pub fn insert(&self, handle: Arc<ClientHandle>) {
        self.lock().insert(handle.id, handle);
    }

    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.lock().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every handle, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.lock().values().cloned().collect();
        v.sort_by_key(|h| h.id);
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ClientHandle>>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }
}
