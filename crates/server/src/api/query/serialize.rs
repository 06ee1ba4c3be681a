//! A handler's answer straight to XML: a serde `Serializer` that walks the operation's output
//! shape beside the answer struct, so no JSON value is built in between (for a page of 100
//! endpoints that value was a sixth of the call's CPU: a map insert and a key allocation per
//! field). It writes what [`super::encode`]'s rules say: element names from `locationName`
//! (else the member name), list items as `<item>`/`<member>` (or flattened), map entries as
//! `<entry><key>…</key><value>…</value></entry>`, booleans `true`/`false`, timestamps (Unix
//! seconds) in ISO 8601, IAM policy documents URL-encoded. Members that are `None` are left out;
//! fields the shape does not name are dropped; every text is escaped.

use std::cell::RefCell;
use std::fmt::{self, Display, Write as _};
use std::sync::{Arc, OnceLock};

use serde::ser::{self, Impossible, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;

use super::encode::{close, escape_into, open, percent_encode, POLICY_DOCUMENT};
use super::model::{Kind, Model, Shape};

/// Why an answer could not be written (a serde contract only: nothing here fails on its own).
#[derive(Debug)]
pub(crate) struct SerError(String);

impl Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Whether a value was there: a structure member that is `None` (or unit) leaves no element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// `None`, unit, or a float with no number (NaN): no element.
    Absent,
    /// A value: its element stays, even if the shape gave it nothing to write.
    Present,
}

/// The XML of one kept value, written once and copied into later answers: the shape it was
/// written for (its address: models are static) and the text.
#[derive(Debug, Default)]
pub(crate) struct XmlMemo(OnceLock<(usize, String)>);

/// `value`, serialized as itself by any serializer, whose XML this writer keeps in `memo` the
/// first time and copies from it afterwards. For a value kept between requests (an endpoint's
/// view in `DescribeVpcEndpoints`' items): writing a page of 100 endpoints' XML was a third of
/// the page's CPU once the items themselves were kept.
pub(crate) struct Memo<'a, T> {
    /// Where its XML is kept.
    pub(crate) memo: &'a Arc<XmlMemo>,
    /// The value, which must not change while `memo` is kept.
    pub(crate) value: &'a T,
}

/// The name under which a [`Memo`] reaches [`ValueSer`].
const MEMO: &str = "$underpass::Memo";

thread_local! {
    /// The memo of the [`Memo`] being serialized on this thread. Serde gives a serializer no
    /// way to reach into the value it is handed, so `Memo` leaves its memo here for the
    /// duration of its one `serialize_newtype_struct` call; a serializer other than this one
    /// ignores it and serializes the value as it is.
    static MEMO_SLOT: RefCell<Option<Arc<XmlMemo>>> = const { RefCell::new(None) };
}

impl<T: Serialize> Serialize for Memo<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MEMO_SLOT.with(|slot| *slot.borrow_mut() = Some(self.memo.clone()));
        let r = s.serialize_newtype_struct(MEMO, self.value);
        MEMO_SLOT.with(|slot| slot.borrow_mut().take());
        r
    }
}

/// Writes the members of `answer` per `shape` (a structure) into `out`.
pub(crate) fn members<T: Serialize + ?Sized>(
    model: &Model,
    shape: &Shape,
    answer: &T,
    out: &mut String,
) -> Result<(), SerError> {
    answer.serialize(ValueSer {
        model,
        shape: Some(shape),
        out,
        at: At::Value { policy: false },
    })?;
    Ok(())
}

/// What the value being written is to its parent.
#[derive(Clone, Copy)]
enum At<'m> {
    /// A member, list item or map value (`policy`: an IAM policy document, URL-encoded).
    Value { policy: bool },
    /// A flattened list member: each item becomes an element named `tag`, with no wrapper.
    Flattened { tag: &'m str },
}

/// The serializer of one value of `shape` (`None`: a shape the model does not resolve, so
/// nothing inside is written).
struct ValueSer<'m, 'o> {
    model: &'m Model,
    shape: Option<&'m Shape>,
    out: &'o mut String,
    at: At<'m>,
}

impl<'m, 'o> ValueSer<'m, 'o> {
    /// A scalar shape (text, number, boolean, time, bytes), not a flattened list.
    fn scalar_kind(&self) -> Option<Kind> {
        match (self.at, self.shape.map(|s| s.kind)) {
            (At::Flattened { .. }, _) => None,
            (_, Some(Kind::Structure | Kind::List | Kind::Map) | None) => None,
            (_, Some(k)) => Some(k),
        }
    }

    fn number(self, n: impl Display + Copy + TryInto<i64>) -> Result<Presence, SerError> {
        match self.scalar_kind() {
            Some(Kind::Timestamp) => {
                let t = n
                    .try_into()
                    .ok()
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_default();
                escape_into(self.out, &t);
            }
            Some(_) => {
                let _ = write!(self.out, "{n}");
            }
            None => {}
        }
        Ok(Presence::Present)
    }

    fn compound(self, mode: Mode<'m>) -> Compound<'m, 'o> {
        Compound {
            model: self.model,
            out: self.out,
            mode,
            key: None,
        }
    }

    /// The mode of a sequence of this shape.
    fn seq_mode(&self) -> Mode<'m> {
        match (self.at, self.shape) {
            (At::Flattened { tag }, _) => Mode::Items {
                tag,
                item: self.shape,
            },
            (_, Some(s)) if s.kind == Kind::List => s
                .member
                .as_ref()
                .and_then(|m| {
                    Some(Mode::Items {
                        tag: m.location_name.as_deref().unwrap_or("member"),
                        item: Some(self.model.target(m)?),
                    })
                })
                .unwrap_or(Mode::Discard),
            _ => Mode::Discard,
        }
    }

    /// The mode of a structure or map of this shape.
    fn map_mode(&self) -> Mode<'m> {
        match (self.at, self.shape) {
            (At::Value { .. }, Some(s)) if s.kind == Kind::Structure => Mode::Members(s),
            (At::Value { .. }, Some(s)) if s.kind == Kind::Map => s
                .key
                .as_ref()
                .zip(s.value.as_ref())
                .and_then(|(k, v)| {
                    Some(Mode::Entries {
                        key_tag: k.location_name.as_deref().unwrap_or("key"),
                        value_tag: v.location_name.as_deref().unwrap_or("value"),
                        value: self.model.target(v)?,
                    })
                })
                .unwrap_or(Mode::Discard),
            _ => Mode::Discard,
        }
    }
}

/// The integer forms: a number (or a time, in seconds).
macro_rules! numbers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<Presence, SerError> {
            self.number(v)
        }
    )*};
}

impl<'m, 'o> ser::Serializer for ValueSer<'m, 'o> {
    type Ok = Presence;
    type Error = SerError;
    type SerializeSeq = Compound<'m, 'o>;
    type SerializeTuple = Compound<'m, 'o>;
    type SerializeTupleStruct = Compound<'m, 'o>;
    type SerializeTupleVariant = Compound<'m, 'o>;
    type SerializeMap = Compound<'m, 'o>;
    type SerializeStruct = Compound<'m, 'o>;
    type SerializeStructVariant = Compound<'m, 'o>;

    fn serialize_bool(self, v: bool) -> Result<Presence, SerError> {
        if self.scalar_kind().is_some() {
            self.out.push_str(if v { "true" } else { "false" });
        }
        Ok(Presence::Present)
    }

    numbers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );

    fn serialize_f32(self, v: f32) -> Result<Presence, SerError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Presence, SerError> {
        // As JSON writes it (`1.0`); a float that is no number is absent, as in JSON (null).
        let Some(n) = serde_json::Number::from_f64(v) else {
            return Ok(Presence::Absent);
        };
        match self.scalar_kind() {
            // A fractional time has no whole-second form: the element stays, empty.
            Some(Kind::Timestamp) => {}
            Some(_) => {
                let _ = write!(self.out, "{n}");
            }
            None => {}
        }
        Ok(Presence::Present)
    }

    fn serialize_char(self, v: char) -> Result<Presence, SerError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<Presence, SerError> {
        if self.scalar_kind().is_some() {
            match self.at {
                At::Value { policy: true } => escape_into(self.out, &percent_encode(v)),
                _ => escape_into(self.out, v),
            }
        }
        Ok(Presence::Present)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Presence, SerError> {
        // JSON would make a list of numbers of them, which no scalar shape writes.
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<Presence, SerError> {
        Ok(Presence::Absent)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Presence, SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Presence, SerError> {
        Ok(Presence::Absent)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Presence, SerError> {
        Ok(Presence::Absent)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Presence, SerError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Presence, SerError> {
        // Taken before anything inside is written, so a value within cannot see it.
        let memo = (name == MEMO)
            .then(|| MEMO_SLOT.with(|slot| slot.borrow_mut().take()))
            .flatten();
        let (Some(memo), Some(shape), At::Value { policy: false }) = (memo, self.shape, self.at)
        else {
            return value.serialize(self);
        };
        let key = std::ptr::from_ref(shape) as usize;
        if let Some((k, xml)) = memo.0.get() {
            if *k == key {
                self.out.push_str(xml);
                return Ok(Presence::Present);
            }
        }
        let mark = self.out.len();
        let presence = value.serialize(ValueSer {
            model: self.model,
            shape: self.shape,
            out: &mut *self.out,
            at: self.at,
        })?;
        if presence == Presence::Present {
            // Kept for the first shape only: a value is written for one shape in practice.
            let _ = memo.0.set((key, self.out[mark..].to_owned()));
        }
        Ok(presence)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Presence, SerError> {
        // As JSON: an object of one field named after the variant.
        let mut map = ser::Serializer::serialize_map(self, Some(1))?;
        ser::SerializeMap::serialize_entry(&mut map, variant, value)?;
        ser::SerializeMap::end(map)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'m, 'o>, SerError> {
        let mode = self.seq_mode();
        Ok(self.compound(mode))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'m, 'o>, SerError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'m, 'o>, SerError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'m, 'o>, SerError> {
        // No answer has one; JSON's form (an object holding a list) names no member here.
        Ok(self.compound(Mode::Discard))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'m, 'o>, SerError> {
        let mode = self.map_mode();
        Ok(self.compound(mode))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'m, 'o>, SerError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'m, 'o>, SerError> {
        Ok(self.compound(Mode::Discard))
    }
}

/// What a compound value's parts become.
enum Mode<'m> {
    /// A structure's fields: each the member of that name, if the shape has one.
    Members(&'m Shape),
    /// A map's entries.
    Entries {
        key_tag: &'m str,
        value_tag: &'m str,
        value: &'m Shape,
    },
    /// A list's items, each an element named `tag`.
    Items {
        tag: &'m str,
        item: Option<&'m Shape>,
    },
    /// Nothing: the shape has no place for this value.
    Discard,
}

/// The serializer of a list, structure or map.
struct Compound<'m, 'o> {
    model: &'m Model,
    out: &'o mut String,
    mode: Mode<'m>,
    /// A map's key, between `serialize_key` and `serialize_value`.
    key: Option<String>,
}

impl Compound<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let Mode::Items { tag, item } = self.mode else {
            return Ok(());
        };
        open(self.out, tag, None);
        value.serialize(ValueSer {
            model: self.model,
            shape: item,
            out: self.out,
            at: At::Value { policy: false },
        })?;
        close(self.out, tag);
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), SerError> {
        match self.mode {
            Mode::Members(shape) => {
                let Some(r) = shape.members.get(name) else {
                    return Ok(());
                };
                let Some(member) = self.model.target(r) else {
                    return Ok(());
                };
                let tag = r.location_name.as_deref().unwrap_or(name);
                if member.kind == Kind::List && (r.flattened || member.flattened) {
                    let item = member.member.as_ref().and_then(|m| self.model.target(m));
                    value.serialize(ValueSer {
                        model: self.model,
                        shape: item,
                        out: self.out,
                        at: At::Flattened { tag },
                    })?;
                    return Ok(());
                }
                // The element is opened first and taken back if the value is absent: serde
                // says whether an `Option` is `None` only once it is serialized.
                let mark = self.out.len();
                open(self.out, tag, None);
                let presence = value.serialize(ValueSer {
                    model: self.model,
                    shape: Some(member),
                    out: self.out,
                    at: At::Value {
                        policy: r.shape == POLICY_DOCUMENT,
                    },
                })?;
                match presence {
                    Presence::Present => close(self.out, tag),
                    Presence::Absent => self.out.truncate(mark),
                }
                Ok(())
            }
            Mode::Entries {
                key_tag,
                value_tag,
                value: shape,
            } => {
                self.out.push_str("<entry>");
                open(self.out, key_tag, None);
                escape_into(self.out, name);
                close(self.out, key_tag);
                open(self.out, value_tag, None);
                value.serialize(ValueSer {
                    model: self.model,
                    shape: Some(shape),
                    out: self.out,
                    at: At::Value { policy: false },
                })?;
                close(self.out, value_tag);
                self.out.push_str("</entry>");
                Ok(())
            }
            Mode::Items { .. } | Mode::Discard => Ok(()),
        }
    }
}

/// The list forms: every element is a list item.
macro_rules! items {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = Presence;
            type Error = SerError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
                self.item(value)
            }

            fn end(self) -> Result<Presence, SerError> {
                Ok(Presence::Present)
            }
        }
    )*};
}

items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = Presence;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, _value: &T) -> Result<(), SerError> {
        Ok(())
    }

    fn end(self) -> Result<Presence, SerError> {
        Ok(Presence::Present)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = Presence;
    type Error = SerError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key.serialize(KeySer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError("a map value without its key".into()))?;
        self.field(&key, value)
    }

    fn end(self) -> Result<Presence, SerError> {
        Ok(Presence::Present)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = Presence;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.field(key, value)
    }

    fn end(self) -> Result<Presence, SerError> {
        Ok(Presence::Present)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = Presence;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        _value: &T,
    ) -> Result<(), SerError> {
        Ok(())
    }

    fn end(self) -> Result<Presence, SerError> {
        Ok(Presence::Present)
    }
}

/// A map key as text, as JSON allows them: strings, characters, integers, booleans.
struct KeySer;

/// Key forms written as their text.
macro_rules! key_as_text {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<String, SerError> {
            Ok(v.to_string())
        }
    )*};
}

fn key_error() -> SerError {
    SerError("a map key must be text".into())
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = SerError;
    type SerializeSeq = Impossible<String, SerError>;
    type SerializeTuple = Impossible<String, SerError>;
    type SerializeTupleStruct = Impossible<String, SerError>;
    type SerializeTupleVariant = Impossible<String, SerError>;
    type SerializeMap = Impossible<String, SerError>;
    type SerializeStruct = Impossible<String, SerError>;
    type SerializeStructVariant = Impossible<String, SerError>;

    key_as_text!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_char: char
    );
    fn serialize_f32(self, _v: f32) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_str(self, v: &str) -> Result<String, SerError> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, SerError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(key_error())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::json;

    use super::super::model::{self, Model};
    use super::*;

    /// A service with every construct the writer knows, under one output shape `Out`.
    fn toy() -> Model {
        model::parse(
            r#"{"metadata": {"apiVersion": "1", "protocol": "query", "xmlNamespace": "urn:t",
                 "endpointPrefix": "t"},
                "operations": {"Op": {"output": {"shape": "Out"}}},
                "shapes": {
                  "Out": {"type": "structure", "members": {
                    "Name": {"shape": "Str", "locationName": "name"},
                    "Count": {"shape": "Int"},
                    "Ratio": {"shape": "Dbl"},
                    "On": {"shape": "Bool"},
                    "At": {"shape": "Time"},
                    "Kind": {"shape": "Str"},
                    "Items": {"shape": "Things"},
                    "Flat": {"shape": "Strs", "flattened": true},
                    "Attrs": {"shape": "Attrs"},
                    "Inner": {"shape": "Inner"}}},
                  "Inner": {"type": "structure", "members": {"Id": {"shape": "Str"}}},
                  "Things": {"type": "list", "member": {"shape": "Inner", "locationName": "item"}},
                  "Strs": {"type": "list", "member": {"shape": "Str"}},
                  "Attrs": {"type": "map", "key": {"shape": "Str", "locationName": "k"},
                            "value": {"shape": "Str", "locationName": "v"}},
                  "Str": {"type": "string"}, "Int": {"type": "integer"},
                  "Dbl": {"type": "double"}, "Bool": {"type": "boolean"},
                  "Time": {"type": "timestamp"}}}"#,
        )
        .unwrap()
    }

    fn write<T: Serialize>(m: &Model, v: &T) -> String {
        let mut out = String::new();
        members(m, m.shape("Out").unwrap(), v, &mut out).unwrap();
        out
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        id: String,
    }

    #[derive(Serialize)]
    enum Kind {
        Gateway,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out {
        name: Option<String>,
        count: Option<u32>,
        ratio: f64,
        on: bool,
        at: i64,
        kind: Kind,
        items: Vec<Inner>,
        flat: Vec<&'static str>,
        attrs: BTreeMap<String, String>,
        inner: Option<Inner>,
        not_in_the_shape: &'static str,
    }

    fn full() -> Out {
        Out {
            name: Some("a<b".into()),
            count: Some(7),
            ratio: 0.5,
            on: true,
            at: 0,
            kind: Kind::Gateway,
            items: vec![Inner { id: "i-1".into() }, Inner { id: "i-2".into() }],
            flat: vec!["x", "y"],
            attrs: BTreeMap::from([("a".into(), "1".into()), ("b&".into(), "2".into())]),
            inner: Some(Inner { id: "j".into() }),
            not_in_the_shape: "dropped",
        }
    }

    #[test]
    fn a_typed_answer_is_written_per_its_shape() {
        assert_eq!(
            write(&toy(), &full()),
            "<name>a&lt;b</name><Count>7</Count><Ratio>0.5</Ratio><On>true</On>\
             <At>1970-01-01T00:00:00Z</At><Kind>Gateway</Kind>\
             <Items><item><Id>i-1</Id></item><item><Id>i-2</Id></item></Items>\
             <Flat>x</Flat><Flat>y</Flat>\
             <Attrs><entry><k>a</k><v>1</v></entry><entry><k>b&amp;</k><v>2</v></entry></Attrs>\
             <Inner><Id>j</Id></Inner>"
        );
    }

    #[test]
    fn absent_members_leave_no_element_and_empty_ones_stay() {
        let mut out = full();
        out.name = None;
        out.count = None;
        out.inner = None;
        out.ratio = f64::NAN;
        out.items.clear();
        out.flat.clear();
        out.attrs.clear();
        let xml = write(&toy(), &out);
        assert_eq!(
            xml,
            "<On>true</On><At>1970-01-01T00:00:00Z</At><Kind>Gateway</Kind><Items></Items><Attrs></Attrs>"
        );
        out.name = Some(String::new());
        assert!(write(&toy(), &out).starts_with("<name></name><On>"));
    }

    #[test]
    fn the_json_form_of_an_answer_is_written_alike() {
        // serde_json's value of the same answer goes through the map path, not the struct one.
        let m = toy();
        let value = serde_json::to_value(full()).unwrap();
        assert_eq!(write(&m, &value), write(&m, &full()));
    }

    /// `Out` with its list items and its inner structure written through memos.
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct MemoOut<'a> {
        items: Vec<Memo<'a, Inner>>,
        inner: Memo<'a, Inner>,
    }

    #[test]
    fn a_memo_is_written_once_then_copied_and_other_serializers_ignore_it() {
        let m = toy();
        let (a, b, j) = (
            Inner { id: "i-1".into() },
            Inner { id: "i-2".into() },
            Inner { id: "j".into() },
        );
        let (ma, mb, mj) = (
            Arc::new(XmlMemo::default()),
            Arc::new(XmlMemo::default()),
            Arc::new(XmlMemo::default()),
        );
        let answer = |first: &Inner| {
            let items = vec![
                Memo {
                    memo: &ma,
                    value: first,
                },
                Memo {
                    memo: &mb,
                    value: &b,
                },
            ];
            write(
                &m,
                &MemoOut {
                    items,
                    inner: Memo {
                        memo: &mj,
                        value: &j,
                    },
                },
            )
        };
        let plain = "<Items><item><Id>i-1</Id></item><item><Id>i-2</Id></item></Items>\
                     <Inner><Id>j</Id></Inner>";
        // JSON first: it neither uses nor fills the memos.
        let json_form = serde_json::to_value(MemoOut {
            items: vec![Memo {
                memo: &ma,
                value: &a,
            }],
            inner: Memo {
                memo: &mj,
                value: &j,
            },
        })
        .unwrap();
        assert_eq!(
            json_form,
            json!({"Items": [{"Id": "i-1"}], "Inner": {"Id": "j"}})
        );
        assert!(ma.0.get().is_none() && mj.0.get().is_none());
        // Written, and kept for the shape it was written for.
        assert_eq!(answer(&a), plain);
        let item = m.shape("Inner").unwrap();
        assert_eq!(
            ma.0.get().map(|(k, x)| (*k, x.as_str())),
            Some((std::ptr::from_ref(item) as usize, "<Id>i-1</Id>"))
        );
        // Copied afterwards: the memo wins over the value (a kept value must not change).
        let changed = Inner {
            id: "changed".into(),
        };
        assert_eq!(answer(&changed), plain);
        // The slot is empty between values: a plain answer after them is written as itself.
        assert_eq!(
            write(&m, &full()),
            write(&m, &serde_json::to_value(full()).unwrap())
        );
    }

    #[test]
    fn values_of_the_wrong_form_write_nothing_inside_their_element() {
        let m = toy();
        let v = json!({"Name": {"nested": 1}, "Items": "text", "Inner": [1, 2], "Flat": "one",
                       "Attrs": [1], "Count": "seven"});
        assert_eq!(
            write(&m, &v),
            "<name></name><Items></Items><Inner></Inner><Attrs></Attrs><Count>seven</Count>"
        );
    }

    #[test]
    fn iam_policy_documents_are_url_encoded_in_typed_answers() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct GetUserPolicy {
            user_name: &'static str,
            policy_name: &'static str,
            policy_document: String,
        }
        let m = model::for_service("iam").unwrap();
        let shape = m
            .operations
            .get("GetUserPolicy")
            .and_then(|o| o.output.as_ref())
            .and_then(|o| m.output(o))
            .unwrap();
        let mut out = String::new();
        let answer = GetUserPolicy {
            user_name: "u",
            policy_name: "p",
            policy_document: "{\"a\": 1}".into(),
        };
        members(m, shape, &answer, &mut out).unwrap();
        assert_eq!(
            out,
            "<UserName>u</UserName><PolicyName>p</PolicyName>\
             <PolicyDocument>%7B%22a%22%3A%201%7D</PolicyDocument>"
        );
    }
}
