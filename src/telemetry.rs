//! Log lines (text or JSON) and, with the `otel` feature and an endpoint, OpenTelemetry spans
//! exported over OTLP/HTTP. Without an endpoint no span is recorded at all.

use crate::config::Export;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and stops the span export when dropped.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Directives added to any filter. Crates that log what a peer sent (WebSocket frames and
/// messages, `connection_init` payloads with the caller's tokens among them) at debug or trace
/// level are held at `error`, whatever the filter says; the audit log is always on. (The
/// audit's `info` raises the filter's maximum level; the spans of ours stay off only because no
/// layer takes every span: see `init` and the test below.)
const QUIET: [&str; 3] = ["tungstenite=error", "tokio_tungstenite=error", "audit=info"];

/// Installs the process's log output, filtered by `filter`, and the span export, if any.
pub fn init(json: bool, filter: &str, export: Option<&Export>) -> Result<Telemetry, String> {
    let mut filter = EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
    for directive in QUIET {
        filter = filter.add_directive(directive.parse().map_err(|e| format!("{e}"))?);
    }
    let logs = tracing_subscriber::fmt::layer();
    let logs = match json {
        true => logs.json().flatten_event(true).boxed(),
        false => logs.boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs.with_filter(filter));
    #[cfg(feature = "otel")]
    {
        let provider = export.map(otel::provider).transpose()?;
        // No layer at all when nothing is exported: an empty one would take every span.
        let _ = match provider.as_ref().map(otel::layer) {
            Some(spans) => registry.with(spans).try_init(),
            None => registry.try_init(),
        };
        Ok(Telemetry { provider })
    }
    #[cfg(not(feature = "otel"))]
    {
        if export.is_some() {
            return Err("spans need flowgate built with the `otel` feature".into());
        }
        let _ = registry.try_init();
        Ok(Telemetry {})
    }
}

#[cfg(feature = "otel")]
mod otel {
    use crate::config::Export;
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::Layer;

    /// The tracer provider exporting to `export`'s collector, batched in the background; and
    /// W3C trace context as the propagation format.
    pub fn provider(export: &Export) -> Result<SdkTracerProvider, String> {
        let mut endpoint = export.endpoint.clone();
        if endpoint.path() == "/" {
            endpoint.set_path("/v1/traces");
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(endpoint.as_str())
            .with_headers(export.headers.iter().cloned().collect())
            .with_http_client(Client::new()?)
            .build()
            .map_err(|e| format!("the span exporter cannot start: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(export.service_name.clone())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }

    /// The layer turning flowgate's spans into OpenTelemetry spans.
    pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let tracer = provider.tracer("flowgate");
        let spans = Targets::new().with_target("flowgate", tracing::Level::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(spans)
    }

    /// Sends exports with reqwest on the gateway's runtime (the exporter calls from a thread
    /// of its own).
    #[derive(Debug)]
    struct Client {
        http: reqwest::Client,
        runtime: tokio::runtime::Handle,
    }

    impl Client {
        fn new() -> Result<Client, String> {
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
            Ok(Client { http, runtime })
        }
    }

    #[async_trait::async_trait]
    impl HttpClient for Client {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let http = self.http.clone();
            let send = async move {
                let request = reqwest::Request::try_from(request)?;
                let response = http.execute(request).await?;
                let mut answer = Response::builder().status(response.status());
                if let Some(headers) = answer.headers_mut() {
                    *headers = response.headers().clone();
                }
                Ok::<_, HttpError>(answer.body(response.bytes().await?)?)
            };
            self.runtime.spawn(send).await?
        }
    }
}

#[cfg(test)]
mod tests {
    /// At the default level no span of ours is built: each would cost every request.
    #[test]
    fn spans_stay_off_at_the_default_level() {
        let _telemetry = super::init(false, "warn", None).unwrap();
        assert!(tracing::info_span!("graphql.request").is_disabled());
        assert!(!tracing::enabled!(tracing::Level::INFO));
        assert!(tracing::enabled!(target: "audit", tracing::Level::INFO));
    }
}
