//! Test harness: both sandbox upstreams on ephemeral loopback ports and clients pointed at them.
#![allow(dead_code)]

use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::upstream::appmixer::{AppmixerClient, AppmixerConfig, AppmixerSession};
use flowgate::upstream::appypie::{AppyPieClient, AppyPieConfig, AppyPieSession};
use flowgate::upstream::{HttpConfig, HttpCore, Token};
use std::time::Duration;
use url::Url;

pub struct Harness {
    pub sandbox: Sandbox,
    pub appypie: AppyPieClient,
    pub appmixer: AppmixerClient,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with_http(HttpConfig::default()).await
    }

    /// A harness whose clients give up after `timeout`.
    pub async fn with_timeout(timeout: Duration) -> Harness {
        Self::with_http(HttpConfig {
            timeout,
            ..HttpConfig::default()
        })
        .await
    }

    pub async fn with_http(http: HttpConfig) -> Harness {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox starts");
        let core = HttpCore::new(&http).expect("http client");
        let appypie = AppyPieClient::new(
            core.clone(),
            AppyPieConfig {
                base_url: Url::parse(&sandbox.appypie_base_url()).unwrap(),
                auth_base_url: Url::parse(&sandbox.appypie_auth_url()).unwrap(),
                ..AppyPieConfig::default()
            },
        );
        let appmixer = AppmixerClient::new(
            core,
            AppmixerConfig {
                base_url: Url::parse(&sandbox.appmixer_base_url()).unwrap(),
            },
        );
        Harness {
            sandbox,
            appypie,
            appmixer,
        }
    }

    /// Appy Pie session of demo user `n` (0 = Alice, 1 = Bob, 2 = Chen).
    pub fn pie(&self, n: usize) -> AppyPieSession {
        self.appypie
            .session(Token::new(DEMO_USERS[n].appypie_token))
    }

    /// Appmixer session of demo user `n`.
    pub fn mixer(&self, n: usize) -> AppmixerSession {
        self.appmixer
            .session(Token::new(DEMO_USERS[n].appmixer_token))
    }
}

/// A plain HTTP GET on a sandbox URL (the end user's browser, or an admin tool).
pub async fn browse(url: &str) -> serde_json::Value {
    let res = reqwest::get(url).await.expect("sandbox answers");
    assert!(res.status().is_success(), "GET {url}: {}", res.status());
    res.json().await.expect("json")
}
