//! Every Appmixer client method against the sandbox, over HTTP.

mod common;

use common::{browse, Harness};
use flowgate::sandbox::DEMO_USERS;
use flowgate::upstream::appmixer::model::*;
use flowgate::upstream::{ErrorKind, Token};
use serde_json::json;
use std::collections::BTreeMap;

fn descriptor(types: &[&str]) -> FlowDescriptor {
    let mut d = BTreeMap::new();
    let mut previous: Option<String> = None;
    for (i, ty) in types.iter().enumerate() {
        let id = format!("00000000-0000-4000-8000-00000000000{i}");
        let mut source = serde_json::Map::new();
        if let Some(p) = &previous {
            source.insert("in".into(), json!({ p.clone(): ["out"] }));
        }
        d.insert(
            id.clone(),
            FlowComponent {
                component_type: ty.to_string(),
                label: None,
                source,
                x: Some(0.0),
                y: Some(0.0),
                config: None,
            },
        );
        previous = Some(id);
    }
    d
}

#[tokio::test]
async fn sign_in_by_username_or_email_and_current_user() {
    let h = Harness::start().await;
    let alice = &DEMO_USERS[0];
    let signed = h
        .appmixer
        .sign_in(alice.username, alice.password)
        .await
        .unwrap();
    assert_eq!(signed.token, alice.appmixer_token);
    assert_eq!(signed.user.email, alice.email);
    let user = h
        .appmixer
        .session(Token::new(signed.token))
        .current_user()
        .await
        .unwrap();
    assert_eq!(user.id, signed.user.id);
    assert_eq!(user.scope, vec!["user"]);

    let wrong = h
        .appmixer
        .sign_in(alice.username, "wrong")
        .await
        .unwrap_err();
    assert_eq!(
        (wrong.kind, wrong.status),
        (ErrorKind::Unauthorized, Some(401))
    );
    assert!(wrong.vendor_message.is_some());
    for token in ["", "not-a-token"] {
        let err = h
            .appmixer
            .session(Token::new(token))
            .current_user()
            .await
            .unwrap_err();
        assert_eq!((err.kind, err.status), (ErrorKind::Unauthorized, Some(401)));
    }
}

#[tokio::test]
async fn flow_listing_options() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let all = s.flows(&FlowQuery::default()).await.unwrap();
    assert_eq!(all.len(), 40);
    assert_eq!(s.flow_count().await.unwrap(), 40);

    let running = s
        .flows(&FlowQuery {
            filters: vec!["stage:running".into()],
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert!(!running.is_empty() && running.iter().all(|f| f.stage == Some(Stage::Running)));
    let not_running = s
        .flows(&FlowQuery {
            filters: vec!["stage:!running".into()],
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(running.len() + not_running.len(), 40);
    let category = all[0].custom_fields.as_ref().unwrap()["category"]
        .as_str()
        .unwrap()
        .to_string();
    let nested = s
        .flows(&FlowQuery {
            filters: vec![format!("customFields.category:{category}")],
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert!(nested.iter().any(|f| f.flow_id == all[0].flow_id));

    let light = s
        .flows(&FlowQuery {
            projection: Some("-flow,-thumbnail".into()),
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert!(light
        .iter()
        .all(|f| f.flow.is_none() && f.thumbnail.is_none() && f.name.is_some()));

    let sorted = s
        .flows(&FlowQuery {
            sort: Some("mtime:-1".into()),
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    let times: Vec<_> = sorted.iter().map(|f| f.mtime.clone().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));

    let page = s
        .flows(&FlowQuery {
            sort: Some("btime:1".into()),
            offset: Some(10),
            limit: Some(5),
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    let by_btime = s
        .flows(&FlowQuery {
            sort: Some("btime:1".into()),
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page, by_btime[10..15].to_vec());

    let name = all[3].name.clone().unwrap();
    let word = name.split(' ').next_back().unwrap().to_uppercase();
    let matched = s
        .flows(&FlowQuery {
            pattern: Some(word.clone()),
            ..FlowQuery::default()
        })
        .await
        .unwrap();
    assert!(matched.iter().any(|f| f.flow_id == all[3].flow_id));
    assert!(matched
        .iter()
        .all(|f| f.name.as_ref().unwrap().to_uppercase().contains(&word)));

    let bad = s
        .flows(&FlowQuery {
            filters: vec!["no-colon".into()],
            ..FlowQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::BadRequest);
}

#[tokio::test]
async fn flow_lifecycle() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let existing = s.flows(&FlowQuery::default()).await.unwrap();
    let one = s.flow(&existing[0].flow_id).await.unwrap();
    assert_eq!(one, existing[0]);

    let components = s.component_names().await.unwrap();
    let send_email = components
        .iter()
        .find(|c| c.starts_with("appmixer.utils.email."))
        .unwrap();
    let input = FlowInput {
        name: Some("Uptime alert".into()),
        flow: Some(descriptor(&["appmixer.utils.controls.OnStart", send_email])),
        custom_fields: Some(json!({ "category": "ops" })),
        ..FlowInput::default()
    };
    let id = s.create_flow(&input).await.unwrap();
    let created = s.flow(&id).await.unwrap();
    assert_eq!(created.name.as_deref(), Some("Uptime alert"));
    assert_eq!(created.stage, Some(Stage::Stopped));
    assert_eq!(created.flow, input.flow);
    assert_eq!(s.flow_count().await.unwrap(), 41);

    s.start_flow(&id).await.unwrap();
    assert_eq!(s.flow(&id).await.unwrap().stage, Some(Stage::Running));
    let rename = FlowInput {
        name: Some("Renamed".into()),
        ..FlowInput::default()
    };
    let refused = s.update_flow(&id, &rename, false).await.unwrap_err();
    assert_eq!(
        (refused.kind, refused.status),
        (ErrorKind::BadRequest, Some(400))
    );
    let updated = s.update_flow(&id, &rename, true).await.unwrap();
    assert_eq!(updated.result, "updated");
    assert_eq!(s.flow(&id).await.unwrap().name.as_deref(), Some("Renamed"));

    let stop = s.stop_flow(&id, true).await.unwrap();
    assert_eq!(stop.ticket, id);
    let status = s.stop_status(&id).await.unwrap();
    assert_eq!(
        (status.status.as_str(), status.steps_total),
        ("completed", 2)
    );
    assert_eq!(s.flow(&id).await.unwrap().stage, Some(Stage::Stopped));
    s.update_flow(
        &id,
        &FlowInput {
            name: Some("Stopped edit".into()),
            ..FlowInput::default()
        },
        false,
    )
    .await
    .unwrap();

    assert_eq!(s.delete_flow(&id).await.unwrap(), id);
    for err in [
        s.flow(&id).await.map(|_| ()).unwrap_err(),
        s.delete_flow(&id).await.map(|_| ()).unwrap_err(),
        s.start_flow(&id).await.map(|_| ()).unwrap_err(),
    ] {
        assert_eq!((err.kind, err.status), (ErrorKind::NotFound, Some(404)));
    }

    let empty = s
        .create_flow(&FlowInput {
            name: Some("Empty".into()),
            ..FlowInput::default()
        })
        .await
        .unwrap();
    let err = s.start_flow(&empty).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
}

#[tokio::test]
async fn apps_and_components() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let apps = s.apps(false).await.unwrap();
    assert_eq!(apps.len(), 30);
    let slack = &apps["appmixer.slack"];
    assert_eq!(slack.label, "Slack");
    assert!(slack.icon.starts_with("data:image/svg+xml;base64,"));
    let denied = s.apps(true).await.unwrap_err();
    assert_eq!(
        (denied.kind, denied.status),
        (ErrorKind::BadRequest, Some(400))
    );

    let gmail = s.app_components("appmixer.google.gmail").await.unwrap();
    assert!(gmail.iter().any(|c| c.is_trigger()) && gmail.iter().any(|c| !c.is_trigger()));
    assert!(gmail
        .iter()
        .all(|c| c.app_name() == "appmixer.google.gmail"));
    assert!(gmail
        .iter()
        .all(|c| c.auth.as_ref().unwrap().service == "appmixer:google"));
    let on_start = s.app_components("appmixer.utils.controls").await.unwrap();
    let on_start = on_start
        .iter()
        .find(|c| c.name == "appmixer.utils.controls.OnStart")
        .unwrap();
    assert!(on_start.is_trigger() && on_start.auth.is_none());
    assert_eq!(
        s.app_components("appmixer.nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    let names = s.component_names().await.unwrap();
    let manifests = s.component_manifests().await.unwrap();
    assert!(
        (120..=180).contains(&names.len()),
        "{} components",
        names.len()
    );
    assert_eq!(
        names,
        manifests.iter().map(|m| m.name.clone()).collect::<Vec<_>>()
    );
    assert!(manifests.iter().all(|m| apps.contains_key(m.app_name())));
}

#[tokio::test]
async fn accounts_read_update_test_and_filter() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let accounts = s.accounts(&[]).await.unwrap();
    assert_eq!(accounts.len(), 25);
    let slack = s
        .accounts(&["service:appmixer:slack".into()])
        .await
        .unwrap();
    assert!(!slack.is_empty() && slack.iter().all(|a| a.service == "appmixer:slack"));
    let others = s
        .accounts(&["service:!appmixer:slack".into()])
        .await
        .unwrap();
    assert_eq!(slack.len() + others.len(), 25);

    let id = &accounts[0].account_id;
    s.update_account(id, Some("Team workspace")).await.unwrap();
    let after = s.accounts(&[format!("accountId:{id}")]).await.unwrap();
    assert_eq!(after[0].display_name.as_deref(), Some("Team workspace"));
    let verdicts = s.test_account(id).await.unwrap();
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts.values().all(|v| v == "valid" || v == "invalid"));
    assert_eq!(
        s.test_account("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.update_account("nope", Some("x")).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    let created = s
        .create_account(
            &NewAccount {
                service: "appmixer:github".into(),
                token: json!({ "accessToken": "gh-secret" }),
                name: Some("octocat".into()),
                display_name: None,
                profile_info: None,
            },
            false,
            true,
        )
        .await
        .unwrap();
    assert_eq!(created.account.service, "appmixer:github");
    assert_eq!(created.revoked, Some(false));
    assert_eq!(s.accounts(&[]).await.unwrap().len(), 26);
    let bad = NewAccount {
        service: "appmixer:nope".into(),
        token: json!({}),
        name: None,
        display_name: None,
        profile_info: None,
    };
    assert_eq!(
        s.create_account(&bad, false, true).await.unwrap_err().kind,
        ErrorKind::BadRequest
    );
}

#[tokio::test]
async fn removing_an_account_stops_its_flows() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let accounts = s.accounts(&[]).await.unwrap();
    let mut used = None;
    for a in accounts.iter() {
        let flows = s.account_flows(&a.account_id).await.unwrap();
        if !flows.is_empty() {
            used = Some((a.account_id.clone(), flows));
            break;
        }
    }
    let (account, flows) = used.expect("some account is used by a flow");
    for f in flows.iter() {
        let flow = s.flow(&f.0.flow_id).await.unwrap();
        assert_eq!(flow.name, f.0.name);
    }
    s.start_flow(&flows[0].0.flow_id).await.unwrap();
    assert_eq!(s.remove_account(&account).await.unwrap(), account);
    assert_eq!(
        s.flow(&flows[0].0.flow_id).await.unwrap().stage,
        Some(Stage::Stopped)
    );
    assert!(!s
        .accounts(&[])
        .await
        .unwrap()
        .iter()
        .any(|a| a.account_id == account));
    assert_eq!(
        s.account_flows(&account).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.remove_account(&account).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn auth_session_assignment_and_component_accounts() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let flows = s.flows(&FlowQuery::default()).await.unwrap();
    let manifests = s.component_manifests().await.unwrap();
    let (component_id, component_type) = flows
        .iter()
        .flat_map(|f| f.flow.clone().unwrap_or_default())
        .find(|(_, c)| {
            manifests
                .iter()
                .any(|m| m.name == c.component_type && m.auth.is_some())
        })
        .map(|(id, c)| (id, c.component_type))
        .unwrap();

    let before = s
        .component_accounts(&component_type, &component_id)
        .await
        .unwrap();
    assert_eq!(before.component_type, component_type);
    assert_eq!(
        before
            .auth
            .accounts
            .values()
            .filter(|a| a.component_assigned)
            .count(),
        1
    );

    let ticket = s.auth_ticket().await.unwrap();
    let user = s.current_user().await.unwrap();
    assert!(ticket.starts_with(&format!("{}:", user.id)));
    let url = s
        .auth_url(&component_type, &ticket, Some(&component_id))
        .await
        .unwrap();
    let service = s
        .start_auth_session(&component_type, &ticket)
        .await
        .unwrap();
    assert!(service.starts_with("appmixer:"));
    let pending = s.auth_status(&ticket).await.unwrap();
    assert!(!pending.finished && pending.account_id.is_none());
    browse(&url).await;
    let done = s.auth_status(&ticket).await.unwrap();
    assert!(done.finished);
    let new_account = done.account_id.unwrap();
    let after = s
        .component_accounts(&component_type, &component_id)
        .await
        .unwrap();
    assert!(after.auth.accounts[&new_account].component_assigned);
    assert_eq!(after.auth.accounts.len(), before.auth.accounts.len() + 1);

    let old = before.auth.accounts.keys().next().unwrap();
    let assigned = s.assign_account(&component_id, old).await.unwrap();
    assert_eq!(
        (assigned.account_id.as_str(), assigned.component_id.as_str()),
        (old.as_str(), component_id.as_str())
    );
    assert!(
        s.component_accounts(&component_type, &component_id)
            .await
            .unwrap()
            .auth
            .accounts[old]
            .component_assigned
    );
    assert_eq!(
        s.unassign_account(&component_id).await.unwrap(),
        component_id
    );
    let cleared = s
        .component_accounts(&component_type, &component_id)
        .await
        .unwrap();
    assert!(cleared
        .auth
        .accounts
        .values()
        .all(|a| !a.component_assigned));

    assert_eq!(
        s.auth_status("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.component_accounts("appmixer.nope.X", &component_id)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        s.assign_account("no-such-component", old)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn logs_for_many_flows_with_paging() {
    let h = Harness::start().await;
    let s = h.mixer(0);
    let all = s
        .logs(&LogQuery {
            size: Some(1000),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert!(all.hits.len() > 20);
    assert_eq!(
        all.buckets.iter().map(|b| b.doc_count).sum::<u64>(),
        all.hits.len() as u64
    );
    assert!(
        all.hits
            .windows(2)
            .all(|w| w[0].timestamp >= w[1].timestamp),
        "newest first"
    );

    let a = all.hits[0].flow_id.clone().unwrap();
    let b = all
        .hits
        .iter()
        .find_map(|h| h.flow_id.clone().filter(|f| *f != a))
        .unwrap();
    let two = s
        .logs(&LogQuery {
            flow_ids: vec![a.clone(), b.clone()],
            size: Some(1000),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    let expected = all
        .hits
        .iter()
        .filter(|h| h.flow_id == Some(a.clone()) || h.flow_id == Some(b.clone()))
        .count();
    assert_eq!(two.hits.len(), expected);

    let first = s
        .logs(&LogQuery {
            size: Some(5),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    let second = s
        .logs(&LogQuery {
            from: Some(5),
            size: Some(5),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.hits, all.hits[..5].to_vec());
    assert_eq!(second.hits, all.hits[5..10].to_vec());
    let default_size = s.logs(&LogQuery::default()).await.unwrap();
    assert_eq!(default_size.hits.len(), all.hits.len().min(50));

    let errors = s
        .logs(&LogQuery {
            query: Some("severity:error".into()),
            size: Some(1000),
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert!(errors
        .hits
        .iter()
        .all(|h| h.severity.as_deref() == Some("error")));
}
