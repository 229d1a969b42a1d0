//! flowgate: a GraphQL gateway over the Appy Pie Connect API and the Appmixer API.

pub mod sandbox;
pub mod upstream;
