//! `DescribeVpcEndpoints`' items kept in memory between changes: each interface endpoint's
//! record, tags and answer view, with the version of the endpoint they were read at.
//!
//! A page of 100 endpoints otherwise reads 100 rows, their interfaces and tags, and builds 100
//! views: about half of the server's CPU per page under the API bench's paging load, the rest
//! being HTTP, authentication and writing XML. The store moves an endpoint's version with every
//! change to its row, interfaces or tags (triggers, migration 0061, whatever code path writes),
//! so a page reads its ids and versions and only the endpoints whose version moved. What a view
//! shows of *other* resources (the service's name and verified private DNS name, the groups'
//! names) is kept beside it as [`ViewInputs`] and compared with the request's own reads of those
//! resources, one per distinct service or group per page: a change there remakes the view from
//! the kept record, without reading the endpoint again.
//!
//! Versions are read inside the request's transaction, so an answer is exactly as fresh as
//! without this: a request that reads an older version than the kept one simply reads the rows.
//! Several servers on one store would each keep their own items, equally correct.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use underpass_domain::EndpointId;
use underpass_store::records::Endpoint;

use super::vpce::EndpointView;
use crate::api::XmlMemo;
use crate::iam_cache::lock;

/// Most items kept; past it the map starts over. About 2 KB each (record, tags, view), so
/// this bounds the memory at tens of MB; an account with more endpoints pages correctly, with
/// fewer pages served from memory.
const MAX_ITEMS: usize = 20_000;

/// What an endpoint's view shows of other resources, as read when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViewInputs {
    /// The service's name.
    pub(crate) service_name: String,
    /// The service's verified private DNS name, if any.
    pub(crate) private_name: Option<String>,
    /// The names of the endpoint's security groups, in its order (empty: a group gone).
    pub(crate) group_names: Vec<String>,
}

/// One interface endpoint as a listing needs it.
pub(crate) struct Item {
    /// The endpoint's version when `endpoint` and `tags` were read (`None`: read by id, outside
    /// a listing's version read, so never kept).
    pub(crate) version: Option<i64>,
    /// Its record.
    pub(crate) endpoint: Endpoint,
    /// Its tags, by key.
    pub(crate) tags: Vec<(String, String)>,
    /// What `view` shows of other resources.
    pub(crate) inputs: ViewInputs,
    /// Its answer view.
    pub(crate) view: EndpointView,
    /// The view's XML, once an answer wrote it.
    pub(crate) xml: Arc<XmlMemo>,
}

/// The kept items, by endpoint id. Hashed with foldhash rather than SipHash: ids are the
/// server's own (no caller chooses them), and a page looked up 100 of them under SipHash, 5% of
/// a DescribeVpcEndpoints call's CPU.
#[derive(Default)]
pub(crate) struct EndpointItems {
    items: Mutex<HashMap<EndpointId, Arc<Item>, foldhash::fast::RandomState>>,
}

impl EndpointItems {
    /// The kept item of `id`, if it was read at `version`.
    #[cfg(test)]
    pub(crate) fn get(&self, id: &EndpointId, version: i64) -> Option<Arc<Item>> {
        self.get_all(&[(*id, version)]).pop().flatten()
    }

    /// For each of `versions`, in its order, the kept item of that id if it was read at that
    /// version (one lock for the whole page).
    pub(crate) fn get_all(&self, versions: &[(EndpointId, i64)]) -> Vec<Option<Arc<Item>>> {
        let items = lock(&self.items);
        versions
            .iter()
            .map(|(id, v)| items.get(id).filter(|i| i.version == Some(*v)).cloned())
            .collect()
    }

    /// Keeps `item`, unless an item of a later version is kept already (a request with an
    /// older snapshot finished after a newer one).
    pub(crate) fn put(&self, item: Arc<Item>) {
        let Some(version) = item.version else {
            return;
        };
        let mut items = lock(&self.items);
        if let Some(kept) = items.get(&item.endpoint.id) {
            if kept.version.is_some_and(|v| v > version) {
                return;
            }
        } else if items.len() >= MAX_ITEMS {
            items.clear();
        }
        items.insert(item.endpoint.id, item);
    }
}

#[cfg(test)]
mod tests {
    use underpass_domain::{ConnState, ServiceId, VpcId};

    use super::*;

    fn item(id: u128, version: Option<i64>) -> Arc<Item> {
        Arc::new(Item {
            version,
            endpoint: Endpoint {
                id: EndpointId::from_bits(id),
                account: "111111111111".into(),
                region: "us-east-1".into(),
                vpc: VpcId::from_bits(1),
                service: ServiceId::from_bits(2),
                endpoint_type: "Interface".into(),
                state: ConnState::Available,
                policy: None,
                security_groups: vec![],
                enis: vec![],
                private_dns_enabled: false,
                dns_name: None,
                created: time::OffsetDateTime::UNIX_EPOCH,
            },
            tags: vec![],
            inputs: ViewInputs {
                service_name: "s".into(),
                private_name: None,
                group_names: vec![],
            },
            view: EndpointView::default(),
            xml: Arc::default(),
        })
    }

    fn kept_version(items: &EndpointItems, id: u128) -> Option<Option<i64>> {
        lock(&items.items)
            .get(&EndpointId::from_bits(id))
            .map(|i| i.version)
    }

    #[test]
    fn an_item_is_found_only_at_its_version_and_never_replaced_by_an_older_one() {
        let items = EndpointItems::default();
        let id = EndpointId::from_bits(7);
        items.put(item(7, Some(3)));
        assert!(items.get(&id, 3).is_some());
        assert!(items.get(&id, 2).is_none() && items.get(&id, 4).is_none());
        // A request with an older snapshot finishing late does not put its item back.
        items.put(item(7, Some(2)));
        assert_eq!(kept_version(&items, 7), Some(Some(3)));
        items.put(item(7, Some(5)));
        assert_eq!(kept_version(&items, 7), Some(Some(5)));
        // Read by id, outside a version read: never kept.
        items.put(item(8, None));
        assert_eq!(kept_version(&items, 8), None);
    }

    #[test]
    fn past_the_bound_the_items_start_over() {
        let items = EndpointItems::default();
        for n in 0..MAX_ITEMS as u128 {
            items.put(item(n, Some(1)));
        }
        assert_eq!(lock(&items.items).len(), MAX_ITEMS);
        // A new version of a kept one takes its place without growing the map.
        items.put(item(0, Some(2)));
        assert_eq!(lock(&items.items).len(), MAX_ITEMS);
        items.put(item(MAX_ITEMS as u128, Some(1)));
        assert_eq!(lock(&items.items).len(), 1);
        assert_eq!(kept_version(&items, MAX_ITEMS as u128), Some(Some(1)));
    }
}
