//! flowgate: a GraphQL gateway over the Appy Pie Connect API and the Appmixer API.

pub mod error;
mod inflight;
pub mod loaders;
pub mod sandbox;
pub mod schema;
pub mod server;
pub mod upstream;
