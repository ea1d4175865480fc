//! Closes client connections that sit idle: before their first request (no bytes within
//! `limits.header_read_timeout`) and between requests (`limits.idle_timeout`).
//!
//! hyper's own header read timeout only starts once it reads a request head, and
//! hyper-util's protocol detection (HTTP/1 or HTTP/2 preface) waits for the first bytes
//! with no timeout at all, so a client that connects and says nothing would hold a
//! connection slot forever. This wrapper notes the time of every read and write; the
//! connection task closes the connection gracefully once it has been quiet for too long
//! with no request in flight.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// When a connection last moved bytes, and how many requests it has in flight.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    requests: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Relaxed);
    }

    /// Marks a request in flight until the guard drops.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed);
        RequestGuard(self.clone())
    }

    /// Resolves once the connection has been quiet for its limit with nothing in flight:
    /// `before_first` until a request has been seen, `between` after.
    pub async fn idle(&self, before_first: Duration, between: Duration) {
        // A request can start at any moment and change which limit applies, so sleep
        // only until the earliest deadline either limit allows, then look again.
        let shortest = before_first.min(between);
        loop {
            let limit = if self.requests.load(Relaxed) == 0 {
                before_first
            } else {
                between
            };
            let quiet_since = self.started + Duration::from_millis(self.last_ms.load(Relaxed));
            let now = Instant::now();
            if now >= quiet_since + limit && self.in_flight.load(Relaxed) == 0 {
                return;
            }
            let wake = (quiet_since + shortest)
                .max(now + Duration::from_millis(100))
                .min(now + shortest);
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// An I/O stream that records activity on every byte moved.
pub struct IdleIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> IdleIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> IdleIo<T> {
        IdleIo { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_between_requests_limit_applies_once_a_request_was_seen() {
        // The idle watch starts before the first request (a long limit), then a request
        // comes and goes: the short limit must apply without waiting out the long one.
        let activity = Activity::new();
        let watch = activity.clone();
        let started = Instant::now();
        let idle = tokio::spawn(async move {
            watch
                .idle(Duration::from_secs(30), Duration::from_millis(200))
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(activity.request());
        tokio::time::timeout(Duration::from_secs(5), idle)
            .await
            .expect("closed well before the 30 s first-request limit")
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_request_in_flight_is_never_idle() {
        let activity = Activity::new();
        let in_flight = activity.request();
        let idle = activity.idle(Duration::from_millis(50), Duration::from_millis(50));
        assert!(tokio::time::timeout(Duration::from_millis(400), idle)
            .await
            .is_err());
        drop(in_flight);
        let idle = activity.idle(Duration::from_millis(50), Duration::from_millis(50));
        assert!(tokio::time::timeout(Duration::from_secs(2), idle)
            .await
            .is_ok());
    }
}
