//! Hands the writer's answers to one worker thread's tasks with one cross-thread wakeup per
//! batch instead of one per record.
//!
//! A task waiting on a `oneshot` from the writer thread is woken from outside its runtime,
//! and tokio answers every such wakeup with a write to the runtime's eventfd: at
//! concurrency 64 that was two system calls per audited call, one per record. A worker
//! runs a relay task instead ([`Relay::new`]); the writer sends it all of a batch's answers
//! for that worker in one message, and the relay completes them from inside the runtime,
//! where a wakeup is a push onto the local run queue.
//!
//! Nothing here decides what an answer says or whether one is sent: a relay that is gone
//! (its worker stopped) gets its answers delivered directly.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::error::AuditError;
use super::Appended;

/// How an append learns its outcome.
pub(crate) type Answer = Result<Appended, AuditError>;
/// An answer with the waiter it is for.
type Addressed = (oneshot::Sender<Answer>, Answer);

/// The sending half of a worker's relay; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    tx: mpsc::UnboundedSender<Vec<Addressed>>,
}

/// Where one record's answer goes: straight to its waiter, or through its worker's relay.
pub(crate) struct Reply {
    waiter: oneshot::Sender<Answer>,
    relay: Option<Relay>,
}

/// The answers of one batch, grouped by relay.
#[derive(Default)]
pub(crate) struct Answers {
    relayed: Vec<(Relay, Vec<Addressed>)>,
}

impl Relay {
    /// A relay and the task that must run on the worker's own runtime for it to work.
    pub fn new() -> (Relay, impl Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Addressed>>();
        let task = async move {
            while let Some(answers) = rx.recv().await {
                deliver(answers);
            }
        };
        (Relay { tx }, task)
    }
}

impl Reply {
    pub(crate) fn new(waiter: oneshot::Sender<Answer>, relay: Option<Relay>) -> Reply {
        Reply { waiter, relay }
    }

    /// Answers at once, from whatever thread this runs on.
    pub(crate) fn send(self, answer: Answer) {
        let _ = self.waiter.send(answer);
    }
}

impl Answers {
    /// Queues an answer; relayed ones go out at [`Answers::send`], the others now.
    pub(crate) fn push(&mut self, reply: Reply, answer: Answer) {
        let Some(relay) = reply.relay else {
            let _ = reply.waiter.send(answer);
            return;
        };
        match self
            .relayed
            .iter_mut()
            .find(|(r, _)| r.tx.same_channel(&relay.tx))
        {
            Some((_, group)) => group.push((reply.waiter, answer)),
            None => self.relayed.push((relay, vec![(reply.waiter, answer)])),
        }
    }

    /// One message per relay; a relay whose worker is gone is bypassed.
    pub(crate) fn send(self) {
        for (relay, answers) in self.relayed {
            if let Err(mpsc::error::SendError(answers)) = relay.tx.send(answers) {
                deliver(answers);
            }
        }
    }
}

fn deliver(answers: Vec<Addressed>) {
    for (waiter, answer) in answers {
        let _ = waiter.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(seq: u64) -> Answer {
        Ok(Appended {
            seq,
            hash: String::new(),
        })
    }

    #[tokio::test]
    async fn relayed_and_direct_answers_all_arrive() {
        let (relay, task) = Relay::new();
        tokio::spawn(task);
        let mut answers = Answers::default();
        let mut waiting = Vec::new();
        for seq in 0..5 {
            let (tx, rx) = oneshot::channel();
            let via = (seq % 2 == 0).then(|| relay.clone());
            answers.push(Reply::new(tx, via), appended(seq));
            waiting.push(rx);
        }
        assert_eq!(answers.relayed.len(), 1, "one group for the one relay");
        answers.send();
        for (seq, rx) in waiting.into_iter().enumerate() {
            assert_eq!(rx.await.unwrap().unwrap().seq, seq as u64);
        }
    }

    #[tokio::test]
    async fn a_relay_whose_task_is_gone_is_bypassed() {
        let (relay, task) = Relay::new();
        drop(task);
        let (tx, rx) = oneshot::channel();
        let mut answers = Answers::default();
        answers.push(Reply::new(tx, Some(relay)), appended(7));
        answers.send();
        assert_eq!(rx.await.unwrap().unwrap().seq, 7);
    }
}
