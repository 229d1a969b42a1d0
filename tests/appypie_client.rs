//! Every Appy Pie client method against the sandbox, over HTTP.

mod common;

use common::{browse, Harness};
use flowgate::sandbox::DEMO_USERS;
use flowgate::upstream::appypie::model::*;
use flowgate::upstream::appypie::{all_pages, AppyPieClient, AppyPieConfig};
use flowgate::upstream::{ErrorKind, Token};
use flowgate::upstream::{HttpConfig, HttpCore};
use reqwest::header::HeaderName;
use std::collections::HashSet;

#[tokio::test]
async fn access_token_from_key_pair_opens_the_tenant() {
    let h = Harness::start().await;
    let alice = &DEMO_USERS[0];
    let token = h
        .appypie
        .create_access_token(alice.token_key, alice.secret_key)
        .await
        .unwrap();
    assert_eq!(token.expose(), alice.appypie_token);
    let profile = h.appypie.session(token).profile().await.unwrap();
    assert_eq!(profile.email, alice.email);

    let err = h
        .appypie
        .create_access_token(alice.token_key, "wrong")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.status, Some(401));
    assert_eq!(err.vendor_code, Some(2036));
}

#[tokio::test]
async fn missing_and_unknown_tokens_get_the_vendor_401() {
    let h = Harness::start().await;
    let missing = h
        .appypie
        .session(Token::new(""))
        .profile()
        .await
        .unwrap_err();
    assert_eq!(
        (missing.kind, missing.status, missing.vendor_code),
        (ErrorKind::Unauthorized, Some(401), Some(2032))
    );
    let unknown = h
        .appypie
        .session(Token::new("nope"))
        .connects(None, PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.kind, unknown.vendor_code),
        (ErrorKind::Unauthorized, Some(2036))
    );
    assert!(!unknown.to_string().contains("nope"));
}

#[tokio::test]
async fn token_header_is_configurable() {
    let h = Harness::start().await;
    let bearer = AppyPieClient::new(
        HttpCore::new(&HttpConfig::default()),
        AppyPieConfig {
            token_header: HeaderName::from_static("authorization"),
            ..h.appypie.config().clone()
        },
    );
    let profile = bearer
        .session(Token::new(DEMO_USERS[1].appypie_token))
        .profile()
        .await
        .unwrap();
    assert_eq!(profile.email, DEMO_USERS[1].email);
    let sent_as_bearer = h.sandbox.appypie.hooks.log().pop().unwrap();
    assert!(sent_as_bearer.credential.is_some());
}

#[tokio::test]
async fn catalogue_reads() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let cats = s.categories(PageRequest::default()).await.unwrap();
    assert_eq!(cats.total, 8);
    let email = cats.items.iter().find(|c| c.name == "Email").unwrap();
    assert_eq!(email.slug, "email");

    let all = s
        .apps(&AppFilter::default(), PageRequest::new(1, 100))
        .await
        .unwrap();
    assert_eq!(all.total, 60);
    let in_email = s
        .apps(
            &AppFilter {
                category_id: Some(email.id.clone()),
                search: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(in_email.total > 0 && in_email.items.iter().all(|a| a.category_id == email.id));
    let found = s
        .apps(
            &AppFilter {
                category_id: None,
                search: Some("gmA".into()),
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        found
            .items
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        vec!["Gmail"]
    );

    let gmail = &found.items[0];
    let detail = s.app(&gmail.app_id).await.unwrap();
    assert_eq!(detail.app, **gmail);
    let triggers = s
        .triggers(&gmail.app_id, PageRequest::default())
        .await
        .unwrap();
    let actions = s
        .actions(&gmail.app_id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(triggers.total, u64::from(detail.trigger_count));
    assert_eq!(actions.total, u64::from(detail.action_count));
    assert!((2..=6).contains(&triggers.total) && (2..=6).contains(&actions.total));
    let t = &triggers.items[0];
    assert_eq!(s.trigger(&t.id).await.unwrap(), *t);
    let a = &actions.items[0];
    assert_eq!(s.action(&a.id).await.unwrap(), *a);

    for err in [
        s.app("no-such-app").await.unwrap_err(),
        s.trigger("no-such-trigger").await.unwrap_err(),
        s.action("no-such-action").await.unwrap_err(),
        s.popular_match("no-such-match")
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!((err.kind, err.status), (ErrorKind::NotFound, Some(404)));
    }
}

#[tokio::test]
async fn popular_matches_list_filter_and_detail() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let all = s
        .popular_matches(None, PageRequest::new(1, 100))
        .await
        .unwrap();
    assert_eq!(all.total, 30);
    let pm = &all.items[0];
    let for_app = s
        .popular_matches(Some(&pm.action_app_id), PageRequest::default())
        .await
        .unwrap();
    assert!(for_app.items.contains(pm));
    assert!(for_app
        .items
        .iter()
        .all(|m| m.action_app_id == pm.action_app_id || m.trigger_app_id == pm.action_app_id));
    let detail = s.popular_match(&pm.id).await.unwrap();
    assert_eq!(detail.summary, *pm);
    assert_eq!(detail.trigger.id, pm.trigger_id);
    assert_eq!(detail.trigger.app_id, pm.trigger_app_id);
    assert_eq!(detail.action.app_id, pm.action_app_id);
}

/// Connects an account for `app` the way an end user would: endpoint 5, the authorize page, 6a.
async fn connect_app(h: &Harness, app: &App) -> ConnectedAccount {
    let s = h.pie(0);
    let url = s
        .connect_account(
            app.auth_type,
            &app.app_id,
            &app.seo_link,
            "https://partner.example/cb",
        )
        .await
        .unwrap()
        .url;
    let visited = browse(&url).await;
    let redirect = visited["redirect"].as_str().unwrap().to_string();
    assert!(redirect.starts_with("https://partner.example/cb?t="));
    let t = redirect.rsplit("t=").next().unwrap();
    s.connected_account_by_token(t).await.unwrap()
}

#[tokio::test]
async fn connect_account_then_read_it_back() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let app = s
        .apps(
            &AppFilter {
                search: Some("Trello".into()),
                ..AppFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let account = connect_app(&h, &app).await;
    assert_eq!(account.app_id, app.app_id);
    assert_eq!(account.status, AccountStatus::Active);
    let by_app = s.connected_accounts(Some(&app.app_id), None).await.unwrap();
    assert!(by_app.contains(&account));
    let by_id = s.connected_accounts(None, Some(&account.id)).await.unwrap();
    assert_eq!(by_id, vec![account.clone()]);

    let neither = s.connected_accounts(None, None).await.unwrap_err();
    assert_eq!(
        (neither.kind, neither.status),
        (ErrorKind::BadRequest, Some(400))
    );
    let unknown = s
        .connected_account_by_token("not-a-token")
        .await
        .unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::NotFound);
    let wrong_type = if app.auth_type == AuthType::ApiKey {
        AuthType::BasicAuth
    } else {
        AuthType::ApiKey
    };
    let err = s
        .connect_account(
            wrong_type,
            &app.app_id,
            &app.seo_link,
            "https://partner.example/cb",
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
}

#[tokio::test]
async fn connect_lifecycle_from_popular_match() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let pm = s
        .popular_matches(None, PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let trigger_app = s.app(&pm.trigger_app_id).await.unwrap().app;
    let action_app = s.app(&pm.action_app_id).await.unwrap().app;
    let trigger_account = connect_app(&h, &trigger_app).await;
    let action_account = connect_app(&h, &action_app).await;

    let input = NewConnect {
        popular_match_id: pm.id.clone(),
        trigger_account_id: trigger_account.id.clone(),
        action_account_id: action_account.id.clone(),
        name: Some("My connect".into()),
    };
    let connect = s.create_connect(&input).await.unwrap();
    assert_eq!(
        (connect.name.as_str(), connect.status),
        ("My connect", ConnectStatus::Off)
    );
    assert_eq!(connect.popular_match_id.as_deref(), Some(pm.id.as_str()));
    let listed = s.connects(None, PageRequest::new(1, 100)).await.unwrap();
    assert_eq!(*listed.items[0], connect, "newest first");

    let detail = s.popular_match(&pm.id).await.unwrap();
    let required = |fields: &[Field]| fields.iter().any(|f| f.required);
    if required(&detail.trigger.fields) || required(&detail.action.fields) {
        let err = s
            .set_connect_status(&connect.id, ConnectStatus::On)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
        let failed = s.test_connect(&connect.id).await.unwrap();
        assert_eq!(failed.result, RunStatus::Failed);
    }

    for (side, step_fields) in [
        (Side::Trigger, &detail.trigger.fields),
        (Side::Action, &detail.action.fields),
    ] {
        let mut options = serde_json::Map::new();
        for f in step_fields {
            let value = if f.kind == FieldType::Select {
                s.dropdown_options(&connect.id, side, &f.key).await.unwrap()[0]
                    .value
                    .clone()
            } else {
                format!("value for {}", f.key)
            };
            options.insert(f.key.clone(), value.into());
        }
        let updated = s
            .edit_options(
                &connect.id,
                side,
                &StepOptions {
                    account_id: None,
                    options: options.clone(),
                },
            )
            .await
            .unwrap();
        let stored = if side == Side::Trigger {
            &updated.trigger_options
        } else {
            &updated.action_options
        };
        assert_eq!(*stored, options);
    }
    let bad = StepOptions {
        account_id: None,
        options: [("nope".to_string(), "x".into())].into_iter().collect(),
    };
    assert_eq!(
        s.edit_options(&connect.id, Side::Trigger, &bad)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::BadRequest
    );
    let wrong_account = StepOptions {
        account_id: Some(action_account.id.clone()),
        options: Default::default(),
    };
    if trigger_app.app_id != action_app.app_id {
        assert_eq!(
            s.edit_options(&connect.id, Side::Trigger, &wrong_account)
                .await
                .unwrap_err()
                .kind,
            ErrorKind::BadRequest
        );
    }

    let on = s
        .set_connect_status(&connect.id, ConnectStatus::On)
        .await
        .unwrap();
    assert_eq!(on.status, ConnectStatus::On);
    let on_list = s
        .connects(Some(ConnectStatus::On), PageRequest::new(1, 100))
        .await
        .unwrap();
    assert!(on_list.items.iter().any(|c| c.id == connect.id));
    assert!(on_list.items.iter().all(|c| c.status == ConnectStatus::On));

    let before = s
        .connect_history(&connect.id, PageRequest::default())
        .await
        .unwrap()
        .total;
    let test = s.test_connect(&connect.id).await.unwrap();
    assert_eq!(test.result, RunStatus::Success);
    let history = s
        .connect_history(&connect.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(history.total, before + 1);
    assert_eq!(history.items[0].id, test.history_id);
    assert!(history.items[0].is_test);

    let renamed = s.rename_connect(&connect.id, "Renamed").await.unwrap();
    assert_eq!(renamed.name, "Renamed");
    let off = s
        .set_connect_status(&connect.id, ConnectStatus::Off)
        .await
        .unwrap();
    assert_eq!(off.status, ConnectStatus::Off);
    let off_again = s
        .set_connect_status(&connect.id, ConnectStatus::Off)
        .await
        .unwrap();
    assert_eq!(off_again.status, ConnectStatus::Off, "idempotent");

    let deleted = s.delete_connect(&connect.id).await.unwrap();
    assert!(deleted.deleted);
    for err in [
        s.delete_connect(&connect.id).await.unwrap_err(),
        s.rename_connect(&connect.id, "x")
            .await
            .map(|_| ())
            .unwrap_err(),
        s.connect_history(&connect.id, PageRequest::default())
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!((err.kind, err.status), (ErrorKind::NotFound, Some(404)));
    }
}

#[tokio::test]
async fn create_connect_rejects_bad_references() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let mine = s
        .connects(None, PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let input = NewConnect {
        popular_match_id: "no-such-match".into(),
        trigger_account_id: mine.trigger_account_id.clone(),
        action_account_id: mine.action_account_id.clone(),
        name: None,
    };
    assert_eq!(
        s.create_connect(&input).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let pm = s
        .popular_matches(None, PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let input = NewConnect {
        popular_match_id: pm.id,
        trigger_account_id: "nobody".into(),
        ..input
    };
    assert_eq!(
        s.create_connect(&input).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn pagination_walks_every_page() {
    let h = Harness::start().await;
    let s = h.pie(0);
    let first = s.connects(None, PageRequest::new(1, 7)).await.unwrap();
    assert_eq!((first.items.len(), first.total), (7, 40));
    let all = all_pages(7, |p| s.connects(None, p)).await.unwrap();
    assert_eq!(all.len(), 40);
    assert_eq!(all.iter().map(|c| &c.id).collect::<HashSet<_>>().len(), 40);
    let no_filter = AppFilter::default();
    let apps = all_pages(25, |p| s.apps(&no_filter, p)).await.unwrap();
    assert_eq!(apps.len(), 60);
    let past_end = s.connects(None, PageRequest::new(99, 10)).await.unwrap();
    assert!(past_end.items.is_empty() && past_end.total == 40);
    let capped = s
        .apps(&AppFilter::default(), PageRequest::new(1, 500))
        .await
        .unwrap();
    assert_eq!(capped.limit, 100);
    let zero = s.connects(None, PageRequest::new(0, 10)).await.unwrap_err();
    assert_eq!(zero.kind, ErrorKind::BadRequest);
}

#[tokio::test]
async fn fixture_references_are_consistent() {
    let h = Harness::start().await;
    let s = h.pie(1);
    let connects = all_pages(100, |p| s.connects(None, p)).await.unwrap();
    for c in connects.iter().take(10) {
        let trigger = s.trigger(&c.trigger_id).await.unwrap();
        assert_eq!(trigger.app_id, c.trigger_app_id);
        let action = s.action(&c.action_id).await.unwrap();
        assert_eq!(action.app_id, c.action_app_id);
        let acc = s
            .connected_accounts(None, Some(&c.trigger_account_id))
            .await
            .unwrap();
        assert_eq!(acc[0].app_id, c.trigger_app_id);
        let acc = s
            .connected_accounts(None, Some(&c.action_account_id))
            .await
            .unwrap();
        assert_eq!(acc[0].app_id, c.action_app_id);
        if let Some(pm) = &c.popular_match_id {
            let pm = s.popular_match(pm).await.unwrap();
            assert_eq!(
                (
                    pm.summary.trigger_id.as_str(),
                    pm.summary.action_id.as_str()
                ),
                (c.trigger_id.as_str(), c.action_id.as_str())
            );
        }
    }
}
