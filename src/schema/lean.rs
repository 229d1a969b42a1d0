//! A cheaper resolution of the objects that come in long lists (accounts, flows, connects).
//!
//! async-graphql resolves every field of every object as a boxed future polled through a
//! `FuturesUnordered`, even a field that only copies a string out of the object. In a list of 50
//! accounts with their flows that machinery is most of a query's CPU. [`Lean`] answers the fields
//! an object knows at once ([`Plain`]) in place, and hands only the others to the object's own
//! resolvers. A selection it does not handle plainly (fragments, custom directives, a repeated
//! response key) goes the usual way, so the answer is always the same. Plain fields skip
//! async-graphql's per-field extension hooks: the schema registers no extension (`builder`).

use super::relay::Total;
use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{enum_value, ContainerType, EnumType};
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, Result, ScalarType, ServerResult,
    Value, ID,
};
use futures_util::future::{join_all, BoxFuture, FutureExt};
use std::borrow::Cow;
use std::future::Future;

/// An object whose cheap fields can be read without waiting.
pub trait Plain {
    /// The value of the field `name` (its context `ctx`), when it takes no arguments, selects
    /// nothing and its resolver answers without waiting; `None` otherwise.
    fn plain(&self, ctx: &Context<'_>, name: &str) -> Option<Value>;
}

/// `Plain` for the types given, answering the fields listed (`"graphqlName" => now(resolver)`,
/// or `word(resolver)` for an enum) with the types' own resolvers.
macro_rules! plain_fields {
    (@one $ty:ty, { $($name:literal => $how:ident($resolver:ident)),* $(,)? }) => {
        impl $crate::schema::lean::Plain for $ty {
            fn plain(
                &self,
                ctx: &async_graphql::Context<'_>,
                name: &str,
            ) -> Option<async_graphql::Value> {
                match name {
                    $($name => $crate::schema::lean::$how(self.$resolver(ctx)),)*
                    _ => None,
                }
            }
        }
    };
    ($($ty:ty),+ => $fields:tt) => {
        $(plain_fields!(@one $ty, $fields);)+
    };
}
pub(crate) use plain_fields;

/// The answer of a resolver that does not wait, as a value; `None` if it waits or fails.
pub fn now<V: Answer>(resolver: impl Future<Output = Result<V>>) -> Option<Value> {
    resolver.now_or_never()?.ok().map(Answer::value)
}

/// The answer of a resolver of an enum that never waits, as its GraphQL name.
pub fn word<E: EnumType>(resolver: impl Future<Output = Result<E>>) -> Option<Value> {
    resolver.now_or_never()?.ok().map(enum_value)
}

/// What a plain field's resolver may return.
pub trait Answer {
    fn value(self) -> Value;
}

impl Answer for &str {
    fn value(self) -> Value {
        Value::String(self.to_string())
    }
}

impl Answer for ID {
    fn value(self) -> Value {
        Value::String(self.0)
    }
}

impl<T: Answer> Answer for Option<T> {
    fn value(self) -> Value {
        self.map_or(Value::Null, Answer::value)
    }
}

impl Answer for super::DateTime {
    fn value(self) -> Value {
        self.to_value()
    }
}

/// `T`, resolved the lean way; the same type to the schema.
#[derive(Clone)]
pub struct Lean<T>(pub T);

impl<T: OutputType + ContainerType + Plain> OutputType for Lean<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match plan(&self.0, ctx) {
            Some((answered, pending)) => Ok(finish(&self.0, ctx, answered, pending).await),
            None => Box::pin(self.0.resolve(ctx, field)).await,
        }
    }
}

type Pending<'a> = Vec<(usize, &'a Positioned<Field>)>;

/// The selection's response keys in order, with the plain fields answered, and the fields
/// left to resolve (by their place); `None` when the selection needs the usual way.
fn plan<'a, T: OutputType + Plain>(
    object: &T,
    ctx: &ContextSelectionSet<'a>,
) -> Option<(Vec<(Name, Value)>, Pending<'a>)> {
    let items = &ctx.item.node.items;
    let mut answered: Vec<(Name, Value)> = Vec::with_capacity(items.len());
    let mut pending = Vec::new();
    for selection in items {
        let field = simple_field(selection)?;
        let f = &field.node;
        let key = f.response_key().node.clone();
        if answered.iter().any(|(k, _)| *k == key) {
            return None;
        }
        let name = f.name.node.as_str();
        let plain = if name == "__typename" {
            Some(Value::String(object.introspection_type_name().into_owned()))
        } else if f.arguments.is_empty() && f.selection_set.node.items.is_empty() {
            object.plain(&ctx.with_field(field), name)
        } else {
            None
        };
        if plain.is_none() {
            pending.push((answered.len(), field));
        }
        answered.push((key, plain.unwrap_or(Value::Null)));
    }
    Some((answered, pending))
}

/// Resolves the pending fields with the object's own resolvers and puts the answer together:
/// a field that failed is left out and its error recorded, as async-graphql does.
async fn finish<T: ContainerType>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    answered: Vec<(Name, Value)>,
    pending: Pending<'_>,
) -> Value {
    let resolved = join_all(pending.iter().map(|(_, field)| {
        let ctx_field = ctx.with_field(field);
        let resolve: BoxFuture<'_, _> =
            Box::pin(async move { object.resolve_field(&ctx_field).await });
        resolve
    }))
    .await;
    let mut values: Vec<Option<Value>> = answered.iter().map(|_| None).collect();
    let mut keep = vec![true; answered.len()];
    for ((at, _), outcome) in pending.iter().zip(resolved) {
        match outcome {
            Ok(value) => values[*at] = Some(value.unwrap_or_default()),
            Err(e) => {
                ctx.add_error(e);
                keep[*at] = false;
            }
        }
    }
    let kept = answered.into_iter().enumerate().filter(|(i, _)| keep[*i]);
    let fields = kept.map(|(i, (key, plain))| (key, values[i].take().unwrap_or(plain)));
    object_of(fields)
}

/// A Relay page of lean objects: its `edges { cursor node }` and `nodes` are put together in
/// place, with no object or future per edge; its other fields (`pageInfo`, `totalCount`) are
/// the connection's own. The same type to the schema as the connection it wraps.
pub struct LeanPage<C: CursorType + Send + Sync, T: OutputType + ContainerType + Plain>(
    pub Connection<C, Lean<T>, Total, EmptyFields>,
);

impl<C, T> OutputType for LeanPage<C, T>
where
    C: CursorType + Send + Sync,
    T: OutputType + ContainerType + Plain,
{
    fn type_name() -> Cow<'static, str> {
        Connection::<C, Lean<T>, Total, EmptyFields>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Connection::<C, Lean<T>, Total, EmptyFields>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let Some(fields) = simple_fields(ctx.item) else {
            return self.0.resolve(ctx, field).await;
        };
        if !fields.iter().all(|f| self.lean_field(f)) {
            return self.0.resolve(ctx, field).await;
        }
        let mut out = IndexMap::with_capacity(fields.len());
        for f in fields {
            let key = f.node.response_key().node.clone();
            let value = match f.node.name.node.as_str() {
                "__typename" => Ok(Value::String(Self::type_name().into_owned())),
                "edges" => Ok(self.edges(ctx, f).await),
                "nodes" => Ok(self.nodes(ctx, f).await),
                _ => self
                    .0
                    .resolve_field(&ctx.with_field(f))
                    .await
                    .map(Option::unwrap_or_default),
            };
            match value {
                Ok(value) => {
                    out.insert(key, value);
                }
                Err(e) => ctx.add_error(e),
            }
        }
        Ok(Value::Object(out))
    }
}

impl<C, T> LeanPage<C, T>
where
    C: CursorType + Send + Sync,
    T: OutputType + ContainerType + Plain,
{
    /// Whether this page puts `f` together itself (or asks the connection for it).
    fn lean_field(&self, f: &Positioned<Field>) -> bool {
        match f.node.name.node.as_str() {
            "edges" => simple_fields(&f.node.selection_set).is_some_and(|inner| {
                inner
                    .iter()
                    .all(|e| matches!(e.node.name.node.as_str(), "node" | "cursor" | "__typename"))
            }),
            _ => true,
        }
    }

    async fn edges(&self, ctx: &ContextSelectionSet<'_>, f: &Positioned<Field>) -> Value {
        let ctx_field = ctx.with_field(f);
        let list = ctx_field.with_selection_set(&f.node.selection_set);
        let inner = simple_fields(&f.node.selection_set).unwrap_or_default();
        let edge_type = Edge::<C, Lean<T>, EmptyFields>::type_name();
        let edges = self.0.edges.iter().enumerate().map(|(i, edge)| {
            let (list, inner, edge_type) = (&list, &inner, &edge_type);
            async move {
                let at = list.with_index(i);
                let mut out = IndexMap::with_capacity(inner.len());
                for e in inner {
                    let value = match e.node.name.node.as_str() {
                        "cursor" => Value::String(edge.cursor.encode_cursor()),
                        "node" => node(&edge.node, &at, e).await,
                        _ => Value::String(edge_type.to_string()),
                    };
                    out.insert(e.node.response_key().node.clone(), value);
                }
                Value::Object(out)
            }
        });
        Value::List(join_all(edges).await)
    }

    async fn nodes(&self, ctx: &ContextSelectionSet<'_>, f: &Positioned<Field>) -> Value {
        let ctx_field = ctx.with_field(f);
        let list = ctx_field.with_selection_set(&f.node.selection_set);
        if let Some(values) = self.plain_nodes(&list) {
            return Value::List(values);
        }
        let nodes = self.0.edges.iter().enumerate().map(|(i, edge)| {
            let list = &list;
            async move {
                let at = list.with_index(i);
                lean_value(&edge.node, &at, f).await
            }
        });
        Value::List(join_all(nodes).await)
    }

    /// Every node's value when each one's selection is all plain fields, answered at once with
    /// no future per node; `None` as soon as one needs waiting for.
    fn plain_nodes(&self, list: &ContextSelectionSet<'_>) -> Option<Vec<Value>> {
        let edges = self.0.edges.iter().enumerate();
        edges
            .map(|(i, edge)| {
                let (answered, pending) = plan(&edge.node.0, &list.with_index(i))?;
                pending.is_empty().then(|| object_of(answered))
            })
            .collect()
    }
}

/// An object of fields all answered; null when there is none.
fn object_of(fields: impl IntoIterator<Item = (Name, Value)>) -> Value {
    let fields = fields.into_iter();
    let mut out = IndexMap::with_capacity(fields.size_hint().1.unwrap_or(0));
    out.extend(fields);
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

/// The `node` field of an edge.
async fn node<T: OutputType + ContainerType + Plain>(
    item: &Lean<T>,
    edge: &ContextSelectionSet<'_>,
    f: &Positioned<Field>,
) -> Value {
    let ctx_field = edge.with_field(f);
    let ctx_node = ctx_field.with_selection_set(&f.node.selection_set);
    lean_value(item, &ctx_node, f).await
}

/// An object's value; its error, if any, recorded where it happened.
async fn lean_value<T: OutputType + ContainerType + Plain>(
    item: &Lean<T>,
    ctx: &ContextSelectionSet<'_>,
    f: &Positioned<Field>,
) -> Value {
    match item.resolve(ctx, f).await {
        Ok(value) => value,
        Err(e) => {
            ctx.add_error(ctx.set_error_path(e));
            Value::Null
        }
    }
}

/// The fields of a selection set with nothing but plain fields (no fragments, no custom
/// directives, no response key twice).
fn simple_fields(set: &Positioned<SelectionSet>) -> Option<Vec<&Positioned<Field>>> {
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(set.node.items.len());
    for selection in &set.node.items {
        let f = simple_field(selection)?;
        let key = &f.node.response_key().node;
        if fields.iter().any(|g| g.node.response_key().node == *key) {
            return None;
        }
        fields.push(f);
    }
    Some(fields)
}

/// The field a selection is, if it is a field without custom directives.
fn simple_field(selection: &Positioned<Selection>) -> Option<&Positioned<Field>> {
    match &selection.node {
        Selection::Field(f) if f.node.directives.is_empty() => Some(f),
        _ => None,
    }
}
