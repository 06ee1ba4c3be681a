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
    /// Shapes by name.
    pub(crate) shapes: BTreeMap<String, Shape>,
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
        self.shapes.get(name)
    }
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
                    Ok(m) => out.push(m),
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
            }
            for (name, s) in &m.shapes {
                let refs = s
                    .members
                    .values()
                    .chain(s.member.iter())
                    .chain(s.key.iter())
                    .chain(s.value.iter());
                for r in refs {
                    assert!(m.shape(&r.shape).is_some(), "{name} -> {}", r.shape);
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
