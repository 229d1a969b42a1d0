//! Clients that are slow, too many or too large: headers and bodies must arrive in time and
//! within the limit, and requests past the concurrency cap are shed at once (503 with
//! `Retry-After`), never queued.

mod common;

use common::Gateway;
use flowgate::sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::server::{router, ConnectionTimeouts, GatewayConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// flowgate served by its own `serve`, with a 300 ms header timeout and a 600 ms idle timeout:
/// its address.
async fn served(tune: impl FnOnce(&mut GatewayConfig)) -> (std::net::SocketAddr, Sandbox) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let mut config = common::sandboxed(&sandbox);
    tune(&mut config);
    let app = router(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(flowgate::server::serve(
        listener,
        app,
        ConnectionTimeouts {
            header: Duration::from_millis(300),
            idle: Duration::from_millis(600),
        },
        std::future::pending(),
        Duration::from_secs(1),
    ));
    (addr, sandbox)
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server closed the connection");
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let (addr, _sandbox) = served(|_| {}).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let (addr, _sandbox) = served(|_| {}).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(answer, "");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_requests() {
    let (addr, _sandbox) = served(|_| {}).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_dripped_body_is_cut_at_the_body_timeout_however_it_is_paced() {
    let (addr, _sandbox) = served(|c| c.limits.body_timeout = Duration::from_millis(800)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let drip = tokio::spawn(async move {
        for _ in 0..40 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stream
    });
    let mut stream = drip.await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused() {
    let (addr, sandbox) = served(|c| c.limits.max_body_bytes = 1024).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
    for _ in 0..4 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("QUERY_LIMIT_EXCEEDED"), "{answer}");
    let calls = sandbox.appypie.hooks.total() + sandbox.appmixer.hooks.total();
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused() {
    let (addr, _sandbox) = served(|c| c.limits.body_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"query\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
}

#[tokio::test]
async fn requests_past_the_cap_are_shed_not_queued() {
    let g = Gateway::start_with(|c| {
        c.limits.max_concurrent_requests = 2;
        c.sharing.dedupe = false;
    })
    .await;
    g.sandbox
        .appmixer
        .hooks
        .add_fault(FaultRule::new("/user", Fault::Latency { ms: 400 }));
    let http = reqwest::Client::new();
    let sends = (0..8).map(|n| {
        http.post(&g.url)
            .header("x-appmixer-token", DEMO_USERS[0].appmixer_token)
            .json(&serde_json::json!({ "query": format!("{{ viewer {{ appmixer {{ e{n}: email }} }} }}") }))
            .send()
    });
    let answers = futures_util::future::join_all(sends).await;
    let (mut served, mut shed) = (0, 0);
    for res in answers {
        let res = res.unwrap();
        if res.status() == 503 {
            assert_eq!(res.headers()["retry-after"], "1");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
            shed += 1;
        } else {
            assert_eq!(res.status(), 200);
            served += 1;
        }
    }
    assert!(shed > 0 && served >= 2, "served {served}, shed {shed}");
    assert_eq!(
        g.sandbox.appmixer.hooks.count("GET /user"),
        served,
        "a shed request costs no upstream call"
    );
}

#[tokio::test]
async fn sockets_are_capped_per_client_address() {
    let (addr, _sandbox) = served(|c| c.subscriptions.max_sockets_per_client = 1).await;
    let request = common::graphql_ws(&format!("http://{addr}/graphql"));
    let (mut first, _) = tokio_tungstenite::connect_async(request.clone())
        .await
        .unwrap();
    let second = tokio_tungstenite::connect_async(request).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = second else {
        panic!("a second socket from the same address was accepted");
    };
    assert_eq!(response.status(), 503);
    // A socket outlives the idle timeout of the HTTP connection it was upgraded from.
    use futures_util::{SinkExt, StreamExt};
    tokio::time::sleep(Duration::from_millis(900)).await;
    let init = r#"{"type":"connection_init"}"#;
    first.send(init.into()).await.unwrap();
    let ack = first.next().await.unwrap().unwrap();
    assert_eq!(
        ack.into_text().unwrap().as_str(),
        r#"{"type":"connection_ack"}"#
    );
}
