//! The scheduling decision as a pure function: from the tasks whose dependencies changed
//! (the [`Frontier`]) and the rows as the loop sees them, which queued tasks to skip (and
//! why) and which to start, in plan order, at most as many starts as there is room for. No
//! database, no clock, no processes: the loop in `scheduler.rs` records and runs the moves.

use std::collections::HashMap;

use super::frontier::Frontier;
use super::readiness::{Dep, Readiness, readiness};
use crate::plan::resolve::ResolvedTask;
use crate::plan::{TaskSpec, When};
use crate::store::{ApprovalState, TaskStatus, agents_task};

/// A run's tasks as the decision needs them: names, `when`, and dependencies by index
/// (dependencies outside this run, with `--only`, are left out: they count as satisfied).
pub struct Graph<'a> {
    pub names: Vec<&'a str>,
    pub when: Vec<When>,
    pub depends_on: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    pub fn of(tasks: &'a [ResolvedTask]) -> Self {
        Graph::of_specs(tasks.iter().map(|t| &t.spec).collect())
    }

    /// The graph of `specs` (the tasks of one run, in plan order).
    pub fn of_specs(specs: Vec<&'a TaskSpec>) -> Self {
        let index: HashMap<&str, usize> = specs
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        Graph {
            names: specs.iter().map(|t| t.name.as_str()).collect(),
            when: specs.iter().map(|t| t.when).collect(),
            depends_on: specs
                .iter()
                .map(|t| {
                    t.depends_on
                        .iter()
                        .filter_map(|d| index.get(d.as_str()).copied())
                        .collect()
                })
                .collect(),
        }
    }
}

/// What to do with a queued task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    /// It becomes `skipped`, with this reason as its excerpt.
    Skip(usize, String),
    /// It starts.
    Start(usize),
}

/// The moves to make now. Each move's new status is written into `rows` at once, so that
/// the tasks depending on it are judged on what it will be; at most `room` starts.
pub fn next_moves(
    graph: &Graph<'_>,
    rows: &mut [agents_task::Model],
    frontier: &mut Frontier,
    room: usize,
) -> Vec<Move> {
    let mut moves = Vec::new();
    let mut starts = 0;
    loop {
        while let Some(i) = frontier.next_dirty() {
            if rows[i].status != TaskStatus::Queued {
                continue;
            }
            match judge(graph, rows, i) {
                Readiness::Wait => {}
                Readiness::Skip(reason) => {
                    rows[i].status = TaskStatus::Skipped;
                    frontier.changed(i);
                    moves.push(Move::Skip(i, reason));
                }
                Readiness::Ready => frontier.mark_ready(i),
            }
        }
        if starts >= room {
            return moves;
        }
        let Some(i) = frontier.next_ready() else {
            return moves;
        };
        if rows[i].status != TaskStatus::Queued {
            continue;
        }
        rows[i].status = TaskStatus::Running;
        frontier.changed(i);
        starts += 1;
        moves.push(Move::Start(i));
    }
}

/// Task `i`'s readiness from its dependencies' rows.
fn judge(graph: &Graph<'_>, rows: &[agents_task::Model], i: usize) -> Readiness {
    let deps: Vec<Dep<'_>> = graph.depends_on[i]
        .iter()
        .map(|&j| Dep {
            name: graph.names[j],
            status: rows[j].status,
            rejected_by: match rows[j].approval_state {
                Some(ApprovalState::Rejected) => {
                    Some(rows[j].approver.as_deref().unwrap_or("someone"))
                }
                _ => None,
            },
        })
        .collect();
    readiness(graph.when[i], &deps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TaskStatus::*;

    /// `a`, `b` after `a`, `c` after `a` (`when: failure`), `d` on its own.
    fn graph() -> Graph<'static> {
        Graph {
            names: vec!["a", "b", "c", "d"],
            when: vec![When::Success, When::Success, When::Failure, When::Success],
            depends_on: vec![vec![], vec![0], vec![0], vec![]],
        }
    }

    fn rows(statuses: &[TaskStatus]) -> Vec<agents_task::Model> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| agents_task::Model {
                id: i as i64 + 1,
                task: format!("t{i}"),
                run_id: "r".to_owned(),
                status: *s,
                started_at: None,
                finished_at: None,
                duration_ms: None,
                inputs: None,
                outputs_uri: None,
                log_excerpt: None,
                approval_state: None,
                approver: None,
                approval_note: None,
                decided_at: None,
                attempt: 1,
                exit_code: None,
                approval_deadline: None,
                owner: None,
                heartbeat_at: None,
                approval_policy: None,
                ready_at: None,
                claim: 0,
                runs_on: None,
                on_lost: None,
            })
            .collect()
    }

    #[test]
    fn the_earliest_ready_tasks_start_as_far_as_there_is_room() {
        let g = graph();
        let mut rows = rows(&[Queued, Queued, Queued, Queued]);
        let mut frontier = Frontier::new(&g.depends_on);
        let moves = next_moves(&g, &mut rows, &mut frontier, 1);
        assert_eq!(moves, vec![Move::Start(0)]);
        assert_eq!(rows[0].status, Running);
        // A slot frees up: `d` (ready all along) starts; `b` and `c` still wait on `a`.
        let moves = next_moves(&g, &mut rows, &mut frontier, 1);
        assert_eq!(moves, vec![Move::Start(3)]);
    }

    #[test]
    fn a_success_starts_its_dependents_and_skips_those_waiting_for_a_failure() {
        let g = graph();
        let mut rows = rows(&[Queued, Queued, Queued, Succeeded]);
        let mut frontier = Frontier::new(&g.depends_on);
        assert_eq!(
            next_moves(&g, &mut rows, &mut frontier, 4),
            vec![Move::Start(0)]
        );
        rows[0].status = Succeeded;
        frontier.changed(0);
        let moves = next_moves(&g, &mut rows, &mut frontier, 4);
        assert_eq!(
            moves,
            vec![
                Move::Skip(2, "skipped: no dependency failed".to_owned()),
                Move::Start(1)
            ]
        );
        assert_eq!((rows[1].status, rows[2].status), (Running, Skipped));
    }

    #[test]
    fn a_rejected_gate_is_named_in_its_dependents_reason() {
        let g = graph();
        let mut rows = rows(&[Failed, Queued, Queued, Succeeded]);
        rows[0].approval_state = Some(ApprovalState::Rejected);
        rows[0].approver = Some("alice".to_owned());
        let mut frontier = Frontier::new(&g.depends_on);
        let moves = next_moves(&g, &mut rows, &mut frontier, 0);
        assert_eq!(
            moves,
            vec![Move::Skip(
                1,
                "skipped: dependency a was rejected by alice".to_owned()
            )]
        );
        // No room: `c` (ready after a failure) waits for a slot, it is not skipped.
        assert_eq!(rows[2].status, Queued);
    }
}
