//! A careful subset of JSON Schema (draft 2020-12 / draft-07 vocabulary) for
//! checking structured answers, without the build cost of a full validator.
//!
//! Supported keywords: `type` (incl. `integer` and type lists), `enum`,
//! `const`, `properties`, `required`, `additionalProperties` (bool or
//! schema), `patternProperties`, `items` (schema), `prefixItems`,
//! `minItems`, `maxItems`, `uniqueItems`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (numbers), `multipleOf`,
//! `minLength`, `maxLength`, `pattern`, `minProperties`, `maxProperties`,
//! `allOf`, `anyOf`, `oneOf`, `not`, and local `$ref`s (`#/$defs/…`,
//! `#/definitions/…`, `#`). Annotations (`title`, `description`, `format`,
//! `default`, `examples`, `$schema`, `$id`, `$comment`, `$defs`,
//! `definitions`, `readOnly`, `writeOnly`, `deprecated`) are ignored.
//! Any other keyword is refused when the schema is compiled, so a schema is
//! never silently checked only in part.

use serde_json::{Map, Value};
use std::collections::HashMap;

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "format",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "definitions",
    "readOnly",
    "writeOnly",
    "deprecated",
    "$anchor",
];
const KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "$ref",
];
/// Deepest `$ref` chain / nesting followed while validating.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("JSON Schema at {pointer}: {message}")]
pub struct SchemaError {
    pub pointer: String,
    pub message: String,
}

/// A checked schema, ready to validate instances.
#[derive(Debug, Clone)]
pub struct Schema {
    root: Value,
    patterns: HashMap<String, regex::Regex>,
}

impl Schema {
    /// Check that `root` uses only supported keywords and compile its patterns.
    pub fn compile(root: Value) -> Result<Schema, SchemaError> {
        let mut patterns = HashMap::new();
        check(&root, "#", &mut patterns)?;
        Ok(Schema { root, patterns })
    }

    /// The first violation found, as `"<instance pointer>: <reason>"`, or `Ok`.
    pub fn validate(&self, instance: &Value) -> Result<(), String> {
        self.validate_at(&self.root, instance, "", 0)
    }

    fn resolve<'a>(&'a self, r: &str) -> Option<&'a Value> {
        let path = r.strip_prefix('#')?;
        if path.is_empty() {
            return Some(&self.root);
        }
        self.root.pointer(path)
    }

    fn validate_at(
        &self,
        schema: &Value,
        inst: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "{at}: schema nesting or $ref chain deeper than {MAX_DEPTH}"
            ));
        }
        let obj = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => {
                return Err(format!("{}: not allowed here (schema `false`)", disp(at)));
            }
            Value::Object(o) => o,
            _ => return Ok(()),
        };
        if let Some(Value::String(r)) = obj.get("$ref") {
            let target = self
                .resolve(r)
                .ok_or_else(|| format!("{}: unresolvable $ref {r}", disp(at)))?;
            self.validate_at(target, inst, at, depth + 1)?;
        }
        if let Some(t) = obj.get("type") {
            let ok = match t {
                Value::String(s) => type_matches(s, inst),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| type_matches(s, inst)),
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "{}: expected type {}, got {}",
                    disp(at),
                    t,
                    type_name(inst)
                ));
            }
        }
        if let Some(Value::Array(e)) = obj.get("enum")
            && !e.iter().any(|v| json_eq(v, inst))
        {
            return Err(format!(
                "{}: {} is not one of {}",
                disp(at),
                short(inst),
                Value::Array(e.clone())
            ));
        }
        if let Some(c) = obj.get("const")
            && !json_eq(c, inst)
        {
            return Err(format!("{}: expected {}, got {}", disp(at), c, short(inst)));
        }
        match inst {
            Value::Object(m) => self.validate_object(obj, m, at, depth)?,
            Value::Array(a) => self.validate_array(obj, a, at, depth)?,
            Value::String(s) => self.validate_string(obj, s, at)?,
            Value::Number(n) => validate_number(obj, n.as_f64().unwrap_or(f64::NAN), at)?,
            _ => {}
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.validate_at(s, inst, at, depth + 1)?;
            }
        }
        if let Some(Value::Array(any)) = obj.get("anyOf")
            && !any
                .iter()
                .any(|s| self.validate_at(s, inst, at, depth + 1).is_ok())
        {
            return Err(format!("{}: matches none of anyOf", disp(at)));
        }
        if let Some(Value::Array(one)) = obj.get("oneOf") {
            let n = one
                .iter()
                .filter(|s| self.validate_at(s, inst, at, depth + 1).is_ok())
                .count();
            if n != 1 {
                return Err(format!(
                    "{}: matches {n} of oneOf (exactly 1 required)",
                    disp(at)
                ));
            }
        }
        if let Some(not) = obj.get("not")
            && self.validate_at(not, inst, at, depth + 1).is_ok()
        {
            return Err(format!("{}: matches the `not` schema", disp(at)));
        }
        Ok(())
    }

    fn validate_object(
        &self,
        obj: &Map<String, Value>,
        m: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(Value::Array(req)) = obj.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    return Err(format!("{}: missing required property `{r}`", disp(at)));
                }
            }
        }
        if let Some(n) = obj.get("minProperties").and_then(Value::as_u64)
            && (m.len() as u64) < n
        {
            return Err(format!("{}: fewer than {n} properties", disp(at)));
        }
        if let Some(n) = obj.get("maxProperties").and_then(Value::as_u64)
            && (m.len() as u64) > n
        {
            return Err(format!("{}: more than {n} properties", disp(at)));
        }
        let props = obj.get("properties").and_then(Value::as_object);
        let pprops = obj.get("patternProperties").and_then(Value::as_object);
        for (k, v) in m {
            let child = format!("{at}/{}", escape(k));
            let mut matched = false;
            if let Some(s) = props.and_then(|p| p.get(k)) {
                matched = true;
                self.validate_at(s, v, &child, depth + 1)?;
            }
            if let Some(pp) = pprops {
                for (pat, s) in pp {
                    if self.patterns.get(pat).is_some_and(|re| re.is_match(k)) {
                        matched = true;
                        self.validate_at(s, v, &child, depth + 1)?;
                    }
                }
            }
            if !matched && let Some(ap) = obj.get("additionalProperties") {
                if ap == &Value::Bool(false) {
                    return Err(format!("{}: property `{k}` is not allowed", disp(at)));
                }
                self.validate_at(ap, v, &child, depth + 1)?;
            }
        }
        Ok(())
    }

    fn validate_array(
        &self,
        obj: &Map<String, Value>,
        a: &[Value],
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(n) = obj.get("minItems").and_then(Value::as_u64)
            && (a.len() as u64) < n
        {
            return Err(format!(
                "{}: {} items, fewer than minItems {n}",
                disp(at),
                a.len()
            ));
        }
        if let Some(n) = obj.get("maxItems").and_then(Value::as_u64)
            && (a.len() as u64) > n
        {
            return Err(format!(
                "{}: {} items, more than maxItems {n}",
                disp(at),
                a.len()
            ));
        }
        if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
            for i in 0..a.len() {
                for j in 0..i {
                    if json_eq(&a[i], &a[j]) {
                        return Err(format!(
                            "{}: items {j} and {i} are equal (uniqueItems)",
                            disp(at)
                        ));
                    }
                }
            }
        }
        let prefix = obj.get("prefixItems").and_then(Value::as_array);
        let np = prefix.map_or(0, |p| p.len());
        if let Some(p) = prefix {
            for (i, (s, v)) in p.iter().zip(a).enumerate() {
                self.validate_at(s, v, &format!("{at}/{i}"), depth + 1)?;
            }
        }
        if let Some(items) = obj.get("items") {
            for (i, v) in a.iter().enumerate().skip(np) {
                self.validate_at(items, v, &format!("{at}/{i}"), depth + 1)?;
            }
        }
        Ok(())
    }

    fn validate_string(&self, obj: &Map<String, Value>, s: &str, at: &str) -> Result<(), String> {
        let len = s.chars().count() as u64;
        if let Some(n) = obj.get("minLength").and_then(Value::as_u64)
            && len < n
        {
            return Err(format!("{}: string shorter than minLength {n}", disp(at)));
        }
        if let Some(n) = obj.get("maxLength").and_then(Value::as_u64)
            && len > n
        {
            return Err(format!("{}: string longer than maxLength {n}", disp(at)));
        }
        if let Some(Value::String(p)) = obj.get("pattern")
            && !self.patterns.get(p).is_some_and(|re| re.is_match(s))
        {
            return Err(format!(
                "{}: {} does not match pattern {p}",
                disp(at),
                short(&Value::String(s.to_string()))
            ));
        }
        Ok(())
    }
}

fn validate_number(obj: &Map<String, Value>, x: f64, at: &str) -> Result<(), String> {
    let f = |k: &str| obj.get(k).and_then(Value::as_f64);
    if let Some(m) = f("minimum")
        && x < m
    {
        return Err(format!("{}: {x} < minimum {m}", disp(at)));
    }
    if let Some(m) = f("maximum")
        && x > m
    {
        return Err(format!("{}: {x} > maximum {m}", disp(at)));
    }
    if let Some(m) = f("exclusiveMinimum")
        && x <= m
    {
        return Err(format!("{}: {x} <= exclusiveMinimum {m}", disp(at)));
    }
    if let Some(m) = f("exclusiveMaximum")
        && x >= m
    {
        return Err(format!("{}: {x} >= exclusiveMaximum {m}", disp(at)));
    }
    if let Some(m) = f("multipleOf")
        && m > 0.0
    {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
            return Err(format!("{}: {x} is not a multiple of {m}", disp(at)));
        }
    }
    Ok(())
}

fn disp(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match (t, v) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) | ("string", Value::String(_)) => true,
        ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality with numbers compared by value (1 == 1.0).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn check(
    s: &Value,
    ptr: &str,
    patterns: &mut HashMap<String, regex::Regex>,
) -> Result<(), SchemaError> {
    let err = |m: String| SchemaError {
        pointer: ptr.to_string(),
        message: m,
    };
    let obj = match s {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(err("a schema must be an object or a boolean".into())),
    };
    for (k, v) in obj {
        if ANNOTATIONS.contains(&k.as_str()) {
            if (k == "$defs" || k == "definitions")
                && let Value::Object(d) = v
            {
                for (name, sub) in d {
                    check(sub, &format!("{ptr}/{k}/{}", escape(name)), patterns)?;
                }
            }
            continue;
        }
        if !KEYWORDS.contains(&k.as_str()) {
            return Err(err(format!(
                "keyword `{k}` is not supported by cambrian's JSON Schema subset (supported: {})",
                KEYWORDS.join(", ")
            )));
        }
        let sub = |key: &str| format!("{ptr}/{key}");
        match k.as_str() {
            "properties" | "patternProperties" => {
                let Value::Object(props) = v else {
                    return Err(err(format!("`{k}` must be an object")));
                };
                for (name, sch) in props {
                    if k == "patternProperties" {
                        compile_pattern(name, ptr, patterns)?;
                    }
                    check(sch, &format!("{}/{}", sub(k), escape(name)), patterns)?;
                }
            }
            "items" | "not" | "additionalProperties" => check(v, &sub(k), patterns)?,
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                let Value::Array(list) = v else {
                    return Err(err(format!("`{k}` must be an array")));
                };
                for (i, sch) in list.iter().enumerate() {
                    check(sch, &format!("{}/{i}", sub(k)), patterns)?;
                }
            }
            "pattern" => {
                let Value::String(p) = v else {
                    return Err(err("`pattern` must be a string".into()));
                };
                compile_pattern(p, ptr, patterns)?;
            }
            "$ref" => {
                let Value::String(r) = v else {
                    return Err(err("`$ref` must be a string".into()));
                };
                if !r.starts_with('#') {
                    return Err(err(format!(
                        "only local $refs (#/…) are supported, got {r}"
                    )));
                }
            }
            "type" => {
                let ok = |t: &Value| {
                    matches!(
                        t.as_str(),
                        Some(
                            "null"
                                | "boolean"
                                | "object"
                                | "array"
                                | "number"
                                | "integer"
                                | "string"
                        )
                    )
                };
                let valid = match v {
                    Value::Array(a) => a.iter().all(ok),
                    t => ok(t),
                };
                if !valid {
                    return Err(err(format!("unknown type {v}")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn compile_pattern(
    p: &str,
    ptr: &str,
    patterns: &mut HashMap<String, regex::Regex>,
) -> Result<(), SchemaError> {
    if patterns.contains_key(p) {
        return Ok(());
    }
    let re = regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| SchemaError {
            pointer: ptr.to_string(),
            message: format!("bad pattern {p:?}: {e}"),
        })?;
    patterns.insert(p.to_string(), re);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::compile(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["quantities"],
            "additionalProperties": false,
            "properties": {
                "quantities": {"type": "array", "items": {"$ref": "#/$defs/q"}, "maxItems": 3}
            },
            "$defs": {"q": {"type": "object", "required": ["value", "unit"],
                "properties": {"value": {"type": "number", "minimum": 0}, "unit": {"type": "string", "pattern": "^[a-z ]+$"}}}}
        }))
        .unwrap()
    }

    #[test]
    fn validates_subset() {
        let s = schema();
        assert!(
            s.validate(&json!({"quantities": [{"value": 2, "unit": "metre"}]}))
                .is_ok()
        );
        let e = s
            .validate(&json!({"quantities": [{"value": -2, "unit": "metre"}]}))
            .unwrap_err();
        assert_eq!(e, "/quantities/0/value: -2 < minimum 0");
        let e = s
            .validate(&json!({"quantities": [{"value": 2}]}))
            .unwrap_err();
        assert!(e.contains("missing required property `unit`"), "{e}");
        let e = s.validate(&json!({"quantities": [], "x": 1})).unwrap_err();
        assert!(e.contains("`x` is not allowed"), "{e}");
        let e = s
            .validate(&json!({"quantities": [{"value": 2, "unit": "Metre"}]}))
            .unwrap_err();
        assert!(e.contains("does not match pattern"), "{e}");
        let e = s.validate(&json!([1])).unwrap_err();
        assert!(e.contains("expected type \"object\", got array"), "{e}");
    }

    #[test]
    fn refuses_unknown_keywords() {
        let e = Schema::compile(json!({"type": "object", "dependentRequired": {}})).unwrap_err();
        assert!(e.message.contains("`dependentRequired` is not supported"));
        assert!(Schema::compile(json!({"$ref": "http://x/y"})).is_err());
        assert!(Schema::compile(json!({"pattern": "("})).is_err());
    }

    #[test]
    fn combinators() {
        let s = Schema::compile(
            json!({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]}),
        )
        .unwrap();
        assert!(s.validate(&json!(3)).is_ok());
        assert!(s.validate(&json!(12)).is_err()); // both match
        assert!(s.validate(&json!(2.5)).is_err()); // none
        let s = Schema::compile(
            json!({"not": {"enum": [1, 2]}, "anyOf": [{"const": 3}, {"type": "string"}]}),
        )
        .unwrap();
        assert!(s.validate(&json!(3.0)).is_ok());
        assert!(s.validate(&json!(1)).is_err());
    }
}
