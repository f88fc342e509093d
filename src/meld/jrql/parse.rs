//! Top-level json-rql forms: reads (`@describe`, `@select`, `@construct`
//! with `@where` and modifiers) and writes (subjects, `@graph`, `@insert`,
//! `@delete`, `@where`), from a [`Value`] or JSON text. Unknown keys are
//! refused rather than ignored, so a typo cannot silently widen a delete.

use crate::meld::jsonld::Context;
use crate::meld::term::Term;
use crate::meld::value::{Object, Value};

use super::ast::{DescribeTarget, Group, Modifiers, OrderKey, Read, Write};
use super::error::JrqlError;
use super::subject::{Mode, Parser, as_array};

/// Keys that make an object a group rather than a subject (JS `isGroup`).
const GROUP_KEYS: [&str; 5] = ["@graph", "@union", "@filter", "@values", "@bind"];

/// Parses a read query from JSON text.
pub fn parse_read_json(ctx: &Context, text: &str) -> Result<Read, JrqlError> {
    let json: Value = serde_json::from_str(text).map_err(|_| JrqlError::NotJson)?;
    parse_read(ctx, &json)
}

/// Parses a read query.
pub fn parse_read(ctx: &Context, json: &Value) -> Result<Read, JrqlError> {
    let Value::Map(o) = json else {
        return Err(JrqlError::Invalid("a query must be a JSON object"));
    };
    for (key, _) in o.iter() {
        match key {
            "@describe" | "@select" | "@construct" | "@where" | "@orderBy" | "@limit" | "@offset" => {}
            "@context" => return Err(JrqlError::Unsupported("@context")),
            "@groupBy" | "@having" => return Err(JrqlError::Unsupported("@groupBy and @having")),
            k => return Err(JrqlError::unknown_key(k, "query")),
        }
    }
    // Reads never insert, so they never need a skolem.
    let mut no_genid = || Term::Blank(String::new());
    let mut parser = Parser::new(ctx, &mut no_genid);
    let forms = ["@describe", "@select", "@construct"].iter().filter(|k| o.get(k).is_some()).count();
    if forms != 1 {
        return Err(JrqlError::Invalid("a query needs exactly one of @describe, @select or @construct"));
    }
    let where_ = o.get("@where").map(|w| parser.group(w)).transpose()?;
    let modifiers = modifiers(&mut parser, o)?;
    if let Some(describe) = o.get("@describe") {
        let targets = as_array(describe)
            .iter()
            .map(|d| match d {
                Value::Str(s) => Ok(match parser.var(s) {
                    Some(v) => DescribeTarget::Var(v),
                    None => DescribeTarget::Id(ctx.expand_id(s)),
                }),
                _ => Err(JrqlError::Invalid("@describe must be a subject id, a variable, or an array of them")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Read::Describe { targets, where_: where_.unwrap_or_default(), modifiers });
    }
    if let Some(select) = o.get("@select") {
        let vars = match select {
            Value::Str(s) if s == "*" => None,
            Value::Str(s) => Some(vec![parser.named_var(s)?]),
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().ok_or(JrqlError::Invalid("@select must hold variables")))
                    .map(|s| s.and_then(|s| parser.named_var(s)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => return Err(JrqlError::Invalid("@select must be a variable or an array of variables")),
        };
        let where_ = where_.ok_or(JrqlError::Invalid("@select needs @where"))?;
        return Ok(Read::Select { vars, where_, modifiers });
    }
    let construct = o.get("@construct").unwrap_or(&Value::Null);
    let (templates, own_pattern) = parser.templates(construct)?;
    if !modifiers.order_by.is_empty() {
        return Err(JrqlError::Unsupported("@orderBy in @construct"));
    }
    Ok(Read::Construct { templates, where_: where_.unwrap_or(own_pattern), modifiers })
}

/// `@orderBy`, `@limit` and `@offset`.
fn modifiers(parser: &mut Parser, o: &Object) -> Result<Modifiers, JrqlError> {
    let mut out = Modifiers::default();
    if let Some(order) = o.get("@orderBy") {
        for key in as_array(order) {
            out.order_by.push(match key {
                Value::Str(s) => OrderKey { var: parser.named_var(s)?, descending: false },
                Value::Map(m) if m.len() == 1 => match (m.get("@asc"), m.get("@desc")) {
                    (Some(Value::Str(s)), None) => OrderKey { var: parser.named_var(s)?, descending: false },
                    (None, Some(Value::Str(s))) => OrderKey { var: parser.named_var(s)?, descending: true },
                    _ => {
                        return Err(JrqlError::Invalid(
                            "@orderBy must be a variable or {\"@asc\"|\"@desc\": variable}",
                        ));
                    }
                },
                _ => return Err(JrqlError::Invalid("@orderBy must be a variable or {\"@asc\"|\"@desc\": variable}")),
            });
        }
    }
    let count = |key: &'static str, err: &'static str| -> Result<Option<usize>, JrqlError> {
        o.get(key).map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or(JrqlError::Invalid(err))).transpose()
    };
    out.limit = count("@limit", "@limit must be a non-negative integer")?;
    out.offset = count("@offset", "@offset must be a non-negative integer")?.unwrap_or(0);
    Ok(out)
}

impl Parser<'_> {
    /// A `@where`: a subject, an array of subjects, or a group.
    pub(crate) fn group(&mut self, json: &Value) -> Result<Group, JrqlError> {
        match json {
            Value::Array(_) => self.graph(json),
            Value::Map(o) if GROUP_KEYS.iter().any(|k| o.get(k).is_some()) => {
                let mut group = Group::default();
                for (key, value) in o.iter() {
                    match key {
                        "@graph" => {
                            let g = self.graph(value)?;
                            group.patterns.extend(g.patterns);
                            group.filters.extend(g.filters);
                        }
                        "@union" => {
                            for branch in as_array(value) {
                                group.unions.push(self.group(branch)?);
                            }
                        }
                        "@filter" => {
                            let filters = self.filters(value)?;
                            group.filters.extend(filters);
                        }
                        "@values" => group.values = self.values_rows(value)?,
                        "@bind" => return Err(JrqlError::Unsupported("@bind")),
                        k => return Err(JrqlError::unknown_key(k, "group")),
                    }
                }
                Ok(group)
            }
            Value::Map(_) => self.graph(json),
            _ => Err(JrqlError::Invalid("@where must be an object or array")),
        }
    }

    /// Subjects to match, as a group of just their patterns and filters.
    fn graph(&mut self, json: &Value) -> Result<Group, JrqlError> {
        let p = self.subjects(json, Mode::Match)?;
        Ok(Group { patterns: p.patterns, filters: p.filters, ..Group::default() })
    }
}

/// Parses a write from JSON text; subjects without `@id` get fresh skolem
/// IRIs under the context's base, as JS gives them.
pub fn parse_write_json(ctx: &Context, text: &str) -> Result<Write, JrqlError> {
    let json: Value = serde_json::from_str(text).map_err(|_| JrqlError::NotJson)?;
    parse_write(ctx, &json)
}

/// Parses a write (see [`parse_write_json`]).
pub fn parse_write(ctx: &Context, json: &Value) -> Result<Write, JrqlError> {
    let mut genid = super::skolem::generator(ctx);
    parse_write_with(ctx, json, &mut genid)
}

/// Parses a write, taking skolem IRIs from `genid` (for tests).
pub fn parse_write_with(ctx: &Context, json: &Value, genid: &mut dyn FnMut() -> Term) -> Result<Write, JrqlError> {
    let mut parser = Parser::new(ctx, genid);
    let o = match json {
        // An array of subjects is an insert of them all.
        Value::Array(_) => return insert_only(&mut parser, json),
        Value::Map(o) => o,
        _ => return Err(JrqlError::Invalid("a write must be a JSON object or array")),
    };
    if ["@describe", "@select", "@construct"].iter().any(|k| o.get(k).is_some()) {
        return Err(JrqlError::Invalid("a read query is not a write"));
    }
    let is_update = ["@insert", "@delete", "@update"].iter().any(|k| o.get(k).is_some());
    if !is_update {
        if GROUP_KEYS.iter().any(|k| o.get(k).is_some()) {
            // Only a bare `@graph` is a write group (JS `isWriteGroup`).
            for (key, _) in o.iter() {
                match key {
                    "@graph" => {}
                    "@context" => return Err(JrqlError::Unsupported("@context")),
                    k => return Err(JrqlError::unknown_key(k, "write")),
                }
            }
            return insert_only(&mut parser, o.get("@graph").unwrap_or(&Value::Null));
        }
        return insert_only(&mut parser, json);
    }
    for (key, _) in o.iter() {
        match key {
            "@insert" | "@delete" | "@where" => {}
            "@update" => return Err(JrqlError::Unsupported("@update")),
            "@context" => return Err(JrqlError::Unsupported("@context")),
            k => return Err(JrqlError::unknown_key(k, "write")),
        }
    }
    let delete = match o.get("@delete") {
        Some(d) => parser.subjects(d, Mode::Match)?,
        None => Default::default(),
    };
    let insert = match o.get("@insert") {
        Some(i) => parser.subjects(i, Mode::Load)?,
        None => Default::default(),
    };
    let where_ = o.get("@where").map(|w| parser.group(w)).transpose()?;
    Ok(Write {
        delete: delete.patterns,
        delete_filters: delete.filters,
        insert: insert.patterns,
        where_,
        list_inserts: insert.list_inserts,
    })
}

fn insert_only(parser: &mut Parser, json: &Value) -> Result<Write, JrqlError> {
    let insert = parser.subjects(json, Mode::Load)?;
    Ok(Write {
        delete: Vec::new(),
        delete_filters: Vec::new(),
        insert: insert.patterns,
        where_: None,
        list_inserts: insert.list_inserts,
    })
}
