//! Worker threads, each running a single-threaded runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The threads that serve clients. Work is handed to them round-robin; whatever a worker's
/// task spawns (backend connections, redirects) stays on that worker.
pub struct Workers {
    handles: Vec<Handle>,
    threads: Vec<JoinHandle<()>>,
    next: AtomicUsize,
    tracker: TaskTracker,
}

impl Workers {
    /// Starts `count` workers. After `shutdown`, each runs until `tracker`'s tasks are done
    /// (once it is closed), for at most `grace`.
    pub fn start(
        count: usize,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
        grace: Duration,
    ) -> std::io::Result<Workers> {
        let mut handles = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for i in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let tracker = tracker.clone();
            let shutdown = shutdown.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("slotgate-worker-{i}"))
                    .spawn(move || {
                        runtime.block_on(async {
                            shutdown.cancelled().await;
                            let _ = tokio::time::timeout(grace, tracker.wait()).await;
                        })
                    })?,
            );
        }
        Ok(Workers {
            handles,
            threads,
            next: AtomicUsize::new(0),
            tracker: tracker.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Runs the future `make(worker index)` builds on the next worker, tracked for shutdown.
    pub fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(self.tracker.track_future(make(i)));
    }

    /// Waits for every worker thread to end.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}
