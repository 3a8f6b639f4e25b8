//! A bounded pool for CPU-heavy work (the anonymiser over a batch's narratives, the picture's
//! suppression), so it never runs on the async workers that serve everyone's calls. Each org may
//! use at most its share of the threads at once and queue a bounded number of jobs; beyond that
//! its calls are refused, while other orgs still get threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Limits, Refused};

/// Why a job did not run to completion.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error(transparent)]
    Busy(#[from] Refused),
    #[error("a CPU job failed: {0}")]
    Failed(String),
}

#[derive(Debug)]
struct OrgShare {
    running: Arc<Semaphore>,
    /// Jobs admitted (waiting or running).
    admitted: u32,
}

/// The pool; one per hub, shared by every service.
#[derive(Debug)]
pub struct CpuPool {
    threads: Arc<Semaphore>,
    per_org: u32,
    queue_per_org: u32,
    shares: Mutex<HashMap<String, OrgShare>>,
}

/// Gives an org's admission back when its job ends (or is dropped while waiting).
struct Admitted<'a> {
    pool: &'a CpuPool,
    org: &'a str,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let Ok(mut shares) = self.pool.shares.lock()
            && let Some(share) = shares.get_mut(self.org)
        {
            share.admitted = share.admitted.saturating_sub(1);
            if share.admitted == 0 {
                shares.remove(self.org);
            }
        }
    }
}

impl CpuPool {
    pub fn new(limits: &Limits) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = match limits.cpu_workers {
            0 => cores,
            n => n as usize,
        }
        .max(1);
        let per_org = match limits.cpu_jobs_per_org {
            0 => (threads / 2).max(1),
            n => (n as usize).min(threads),
        };
        Arc::new(Self {
            threads: Arc::new(Semaphore::new(threads)),
            per_org: u32::try_from(per_org).unwrap_or(u32::MAX),
            queue_per_org: limits.cpu_queue_per_org,
            shares: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `job` on a pool thread for `org`, once the org has a free share and a thread is free.
    pub async fn run<T: Send + 'static>(
        &self,
        org: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        let running = self.admit(org)?;
        let _admitted = Admitted { pool: self, org };
        let closed = |_| CpuError::Failed("the CPU pool is closed".into());
        let _own = running.acquire_owned().await.map_err(closed)?;
        let _thread = self.threads.clone().acquire_owned().await.map_err(closed)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|error| CpuError::Failed(error.to_string()))
    }

    /// Jobs `org` has admitted (waiting or running).
    pub fn admitted(&self, org: &str) -> u32 {
        self.shares
            .lock()
            .ok()
            .and_then(|shares| shares.get(org).map(|share| share.admitted))
            .unwrap_or(0)
    }

    fn admit(&self, org: &str) -> Result<Arc<Semaphore>, Refused> {
        let refused = Refused {
            what: "limits.cpu_queue_per_org",
            limit: self.queue_per_org,
            retry_after: Duration::from_millis(500),
        };
        let mut shares = self.shares.lock().map_err(|_| refused.clone())?;
        let share = shares.entry(org.to_string()).or_insert_with(|| OrgShare {
            running: Arc::new(Semaphore::new(self.per_org as usize)),
            admitted: 0,
        });
        if share.admitted >= self.per_org.saturating_add(self.queue_per_org) {
            return Err(refused);
        }
        share.admitted += 1;
        Ok(share.running.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn pool(workers: u32, per_org: u32, queue: u32) -> Arc<CpuPool> {
        CpuPool::new(&Limits {
            cpu_workers: workers,
            cpu_jobs_per_org: per_org,
            cpu_queue_per_org: queue,
            ..Limits::default()
        })
    }

    /// A job that holds its thread until released, and says when it started.
    fn held_job(
        started: mpsc::Sender<()>,
        release: Arc<std::sync::Barrier>,
    ) -> impl FnOnce() + Send + 'static {
        move || {
            let _ = started.send(());
            release.wait();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_org_cannot_take_every_thread_and_its_queue_is_bounded() {
        let pool = pool(2, 1, 1);
        let release = Arc::new(std::sync::Barrier::new(2));
        let (started, started_rx) = mpsc::channel();
        // ngo-a runs one job (its share) and queues one (its queue).
        let running = {
            let pool = pool.clone();
            let job = held_job(started.clone(), release.clone());
            tokio::spawn(async move { pool.run("ngo-a", job).await })
        };
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("ngo-a's first job runs");
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("ngo-a", || 2).await })
        };
        while pool.admitted("ngo-a") < 2 {
            tokio::task::yield_now().await;
        }
        // A third job from ngo-a is refused, naming the limit.
        match pool.run("ngo-a", || 3).await {
            Err(CpuError::Busy(refused)) => assert_eq!(refused.what, "limits.cpu_queue_per_org"),
            other => panic!("ngo-a's third job must be refused: {other:?}"),
        }
        // Another org still gets the second thread while ngo-a holds its share.
        assert_eq!(pool.run("ngo-b", || 7).await.expect("ngo-b runs"), 7);
        release.wait();
        running.await.expect("task").expect("job");
        assert_eq!(queued.await.expect("task").expect("queued job"), 2);
        // Everything given back: ngo-a runs again.
        assert_eq!(pool.run("ngo-a", || 4).await.expect("again"), 4);
    }
}
