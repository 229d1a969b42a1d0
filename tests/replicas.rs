//! Several replicas over one Redis (Debian's `redis-server`, started here on a loopback port):
//! they share persisted queries, catalogue fills and rate limits; Redis dying mid-load changes
//! no answer, and its return is picked up. Without `redis-server` these tests say so and pass,
//! unless `FLOWGATE_REQUIRE_REDIS` is set (as `.ci/run` does).

mod common;

use common::codes;
use common::redis::Redis;
use flowgate::sandbox::{Sandbox, SandboxConfig, DEMO_USERS};
use flowgate::server::GatewayConfig;
use flowgate::store::RedisConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const SECRET: &str = "replica-test-secret-0123456789";

/// Replicas of the gateway over one sandbox and one Redis, each on its own loopback port.
struct Replicas {
    sandbox: Sandbox,
    urls: Vec<String>,
}

impl Replicas {
    async fn start(n: usize, redis: &Redis, tune: impl Fn(&mut GatewayConfig)) -> Replicas {
        Self::start_waiting(n, redis, Duration::from_millis(1000), tune).await
    }

    /// Replicas that wait at most `timeout` on Redis.
    async fn start_waiting(
        n: usize,
        redis: &Redis,
        timeout: Duration,
        tune: impl Fn(&mut GatewayConfig),
    ) -> Replicas {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let mut urls = Vec::new();
        for _ in 0..n {
            let mut config = common::sandboxed(&sandbox);
            config.redis = Some(RedisConfig {
                url: redis.url(),
                secret: SECRET.into(),
                timeout,
                pool_size: 2,
                max_value_bytes: 1 << 20,
                prefix: "flowgate".into(),
            });
            tune(&mut config);
            let app = flowgate::server::router(config).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.push(format!("http://{}/graphql", listener.local_addr().unwrap()));
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        Replicas { sandbox, urls }
    }

    /// POSTs `body` to replica `r` as demo user `user`.
    async fn post(&self, r: usize, user: usize, body: Value) -> Value {
        reqwest::Client::new()
            .post(&self.urls[r])
            .header("x-appypie-token", DEMO_USERS[user].appypie_token)
            .header("x-appmixer-token", DEMO_USERS[user].appmixer_token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn ready(&self, r: usize) -> Value {
        let url = self.urls[r].replace("/graphql", "/readyz");
        reqwest::get(url).await.unwrap().json().await.unwrap()
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = self.sandbox.appypie.hooks.counts();
        counts.extend(self.sandbox.appmixer.hooks.counts());
        counts
    }
}

fn persisted(query: &str, with_text: bool) -> Value {
    let hash = flowgate::server::sha256_hex(query);
    let mut body =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    if with_text {
        body["query"] = json!(query);
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persisted_query_registered_on_one_replica_runs_on_another() {
    let Some(redis) = Redis::start() else { return };
    let replicas = Replicas::start(2, &redis, |_| {}).await;
    let query = "query Me { viewer { appmixer { email } } }";
    let registered = replicas.post(0, 0, persisted(query, true)).await;
    assert!(registered.get("errors").is_none(), "{registered}");
    stored(&redis, "apq", 1).await;
    let elsewhere = replicas.post(1, 0, persisted(query, false)).await;
    assert_eq!(elsewhere["data"], registered["data"], "{elsewhere}");
    let other_caller = replicas.post(1, 1, persisted(query, false)).await;
    assert_eq!(
        codes(&other_caller),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "registrations are per caller"
    );
    assert_no_secret_in(&redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalogue_fill_on_one_replica_serves_another_and_garbage_is_ignored() {
    let Some(redis) = Redis::start() else { return };
    let replicas = Replicas::start(3, &redis, |_| {}).await;
    let query = json!({ "query": "{ categories(first: 100) { edges { node { name } } } }" });
    let first = replicas.post(0, 0, query.clone()).await;
    assert!(first.get("errors").is_none(), "{first}");
    let filled = replicas.counts();
    let times = |n: u64| {
        filled
            .keys()
            .map(|k| (k.clone(), n))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(filled, times(1), "one call a vendor: {filled:?}");
    stored(&redis, "catalogue", filled.len()).await;

    let second = replicas.post(1, 0, query.clone()).await;
    assert_eq!(second, first);
    assert_eq!(
        replicas.counts(),
        filled,
        "the second replica used the first one's fill"
    );
    let other_tenant = replicas.post(1, 1, query.clone()).await;
    assert!(other_tenant.get("errors").is_none(), "{other_tenant}");
    assert_eq!(
        replicas.counts(),
        times(2),
        "another credential never shares a fill"
    );

    let (mut conn, keys) = redis_keys(&redis, "flowgate:v1:catalogue:*").await;
    assert!(!keys.is_empty());
    for key in &keys {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("garbage")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let third = replicas.post(2, 0, query).await;
    assert_eq!(third, first, "a tampered entry is a miss, not an answer");
    assert_eq!(replicas.counts(), times(3));
    assert_no_secret_in(&redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_holds_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let replicas = Replicas::start(2, &redis, |c| {
        c.appmixer_policy.rate_limit = Some(flowgate::upstream::RateLimit {
            per_min: 1,
            burst: 3,
        });
        c.coalesce = false;
        c.sharing.dedupe = false;
    })
    .await;
    let query = json!({ "query": "{ viewer { appmixer { email } } }" });
    let mut limited = Vec::new();
    for i in 0..6 {
        let res = replicas.post(i % 2, 0, query.clone()).await;
        if codes(&res) == ["RATE_LIMITED"] {
            let retry = &res["errors"][0]["extensions"]["retryAfter"];
            assert!(retry.as_u64() >= Some(1), "{res}");
            limited.push(i);
        } else {
            assert!(res.get("errors").is_none(), "{res}");
        }
    }
    assert_eq!(
        limited,
        [3, 4, 5],
        "three calls pass, across both replicas, then none"
    );
    assert_eq!(replicas.counts()["GET /user"], 3);
    let bob = replicas.post(1, 1, query).await;
    assert!(
        bob.get("errors").is_none(),
        "another credential has its own bucket: {bob}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_dying_mid_load_changes_no_answer_and_its_return_is_picked_up() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let replicas = Replicas::start(2, &redis, |_| {}).await;
    let query = |n: usize| {
        format!("query Q{n} {{ viewer {{ appmixer {{ email }} appypie {{ email }} }} categories(first: 100) {{ edges {{ node {{ name }} }} }} }}")
    };
    let check = |res: &Value, user: usize| {
        assert!(res.get("errors").is_none(), "{res}");
        assert_eq!(
            res["data"]["viewer"]["appmixer"]["email"], DEMO_USERS[user].email,
            "{res}"
        );
    };
    let mut n = 0;
    for round in 0..3 {
        if round == 1 {
            redis.kill();
        }
        let sends = (0..24).map(|i| {
            n += 1;
            let (replica, user, body) = (i % 2, i % 3, persisted(&query(n), true));
            let replicas = &replicas;
            async move { (user, replicas.post(replica, user, body).await) }
        });
        for (user, res) in futures_util::future::join_all(sends).await {
            check(&res, user);
        }
    }
    assert_eq!(replicas.ready(0).await["redis"], "down");

    assert!(redis.restart());
    let again = query(1000);
    let mut picked_up = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let res = replicas.post(0, 0, persisted(&again, true)).await;
        check(&res, 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let elsewhere = replicas.post(1, 0, persisted(&again, false)).await;
        if elsewhere.get("errors").is_none() {
            check(&elsewhere, 0);
            picked_up = true;
            break;
        }
    }
    assert!(
        picked_up,
        "a registration is shared again once Redis is back"
    );
    assert_eq!(replicas.ready(0).await["redis"], "up");
    assert_eq!(replicas.ready(1).await["redis"], "up");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_redis_is_waited_for_briefly_and_limits_fall_back_to_the_replica() {
    let Some(redis) = Redis::start() else { return };
    let replicas = Replicas::start_waiting(1, &redis, Duration::from_millis(50), |c| {
        c.appmixer_policy.rate_limit = Some(flowgate::upstream::RateLimit {
            per_min: 1,
            burst: 2,
        });
        c.coalesce = false;
    })
    .await;
    let query = json!({ "query": "{ viewer { appmixer { email } } }" });
    let first = replicas.post(0, 0, query.clone()).await;
    assert!(first.get("errors").is_none(), "{first}");
    redis.signal("STOP");
    let second = replicas.post(0, 0, query.clone()).await;
    assert!(second.get("errors").is_none(), "{second}");
    assert_eq!(replicas.ready(0).await["redis"], "down");
    let third = replicas.post(0, 0, query.clone()).await;
    let fourth = replicas.post(0, 0, query.clone()).await;
    assert_eq!(
        (codes(&third), codes(&fourth)),
        (vec![], vec!["RATE_LIMITED".to_string()]),
        "this replica's own buckets limit while Redis hangs"
    );
    redis.signal("CONT");
}

/// Waits until Redis holds `n` keys of `kind` (replicas write them in the background).
async fn stored(redis: &Redis, kind: &str, n: usize) {
    let pattern = format!("flowgate:v1:{kind}:*");
    for _ in 0..200 {
        if redis_keys(redis, &pattern).await.1.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("Redis never held {n} {kind} keys");
}

/// A connection to `redis` and its keys matching `pattern`.
async fn redis_keys(
    redis: &Redis,
    pattern: &str,
) -> (redis::aio::MultiplexedConnection, Vec<String>) {
    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    (conn, keys)
}

/// No key or value in Redis holds a token.
async fn assert_no_secret_in(redis: &Redis) {
    let (mut conn, keys) = redis_keys(redis, "*").await;
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.starts_with("flowgate:v1:"), "{key}");
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let value: Vec<u8> = match kind.as_str() {
            "string" => redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap(),
            _ => Vec::new(),
        };
        let text = format!("{key} {}", String::from_utf8_lossy(&value));
        for u in DEMO_USERS.iter() {
            for secret in [u.appmixer_token, u.appypie_token, u.secret_key, u.password] {
                assert!(!text.contains(secret), "{key} holds a secret");
            }
        }
    }
}
