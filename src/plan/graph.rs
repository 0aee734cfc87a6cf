//! The dependency graph of a plan: every `depends_on` names a task of the plan, and there is
//! no cycle. A cycle is reported as its path (`a -> b -> a`) at the location of its first edge.

use std::collections::HashMap;

use super::issues::issue;
use super::problem::Problem;
use super::{Loc, TaskSpec};
use crate::error::PlanIssue;

pub fn check(tasks: &[TaskSpec], edges: &[Vec<(String, Loc)>], issues: &mut Vec<PlanIssue>) {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    // Resolved edges: (target index, location of the entry).
    let mut adj: Vec<Vec<(usize, Loc)>> = vec![Vec::new(); tasks.len()];
    for (i, deps) in edges.iter().enumerate() {
        for (name, loc) in deps {
            match index.get(name.as_str()) {
                Some(&j) if j == i => {
                    let task = name.clone();
                    issue(issues, *loc, Problem::SelfDependency { task });
                }
                Some(&j) => adj[i].push((j, *loc)),
                None => {
                    let problem = Problem::UnknownDependency {
                        task: tasks[i].name.clone(),
                        dependency: name.clone(),
                    };
                    issue(issues, *loc, problem);
                }
            }
        }
    }
    if let Some((path, loc)) = find_cycle(&adj) {
        let path = path.iter().map(|&i| tasks[i].name.clone()).collect();
        issue(issues, loc, Problem::Cycle { path });
    }
}

/// The first cycle found (in plan order), as a closed path, with its first edge's location.
fn find_cycle(adj: &[Vec<(usize, Loc)>]) -> Option<(Vec<usize>, Loc)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; adj.len()];
    // Iterative DFS: (node, next edge to look at); `stack` mirrors the path.
    for start in 0..adj.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(to, _)) = adj[node].get(*next) {
                *next += 1;
                match mark[to] {
                    Mark::New => {
                        mark[to] = Mark::OnStack;
                        stack.push((to, 0));
                    }
                    Mark::OnStack => {
                        let from = stack.iter().position(|&(n, _)| n == to).unwrap_or(0);
                        let mut path: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                        path.push(to);
                        // The location of the edge path[0] -> path[1].
                        let (first, second) = (path[0], path.get(1).copied().unwrap_or(to));
                        let loc = adj[first]
                            .iter()
                            .find(|(t, _)| *t == second)
                            .map(|(_, l)| *l)
                            .unwrap_or_default();
                        return Some((path, loc));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// The tasks `names` depend on, transitively, with `names` themselves (`--with-deps`).
pub fn with_dependencies(tasks: &[TaskSpec], names: &[String]) -> Vec<String> {
    let by_name: HashMap<&str, &TaskSpec> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut wanted: Vec<String> = Vec::new();
    let mut todo: Vec<&str> = names.iter().map(String::as_str).collect();
    while let Some(name) = todo.pop() {
        if wanted.iter().any(|w| w == name) {
            continue;
        }
        wanted.push(name.to_owned());
        if let Some(t) = by_name.get(name) {
            todo.extend(t.depends_on.iter().map(String::as_str));
        }
    }
    wanted
}
