//! GraphiQL at `/`, with its scripts and styles served by flowgate (`assets/graphiql/`), so the
//! page works on a machine with no internet.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The version in the assets' URLs, so browsers may keep them forever.
const VERSION: &str = "3.8.3";

const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
];

/// The page, opening with `headers` in GraphiQL's header editor.
pub fn page(headers: &[(String, String)]) -> Html<String> {
    let headers: serde_json::Map<_, _> = headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let headers = serde_json::to_string_pretty(&headers).unwrap_or_else(|_| "{}".into());
    // `</` cannot end the script early once escaped.
    let headers = serde_json::to_string(&headers)
        .unwrap_or_else(|_| "\"{}\"".into())
        .replace("</", "<\\/");
    Html(
        PAGE.replace("{VERSION}", VERSION)
            .replace("{HEADERS}", &headers),
    )
}

/// One of GraphiQL's files.
pub async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(n, _, _)| *n == name);
    match found {
        Some((_, content_type, bytes)) if version == VERSION => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flowgate</title>
<link rel="stylesheet" href="/graphiql/{VERSION}/graphiql.min.css">
<style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/{VERSION}/react.production.min.js"></script>
<script src="/graphiql/{VERSION}/react-dom.production.min.js"></script>
<script src="/graphiql/{VERSION}/graphiql.min.js"></script>
<script>
  const url = new URL('/graphql', location.href);
  const ws = new URL(url);
  ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const headers = {HEADERS};
  const fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: ws.href,
    wsConnectionParams: JSON.parse(headers),
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      headers,
      defaultEditorToolbarTabs: 'headers',
      shouldPersistHeaders: false,
    }),
  );
</script>
</body>
</html>
"#;
