//! Filter expressions (`@filter`, inline constraints) and `@values` rows.
//! json-rql operators are SPARQL's, lowercase with `@`; this engine
//! evaluates the comparisons, `@in` and the boolean connectives, and refuses
//! the rest by name rather than silently ignoring them.

use crate::meld::term::Term;
use crate::meld::value::{Object, Value};

use super::ast::{Expr, Op, ValuesRow};
use super::error::JrqlError;
use super::subject::{MAX_DEPTH, Parser, as_array};

/// Operators json-rql defines; a key among these makes an object a
/// constraint rather than a subject, whether or not it is evaluated here.
const JRQL_OPERATORS: &[&str] = &[
    "@and",
    "@or",
    "@not",
    "@exists",
    "@in",
    "@notIn",
    "@eq",
    "@ne",
    // json-rql 0.6 (which JS m-ld 0.10 uses) spells these so
    "@neq",
    "@notin",
    "@lt",
    "@gt",
    "@lte",
    "@gte",
    "@plus",
    "@minus",
    "@times",
    "@divide",
    "@bound",
    "@if",
    "@coalesce",
    "@sameTerm",
    "@isIri",
    "@isUri",
    "@isBlank",
    "@isLiteral",
    "@isNumeric",
    "@str",
    "@lang",
    "@datatype",
    "@iri",
    "@uri",
    "@bnode",
    "@strdt",
    "@strlang",
    "@uuid",
    "@struuid",
    "@strlen",
    "@substr",
    "@ucase",
    "@lcase",
    "@strstarts",
    "@strends",
    "@contains",
    "@strbefore",
    "@strafter",
    "@encode_for_uri",
    "@concat",
    "@langmatches",
    "@regex",
    "@replace",
    "@abs",
    "@round",
    "@ceil",
    "@floor",
    "@rand",
    "@now",
    "@year",
    "@month",
    "@day",
    "@hours",
    "@minutes",
    "@seconds",
    "@timezone",
    "@tz",
    "@md5",
    "@sha1",
    "@sha256",
    "@sha384",
    "@sha512",
    "@count",
    "@sum",
    "@min",
    "@max",
    "@avg",
    "@sample",
    "@group_concat",
    "@splice",
];

/// Whether a key is a json-rql operator.
pub(crate) fn is_operator(key: &str) -> bool {
    JRQL_OPERATORS.contains(&key)
}

/// The evaluated operator a key names.
pub(crate) fn operator(key: &str) -> Result<Op, JrqlError> {
    Ok(match key {
        "@eq" => Op::Eq,
        // `@neq` is JS's name (json-rql 0.6); `@ne` is kept as an alias
        "@neq" | "@ne" => Op::Ne,
        "@lt" => Op::Lt,
        "@lte" => Op::Lte,
        "@gt" => Op::Gt,
        "@gte" => Op::Gte,
        "@in" => Op::In,
        "@and" => Op::And,
        "@or" => Op::Or,
        "@not" => Op::Not,
        other => return Err(JrqlError::unsupported_operator(other)),
    })
}

/// JS `isConstraint`: a non-empty object of operators only.
fn is_constraint(o: &Object) -> bool {
    !o.is_empty() && o.iter().all(|(k, _)| is_operator(k))
}

impl Parser<'_> {
    /// `@filter`: one constraint object or an array of them, all ANDed.
    pub(crate) fn filters(&mut self, json: &Value) -> Result<Vec<Expr>, JrqlError> {
        as_array(json)
            .iter()
            .map(|f| match f {
                Value::Map(o) if is_constraint(o) => self.constraint(o, 0),
                _ => Err(JrqlError::Invalid("@filter must be a constraint object")),
            })
            .collect()
    }

    /// A constraint object: each entry an operation, all ANDed.
    fn constraint(&mut self, o: &Object, depth: usize) -> Result<Expr, JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        let mut ops = Vec::with_capacity(o.len());
        for (op, args) in o.iter() {
            let args = as_array(args).iter().map(|a| self.expr(a, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            ops.push(self.operation(op, args)?);
        }
        Ok(match ops.len() {
            1 => ops.pop().unwrap_or(Expr::Op(Op::And, Vec::new())),
            _ => Expr::Op(Op::And, ops),
        })
    }

    /// One operator argument: a variable, a nested constraint, or a term.
    pub(crate) fn expr(&mut self, json: &Value, depth: usize) -> Result<Expr, JrqlError> {
        match json {
            Value::Str(s) => match self.var(s) {
                Some(v) => Ok(Expr::Var(v)),
                None => self.term_expr(json),
            },
            Value::Map(o) if is_constraint(o) => self.constraint(o, depth),
            Value::Array(_) => Err(JrqlError::Invalid("an operator argument cannot be an array")),
            _ => self.term_expr(json),
        }
    }

    fn term_expr(&self, json: &Value) -> Result<Expr, JrqlError> {
        match self.object_term(json)? {
            Some(term) => Ok(Expr::Term(term)),
            None => Err(JrqlError::Invalid("an operator argument cannot be null")),
        }
    }

    /// `@values`: one row object or an array of them, each mapping named
    /// variables to IRIs or literals.
    pub(crate) fn values_rows(&mut self, json: &Value) -> Result<Vec<ValuesRow>, JrqlError> {
        as_array(json)
            .iter()
            .map(|row| {
                let Value::Map(o) = row else {
                    return Err(JrqlError::Invalid("@values must hold objects of variables"));
                };
                o.iter()
                    .map(|(key, value)| {
                        let var = self.named_var(key)?;
                        if matches!(value, Value::Map(c) if is_constraint(c)) {
                            return Err(JrqlError::Invalid("@values cannot hold a constraint"));
                        }
                        if matches!(value, Value::Str(s) if s.starts_with('?') && self.var(s).is_some()) {
                            return Err(JrqlError::Invalid("@values cannot hold a variable"));
                        }
                        match self.object_term(value)? {
                            Some(term @ (Term::Iri(_) | Term::Literal(_))) => Ok((var, term)),
                            _ => Err(JrqlError::Invalid("@values must hold IRIs or literals")),
                        }
                    })
                    .collect()
            })
            .collect()
    }
}
