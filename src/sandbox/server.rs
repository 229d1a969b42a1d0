//! The accept loop the sandbox upstreams run on. It is hand-rolled (rather than `axum::serve`)
//! so that a fault can drop a single connection without answering.

use super::hooks::ConnKiller;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// A running HTTP server; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Stops accepting and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `router` on `listener` until stopped.
pub fn spawn(listener: TcpListener, router: Router) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel();
    let accepted = Arc::new(AtomicU64::new(0));
    let counted = accepted.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        counted.fetch_add(1, Ordering::Relaxed);
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_connection(stream, router.clone()));
                    }
                }
            }
        }
    });
    Ok(Running {
        addr,
        accepted,
        stop: Some(stop),
        task,
    })
}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let killer = Arc::new(Notify::new());
    let for_requests = killer.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut()
            .insert(ConnKiller(for_requests.clone()));
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = killer.notified() => {}
    }
}
