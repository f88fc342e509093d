//! `@construct` templates: parsing a template subject into a [`Template`],
//! and, for a construct with no `@where`, the patterns the JS engine's
//! `ConstructTemplate.asPattern` derives from it — one union branch per
//! template property, so each property matches independently.

use crate::meld::value::{Object, Value};

use super::ast::{Group, Node, Pattern, Template, TemplateId, TemplateKey, TemplateValue};
use super::error::JrqlError;
use super::subject::{MAX_DEPTH, Mode, Parser, Patterns, is_atom_object, is_reference};

/// One union branch: the node the branch used for the template's id, and
/// its patterns.
type Branch = (Node, Patterns);

impl Parser<'_> {
    /// Parses `@construct` (a template subject or an array of them), with
    /// the group to use when the query has no `@where`.
    pub(crate) fn templates(&mut self, json: &Value) -> Result<(Vec<Template>, Group), JrqlError> {
        let mut templates = Vec::new();
        let mut union = Vec::new();
        let items = match json {
            Value::Array(items) => items.as_slice(),
            one => std::slice::from_ref(one),
        };
        for item in items {
            let Value::Map(o) = item else {
                return Err(JrqlError::Invalid("@construct must be a subject or array of subjects"));
            };
            let (template, branches) = self.template(o, 0)?;
            templates.push(template);
            union.extend(branches.into_iter().map(|(_, p)| Group {
                patterns: p.patterns,
                filters: p.filters,
                ..Group::default()
            }));
        }
        Ok((templates, Group { unions: union, ..Group::default() }))
    }

    fn template(&mut self, o: &Object, depth: usize) -> Result<(Template, Vec<Branch>), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        let (id, id_node) = match o.get("@id") {
            None | Some(Value::Null | Value::Undefined) => (TemplateId::None, None),
            Some(Value::Str(s)) => match self.var(s) {
                Some(v) => (TemplateId::Var(v.clone()), Some(Node::Var(v))),
                None => (TemplateId::Fixed(s.clone()), Some(Node::Term(self.ctx.expand_id(s)))),
            },
            Some(_) => return Err(JrqlError::Invalid("@id must be a string")),
        };
        let mut properties = Vec::new();
        let mut branches = Vec::new();
        for (key, value) in o.iter() {
            if key == "@id" || value.is_nullish() {
                continue;
            }
            let predicate = self.predicate(key)?;
            let template_key = match &predicate {
                Node::Var(v) => TemplateKey::Var(v.clone()),
                Node::Term(_) => TemplateKey::Fixed(key.to_owned()),
            };
            let mut leaves = Vec::new();
            flatten(value, &mut leaves, depth + 1)?;
            for leaf in leaves {
                // A template without an id matches each property with its
                // own anonymous subject, as JS's pattern has no `@id` then.
                let subject = match &id_node {
                    Some(node) => node.clone(),
                    None => Node::Var(self.hidden_var()),
                };
                let mut out = Patterns::default();
                let leaf_var = match leaf {
                    Value::Str(s) => self.var(s),
                    _ => None,
                };
                let template_value = match leaf {
                    Value::Map(c) if super::subject::is_inline_constraint(c) => {
                        let var = self.constrained_var(c)?;
                        self.constrain(&var, c, &mut out, depth + 1)?;
                        let object = Node::Var(var.clone());
                        out.patterns.push(Pattern { subject: subject.clone(), predicate: predicate.clone(), object });
                        TemplateValue::Var(var)
                    }
                    Value::Map(nested) if !is_reference(nested) && !is_atom_object(nested) => {
                        let (template, nested_branches) = self.template(nested, depth + 1)?;
                        for (nested_id, mut patterns) in nested_branches {
                            let link =
                                Pattern { subject: subject.clone(), predicate: predicate.clone(), object: nested_id };
                            patterns.patterns.insert(0, link);
                            branches.push((subject.clone(), patterns));
                        }
                        properties.push((template_key.clone(), TemplateValue::Nested(template)));
                        continue;
                    }
                    _ if leaf_var.is_some() => {
                        let var = leaf_var.unwrap_or_default();
                        let object = Node::Var(var.clone());
                        out.patterns.push(Pattern { subject: subject.clone(), predicate: predicate.clone(), object });
                        TemplateValue::Var(var)
                    }
                    fixed => {
                        self.values(&subject, &predicate, key == "@type", fixed, Mode::Match, &mut out, depth + 1)?;
                        TemplateValue::Fixed(fixed.clone())
                    }
                };
                branches.push((subject, out));
                properties.push((template_key.clone(), template_value));
            }
        }
        Ok((Template { id, properties }, branches))
    }
}

/// A property's values with arrays flattened and `@set` elided.
fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>, depth: usize) -> Result<(), JrqlError> {
    if depth > MAX_DEPTH {
        return Err(JrqlError::TooDeep);
    }
    match value {
        Value::Null | Value::Undefined => {}
        Value::Array(items) => items.iter().try_for_each(|v| flatten(v, out, depth + 1))?,
        Value::Map(o) if o.get("@set").is_some() => flatten(o.get("@set").unwrap_or(&Value::Null), out, depth + 1)?,
        other => out.push(other),
    }
    Ok(())
}
