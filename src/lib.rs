//! flowgate: a GraphQL gateway over the Appy Pie Connect API and the Appmixer API.

mod batch;
pub mod config;
pub mod error;
pub mod identity;
mod inflight;
pub mod loaders;
mod metered;
pub mod sandbox;
pub mod schema;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod upstream;

/// The gateway's router for checked settings.
pub fn app(settings: &config::Settings) -> std::io::Result<axum::Router> {
    server::router(settings.gateway.clone())
}
