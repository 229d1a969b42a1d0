//! Who may see what: `@authenticated` and `@requiresScopes` (an OR of AND-groups, as Apollo,
//! Cosmo and Hive read it), shown in the SDL and checked against the caller the server
//! verified. A field the caller may not see fails alone: `null`, with `UNAUTHENTICATED` for
//! an anonymous caller and `FORBIDDEN` for one without the scopes.

use crate::error::Code;
use crate::identity::Subject;
use async_graphql::{Context, Guard, Result, TypeDirective};
use std::sync::Arc;

/// Only a verified caller sees it.
#[TypeDirective(location = "FieldDefinition", location = "Object")]
pub fn authenticated() {}

/// Only a caller holding every scope of one of the groups sees it.
#[TypeDirective(
    name = "requiresScopes",
    location = "FieldDefinition",
    location = "Object"
)]
pub fn requires_scopes(scopes: Vec<Vec<String>>) {}

/// The scope the SDL shows on `Mutation`: `auth.write_scope`'s default.
pub const WRITE_SCOPE: &str = "automations:write";

/// What the request's caller may do.
#[derive(Clone, Default)]
pub struct Access {
    /// Checks apply (auth mode `jwt` or `optional`).
    pub enforced: bool,
    pub subject: Option<Arc<Subject>>,
    /// The scope every mutation needs (`auth.write_scope`).
    pub write_scope: Arc<str>,
    /// The scope the credential admin mutations need (`auth.admin_scope`).
    pub admin_scope: Arc<str>,
    /// The vendor credentials the gateway holds, if it holds any.
    pub held: Option<Arc<crate::identity::held::Held>>,
}

impl Access {
    fn authenticated(&self) -> Result<Option<&Subject>> {
        match (&self.subject, self.enforced) {
            (_, false) => Ok(None),
            (Some(subject), true) => Ok(Some(subject)),
            (None, true) => Err(Code::Unauthenticated
                .error("this field needs a verified caller: send a JWT as a bearer token")),
        }
    }

    pub(crate) fn scopes<S: AsRef<str>>(&self, any_of: &[Vec<S>]) -> Result<()> {
        match self.authenticated()? {
            Some(subject) if !subject.satisfies(any_of) => {
                let groups: Vec<String> = any_of
                    .iter()
                    .map(|all| {
                        let all: Vec<&str> = all.iter().map(AsRef::as_ref).collect();
                        all.join(" and ")
                    })
                    .collect();
                let message = format!("this field needs the scope {}", groups.join(", or "));
                Err(Code::Forbidden.error(message))
            }
            _ => Ok(()),
        }
    }
}

fn access<'a>(ctx: &Context<'a>) -> Result<&'a Access> {
    Ok(&super::data(ctx)?.access)
}

/// The guard of `@authenticated`.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        access(ctx)?.authenticated().map(drop)
    }
}

/// The guard of every mutation: the write scope from the settings.
pub struct Writes;

impl Guard for Writes {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let access = access(ctx)?;
        access.scopes(&[vec![&*access.write_scope]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scopes: &[&str]) -> Access {
        Access {
            enforced: true,
            subject: Some(Arc::new(Subject::new(
                "bob".into(),
                scopes.iter().map(|s| s.to_string()).collect(),
                u64::MAX,
            ))),
            write_scope: WRITE_SCOPE.into(),
            ..Access::default()
        }
    }

    fn code(result: Result<()>) -> Option<String> {
        let e = result.err()?;
        let code = e.extensions?.get("code")?.clone();
        Some(code.to_string().trim_matches('"').to_string())
    }

    #[test]
    fn anonymous_callers_are_unauthenticated_and_others_forbidden() {
        let need = [vec![WRITE_SCOPE]];
        let anonymous = Access {
            enforced: true,
            ..Access::default()
        };
        assert_eq!(code(anonymous.scopes(&need)).unwrap(), "UNAUTHENTICATED");
        assert_eq!(
            code(caller(&["automations:read"]).scopes(&need)).unwrap(),
            "FORBIDDEN"
        );
        assert_eq!(code(caller(&[WRITE_SCOPE]).scopes(&need)), None);
        assert_eq!(code(Access::default().scopes(&need)), None);
    }
}
