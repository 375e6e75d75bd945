//! `slotgate proxy`: non-cluster Redis clients in front, a Redis Cluster behind.
//!
//! - [`run`] accepts clients (bounded by `max-clients`) and hands each to one of the
//!   `workers`: threads with a single-threaded runtime each. A client's session and the
//!   backend connections it uses live on the same worker, so a request never wakes another
//!   thread, and every session that becomes ready in one turn of the worker's event loop has
//!   queued its request before the backend writer runs: one write carries them all.
//! - `session` parses a client's commands and writes its replies in order.
//! - `auth` holds a client to AUTH when passwords are configured; `local` answers the
//!   proxy's own commands; `route` decides where the others go.
//! - `router` holds the slot-map snapshot and the backend pools and follows redirects;
//!   `refresher` keeps the snapshot true.
//! - `pool` and `backend` are the shared, pipelined backend connections.

mod auth;
mod backend;
mod clients;
mod commandstats;
pub mod config;
mod dedicated;
mod error;
mod gather;
mod handshake;
mod info;
mod local;
mod metrics;
mod pool;
mod refresher;
mod request;
mod route;
mod router;
mod scan;
mod session;
mod stats;
mod workers;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{ConfigError, ProxyConfig, ReadFrom, Secret};
pub use error::ProxyError;
pub use refresher::fetch_slot_map;
pub use router::Router;

use refresher::Refresher;
use stats::ProxyStats;
use workers::Workers;

/// What every session shares.
pub struct ProxyContext {
    pub config: Arc<ProxyConfig>,
    pub router: Arc<Router>,
    pub stats: ProxyStats,
    pub clients: Arc<clients::ClientRegistry>,
}

/// How long a clean shutdown waits for sessions to write the replies they owe.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the proxy until `shutdown` is cancelled. Call it on a current-thread runtime: it
/// accepts and refreshes there, and serves clients on its own worker threads.
pub async fn run(config: ProxyConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let metrics_listener = if config.metrics_listen.is_empty() {
        None
    } else {
        let listener = TcpListener::bind(&config.metrics_listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.metrics_listen))?;
        Some((listener, metrics::install()))
    };
    let config = Arc::new(config);
    let router = Router::new(config.clone());
    let mut refresher = Refresher::new(router.clone(), config.seed_addrs());
    if !refresher.refresh_once().await {
        if let Some(reason) = refresher.auth_failure() {
            // Wrong credentials do not fix themselves: stop now, saying so.
            anyhow::bail!(
                "the cluster's nodes refused the proxy: {reason} (check backend-user and backend-password)"
            );
        }
        tracing::warn!("no seed answered yet; serving errors until the slot map is known");
    }
    let tracker = TaskTracker::new();
    tracker.spawn(refresher.run(shutdown.clone()));
    let workers = Workers::start(
        config.worker_count(),
        &tracker,
        shutdown.clone(),
        SHUTDOWN_GRACE,
    )?;
    tracing::info!(listen = %config.listen, workers = workers.len(), "slotgate proxy ready");

    let ctx = Arc::new(ProxyContext {
        config: config.clone(),
        router,
        stats: ProxyStats::default(),
        clients: Arc::default(),
    });
    let ticker = ctx.clone();
    let ticking = shutdown.clone();
    tracker.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = ticking.cancelled() => return,
                _ = every.tick() => ticker.stats.tick(),
            }
        }
    });
    if let Some((listener, handle)) = metrics_listener {
        tracing::info!(metrics_listen = %config.metrics_listen, "serving /metrics and /health");
        tracker.spawn(metrics::serve(
            listener,
            handle,
            ctx.clone(),
            shutdown.clone(),
        ));
    }
    accept_loop(listener, ctx, &workers, &tracker, &shutdown).await;

    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not finish within the shutdown grace period");
    }
    let _ = tokio::task::spawn_blocking(move || workers.join()).await;
    Ok(())
}

/// Accepts clients until shutdown, at most `max-clients` at once; backs off when accepting
/// fails (for example when out of file descriptors).
async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ProxyContext>,
    workers: &Workers,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_clients));
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (mut stream, peer_addr) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(5);
                a
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        ctx.stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            ctx.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            tracker.spawn(async move {
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            continue;
        };
        // Move the socket to the worker's event loop: deregister it here, register it there.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, %peer_addr, "cannot hand a client to a worker");
                continue;
            }
        };
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        workers.spawn(move |worker| async move {
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, %peer_addr, "cannot register a client socket");
                    return;
                }
            };
            ctx.stats.connected_clients.fetch_add(1, Ordering::Relaxed);
            session::serve(stream, worker, peer_addr, ctx.clone(), shutdown).await;
            ctx.stats.connected_clients.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}
