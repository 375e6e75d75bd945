//! The `slotgate` binary: parse the command line, set up logging, run the chosen face.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use slotgate::node::{self, NodeConfig};
use slotgate::proxy::{self, ProxyConfig, ReadFrom, Secret};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "slotgate", version, about = "A Redis Cluster smart proxy")]
struct Cli {
    #[command(subcommand)]
    face: Face,
    /// Log lines as plain text or as JSON objects (one per line). `RUST_LOG` sets the filter.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Face {
    /// Serve non-cluster Redis clients in front of a Redis Cluster.
    Proxy(Box<ProxyArgs>),
    /// A Redis-compatible server: `slotgate node [redis.conf] [--directive value …]`.
    Node(NodeArgs),
    /// Cluster administration, like `redis-cli --cluster` (not built yet).
    Cluster,
    /// A local cluster of bundled nodes plus a proxy (not built yet).
    Up,
}

/// Like redis-server's command line: an optional config file, then directives as flags.
#[derive(Args)]
struct NodeArgs {
    /// `[redis.conf] [--directive value …]`: a config file in redis.conf syntax (see
    /// config/node.conf), then directives that override it (e.g. `--port 7001`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

impl NodeArgs {
    fn into_config(self) -> anyhow::Result<NodeConfig> {
        let (file, directives) = match self.args.split_first() {
            Some((first, rest)) if !first.starts_with("--") => (Some(PathBuf::from(first)), rest),
            _ => (None, &self.args[..]),
        };
        Ok(NodeConfig::load(file.as_deref(), directives)?)
    }
}

/// Flags override the config file, which overrides the defaults.
#[derive(Args)]
struct ProxyArgs {
    /// TOML config file (see config/proxy.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address clients connect to.
    #[arg(long)]
    listen: Option<String>,
    /// Comma-separated cluster nodes to learn the topology from.
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<String>>,
    /// Address of the Prometheus metrics endpoint.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Worker threads (0: one per CPU core).
    #[arg(long)]
    workers: Option<usize>,
    /// Shared connections per backend node, per worker.
    #[arg(long)]
    pool_size: Option<usize>,
    #[arg(long)]
    connect_timeout_ms: Option<u64>,
    #[arg(long)]
    request_timeout_ms: Option<u64>,
    #[arg(long)]
    refresh_interval_ms: Option<u64>,
    #[arg(long)]
    max_clients: Option<usize>,
    /// Seconds before an idle client is disconnected (0: never).
    #[arg(long)]
    timeout: Option<u64>,
    /// Where read-only commands go.
    #[arg(long, value_enum)]
    read_from: Option<ReadFrom>,
    /// How long requests wait for a failover to finish.
    #[arg(long)]
    failover_hold_ms: Option<u64>,
    /// Password clients must give with AUTH.
    #[arg(long)]
    requirepass: Option<String>,
    /// ACL user for the proxy's connections to the nodes.
    #[arg(long)]
    backend_user: Option<String>,
    /// Password for the proxy's connections to the nodes.
    #[arg(long)]
    backend_password: Option<String>,
}

impl ProxyArgs {
    fn into_config(self) -> anyhow::Result<ProxyConfig> {
        let mut c = match &self.config {
            Some(path) => ProxyConfig::from_file(path)?,
            None => ProxyConfig::default(),
        };
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = self.seeds {
            c.seeds = v;
        }
        if let Some(v) = self.metrics_listen {
            c.metrics_listen = v;
        }
        if let Some(v) = self.workers {
            c.workers = v;
        }
        if let Some(v) = self.pool_size {
            c.pool_size = v;
        }
        if let Some(v) = self.connect_timeout_ms {
            c.connect_timeout_ms = v;
        }
        if let Some(v) = self.request_timeout_ms {
            c.request_timeout_ms = v;
        }
        if let Some(v) = self.refresh_interval_ms {
            c.refresh_interval_ms = v;
        }
        if let Some(v) = self.max_clients {
            c.max_clients = v;
        }
        if let Some(v) = self.timeout {
            c.timeout = v;
        }
        if let Some(v) = self.read_from {
            c.read_from = v;
        }
        if let Some(v) = self.failover_hold_ms {
            c.failover_hold_ms = v;
        }
        if let Some(v) = self.requirepass {
            c.requirepass = Secret(v);
        }
        if let Some(v) = self.backend_user {
            c.backend_user = v;
        }
        if let Some(v) = self.backend_password {
            c.backend_password = Secret(v);
        }
        c.validate()?;
        Ok(c)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    let result = match cli.face {
        Face::Proxy(args) => (*args).into_config().and_then(run_proxy),
        Face::Node(args) => args.into_config().and_then(run_node),
        Face::Cluster => not_built("cluster", "cluster administration"),
        Face::Up => not_built("up", "the local cluster launcher"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slotgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn not_built(face: &str, what: &str) -> anyhow::Result<()> {
    anyhow::bail!("`slotgate {face}` ({what}) is not built yet")
}

fn run_proxy(config: ProxyConfig) -> anyhow::Result<()> {
    // Accepting and topology refreshes run here; clients are served on the proxy's workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signals.cancel();
        });
        proxy::run(config, shutdown).await
    })
}

fn run_node(config: NodeConfig) -> anyhow::Result<()> {
    // Commands run under one keyspace lock, so more threads only help with reading, parsing
    // and writing for many clients. As in Redis, `io-threads 1` (the default) serves every
    // client from one thread: no lock handoffs between threads, no cross-thread wakeups.
    let threads = config.usize("io-threads").max(1);
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signals.cancel();
        });
        node::run(config, shutdown).await
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
