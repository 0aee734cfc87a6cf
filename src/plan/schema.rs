//! The shapes of the plan's JSON Schema that the raw types check by hand: names, variable
//! names, `${VAR}` references, durations and notification target types. The schema itself is
//! derived from the raw types ([`super::json_schema`]).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::notify::TargetKind;

macro_rules! string_schema {
    ($ty:ident, $name:literal, $pattern:literal, $description:literal) => {
        pub struct $ty;

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}

string_schema!(
    Name,
    "Name",
    "^[A-Za-z0-9._-]+$",
    "Letters, digits, `.`, `_` and `-` (not `.` or `..`)."
);
string_schema!(
    EnvName,
    "EnvName",
    "^[A-Za-z_][A-Za-z0-9_]*$",
    "An environment variable name."
);
string_schema!(
    Reference,
    "Reference",
    "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$",
    "`${VAR}`: the environment variable that holds the value (never the value itself)."
);
string_schema!(
    Duration,
    "Duration",
    "^\\s*([0-9]+\\s*(nsec|ns|usec|us|msec|ms|seconds|second|sec|s|minutes|minute|min|m|hours|hour|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y)\\s*)+$",
    "A number and a unit, several in a row if you like: `500ms`, `30s`, `10m`, `1h30m`, `1day`."
);

/// An `env` value: text, or a number or boolean taken as its text (`PORT: 8080`).
pub struct EnvValue;

impl JsonSchema for EnvValue {
    fn schema_name() -> Cow<'static, str> {
        "EnvValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number", "boolean"],
            "description": "Text; `${VAR}` and `${VAR:-default}` are expanded. A number or boolean is taken as its text.",
        })
    }
}

/// Every [`TargetKind`]. Matching on the first one below makes a kind added to the enum a
/// compile error here until it is listed, so the schema cannot fall behind.
const TARGET_KINDS: [TargetKind; 3] = [TargetKind::Slack, TargetKind::Email, TargetKind::Webhook];
const _: () = match TARGET_KINDS[0] {
    TargetKind::Slack | TargetKind::Email | TargetKind::Webhook => (),
};

/// A target's `type`: the names [`TargetKind::parse`] accepts.
///
/// Written by hand rather than derived in `notify::target`: schemars turns the variants' doc
/// comments (written for the payload code) into a `oneOf` of described constants, which
/// would change `docs/plan.schema.json`; this keeps the plain `enum` the plan schema has
/// always had, under its old name `TargetType`.
impl JsonSchema for TargetKind {
    fn schema_name() -> Cow<'static, str> {
        "TargetType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = TARGET_KINDS.iter().map(|k| k.as_str()).collect();
        json_schema!({
            "description": "The kinds of notification target.",
            "type": "string",
            "enum": names,
        })
    }
}
