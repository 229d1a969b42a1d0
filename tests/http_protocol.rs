//! GraphQL over HTTP as the specification says it (media types, status codes, methods), CORS,
//! the SDL at `/schema.graphql`, and GraphiQL's assets served by flowgate itself.

mod common;

use common::{codes, Gateway};
use flowgate::sandbox::DEMO_USERS;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const GQL: &str = "application/graphql-response+json";

async fn post(g: &Gateway, accept: Option<&str>, body: &str) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new()
        .post(&g.url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(accept) = accept {
        req = req.header(ACCEPT, accept);
    }
    read(req.send().await.unwrap()).await
}

async fn read(res: reqwest::Response) -> (StatusCode, String, Value) {
    let status = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

fn root(g: &Gateway) -> String {
    g.url.trim_end_matches("/graphql").to_string()
}

#[tokio::test]
async fn the_media_type_follows_accept() {
    let g = Gateway::start().await;
    let body = r#"{"query":"{ __typename }"}"#;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GQL,
        ),
    ] {
        let (status, content_type, res) = post(&g, accept, body).await;
        assert_eq!(status, 200, "{accept:?}");
        assert_eq!(content_type, expected, "{accept:?}");
        assert_eq!(res["data"]["__typename"], "Query");
    }
    let (status, _, res) = post(&g, Some("text/html"), body).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(codes(&res), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn request_errors_are_4xx_without_data_under_graphql_response_json() {
    let g = Gateway::start().await;
    let cases = [
        (r#"{"query":"{ viewer { "}"#, "BAD_USER_INPUT"),
        (r#"{"query":"{ noSuchField }"}"#, "BAD_USER_INPUT"),
        (
            r#"{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":null}}"#,
            "BAD_USER_INPUT",
        ),
    ];
    for (body, code) in cases {
        let (status, _, res) = post(&g, Some(GQL), body).await;
        assert_eq!(status, 400, "{body}");
        assert!(res.get("data").is_none(), "{body}: {res}");
        assert_eq!(codes(&res), [code], "{body}");
        let (status, _, res) = post(&g, Some("application/json"), body).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(codes(&res), [code], "{body}");
    }
    assert_eq!(g.calls(), 0);
}

#[tokio::test]
async fn a_query_too_deep_for_the_parser_is_a_query_limit() {
    let g = Gateway::start().await;
    let deep = format!("{}{}", "{ a ".repeat(200), "}".repeat(200));
    let body = json!({ "query": deep }).to_string();
    let (status, _, res) = post(&g, Some(GQL), &body).await;
    assert_eq!(status, 400);
    assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"]);
    let deep = format!("{}{}", "{ viewer ".repeat(20), "}".repeat(20));
    let (_, _, res) = post(&g, None, &json!({ "query": deep }).to_string()).await;
    assert_eq!(codes(&res), ["QUERY_LIMIT_EXCEEDED"]);
}

#[tokio::test]
async fn malformed_requests_are_refused_whatever_the_accept() {
    let g = Gateway::start().await;
    let http = reqwest::Client::new();
    for accept in ["application/json", GQL] {
        let (status, _, res) = post(&g, Some(accept), "{not json").await;
        assert_eq!(status, 400);
        assert_eq!(codes(&res), ["BAD_USER_INPUT"]);
        let (status, _, _) = post(&g, Some(accept), r#"{"qeury":"{ __typename }"}"#).await;
        assert_eq!(status, 400);
        let (status, _, _) = post(
            &g,
            Some(accept),
            r#"{"query":"{ __typename }","variables":[]}"#,
        )
        .await;
        assert_eq!(status, 400);
        let no_type = http
            .post(&g.url)
            .header(ACCEPT, accept)
            .body(r#"{"query":"{ __typename }"}"#);
        let (status, _, _) = read(no_type.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let put = http.request(Method::PUT, &g.url).header(ACCEPT, accept);
        let res = put.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "GET, POST");
    }
}

#[tokio::test]
async fn get_runs_queries_from_the_url_and_refuses_mutations_with_405() {
    let g = Gateway::start().await;
    let http = reqwest::Client::new();
    let url = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(&g.url).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let get = url(&[
        (
            "query",
            "query Q($n: Int) { connects(first: $n) { edges { node { name } } } }",
        ),
        ("operationName", "Q"),
        ("variables", r#"{"n":2}"#),
        ("extensions", "{}"),
    ]);
    let res = http
        .get(&get)
        .header("x-appypie-token", DEMO_USERS[0].appypie_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["data"]["connects"]["edges"].as_array().unwrap().len(),
        2
    );

    let mutation = url(&[(
        "query",
        "mutation { deleteAutomation(id: \"x\") { deletedId } }",
    )]);
    let before = g.calls();
    for accept in ["application/json", GQL] {
        let res = http
            .get(&mutation)
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "POST");
    }
    assert_eq!(g.calls(), before);
    let bad = url(&[("query", "{ __typename }"), ("variables", "not json")]);
    assert_eq!(http.get(&bad).send().await.unwrap().status(), 400);
}

async fn preflight(g: &Gateway, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, &g.url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-appmixer-token,x-appypie-token",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let g = Gateway::start_with(|c| {
        c.cors.origins = vec![
            "https://app.example.com".into(),
            "http://localhost:*".into(),
        ];
    })
    .await;
    g.sandbox.appypie.hooks.reset();
    g.sandbox.appmixer.hooks.reset();
    for origin in ["https://app.example.com", "http://localhost:5173"] {
        let res = preflight(&g, origin).await;
        assert!(res.status().is_success(), "{origin}");
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("POST") && methods.contains("GET"));
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        for name in ["content-type", "x-appmixer-token", "x-appypie-token"] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert_eq!(h["access-control-max-age"], "600");
        assert!(h.get("access-control-allow-credentials").is_none());
    }
    for origin in ["https://evil.example.com", "http://localhost.evil.com:80"] {
        let res = preflight(&g, origin).await;
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
    let res = reqwest::Client::new()
        .post(&g.url)
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(g.calls(), 0, "preflights touch no upstream");
}

#[tokio::test]
async fn cors_is_off_by_default_and_star_allows_any_origin() {
    let off = Gateway::start().await;
    let res = preflight(&off, "https://app.example.com").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let any = Gateway::start_with(|c| c.cors.origins = vec!["*".into()]).await;
    let res = preflight(&any, "https://anyone.example").await;
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let bad = flowgate::server::router(flowgate::server::GatewayConfig {
        cors: flowgate::server::CorsConfig {
            origins: vec!["*".into(), "example.com".into()],
            ..Default::default()
        },
        ..Default::default()
    });
    let why = bad.expect_err("refused").to_string();
    assert!(why.contains("`*`") && why.contains("example.com"), "{why}");
}

#[tokio::test]
async fn the_sdl_is_served_as_schema_graphql_holds_it() {
    let g = Gateway::start().await;
    let res = reqwest::get(format!("{}/schema.graphql", root(&g)))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let served = res.text().await.unwrap();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(served, file);
}

#[tokio::test]
async fn graphiql_loads_only_from_flowgate() {
    let g = Gateway::start_with(|c| {
        c.graphiql_headers = vec![("x-appmixer-token".into(), "</script><b>".into())];
    })
    .await;
    let page = reqwest::get(format!("{}/", root(&g)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("</script><b>"), "headers are escaped");
    assert!(page.contains("x-appmixer-token"));
    let sources: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert_eq!(sources.len(), 4, "{sources:?}");
    for src in sources {
        assert!(
            src.starts_with("/graphiql/"),
            "{src} is not served by flowgate"
        );
        let res = reqwest::get(format!("{}{src}", root(&g))).await.unwrap();
        assert_eq!(res.status(), 200, "{src}");
        assert!(res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(res.bytes().await.unwrap().len() > 1000);
    }
    let missing = reqwest::get(format!("{}/graphiql/0.0.1/graphiql.min.js", root(&g)))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn answers_computed_with_a_credential_are_never_stored_by_a_shared_cache() {
    let g = Gateway::start().await;
    let http = reqwest::Client::new();
    let get = |token: Option<&str>| {
        let mut req = http
            .get(&g.url)
            .query(&[("query", "{ viewer { appmixer { email } } }")]);
        if let Some(token) = token {
            req = req.header("x-appmixer-token", token);
        }
        req.send()
    };
    let res = get(Some(DEMO_USERS[0].appmixer_token)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
    let vary = format!("{vary:?}");
    for name in [
        "x-appmixer-token",
        "x-appypie-token",
        "authorization",
        "accept",
    ] {
        assert!(vary.contains(name), "Vary {vary} lacks {name}");
    }
    let body: Value = res.json().await.unwrap();
    assert!(body["data"]["viewer"]["appmixer"]["email"].is_string());
    let anonymous = get(None).await.unwrap();
    assert!(anonymous.headers().get("cache-control").is_none());
    assert!(anonymous.headers().get("vary").is_some());
}
