//! The trimmed botocore service models (`crates/server/models/*.json`, made by
//! `tools/trim_models.py`), parsed once: the shapes the codec walks.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The wire dialect of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// EC2's: lists always flattened, names from `queryName` or the capitalized `locationName`,
    /// answers in `<{Action}Response>` with `<item>` list members, errors in `<Response><Errors>`.
    Ec2,
    /// ELBv2's, IAM's and STS's: `Name.member.N`, answers wrapped in `<{Action}Result>`, errors
    /// in `<ErrorResponse>`.
    Query,
}

/// A service's metadata.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metadata {
    /// e.g. `2016-11-15`.
    pub(crate) api_version: String,
    /// `ec2` or `query`.
    pub(crate) protocol: String,
    /// The answers' XML namespace.
    pub(crate) xml_namespace: String,
    /// The SigV4 service name (`endpointPrefix`): `ec2`, `elasticloadbalancing`, `iam`, `sts`.
    pub(crate) endpoint_prefix: String,
}

/// A reference from an operation, structure member, list member or map key/value to a shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShapeRef {
    /// The shape's name.
    pub(crate) shape: String,
    /// The name on the wire (EC2: capitalized for requests).
    #[serde(default)]
    pub(crate) location_name: Option<String>,
    /// EC2's explicit request name.
    #[serde(default)]
    pub(crate) query_name: Option<String>,
    /// A flattened list or map (no `member`/`entry` level).
    #[serde(default)]
    pub(crate) flattened: bool,
    /// The shape's position in its model (see [`Model::target`]), set once when the model is
    /// loaded: the encoder follows references by position, not by a name lookup for each
    /// value it writes.
    #[serde(skip, default = "unresolved")]
    target: usize,
}

/// A reference not resolved (yet): no shape is at this position.
fn unresolved() -> usize {
    usize::MAX
}

/// An operation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Operation {
    /// Its input structure.
    #[serde(default)]
    pub(crate) input: Option<ShapeRef>,
    /// Its output structure.
    #[serde(default)]
    pub(crate) output: Option<OutputRef>,
}

/// An operation's output, with the element that wraps it in the Query protocol.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputRef {
    /// The output structure.
    pub(crate) shape: String,
    /// e.g. `CreateLoadBalancerResult`.
    #[serde(default)]
    pub(crate) result_wrapper: Option<String>,
    /// The output structure's position in its model.
    #[serde(skip, default = "unresolved")]
    target: usize,
}

/// The kinds of shape the codec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A structure of named members.
    Structure,
    /// A list.
    List,
    /// A map.
    Map,
    /// Text.
    String,
    /// A 32-bit integer.
    Integer,
    /// A 64-bit integer.
    Long,
    /// `true` / `false`.
    Boolean,
    /// A double.
    Double,
    /// A float.
    Float,
    /// An ISO 8601 time.
    Timestamp,
    /// Base64 bytes.
    Blob,
}

/// A shape.
#[derive(Debug, Deserialize)]
pub(crate) struct Shape {
    /// Its kind.
    #[serde(rename = "type")]
    pub(crate) kind: Kind,
    /// Structure members, by member name.
    #[serde(default)]
    pub(crate) members: BTreeMap<String, ShapeRef>,
    /// Members that must be given.
    #[serde(default)]
    pub(crate) required: Vec<String>,
    /// A list's member.
    #[serde(default)]
    pub(crate) member: Option<ShapeRef>,
    /// A map's key.
    #[serde(default)]
    pub(crate) key: Option<ShapeRef>,
    /// A map's value.
    #[serde(default)]
    pub(crate) value: Option<ShapeRef>,
    /// A flattened list or map.
    #[serde(default)]
    pub(crate) flattened: bool,
}

/// One service's trimmed model.
#[derive(Debug, Deserialize)]
pub(crate) struct Model {
    /// Metadata.
    pub(crate) metadata: Metadata,
    /// Operations by name.
    pub(crate) operations: BTreeMap<String, Operation>,
    /// Shapes by name, as the file has them; [`Model::resolve`] moves them into `arena`.
    #[serde(rename = "shapes")]
    source: BTreeMap<String, Shape>,
    /// Every shape, in name order: references point here by position.
    #[serde(skip)]
    arena: Vec<Shape>,
    /// Each shape's position in `arena`, by name.
    #[serde(skip)]
    index: BTreeMap<String, usize>,
}

impl Model {
    /// The service's dialect.
    pub(crate) fn protocol(&self) -> Protocol {
        if self.metadata.protocol == "ec2" {
            Protocol::Ec2
        } else {
            Protocol::Query
        }
    }

    /// A shape by name; the trim script keeps every shape an operation reaches, so a missing
    /// one is a broken model file (caught by this module's tests).
    pub(crate) fn shape(&self, name: &str) -> Option<&Shape> {
        self.arena.get(*self.index.get(name)?)
    }

    /// The shape `r` refers to, without a lookup by name.
    pub(crate) fn target(&self, r: &ShapeRef) -> Option<&Shape> {
        self.arena.get(r.target)
    }

    /// An operation's output structure, without a lookup by name.
    pub(crate) fn output(&self, o: &OutputRef) -> Option<&Shape> {
        self.arena.get(o.target)
    }

    /// Every shape with its name.
    #[cfg(test)]
    fn shapes(&self) -> impl Iterator<Item = (&str, &Shape)> {
        self.index
            .iter()
            .filter_map(|(name, &i)| Some((name.as_str(), self.arena.get(i)?)))
    }

    /// Moves the shapes into the arena and points every reference at its shape's position.
    fn resolve(mut self) -> Self {
        let source = std::mem::take(&mut self.source);
        let index: BTreeMap<String, usize> = source
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let at = |name: &str| index.get(name).copied().unwrap_or_else(unresolved);
        self.arena = source
            .into_values()
            .map(|mut s| {
                let refs = s
                    .members
                    .values_mut()
                    .chain(s.member.iter_mut())
                    .chain(s.key.iter_mut())
                    .chain(s.value.iter_mut());
                for r in refs {
                    r.target = at(&r.shape);
                }
                s
            })
            .collect();
        for op in self.operations.values_mut() {
            if let Some(r) = op.input.as_mut() {
                r.target = at(&r.shape);
            }
            if let Some(o) = op.output.as_mut() {
                o.target = at(&o.shape);
            }
        }
        self.index = index;
        self
    }
}

/// A model from its JSON text, resolved (for tests of shapes the real models lack).
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Option<Model> {
    serde_json::from_str::<Model>(text).ok().map(Model::resolve)
}

const SOURCES: [(&str, &str); 4] = [
    ("ec2", include_str!("../../../models/ec2.json")),
    (
        "elasticloadbalancing",
        include_str!("../../../models/elbv2.json"),
    ),
    ("iam", include_str!("../../../models/iam.json")),
    ("sts", include_str!("../../../models/sts.json")),
];

/// The four models, parsed on first use; `None` if a checked-in file does not parse (the tests
/// below make sure they do).
fn models() -> Option<&'static [Model]> {
    static MODELS: OnceLock<Option<Vec<Model>>> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let mut out = Vec::with_capacity(SOURCES.len());
            for (name, text) in SOURCES {
                match serde_json::from_str::<Model>(text) {
                    Ok(m) => out.push(m.resolve()),
                    Err(e) => {
                        tracing::error!(model = name, error = %e, "service model does not parse");
                        return None;
                    }
                }
            }
            Some(out)
        })
        .as_deref()
}

/// The model of the SigV4 service `service` (`ec2`, `elasticloadbalancing`, `iam`, `sts`).
pub(crate) fn for_service(service: &str) -> Option<&'static Model> {
    models()?
        .iter()
        .find(|m| m.metadata.endpoint_prefix == service)
}

/// The model that has `action`, if one does.
pub(crate) fn for_action(action: &str) -> Option<&'static Model> {
    models()?.iter().find(|m| m.operations.contains_key(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reference resolves, and every shape kind is one the codec handles.
    #[test]
    fn models_parse_and_are_closed() {
        let all = models().expect("models parse");
        assert_eq!(all.len(), 4);
        for m in all {
            for (name, op) in &m.operations {
                for r in op
                    .input
                    .iter()
                    .map(|r| &r.shape)
                    .chain(op.output.iter().map(|o| &o.shape))
                {
                    assert!(m.shape(r).is_some(), "{name}: {r}");
                }
                if let Some(o) = &op.output {
                    let (by_position, by_name) = (m.output(o), m.shape(&o.shape));
                    assert!(
                        by_position.is_some_and(|s| by_name.is_some_and(|n| std::ptr::eq(s, n)))
                    );
                }
            }
            assert!(m.shapes().count() > 0);
            for (name, s) in m.shapes() {
                let refs = s
                    .members
                    .values()
                    .chain(s.member.iter())
                    .chain(s.key.iter())
                    .chain(s.value.iter());
                for r in refs {
                    // Resolved by position to the very shape its name gives.
                    let (by_position, by_name) = (m.target(r), m.shape(&r.shape));
                    assert!(by_name.is_some(), "{name} -> {}", r.shape);
                    assert!(
                        by_position.is_some_and(|s| by_name.is_some_and(|n| std::ptr::eq(s, n))),
                        "{name} -> {}",
                        r.shape
                    );
                }
                match s.kind {
                    Kind::List => assert!(s.member.is_some(), "{name}"),
                    Kind::Map => assert!(s.key.is_some() && s.value.is_some(), "{name}"),
                    _ => {}
                }
            }
        }
    }

    /// Each modelled action lives in the service `service_of` gives it (the JSON API's scope
    /// check), and every action we implement is either modelled or one of Underpass's own.
    #[test]
    fn every_action_is_modelled_or_underpass_only() {
        const OWN: &[&str] = &[
            "CreateAccount",
            "RotateAccessKey",
            "CreateAgentJoinToken",
            "DescribeAgents",
            "RevokeAgent",
        ];
        for action in crate::actions::KNOWN {
            match for_action(action) {
                Some(m) => assert_eq!(
                    m.metadata.endpoint_prefix,
                    underpass_domain::api::service_of(action),
                    "{action}"
                ),
                None => assert!(
                    OWN.contains(action),
                    "{action} is in no model: rerun tools/trim_models.py"
                ),
            }
        }
        for m in models().unwrap() {
            for op in m.operations.keys() {
                assert!(
                    crate::actions::is_known(op),
                    "{op} is modelled but not implemented"
                );
            }
        }
    }
}
