//! The API's listener: at most so many connections at once (the next one is answered 503 and
//! closed), and a connection idle for the idle timeout is closed. Idle means no byte in or out
//! and no request of it in progress, so a slow handler or a quiet event stream is not cut.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// What a connection over the cap is told before it is closed.
fn busy_answer() -> &'static [u8] {
    static ANSWER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ANSWER.get_or_init(|| {
        let body = r#"{"error":"busy","message":"too many connections are open: retry in a moment","field":null}"#;
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
}

pub struct EdgeListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl EdgeListener {
    pub fn new(inner: TcpListener, max_connections: usize, idle: Duration) -> EdgeListener {
        EdgeListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            idle,
        }
    }
}

impl axum::serve::Listener for EdgeListener {
    type Io = EdgeIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (EdgeIo, SocketAddr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "API: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    metrics::gauge!("predial_http_connections").increment(1.0);
                    return (EdgeIo::new(stream, self.idle, permit), addr);
                }
                Err(_) => {
                    metrics::counter!("predial_http_connections_refused_total").increment(1);
                    let _ = stream.try_write(busy_answer());
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection: its stream, when it last moved, and how many of its requests are in progress.
pub struct EdgeIo {
    stream: TcpStream,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    busy: Arc<AtomicUsize>,
    _permit: OwnedSemaphorePermit,
}

impl EdgeIo {
    fn new(stream: TcpStream, idle: Duration, permit: OwnedSemaphorePermit) -> EdgeIo {
        let now = Instant::now();
        EdgeIo {
            stream,
            idle,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            busy: Arc::new(AtomicUsize::new(0)),
            _permit: permit,
        }
    }

    /// After a read or write that could not go on: an error once the connection has been
    /// idle too long (the timer is moved on lazily, not at every byte).
    fn idle_check<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            if self.busy.load(Ordering::Relaxed) > 0 {
                self.last = now;
            }
            if self.last + self.idle > now {
                let at = self.last + self.idle;
                self.timer.as_mut().reset(at);
                continue;
            }
            metrics::counter!("predial_http_idle_closed_total").increment(1);
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the connection was idle too long",
            )));
        }
    }
}

impl Drop for EdgeIo {
    fn drop(&mut self) {
        metrics::gauge!("predial_http_connections").decrement(1.0);
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.idle_check(cx),
        }
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.last = Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => this.idle_check(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_flush(cx) {
            Poll::Pending => this.idle_check(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Who is on the other end of a connection, and its count of requests in progress.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    busy: Arc<AtomicUsize>,
}

impl Connected<axum::serve::IncomingStream<'_, EdgeListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, EdgeListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            busy: stream.io().busy.clone(),
        }
    }
}

/// Middleware: the connection is not idle while one of its requests is in progress.
pub async fn in_progress(req: Request, next: Next) -> Response {
    let busy = req
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.busy.clone());
    let Some(busy) = busy else {
        return next.run(req).await;
    };
    busy.fetch_add(1, Ordering::Relaxed);
    struct Done(Arc<AtomicUsize>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _done = Done(busy);
    next.run(req).await
}
