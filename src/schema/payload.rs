//! What every mutation answers with: the written object read fresh, and `userErrors` for what
//! the caller can fix. A write that went through is never reported as failed: when reading its
//! result fails, only the object is null, with an error marked `readAfterWrite`.

use crate::error::Code;
use async_graphql::{Enum, Error, ErrorExtensions, Result, SimpleObject, Value};
use futures_util::future::BoxFuture;
use std::future::Future;

/// Why the caller's input was refused; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum UserErrorCode {
    /// The input is malformed or of the wrong kind (an id of another type, say).
    Invalid,
    /// The input names something that does not exist, or is not the caller's.
    NotFound,
    /// The vendor refused the write as it stands (incomplete options, say).
    Rejected,
}

/// A problem with the input the caller can fix.
#[derive(Clone, Debug, SimpleObject)]
pub struct UserError {
    /// The path of the input field at fault, from the mutation's arguments (`["input", "id"]`).
    pub field: Vec<String>,
    /// What is wrong, for people.
    pub message: String,
    /// What is wrong, for programs.
    pub code: UserErrorCode,
}

/// A payload that can carry user errors instead of a result.
pub trait Payload: Default {
    fn with_user_errors(errors: Vec<UserError>) -> Self;
}

/// Declares the payload types whose `user_errors` field carries the refusals.
macro_rules! payloads {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::schema::payload::Payload for $t {
            fn with_user_errors(errors: Vec<$crate::schema::payload::UserError>) -> Self {
                Self { user_errors: errors, ..Self::default() }
            }
        }
    )*};
}
pub(crate) use payloads;

/// Runs a mutation: an error the caller can fix becomes a payload with `userErrors`; any
/// other error stays a GraphQL error.
/// The work comes boxed: a mutation's future is large, and would otherwise sit on the stack.
pub async fn settle<P: Payload>(work: BoxFuture<'_, Result<P>>) -> Result<P> {
    match work.await {
        Ok(payload) => Ok(payload),
        Err(e) => match user_error(&e) {
            Some(refusal) => Ok(P::with_user_errors(vec![refusal])),
            None => Err(e),
        },
    }
}

fn user_error(e: &Error) -> Option<UserError> {
    let extensions = e.extensions.as_ref()?;
    let code = match extensions.get("code") {
        Some(Value::String(c)) if c == Code::BadUserInput.as_str() => {
            if extensions.get("provider").is_some() {
                UserErrorCode::Rejected
            } else {
                UserErrorCode::Invalid
            }
        }
        Some(Value::String(c)) if c == Code::NotFound.as_str() => UserErrorCode::NotFound,
        _ => return None,
    };
    let field = match extensions.get("field") {
        Some(Value::List(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => vec!["input".to_string()],
    };
    Some(UserError {
        field,
        message: e.message.clone(),
        code,
    })
}

/// Marks an error as being about input field `input.<name>`.
pub fn at_field(e: Error, name: &str) -> Error {
    let field = vec![Value::from("input"), Value::from(name)];
    e.extend_with(|_, x| x.set("field", Value::List(field)))
}

/// The fresh read of what a write changed: its failure says the write itself went through.
pub async fn after_write<T>(read: impl Future<Output = Result<T>>) -> Result<T> {
    Box::pin(read).await.map_err(|e| {
        let message = format!(
            "the write went through; reading its result failed: {}",
            e.message
        );
        let mut marked = Error { message, ..e };
        marked = marked.extend_with(|_, x| x.set("readAfterWrite", true));
        marked
    })
}
