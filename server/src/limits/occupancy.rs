//! Per-org counts of calls in flight and streams open. Entering takes a slot or refuses; the
//! slot is given back when it is dropped (when the call ends, or the stream's body is dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Refused;

/// What a slot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Call,
    Stream,
}

impl Kind {
    fn limit_name(self) -> &'static str {
        match self {
            Kind::Call => "limits.calls_in_flight_per_org",
            Kind::Stream => "limits.streams_per_org",
        }
    }

    /// A call ends soon; a stream may stay open for long.
    fn retry_after(self) -> Duration {
        match self {
            Kind::Call => Duration::from_millis(100),
            Kind::Stream => Duration::from_secs(5),
        }
    }
}

/// Every org's open slots.
#[derive(Debug, Default)]
pub struct Occupancy {
    counts: Mutex<HashMap<(String, Kind), u32>>,
}

/// One taken slot; dropping it gives it back.
#[derive(Debug)]
pub struct Slot {
    occupancy: Arc<Occupancy>,
    key: (String, Kind),
}

impl Occupancy {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Takes one of `org`'s `limit` slots of `kind`, or refuses.
    pub fn enter(self: &Arc<Self>, org: &str, kind: Kind, limit: u32) -> Result<Slot, Refused> {
        let refused = Refused {
            what: kind.limit_name(),
            limit,
            retry_after: kind.retry_after(),
        };
        // A poisoned lock refuses: the limit fails closed.
        let mut counts = self.counts.lock().map_err(|_| refused.clone())?;
        let key = (org.to_string(), kind);
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= limit {
            return Err(refused);
        }
        *count += 1;
        Ok(Slot {
            occupancy: self.clone(),
            key,
        })
    }

    /// How many slots of `kind` `org` holds.
    pub fn held(&self, org: &str, kind: Kind) -> u32 {
        self.counts
            .lock()
            .ok()
            .and_then(|counts| counts.get(&(org.to_string(), kind)).copied())
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.occupancy.counts.lock()
            && let Some(count) = counts.get_mut(&self.key)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_org_and_kind_and_come_back_when_dropped() {
        let occupancy = Occupancy::new();
        let first = occupancy.enter("ngo-a", Kind::Stream, 2).expect("first");
        let _second = occupancy.enter("ngo-a", Kind::Stream, 2).expect("second");
        let refused = occupancy.enter("ngo-a", Kind::Stream, 2).expect_err("full");
        assert_eq!(refused.what, "limits.streams_per_org");
        assert!(
            occupancy.enter("ngo-b", Kind::Stream, 2).is_ok(),
            "another org"
        );
        assert!(
            occupancy.enter("ngo-a", Kind::Call, 1).is_ok(),
            "another kind"
        );
        drop(first);
        assert_eq!(occupancy.held("ngo-a", Kind::Stream), 1);
        assert!(occupancy.enter("ngo-a", Kind::Stream, 2).is_ok());
    }
}
