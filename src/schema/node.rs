//! Global ids: opaque, and encoding the type, the provider and the vendor's own id.

use super::Provider;
use crate::error::Code;
use async_graphql::{Result, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The object types that have global ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    App,
    Category,
    Trigger,
    Action,
    Account,
    Flow,
    Connect,
    PopularMatch,
    FlowComponent,
    User,
    Run,
}

const KINDS: [(Kind, &str); 11] = [
    (Kind::App, "App"),
    (Kind::Category, "Category"),
    (Kind::Trigger, "Trigger"),
    (Kind::Action, "Action"),
    (Kind::Account, "Account"),
    (Kind::Flow, "Flow"),
    (Kind::Connect, "Connect"),
    (Kind::PopularMatch, "PopularMatch"),
    (Kind::FlowComponent, "FlowComponent"),
    (Kind::User, "User"),
    (Kind::Run, "Run"),
];

impl Kind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }
}

/// A decoded global id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    pub provider: Provider,
    pub native: String,
}

impl GlobalId {
    pub fn encode(kind: Kind, provider: Provider, native: &str) -> ID {
        let p = match provider {
            Provider::Appmixer => "appmixer",
            Provider::Appypie => "appypie",
        };
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{p}:{native}", kind.name())))
    }

    /// Decodes an id, or answers `BAD_USER_INPUT`.
    pub fn decode(id: &str) -> Result<GlobalId> {
        let invalid = || Code::BadUserInput.error("not a valid flowgate id");
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, ':');
        let (Some(kind), Some(provider), Some(native)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let kind = KINDS
            .iter()
            .find(|(_, n)| *n == kind)
            .map(|(k, _)| *k)
            .ok_or_else(invalid)?;
        let provider = match provider {
            "appmixer" => Provider::Appmixer,
            "appypie" => Provider::Appypie,
            _ => return Err(invalid()),
        };
        if native.is_empty() {
            return Err(invalid());
        }
        Ok(GlobalId {
            kind,
            provider,
            native: native.to_string(),
        })
    }

    /// An object that lives inside another: `parent` is its container's vendor id (a flow, a
    /// connect), `child` its own within it.
    pub fn nested(kind: Kind, provider: Provider, parent: &str, child: &str) -> ID {
        Self::encode(kind, provider, &format!("{parent}/{child}"))
    }

    /// The container's id and the object's own of a [`GlobalId::nested`] id.
    pub fn expect_nested(id: &str, kind: Kind) -> Result<(GlobalId, String, String)> {
        let g = Self::expect(id, kind)?;
        match g.native.split_once('/') {
            Some((parent, child)) if !parent.is_empty() && !child.is_empty() => {
                let (parent, child) = (parent.to_string(), child.to_string());
                Ok((g, parent, child))
            }
            _ => Err(Code::BadUserInput.error("not a valid flowgate id")),
        }
    }

    /// Decodes an id that must be of `kind`.
    pub fn expect(id: &str, kind: Kind) -> Result<GlobalId> {
        let g = Self::decode(id)?;
        if g.kind != kind {
            return Err(Code::BadUserInput.error(format!(
                "expected a {} id, got a {} id",
                kind.name(),
                g.kind.name()
            )));
        }
        Ok(g)
    }
}
