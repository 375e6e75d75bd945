//! A Redis Cluster of real `redis-server` nodes, built by hand and migrated by hand.
//!
//! The cluster is assembled the way `redis-cli --cluster create` does it, minus the waiting:
//! slots are assigned before the nodes meet, each master gets its own config epoch, and every
//! step waits on what the nodes themselves report rather than on a sleep.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use redis::Value;

use super::redis_node::{NodeOptions, RedisNode};
use super::temp_dir::TempDir;
use super::wait::wait_for_ok;

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// How long the nodes may take to agree on the cluster's shape after a change.
const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The shape and settings of a cluster to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub masters: usize,
    pub replicas_per_master: usize,
    /// Applied to every node.
    pub node: NodeOptions,
}

impl ClusterOptions {
    pub fn new(masters: usize, replicas_per_master: usize) -> ClusterOptions {
        ClusterOptions {
            masters,
            replicas_per_master,
            node: NodeOptions::default(),
        }
    }

    /// Sets `cluster-node-timeout`: how soon an unreachable node is failed (and failed over).
    pub fn node_timeout_ms(mut self, ms: u64) -> ClusterOptions {
        self.node.node_timeout_ms = ms;
        self
    }

    /// Adds a `redis.conf` directive for every node.
    pub fn config(mut self, key: &str, value: &str) -> ClusterOptions {
        self.node.extra_config.push((key.into(), value.into()));
        self
    }
}

/// A running cluster; every node is killed and the data removed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    masters: Vec<RedisNode>,
    replicas: Vec<RedisNode>,
    /// `replica_of[i]` is the index in `masters` of the master `replicas[i]` was attached to.
    replica_of: Vec<usize>,
    /// Declared last: removed after the nodes in it are dead.
    dir: TempDir,
}

impl RedisCluster {
    /// Starts `masters` masters with `replicas_per_master` replicas each, slots spread evenly.
    pub fn start(masters: usize, replicas_per_master: usize) -> RedisCluster {
        RedisCluster::start_with(ClusterOptions::new(masters, replicas_per_master))
    }

    /// Starts a cluster shaped and configured by `options`, and returns once every node agrees
    /// on every node's role, the slot owners and the replicas, and every replica is in sync.
    /// Three masters, no replicas, a node timeout longer than any test and
    /// `cluster-require-full-coverage no`: a killed master stays dead and keeps its slots,
    /// while the other masters go on serving theirs.
    pub fn start_without_failover() -> RedisCluster {
        RedisCluster::start_with(
            ClusterOptions::new(3, 0)
                .node_timeout_ms(60_000)
                .config("cluster-require-full-coverage", "no"),
        )
    }

    pub fn start_with(options: ClusterOptions) -> RedisCluster {
        assert!(options.masters > 0, "a cluster needs a master");
        let dir = TempDir::new("cluster");
        let start_node = |name: String| RedisNode::start(&dir.path().join(name), &options.node);
        let masters: Vec<RedisNode> = (0..options.masters)
            .map(|i| start_node(format!("master-{i}")))
            .collect();
        let replica_of: Vec<usize> = (0..options.masters)
            .flat_map(|m| std::iter::repeat_n(m, options.replicas_per_master))
            .collect();
        let replicas: Vec<RedisNode> = (0..replica_of.len())
            .map(|i| start_node(format!("replica-{i}")))
            .collect();
        let cluster = RedisCluster {
            masters,
            replicas,
            replica_of,
            dir,
        };
        cluster.assign_slots_and_meet();
        // Replicas attach while the masters still hold back `cluster_state:ok` (a master waits
        // 2 s after its start before it does), so the two waits overlap.
        cluster.wait_until_all_met();
        cluster.attach_replicas();
        cluster.wait_for_agreement();
        cluster
    }

    pub fn masters(&self) -> &[RedisNode] {
        &self.masters
    }

    pub fn replicas(&self) -> &[RedisNode] {
        &self.replicas
    }

    /// The master at `index`, mutable to kill or restart it.
    pub fn master_mut(&mut self, index: usize) -> &mut RedisNode {
        &mut self.masters[index]
    }

    /// The replica at `index`, mutable to kill or restart it.
    pub fn replica_mut(&mut self, index: usize) -> &mut RedisNode {
        &mut self.replicas[index]
    }

    /// The replicas the master at `master_index` was started with.
    pub fn replicas_of(&self, master_index: usize) -> impl Iterator<Item = &RedisNode> {
        self.replicas
            .iter()
            .zip(&self.replica_of)
            .filter(move |(_, &m)| m == master_index)
            .map(|(replica, _)| replica)
    }

    /// Every node, masters first.
    pub fn nodes(&self) -> impl Iterator<Item = &RedisNode> {
        self.masters.iter().chain(&self.replicas)
    }

    /// The masters' addresses: the seeds a proxy is given.
    pub fn master_addrs(&self) -> Vec<SocketAddr> {
        self.masters.iter().map(RedisNode::addr).collect()
    }

    /// The cluster's scratch directory.
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The slot of `key`, as a real node computes it (`CLUSTER KEYSLOT`).
    pub fn key_slot(&self, key: impl AsRef<[u8]>) -> u16 {
        self.key_slots(&[key])[0]
    }

    /// The slots of many keys, asked of a real node in one pipeline.
    pub fn key_slots<K: AsRef<[u8]>>(&self, keys: &[K]) -> Vec<u16> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("CLUSTER").arg("KEYSLOT").arg(key.as_ref());
        }
        let node = self.any_running_node();
        pipe.query(&mut node.client())
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT on {} failed: {e}", node.addr()))
    }

    /// The node serving each slot (index = slot), according to a running master's CLUSTER SLOTS.
    pub fn slot_owners(&self) -> Vec<&RedisNode> {
        let node = self.running_master();
        let mut owners = vec![None; usize::from(SLOTS)];
        for range in cluster_slots(node) {
            let owner = self.node_by_port(range.master_port);
            for slot in range.start..=range.end {
                owners[usize::from(slot)] = Some(owner);
            }
        }
        owners
            .into_iter()
            .enumerate()
            .map(|(slot, owner)| {
                owner.unwrap_or_else(|| panic!("{} says slot {slot} has no owner", node.addr()))
            })
            .collect()
    }

    /// `count` keys named `<prefix>:<n>` whose slots `node` owns.
    pub fn keys_on(&self, node: &RedisNode, prefix: &str, count: usize) -> Vec<String> {
        let owners = self.slot_owners();
        let candidates: Vec<String> = (0..count * 20).map(|n| format!("{prefix}:{n}")).collect();
        let slots = self.key_slots(&candidates);
        let keys: Vec<String> = candidates
            .into_iter()
            .zip(slots)
            .filter(|(_, slot)| owners[usize::from(*slot)].port() == node.port())
            .map(|(key, _)| key)
            .take(count)
            .collect();
        assert_eq!(keys.len(), count, "not enough {prefix}:* keys on {node:?}");
        keys
    }

    /// A master other than `node`, to move a slot to.
    pub fn other_master(&self, node: &RedisNode) -> &RedisNode {
        self.masters
            .iter()
            .find(|m| m.is_running() && m.port() != node.port())
            .expect("a second running master")
    }

    /// The node serving `slot`.
    pub fn node_for_slot(&self, slot: u16) -> &RedisNode {
        let node = self.running_master();
        let range = cluster_slots(node)
            .into_iter()
            .find(|range| (range.start..=range.end).contains(&slot))
            .unwrap_or_else(|| panic!("{} says slot {slot} has no owner", node.addr()));
        self.node_by_port(range.master_port)
    }

    /// Moves `slot` and all its keys from `from` to `to`, as `redis-cli --cluster reshard` does.
    pub fn migrate_slot(&self, slot: u16, from: &RedisNode, to: &RedisNode) {
        self.begin_migration(slot, from, to);
        self.finish_migration(slot, from, to);
    }

    /// Marks `slot` as importing on `to` and migrating on `from`. Until
    /// [`finish_migration`](Self::finish_migration), `from` answers `-ASK` for the slot's keys
    /// it no longer has.
    pub fn begin_migration(&self, slot: u16, from: &RedisNode, to: &RedisNode) {
        set_slot(to, slot, &["IMPORTING", from.node_id()]);
        set_slot(from, slot, &["MIGRATING", to.node_id()]);
    }

    /// Moves up to `count` of `slot`'s keys from `from` to `to` with one MIGRATE; returns how
    /// many it moved (0 once `from` has none left).
    pub fn move_keys(&self, slot: u16, from: &RedisNode, to: &RedisNode, count: usize) -> usize {
        let mut con = from.client();
        let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(count)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("GETKEYSINSLOT {slot} on {} failed: {e}", from.addr()));
        if keys.is_empty() {
            return 0;
        }
        let reply: String = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(to.port())
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&keys)
            .query(&mut con)
            .unwrap_or_else(|e| panic!("MIGRATE of slot {slot} to {} failed: {e}", to.addr()));
        assert!(
            reply == "OK" || reply == "NOKEY",
            "MIGRATE of slot {slot} replied {reply}"
        );
        keys.len()
    }

    /// Moves `slot`'s remaining keys from `from` to `to`, then hands the slot to `to` on every
    /// master: `to` first, then `from`, then the others, the order `redis-cli` uses.
    pub fn finish_migration(&self, slot: u16, from: &RedisNode, to: &RedisNode) {
        while self.move_keys(slot, from, to, 100) > 0 {}
        let others = self
            .masters
            .iter()
            .filter(|m| m.is_running() && m.port() != from.port() && m.port() != to.port());
        for node in [to, from].into_iter().chain(others) {
            set_slot(node, slot, &["NODE", to.node_id()]);
        }
    }

    fn assign_slots_and_meet(&self) {
        let count = self.masters.len();
        for (i, master) in self.masters.iter().enumerate() {
            let (first, last) = slot_range(i, count);
            let mut con = master.client();
            let epoch = i + 1;
            redis::pipe()
                .cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(first)
                .arg(last)
                .cmd("CLUSTER")
                .arg("SET-CONFIG-EPOCH")
                .arg(epoch)
                .exec(&mut con)
                .unwrap_or_else(|e| panic!("assigning slots to {} failed: {e}", master.addr()));
        }
        let first = &self.masters[0];
        for node in self.nodes().skip(1) {
            redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(first.port())
                .exec(&mut node.client())
                .unwrap_or_else(|e| panic!("CLUSTER MEET from {} failed: {e}", node.addr()));
        }
    }

    fn attach_replicas(&self) {
        for (replica, &m) in self.replicas.iter().zip(&self.replica_of) {
            redis::cmd("CLUSTER")
                .arg("REPLICATE")
                .arg(self.masters[m].node_id())
                .exec(&mut replica.client())
                .unwrap_or_else(|e| panic!("CLUSTER REPLICATE on {} failed: {e}", replica.addr()));
        }
    }

    /// Waits until every node knows every node and has a link to it.
    fn wait_until_all_met(&self) {
        wait_for_ok(AGREEMENT_TIMEOUT, "the nodes to meet", || {
            for node in self.nodes() {
                self.check_links(&cluster_nodes(node))
                    .map_err(|problem| format!("{}: {problem}", node.addr()))?;
            }
            Ok(())
        });
    }

    /// Waits until every node knows every node, sees each replica under its master, reports
    /// `cluster_state:ok` and lists the starting slot layout with its replicas in CLUSTER SLOTS,
    /// and every replica is in sync with its master.
    fn wait_for_agreement(&self) {
        let count = self.masters.len();
        let expected: BTreeSet<SlotRange> = (0..count)
            .map(|i| {
                let (start, end) = slot_range(i, count);
                let mut replica_ports: Vec<u16> =
                    self.replicas_of(i).map(RedisNode::port).collect();
                replica_ports.sort_unstable();
                SlotRange {
                    start,
                    end,
                    master_port: self.masters[i].port(),
                    replica_ports,
                }
            })
            .collect();
        wait_for_ok(AGREEMENT_TIMEOUT, "the cluster to agree", || {
            for node in self.nodes() {
                self.check_view(node, &expected)
                    .map_err(|problem| format!("{}: {problem}", node.addr()))?;
            }
            Ok(())
        });
    }

    /// Whether a node's CLUSTER NODES lists every node, none of them in doubt, with a live link.
    fn check_links(&self, lines: &[NodeLine]) -> Result<(), String> {
        let total = self.masters.len() + self.replicas.len();
        if lines.len() != total {
            return Err(format!("knows {} of {total} nodes", lines.len()));
        }
        for line in lines {
            let bad_flag = line
                .flags
                .iter()
                .find(|f| matches!(f.as_str(), "handshake" | "noaddr" | "fail" | "fail?"));
            if let Some(flag) = bad_flag {
                return Err(format!("sees {} as {flag}", line.port));
            }
            if !line.connected {
                return Err(format!("has no link to {}", line.port));
            }
        }
        Ok(())
    }

    /// Whether `node`'s view of the cluster is the expected one; if not, what differs.
    fn check_view(&self, node: &RedisNode, expected: &BTreeSet<SlotRange>) -> Result<(), String> {
        let lines = cluster_nodes(node);
        self.check_links(&lines)?;
        for (replica, &m) in self.replicas.iter().zip(&self.replica_of) {
            let line = lines
                .iter()
                .find(|l| l.id == replica.node_id())
                .ok_or_else(|| format!("does not know replica {}", replica.port()))?;
            let master_id = self.masters[m].node_id();
            if !line.flags.iter().any(|f| f == "slave") || line.master_id != master_id {
                return Err(format!(
                    "does not see {} as a replica of {master_id}",
                    line.port
                ));
            }
        }
        let info = node.query_string(&["CLUSTER", "INFO"]);
        if !info.contains("cluster_state:ok") {
            return Err("cluster_state is not ok".into());
        }
        // A replica is listed once its master has gossiped a replication offset for it.
        let seen: BTreeSet<SlotRange> = cluster_slots(node).into_iter().collect();
        if &seen != expected {
            return Err(format!("CLUSTER SLOTS is {seen:?}, expected {expected:?}"));
        }
        if self.replicas.iter().any(|r| r.port() == node.port()) {
            let replication = node.query_string(&["INFO", "replication"]);
            if !replication.contains("master_link_status:up") {
                return Err("replica not in sync with its master".into());
            }
        }
        Ok(())
    }

    fn node_by_port(&self, port: u16) -> &RedisNode {
        self.nodes()
            .find(|n| n.port() == port)
            .unwrap_or_else(|| panic!("no node of this cluster has port {port}"))
    }

    fn running_master(&self) -> &RedisNode {
        self.masters
            .iter()
            .find(|n| n.is_running())
            .expect("no master is running")
    }

    fn any_running_node(&self) -> &RedisNode {
        self.nodes()
            .find(|n| n.is_running())
            .expect("no node is running")
    }
}

/// The slots the master at `index` of `count` starts with: an even share, in order.
fn slot_range(index: usize, count: usize) -> (u16, u16) {
    let share = |i: usize| u16::try_from(i * usize::from(SLOTS) / count).expect("slot fits");
    (share(index), share(index + 1) - 1)
}

fn set_slot(node: &RedisNode, slot: u16, args: &[&str]) {
    redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(args)
        .exec(&mut node.client())
        .unwrap_or_else(|e| {
            panic!(
                "CLUSTER SETSLOT {slot} {args:?} on {} failed: {e}",
                node.addr()
            )
        });
}

/// One entry of CLUSTER SLOTS, reduced to ports (every node is on 127.0.0.1), replicas sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SlotRange {
    start: u16,
    end: u16,
    master_port: u16,
    replica_ports: Vec<u16>,
}

fn cluster_slots(node: &RedisNode) -> Vec<SlotRange> {
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut node.client())
        .unwrap_or_else(|e| panic!("CLUSTER SLOTS on {} failed: {e}", node.addr()));
    let malformed = || panic!("malformed CLUSTER SLOTS reply from {}", node.addr());
    let Value::Array(entries) = reply else {
        malformed()
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Array(fields) = entry else {
                malformed()
            };
            let int = |value: &Value| match value {
                Value::Int(n) => u16::try_from(*n).unwrap_or_else(|_| malformed()),
                _ => malformed(),
            };
            let port = |value: &Value| match value {
                Value::Array(endpoint) if endpoint.len() >= 2 => int(&endpoint[1]),
                _ => malformed(),
            };
            if fields.len() < 3 {
                malformed();
            }
            let mut replica_ports: Vec<u16> = fields[3..].iter().map(port).collect();
            replica_ports.sort_unstable();
            SlotRange {
                start: int(&fields[0]),
                end: int(&fields[1]),
                master_port: port(&fields[2]),
                replica_ports,
            }
        })
        .collect()
}

/// One line of CLUSTER NODES.
#[derive(Debug)]
struct NodeLine {
    id: String,
    port: u16,
    flags: Vec<String>,
    /// The master's id for a replica, `-` for a master.
    master_id: String,
    connected: bool,
}

fn cluster_nodes(node: &RedisNode) -> Vec<NodeLine> {
    let text = node.query_string(&["CLUSTER", "NODES"]);
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> ...
            let fields: Vec<&str> = line.split(' ').collect();
            let malformed = || panic!("malformed CLUSTER NODES line from {}: {line}", node.addr());
            if fields.len() < 8 {
                malformed();
            }
            let port = fields[1]
                .split(['@', ','])
                .next()
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|port| port.parse().ok())
                .unwrap_or_else(malformed);
            NodeLine {
                id: fields[0].to_string(),
                port,
                flags: fields[2].split(',').map(str::to_string).collect(),
                master_id: fields[3].to_string(),
                connected: fields[7] == "connected",
            }
        })
        .collect()
}
