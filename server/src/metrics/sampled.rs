//! Values read when a scraper asks, from the parts of the hub that own them (the database
//! pool, the identity reloader's counters and the validity of the certificate and CRL in
//! force). Reading them costs a few loads per scrape and nothing between scrapes.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Counter (monotonic, `_total` is appended) or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    Counter,
    Gauge,
}

/// One value read at scrape time. Names and help are fixed strings; no labels.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: SampleKind,
    pub value: f64,
}

impl Sample {
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Sample {
        Sample {
            name,
            help,
            kind: SampleKind::Gauge,
            value,
        }
    }

    pub fn counter(name: &'static str, help: &'static str, value: u64) -> Sample {
        Sample {
            name,
            help,
            kind: SampleKind::Counter,
            // Exact up to 2^53, far past any count a hub reaches.
            value: value as f64,
        }
    }
}

type Read = dyn Fn() -> Vec<Sample> + Send + Sync;

/// The collector: `read` is called on every scrape.
pub struct Sampler {
    read: Box<Read>,
}

impl Sampler {
    pub fn new(read: impl Fn() -> Vec<Sample> + Send + Sync + 'static) -> Sampler {
        Sampler {
            read: Box::new(read),
        }
    }
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Sampler")
    }
}

impl Collector for Sampler {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for sample in (self.read)() {
            match sample.kind {
                SampleKind::Counter => {
                    let counter = ConstCounter::new(sample.value);
                    let metric = encoder.encode_descriptor(
                        sample.name,
                        sample.help,
                        None,
                        counter.metric_type(),
                    )?;
                    counter.encode(metric)?;
                }
                SampleKind::Gauge => {
                    let gauge = ConstGauge::new(sample.value);
                    let metric = encoder.encode_descriptor(
                        sample.name,
                        sample.help,
                        None,
                        gauge.metric_type(),
                    )?;
                    gauge.encode(metric)?;
                }
            }
        }
        Ok(())
    }
}
