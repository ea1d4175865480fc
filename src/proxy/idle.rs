//! Closes client connections that are slow or idle:
//! - a request head (HTTP/1) must arrive whole within `limits.header_read_timeout` of its
//!   first byte (slowloris);
//! - a connection quiet before its first request is closed after
//!   `limits.header_read_timeout`, and one quiet between requests after `limits.idle_timeout`.
//!
//! Why not hyper's own `header_read_timeout`: its timer starts as soon as hyper waits for
//! the next head, so on a keep-alive connection it also runs while the client is merely
//! idle, and closed idle keep-alive connections after `header_read_timeout` instead of
//! `idle_timeout`. And hyper-util's protocol detection (HTTP/1 or HTTP/2 preface) waits
//! for the first bytes with no timeout at all, so a client that connects and says nothing
//! would hold a connection slot forever. This wrapper notes the time of every read and
//! write, and when the bytes of a new head start arriving; the connection task closes the
//! connection gracefully when a limit is passed with no request in flight.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Version;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `head_from_ms` when no head is being read.
const NO_HEAD: u64 = u64::MAX;

/// When a connection last moved bytes, whether a head is arriving, and how many requests
/// it has in flight.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    /// When the first byte after the last request arrived (ms since `started`): a head is
    /// being read. `NO_HEAD` while a request is in flight or nothing has arrived since.
    head_from_ms: AtomicU64,
    /// An HTTP/2 request was seen: streams have no head to time here (hyper's HTTP/2
    /// settings bound them), and frames between requests are not the start of one.
    multiplexed: AtomicBool,
    in_flight: AtomicUsize,
    requests: AtomicU64,
}

/// Why [`Activity::idle`] gave up on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// A request head was still incomplete `header_read_timeout` after its first byte.
    SlowHead,
    /// Nothing moved for the limit that applies (before the first request or between).
    Idle,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            head_from_ms: AtomicU64::new(NO_HEAD),
            multiplexed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NO_HEAD - 1)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Relaxed);
    }

    /// Bytes arrived: with no request in flight, they begin the next head.
    fn touch_read(&self) {
        let now = self.now_ms();
        self.last_ms.store(now, Relaxed);
        if self.in_flight.load(Relaxed) == 0 && !self.multiplexed.load(Relaxed) {
            let _ = self
                .head_from_ms
                .compare_exchange(NO_HEAD, now, Relaxed, Relaxed);
        }
    }

    /// Marks a request (its head complete) in flight until the guard drops.
    pub fn request(self: &Arc<Self>, version: Version) -> RequestGuard {
        if version == Version::HTTP_2 {
            self.multiplexed.store(true, Relaxed);
        }
        self.in_flight.fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed);
        self.head_from_ms.store(NO_HEAD, Relaxed);
        RequestGuard(self.clone())
    }

    /// Resolves once the connection, with nothing in flight, has passed a limit: a head
    /// incomplete `header_limit` after its first byte, or quiet for `header_limit` until a
    /// request has been seen and for `between` after.
    pub async fn idle(&self, header_limit: Duration, between: Duration) -> Closed {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
        // A request can start at any moment and change which limit applies, so sleep
        // only until the earliest deadline any limit allows, then look again.
        let shortest = header_limit.min(between);
        loop {
            let quiet_limit = if self.requests.load(Relaxed) == 0 {
                header_limit
            } else {
                between
            };
            let now = self.now_ms();
            let head_from = self.head_from_ms.load(Relaxed);
            let quiet_since = self.last_ms.load(Relaxed);
            if self.in_flight.load(Relaxed) == 0 {
                if head_from != NO_HEAD && now >= head_from.saturating_add(ms(header_limit)) {
                    return Closed::SlowHead;
                }
                if now >= quiet_since.saturating_add(ms(quiet_limit)) {
                    return Closed::Idle;
                }
            }
            let mut next = quiet_since.saturating_add(ms(shortest));
            if head_from != NO_HEAD {
                next = next.min(head_from.saturating_add(ms(header_limit)));
            }
            let wait = Duration::from_millis(next.saturating_sub(now))
                .max(Duration::from_millis(100))
                .min(shortest);
            tokio::time::sleep(wait).await;
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
            self.activity.touch_read();
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

    /// `activity.idle(..)` running on its own task.
    fn watch(
        activity: &Arc<Activity>,
        header_limit: Duration,
        between: Duration,
    ) -> tokio::task::JoinHandle<Closed> {
        let activity = activity.clone();
        tokio::spawn(async move { activity.idle(header_limit, between).await })
    }

    #[tokio::test]
    async fn the_between_requests_limit_applies_once_a_request_was_seen() {
        // The idle watch starts before the first request (a long limit), then a request
        // comes and goes: the short limit must apply without waiting out the long one.
        let activity = Activity::new();
        let started = Instant::now();
        let idle = watch(
            &activity,
            Duration::from_secs(30),
            Duration::from_millis(200),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(activity.request(Version::HTTP_11));
        tokio::time::timeout(Duration::from_secs(5), idle)
            .await
            .expect("closed well before the 30 s first-request limit")
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_request_in_flight_is_never_idle() {
        let activity = Activity::new();
        let in_flight = activity.request(Version::HTTP_11);
        let fifty = Duration::from_millis(50);
        let idle = activity.idle(fifty, fifty);
        assert!(tokio::time::timeout(Duration::from_millis(400), idle)
            .await
            .is_err());
        drop(in_flight);
        let idle = activity.idle(fifty, fifty);
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(2), idle).await,
            Ok(Closed::Idle)
        );
    }

    #[tokio::test]
    async fn a_head_that_keeps_trickling_is_closed_after_the_header_limit() {
        let activity = Activity::new();
        drop(activity.request(Version::HTTP_11));
        let started = Instant::now();
        let idle = watch(
            &activity,
            Duration::from_millis(300),
            Duration::from_secs(30),
        );
        // A byte every 50 ms: never quiet, never a whole head.
        while !idle.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(3), "never closed");
            activity.touch_read();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(idle.await.unwrap(), Closed::SlowHead);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_keep_alive_connection_waits_for_the_idle_limit_not_the_header_limit() {
        let activity = Activity::new();
        drop(activity.request(Version::HTTP_11));
        let started = Instant::now();
        let closed = activity
            .idle(Duration::from_millis(100), Duration::from_millis(600))
            .await;
        assert_eq!(closed, Closed::Idle);
        assert!(started.elapsed() >= Duration::from_millis(550));
    }

    #[tokio::test]
    async fn frames_between_http2_requests_are_not_a_slow_head() {
        let activity = Activity::new();
        drop(activity.request(Version::HTTP_2));
        activity.touch_read();
        let closed = tokio::time::timeout(
            Duration::from_millis(500),
            activity.idle(Duration::from_millis(100), Duration::from_secs(30)),
        )
        .await;
        assert!(closed.is_err(), "closed as {closed:?}");
    }
}
