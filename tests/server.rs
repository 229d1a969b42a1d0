//! The HTTP surface: health, GraphiQL, the CLI's refusal to start without upstreams.

mod common;

use common::Gateway;
use flowgate::server::{router, GatewayConfig};
use serde_json::json;

#[tokio::test]
async fn healthz_answers() {
    let g = Gateway::start().await;
    let url = g.url.replace("/graphql", "/healthz");
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn graphiql_opens_with_the_configured_headers() {
    let config = GatewayConfig {
        graphiql_headers: vec![("X-Appmixer-Token".into(), "appmixer-demo-alice".into())],
        ..GatewayConfig::default()
    };
    let app = router(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("graphiql") || page.contains("GraphiQL"));
    assert!(page.contains("appmixer-demo-alice"));
    assert!(page.contains("/graphql"));
}

#[tokio::test]
async fn appmixer_components_are_triggers_and_actions() {
    let g = Gateway::start().await;
    let d = g.ok("{ appmixerComponents { __typename ... on Trigger { nativeId } ... on Action { nativeId } } }", json!({})).await;
    let all = d["appmixerComponents"].as_array().unwrap();
    assert!(
        all.iter().any(|c| c["__typename"] == "Trigger")
            && all.iter().any(|c| c["__typename"] == "Action")
    );
    assert!(all.iter().any(
        |c| c["nativeId"] == "appmixer.utils.controls.OnStart" && c["__typename"] == "Trigger"
    ));
}

#[test]
fn serve_without_upstreams_says_what_to_set() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("FLOWGATE_APPYPIE_URL")
        .env_remove("FLOWGATE_APPMIXER_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sandbox")
            && err.contains("FLOWGATE_APPYPIE_URL")
            && err.contains("FLOWGATE_APPMIXER_URL"),
        "{err}"
    );
}

#[test]
fn print_schema_prints_the_sdl() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        flowgate::schema::sdl()
    );
}
