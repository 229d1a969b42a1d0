//! Serving the router: each connection under read timeouts (a slow client cannot hold one
//! open by trickling its headers, or by sending nothing), and a graceful stop.

use axum::Router;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// How long a connection may keep the server waiting.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionTimeouts {
    /// A request's headers must arrive within this, and a new connection's first bytes too.
    pub header: Duration,
    /// A connection with no request in progress that sends nothing for this long is closed.
    pub idle: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then lets open requests finish for at
/// most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: ConnectionTimeouts,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let activity = Arc::new(Activity::new());
                let router = router.clone();
                let busy = activity.clone();
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                    let guard = Busy::start(busy.clone());
                    let response = router.clone().oneshot(req);
                    async move {
                        let response = response.await?;
                        Ok::<_, std::convert::Infallible>(response.map(|body| Guarded { body, _guard: guard }))
                    }
                });
                let io = TokioIo::new(Watched { stream, activity: activity.clone() });
                let conn = builder.serve_connection_with_upgrades(io, service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(until_idle(conn, activity, timeouts));
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("flowgate: grace period over; closing the remaining connections");
    }
}

/// Drives a connection; drops it once it has been idle past its limit with no request open.
async fn until_idle(conn: impl Future, activity: Arc<Activity>, timeouts: ConnectionTimeouts) {
    tokio::pin!(conn);
    loop {
        let limit = match activity.served.load(Ordering::Relaxed) {
            false => timeouts.header,
            true => timeouts.idle,
        };
        let deadline = activity.last_read() + limit;
        tokio::select! {
            _ = &mut conn => return,
            _ = tokio::time::sleep_until(deadline.into()) => {
                let open = activity.open.load(Ordering::Relaxed);
                if open == 0 && activity.last_read().elapsed() >= limit {
                    return;
                }
            }
        }
    }
}

/// What a connection is doing: whether it has sent a request, requests still open (until
/// their response body is sent or dropped), and when it last sent bytes.
struct Activity {
    started: Instant,
    served: AtomicBool,
    open: AtomicU32,
    last_read_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            served: AtomicBool::new(false),
            open: AtomicU32::new(0),
            last_read_ms: AtomicU64::new(0),
        }
    }

    fn read(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_read_ms.store(ms, Ordering::Relaxed);
    }

    fn last_read(&self) -> Instant {
        self.started + Duration::from_millis(self.last_read_ms.load(Ordering::Relaxed))
    }
}

/// A request open on its connection, from its head until its response body is done.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Busy {
        activity.served.store(true, Ordering::Relaxed);
        activity.open.fetch_add(1, Ordering::Relaxed);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.read();
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as open until it is finished.
struct Guarded {
    body: axum::body::Body,
    _guard: Busy,
}

impl Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, noting when the client last sent bytes.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
