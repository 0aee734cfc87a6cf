//! Schemas the derive cannot write: `inputs`, any JSON object whose strings and keys hold no
//! NUL. `checks.rs` refuses a NUL anywhere in `inputs` (PostgreSQL cannot store one); without
//! this the document called such a body valid, and a client generating from it (schemathesis)
//! was refused with 422.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

/// A string without NUL, as the body's free-text fields declare it.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// Any JSON value without a NUL in a string or an object key, at any depth (a component,
/// since it refers to itself).
pub struct NulFreeJson;

impl utoipa::ToSchema for NulFreeJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NulFreeJson")
    }
}

impl utoipa::PartialSchema for NulFreeJson {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .description(Some(
                "Any JSON value; no string or object key holds a NUL (\\u0000).",
            ))
            .item(ObjectBuilder::new().schema_type(SchemaType::Array(vec![
                Type::Null,
                Type::Boolean,
                Type::Number,
            ])))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(NO_NUL)),
            )
            .item(ArrayBuilder::new().items(itself()))
            .item(object_of(Type::Object))
            .into()
    }
}

/// `inputs`: a JSON object (or null) whose keys and values hold no NUL.
pub fn inputs() -> Schema {
    let mut schema = object_of(SchemaType::Array(vec![Type::Object, Type::Null]));
    if let Schema::Object(o) = &mut schema {
        o.description = Some(
            "A JSON object (or null); no string or key in it, at any depth, holds a NUL \
             (\\u0000)."
                .to_owned(),
        );
    }
    schema
}

fn itself() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(
        <NulFreeJson as utoipa::ToSchema>::name(),
    ))
}

fn object_of(types: impl Into<SchemaType>) -> Schema {
    ObjectBuilder::new()
        .schema_type(types)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL)),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(itself())))
        .into()
}
