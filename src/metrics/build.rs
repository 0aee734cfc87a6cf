//! `orch_build_info{version}`: always 1, the version in its label (a gauge, as Prometheus'
//! own `prometheus_build_info` is).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
}

pub fn add(registry: &mut Registry) {
    let info = Family::<Version, Gauge>::default();
    info.get_or_create(&Version {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
    .set(1);
    registry.register(
        "orch_build_info",
        "The orch that answers, its version in the label; always 1",
        info,
    );
}
