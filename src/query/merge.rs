//! Merging the stages of each call by `audit_id`, streaming, in bounded memory.
//!
//! A call is emitted as soon as its `completed` stage arrives, so the output is in
//! completion order. A `received` stage waits in a pending map bounded by
//! `--max-pending` (default 100 000): past the bound the oldest pending call (lowest
//! seq) is emitted as `unknown`; if its `completed` stage shows up later it is then
//! emitted a second time, alone. At the end of the input every pending call is emitted
//! as `unknown`, oldest first.

use std::collections::{BTreeMap, HashMap};

use super::call::Call;
use crate::audit::record::CallRecord;

enum Pending {
    /// The call may match: keep the record to merge.
    Keep(Box<CallRecord>),
    /// The call cannot match (its `received` stage failed a filter): remember only that
    /// its `completed` stage is to be dropped, not shown alone.
    Discard,
}

/// What a `completed` record turned into.
pub enum Completed {
    /// Merged with its `received` stage.
    Merged(Call),
    /// Its `received` stage was seen and doomed the call.
    Discarded,
    /// No `received` stage was seen: the call alone.
    Lone(Call),
}

pub struct Merger {
    pending: HashMap<String, (u64, Pending)>,
    /// seq -> audit_id, to find the oldest pending call.
    order: BTreeMap<u64, String>,
    max: usize,
    kept: usize,
}

impl Merger {
    pub fn new(max_pending: usize) -> Merger {
        Merger {
            pending: HashMap::new(),
            order: BTreeMap::new(),
            max: max_pending.max(1),
            kept: 0,
        }
    }

    /// Whether some pending call could still be emitted.
    pub fn has_kept(&self) -> bool {
        self.kept > 0
    }

    /// Records a `received` stage; returns the call evicted to stay within the bound, if
    /// one may match.
    pub fn received(&mut self, r: CallRecord, keep: bool) -> Option<Call> {
        let seq = r.seq;
        let id = r.audit_id.clone();
        let entry = if keep {
            self.kept += 1;
            Pending::Keep(Box::new(r))
        } else {
            Pending::Discard
        };
        // A repeated audit ID replaces the earlier stage: ignore its stale order entry.
        if let Some((old_seq, old)) = self.pending.insert(id.clone(), (seq, entry)) {
            self.order.remove(&old_seq);
            if matches!(old, Pending::Keep(_)) {
                self.kept -= 1;
            }
        }
        self.order.insert(seq, id);
        if self.pending.len() > self.max {
            return self.pop_oldest();
        }
        None
    }

    pub fn completed(&mut self, c: CallRecord) -> Completed {
        match self.pending.remove(&c.audit_id) {
            Some((seq, p)) => {
                self.order.remove(&seq);
                match p {
                    Pending::Keep(r) => {
                        self.kept -= 1;
                        Completed::Merged(Call::merge(*r, c))
                    }
                    Pending::Discard => Completed::Discarded,
                }
            }
            None => Completed::Lone(Call::from_completed(c)),
        }
    }

    /// The oldest pending call, as `unknown` (None if it cannot match or none is left
    /// that can).
    fn pop_oldest(&mut self) -> Option<Call> {
        while let Some((_, id)) = self.order.pop_first() {
            if let Some((_, p)) = self.pending.remove(&id) {
                if let Pending::Keep(r) = p {
                    self.kept -= 1;
                    return Some(Call::from_received(*r));
                }
                return None;
            }
        }
        None
    }

    /// Every pending call that may match, oldest first, as `unknown`.
    pub fn drain(&mut self) -> Vec<Call> {
        let mut out = Vec::with_capacity(self.kept);
        while !self.order.is_empty() {
            if let Some(c) = self.pop_oldest() {
                out.push(c);
            }
        }
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{CallResult, Caller, Outcome, Stage, Target};

    fn rec(stage: Stage, id: &str, seq: u64) -> CallRecord {
        let mut r = CallRecord::delete_call(stage, id, Caller::default(), Target::default());
        r.seq = seq;
        if stage == Stage::Completed {
            r.outcome = Some(Outcome {
                result: CallResult::Success,
                status: 204,
                error_code: None,
                error_msg: None,
            });
        }
        r
    }

    #[test]
    fn bound_evicts_oldest_as_unknown() {
        let mut m = Merger::new(2);
        assert!(m.received(rec(Stage::Received, "a", 1), true).is_none());
        assert!(m.received(rec(Stage::Received, "b", 2), true).is_none());
        let evicted = m.received(rec(Stage::Received, "c", 3), true).unwrap();
        assert_eq!(evicted.audit_id, "a");
        assert_eq!(evicted.outcome.result, CallResult::Unknown);
        assert!(
            matches!(m.completed(rec(Stage::Completed, "b", 4)), Completed::Merged(c) if c.seq_completed == Some(4))
        );
        assert!(matches!(
            m.completed(rec(Stage::Completed, "a", 5)),
            Completed::Lone(_)
        ));
        let rest: Vec<_> = m.drain().into_iter().map(|c| c.audit_id).collect();
        assert_eq!(rest, ["c"]);
        assert!(!m.has_kept());
    }

    #[test]
    fn discarded_calls_stay_silent() {
        let mut m = Merger::new(10);
        m.received(rec(Stage::Received, "a", 1), false);
        assert!(matches!(
            m.completed(rec(Stage::Completed, "a", 2)),
            Completed::Discarded
        ));
        m.received(rec(Stage::Received, "b", 3), false);
        assert!(m.drain().is_empty());
    }
}
