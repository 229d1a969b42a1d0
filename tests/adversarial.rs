//! The standing adversarial suite: small anonymous requests built to crash or exhaust a replica,
//! sent to `flowgate serve --sandbox` as it ships (its own process, so a stack overflow or an
//! abort fails the test instead of passing unseen). Each must get a clear error, and the
//! process must still answer afterwards.

mod common;

use common::{codes, Served};
use serde_json::{json, Value};

fn nest(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = res.status().as_u16();
    (status, res.json().await.expect("GraphQL JSON"))
}

async fn alive(served: &Served) {
    let res = reqwest::get(format!("{}/healthz", served.root)).await;
    assert!(res.is_ok_and(|r| r.status() == 200), "the process is gone");
}

/// Resident memory of the served process, in KiB.
fn rss_kib(served: &Served) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", served.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_input_of_any_kind_is_refused_before_anything_recurses() {
    let g = Served::start(&[], &[]).await;
    let lists = nest("[", "]", 1500);
    let objects = format!("{}1{}", "{a: ".repeat(2000), "}".repeat(2000));
    let documents = [
        format!("{{ __typename(a: {lists}) }}"),
        format!("query($v: In = {objects}) {{ __typename }}"),
        format!("{{ nodes(ids: {}) {{ id }} }}", nest("[", "]", 2000)),
        nest("{ a ", "}", 5000),
        format!(
            "{{ __type(name: \"Flow\") {} }}",
            nest("{ ofType ", "}", 40)
        ),
    ];
    for query in &documents {
        let (status, res) = post(&g.url, &json!({ "query": query })).await;
        assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"], "{}", &query[..60]);
        assert_eq!(status, 200);
        let get = reqwest::Client::new()
            .get(&g.url)
            .query(&[("query", query)])
            .header("accept", "application/graphql-response+json")
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 400);
        let res: Value = get.json().await.unwrap();
        assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"]);
    }
    let deep_json: Value = serde_json::from_str(&nest("[", "]", 100)).unwrap();
    for body in [
        json!({ "query": "{ __typename }", "variables": { "v": deep_json } }),
        json!({ "query": "{ __typename }", "extensions": { "e": deep_json } }),
    ] {
        let (status, res) = post(&g.url, &body).await;
        assert_eq!(
            (status, codes(&res)),
            (400, vec!["QUERY_LIMIT_EXCEEDED".into()])
        );
    }
    let apq = |query: &str| {
        let hash = flowgate::server::sha256_hex(query);
        json!({ "query": query, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } })
    };
    let (_, res) = post(&g.url, &apq(&documents[0])).await;
    assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"]);
    alive(&g).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn directive_floods_are_refused_on_every_field() {
    let g = Served::start(&[], &[]).await;
    for field in ["__typename", "viewer { __typename }"] {
        let query = format!("{{ {field} {} }}", "@skip(if: false) ".repeat(3500));
        let (_, res) = post(&g.url, &json!({ "query": query })).await;
        assert_eq!(codes(&res), ["BAD_USER_INPUT"], "{field}");
    }
    let unknown: String = (0..3000).map(|i| format!("@d{i} ")).collect();
    let (_, res) = post(
        &g.url,
        &json!({ "query": format!("{{ __typename {unknown} }}") }),
    )
    .await;
    assert!(codes(&res).iter().all(|c| c == "BAD_USER_INPUT"), "{res}");
    alive(&g).await;
}

/// Distinct documents, each refused (or large) and never sent again, must not pile up: the
/// parsed-document cache keeps only documents that passed, weighed by what they hold.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_distinct_documents_is_bounded_in_memory() {
    let g = Served::start(&[], &[]).await;
    let warm = json!({ "query": "{ __typename }" });
    post(&g.url, &warm).await;
    let before = rss_kib(&g);
    let http = reqwest::Client::new();
    for i in 0..300 {
        let refused = format!("query Q{i} {{ {} }}", "__typename ".repeat(5000));
        let res = http
            .post(&g.url)
            .json(&json!({ "query": refused }))
            .send()
            .await;
        let res: Value = res.unwrap().json().await.unwrap();
        assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"]);
        let kept = format!("query K{i} {{ {} }}", "a: __typename ".repeat(25));
        http.post(&g.url)
            .json(&json!({ "query": kept }))
            .send()
            .await
            .unwrap();
    }
    let grown = rss_kib(&g).saturating_sub(before);
    eprintln!("grown {grown} KiB");
    assert!(
        grown < 40 * 1024,
        "RSS grew {grown} KiB over 600 distinct documents"
    );
    alive(&g).await;
}

/// Operation names are the caller's to choose; the metrics tell a bounded set apart.
#[tokio::test(flavor = "multi_thread")]
async fn distinct_operation_names_do_not_grow_the_metrics_without_bound() {
    let g = Served::start(&[], &[]).await;
    let http = reqwest::Client::new();
    for i in 0..400 {
        let query = format!("query Op{i} {{ __typename }}");
        http.post(&g.url)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
    }
    let metrics = reqwest::get(format!("{}/metrics", g.root)).await.unwrap();
    let text = metrics.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("flowgate_graphql_operations_total{"))
        .collect();
    assert!(series.len() <= 201, "{} series", series.len());
    assert!(series.iter().any(|l| l.contains("operation=\"Op0\"")));
    assert!(series.iter().any(|l| l.contains("operation=\"other\"")));
}

/// A JWT signed with `secret` over `claims` given as raw JSON text.
fn signed(secret: &str, claims: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::Mac;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_bearer_tokens_are_refused_before_anything_recurses() {
    let secret = "adversarial-dev-secret-0123456789abcdef";
    let g = Served::start(&["--auth-mode", "jwt", "--auth-dev-secret", secret], &[]).await;
    let deep = format!(
        r#"{{"sub":"a","exp":4000000000,"x":{}}}"#,
        nest("[", "]", 100_000)
    );
    let huge = format!(
        r#"{{"sub":"a","exp":4000000000,"x":"{}"}}"#,
        "y".repeat(60_000)
    );
    let cases = [
        ("deeply nested claims", signed(secret, &deep)),
        ("a huge token", signed(secret, &huge)),
        ("a huge header", "z".repeat(60_000)),
        ("many dots", ".".repeat(5_000)),
    ];
    for (case, token) in cases {
        let res = reqwest::Client::new()
            .post(&g.url)
            .header("accept", "application/graphql-response+json")
            .bearer_auth(&token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("the gateway answers");
        let status = res.status().as_u16();
        assert!(matches!(status, 401 | 431), "{case}: {status}");
        if status == 401 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(codes(&body), ["UNAUTHENTICATED"], "{case}");
        }
        alive(&g).await;
    }
    let nested_claims = signed(
        secret,
        &format!(
            r#"{{"sub":"a","exp":4000000000,"x":{}}}"#,
            nest("[", "]", 1_000)
        ),
    );
    let res = reqwest::Client::new()
        .post(&g.url)
        .bearer_auth(nested_claims)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status().as_u16(), 500);
    alive(&g).await;
}
