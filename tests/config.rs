//! One configuration: defaults, a TOML file, FLOWGATE_* variables and flags, in that order;
//! every problem listed at once; the example file and the README generated from the code.

use flowgate::config::{Config, Sources, SETTINGS};
use flowgate::server::{GatewayConfig, Limits};
use std::collections::HashSet;
use std::path::PathBuf;

fn file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("flowgate-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn flowgate(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn flags_beat_variables_which_beat_the_file_which_beats_the_defaults() {
    let toml = "[limits]\nmax_depth = 7\nmax_aliases = 9\nmax_root_fields = 4\n\n[appmixer]\nurl = \"http://127.0.0.1:9/\"\n";
    let sources = Sources {
        file: Some(file("precedence.toml", toml)),
        env: pairs(&[
            ("FLOWGATE_MAX_DEPTH", "8"),
            ("FLOWGATE_MAX_ALIASES", "10"),
            ("UNRELATED", "x"),
        ]),
        flags: pairs(&[("limits.max_depth", "9")]),
    };
    let (config, problems) = Config::load(&sources);
    assert!(problems.0.is_empty(), "{problems}");
    assert_eq!(config.limits.max_depth, 9, "the flag wins");
    assert_eq!(config.limits.max_aliases, 10, "the variable beats the file");
    assert_eq!(
        config.limits.max_root_fields, 4,
        "the file beats the default"
    );
    assert_eq!(
        config.limits.max_complexity,
        Limits::default().max_complexity
    );
    assert_eq!(
        config.appmixer.vendor.url.as_deref(),
        Some("http://127.0.0.1:9/")
    );
}

#[test]
fn every_problem_is_listed_at_once_with_its_key() {
    let toml = "[limits]\nmax_depht = 3\nmax_complexity = \"lots\"\n\n[server]\nlisten = \"here\"\n\n[caches]\ncoalesce = 1\n\n[nonsense]\nx = 1\n";
    let path = file("problems.toml", toml);
    let (ok, _, err) = flowgate(
        &[
            "config",
            "check",
            "--config",
            path.to_str().unwrap(),
            "--appmixer-url",
            "ftp://x",
            "--subscription-poll-ms",
            "5",
            "--redis-url",
            "redis://127.0.0.1:1",
        ],
        &[
            ("FLOWGATE_MAX_ALIASES", "-1"),
            ("FLOWGATE_LOG_FORMAT", "yaml"),
        ],
    );
    assert!(!ok);
    for expected in [
        "limits.max_depht: unknown key",
        "limits.max_complexity (",
        "nonsense: unknown section",
        "caches.coalesce (",
        "limits.max_aliases (FLOWGATE_MAX_ALIASES): expected a whole number",
        "server.listen: \"here\" is not an address",
        "appypie.url: required",
        "appmixer.url: \"ftp://x\" is not an http(s) URL",
        "subscriptions.poll_ms: must be at least 100",
        "logs.format: \"yaml\" is neither text nor json",
        "redis.fingerprint_secret: required with redis.url",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("11 problem(s)"), "{err}");
}

#[test]
fn a_bad_configuration_never_starts_the_server() {
    let path = file("bad.toml", "[limits]\nmax_depth = 0\n");
    let (ok, out, err) = flowgate(
        &[
            "serve",
            "--sandbox",
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(!out.contains("GraphiQL at"), "{out}");
    assert!(
        err.contains("limits.max_depth: must be at least 1"),
        "{err}"
    );
}

#[test]
fn print_shows_the_effective_configuration_with_secrets_redacted() {
    let path = file("print.toml", "[telemetry]\notlp_endpoint = \"http://user:hunter2@127.0.0.1:4318/\"\notlp_headers = [\"authorization=Bearer s3cret\"]\n");
    let (ok, out, err) = flowgate(
        &[
            "config",
            "print",
            "--sandbox",
            "--config",
            path.to_str().unwrap(),
            "--max-depth",
            "4",
        ],
        &[("FLOWGATE_COALESCE", "false")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("max_depth = 4"), "{out}");
    assert!(out.contains("coalesce = false"), "{out}");
    assert!(out.contains("otlp_headers = [\"<redacted>\"]"), "{out}");
    assert!(!out.contains("s3cret") && !out.contains("hunter2"), "{out}");
    let printed: Sources = Sources {
        file: Some(file("printed.toml", &out)),
        ..Sources::default()
    };
    let (reread, problems) = Config::load(&printed);
    assert!(
        problems.0.is_empty(),
        "print's output reads back: {problems}"
    );
    assert_eq!(reread.limits.max_depth, 4);
}

#[test]
fn the_checked_configuration_says_so() {
    let (ok, out, err) = flowgate(&["config", "check", "--sandbox"], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("valid"), "{out}");
}

#[test]
fn every_setting_has_one_key_one_flag_one_variable() {
    let unique = |f: &dyn Fn(&flowgate::config::Setting) -> String| {
        SETTINGS.iter().map(f).collect::<HashSet<_>>().len() == SETTINGS.len()
    };
    assert!(unique(&|s| s.path()));
    assert!(unique(&|s| s.flag()));
    assert!(unique(&|s| s.env()));
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    for (section, keys) in &defaults {
        for key in keys.as_table().unwrap().keys() {
            let path = format!("{section}.{key}");
            assert!(
                SETTINGS.iter().any(|s| s.path() == path),
                "{path} is not a listed setting"
            );
        }
    }
}

#[test]
fn the_defaults_are_the_gateways_own() {
    let mut config = Config::default();
    config.appypie.vendor.url = Some("http://127.0.0.1:1/".into());
    config.appmixer.vendor.url = Some("http://127.0.0.1:2/".into());
    let built = config.build().expect("the defaults are valid").gateway;
    let code = GatewayConfig::default();
    assert_eq!(format!("{:?}", built.limits), format!("{:?}", code.limits));
    assert_eq!(
        format!("{:?}", built.appypie_policy),
        format!("{:?}", code.appypie_policy)
    );
    assert_eq!(
        format!("{:?}", built.appmixer_policy),
        format!("{:?}", code.appmixer_policy)
    );
    assert_eq!(
        format!("{:?}", built.sharing),
        format!("{:?}", code.sharing)
    );
    assert_eq!(
        format!("{:?}", built.subscriptions),
        format!("{:?}", code.subscriptions)
    );
    assert_eq!(
        format!("{:?}", built.persisted),
        format!("{:?}", code.persisted)
    );
    assert_eq!(
        format!("{:?}", built.headers),
        format!("{:?}", code.headers)
    );
    assert_eq!(built.appypie.auth_base_url, code.appypie.auth_base_url);
    assert_eq!(built.appypie.token_header, code.appypie.token_header);
    assert_eq!(
        (
            built.max_in_flight,
            built.coalesce,
            built.document_cache_mib
        ),
        (code.max_in_flight, code.coalesce, code.document_cache_mib)
    );
}

#[test]
fn the_example_file_is_in_sync_and_holds_the_defaults() {
    let example = Config::example();
    let shipped = std::fs::read_to_string("flowgate.example.toml").unwrap_or_default();
    assert!(
        shipped == example,
        "flowgate.example.toml is stale: `cargo run -- config example > flowgate.example.toml`"
    );
    let (config, problems) = Config::load(&Sources {
        file: Some("flowgate.example.toml".into()),
        ..Sources::default()
    });
    assert!(problems.0.is_empty(), "{problems}");
    assert_eq!(config, Config::default());
}

#[test]
fn the_readme_lists_every_setting_with_its_default() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains(&Config::markdown()),
        "README's settings table is stale: `cargo run -- config markdown`"
    );
}

#[test]
fn the_kubernetes_config_map_holds_a_valid_configuration() {
    let manifest = std::fs::read_to_string("deploy/kubernetes.yaml").unwrap();
    let start = manifest
        .find("flowgate.toml: |")
        .expect("the ConfigMap's file");
    let toml: String = manifest[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("---"))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let sources = Sources {
        file: Some(file("kubernetes.toml", &toml)),
        env: pairs(&[
            (
                "FLOWGATE_REDIS_FINGERPRINT_SECRET",
                "replace-me-with-32-random-characters",
            ),
            (
                "FLOWGATE_AUTH_STORE_KEYS",
                "2026-12:REPLACE/ME/WITH/32/RANDOM/BYTES/IN/BASE64/A=",
            ),
        ]),
        flags: Vec::new(),
    };
    let (config, problems) = Config::load(&sources);
    assert!(problems.0.is_empty(), "{problems}");
    let settings = config.build().expect("valid");
    assert!(settings.gateway.redis.is_some());
    assert!(
        settings.gateway.auth.store.is_some(),
        "credentials held in the store Redis"
    );
    assert_eq!(settings.listen.to_string(), "0.0.0.0:8080");
}

#[test]
fn auth_settings_are_checked_together() {
    let urls = [
        "--appypie-url",
        "http://127.0.0.1:9",
        "--appmixer-url",
        "http://127.0.0.1:9",
    ];
    let check = |more: &[&str]| {
        let mut args = vec!["config", "check"];
        args.extend(urls);
        args.extend(more);
        flowgate(&args, &[])
    };
    let (ok, _, err) = check(&["--auth-mode", "jwt"]);
    assert!(!ok && err.contains("auth.mode"), "{err}");
    let (ok, _, err) = check(&["--auth-mode", "sometimes"]);
    assert!(!ok && err.contains("\"sometimes\""), "{err}");
    let (ok, _, err) = check(&["--auth-credentials", "held"]);
    assert!(!ok && err.contains("held needs auth.mode jwt"), "{err}");
    let jwks = [
        "--auth-mode",
        "jwt",
        "--auth-jwks-url",
        "http://127.0.0.1:1/a.json",
    ];
    let (ok, _, err) = check(&[&jwks[..], &["--auth-credentials", "held"]].concat());
    assert!(!ok && err.contains("auth.store_keys"), "{err}");
    let (ok, out, err) = check(&jwks);
    assert!(ok, "{out}{err}");
}

#[test]
fn repeated_auth_flags_make_lists() {
    let sources = Sources {
        flags: pairs(&[
            (
                "auth.jwks_urls",
                "http://127.0.0.1:1/a.json,http://127.0.0.1:2/b.json",
            ),
            ("auth.audiences", "flowgate"),
        ]),
        env: pairs(&[("FLOWGATE_AUTH_MODE", "optional")]),
        ..Sources::default()
    };
    let (config, problems) = Config::load(&sources);
    assert!(problems.0.is_empty(), "{problems}");
    assert_eq!(config.auth.jwks_urls.len(), 2);
    assert_eq!(config.auth.mode, "optional");
    let flag = |key: &str| SETTINGS.iter().find(|s| s.path() == key).unwrap().flag();
    assert_eq!(flag("auth.jwks_urls"), "auth-jwks-url");
    assert_eq!(flag("auth.audiences"), "auth-audience");
    let (ok, out, err) = flowgate(
        &[
            "config",
            "print",
            "--sandbox",
            "--auth-mode",
            "jwt",
            "--auth-jwks-url",
            "http://127.0.0.1:1/a.json",
            "--auth-jwks-url",
            "http://127.0.0.1:2/b.json",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(r#"jwks_urls = ["http://127.0.0.1:1/a.json", "http://127.0.0.1:2/b.json"]"#),
        "{out}"
    );
}
