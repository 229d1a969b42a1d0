//! What a frontend team builds first, each screen as one test against the sandbox: the whole
//! response as a snapshot (`tests/snapshots/`) and every upstream call it costs.

mod common;

use common::{edges, Gateway};
use serde_json::json;

#[tokio::test]
async fn the_integrations_page_lists_every_automation_with_its_health() {
    let g = Gateway::start().await;
    let q = "{ automations(first: 8) { totalCount pageInfo { hasNextPage }
        edges { node { __typename name status updatedAt apps { name } lastRun { status startedAt } lastError { message } } } } }";
    let page = g
        .costs(
            &[
                ("GET /apps", 1),
                ("GET /connect/list", 1),
                ("GET /connect/{id}/history", 5),
                ("GET /flows", 1),
                ("GET /logs", 1),
            ],
            g.ok(q, json!({})),
        )
        .await;
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn run_history_pages_through_an_automations_runs() {
    let g = Gateway::start().await;
    let connect = g.first_connect_id().await;
    for _ in 0..3 {
        g.ok(
            "mutation($id: ID!) { testConnect(input: { connectId: $id }) { success } }",
            json!({ "id": connect }),
        )
        .await;
    }
    let q = "query($id: ID!, $after: String) { node(id: $id) { ... on Automation { name
        runs(first: 2, after: $after) { pageInfo { hasNextPage endCursor } edges { node { status isTest steps } } } } } }";
    let first = g
        .costs(
            &[("GET /connect/list", 1), ("GET /connect/{id}/history", 1)],
            g.ok(q, json!({ "id": connect })),
        )
        .await;
    let after = first["node"]["runs"]["pageInfo"]["endCursor"].clone();
    let second = g.ok(q, json!({ "id": connect, "after": after })).await;
    assert_eq!(edges(&first["node"]["runs"]).len(), 2);
    insta::assert_json_snapshot!(json!({ "first": first, "second": second }));
}

#[tokio::test]
async fn the_template_gallery_shows_popular_matches_by_category() {
    let g = Gateway::start().await;
    let q = "{ categories(provider: APPYPIE) { name }
        popularMatches(first: 6) { totalCount edges { node { title description triggerApp { name authType } actionApp { name } } } } }";
    let gallery = g
        .costs(
            &[
                ("GET /apps", 1),
                ("GET /categories", 1),
                ("GET /popular-match/{id}", 6),
                ("GET /popular-matches", 1),
            ],
            g.ok(q, json!({})),
        )
        .await;
    insta::assert_json_snapshot!(gallery);
}
