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

/// The tasks that depend on `name`: those naming it in `depends_on` (`direct`), then those
/// reached through them (`later`), each once, in plan order. What a gate's approval lets run.
pub fn dependents(tasks: &[TaskSpec], name: &str) -> Dependents {
    // Who names whom: one pass over the edges, so a plan of 10,000 tasks is not walked once
    // per task reached.
    let mut named_by: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in tasks.iter().enumerate() {
        for d in &t.depends_on {
            named_by.entry(d.as_str()).or_default().push(i);
        }
    }
    let mut reached = vec![false; tasks.len()];
    let mut direct = vec![false; tasks.len()];
    let mut todo: Vec<(&str, bool)> = vec![(name, true)];
    while let Some((from, first_hop)) = todo.pop() {
        for &i in named_by.get(from).map_or(&[][..], Vec::as_slice) {
            if !reached[i] && tasks[i].name != name {
                reached[i] = true;
                direct[i] = first_hop;
                todo.push((tasks[i].name.as_str(), false));
            }
        }
    }
    let pick = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..tasks.len())
            .filter(|&i| keep(i))
            .map(|i| tasks[i].name.clone())
            .collect()
    };
    Dependents {
        direct: pick(&|i| direct[i]),
        later: pick(&|i| reached[i] && !direct[i]),
    }
}

/// A task's dependents, see [`dependents`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependents {
    pub direct: Vec<String>,
    pub later: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::{Dependents, dependents};

    #[test]
    fn dependents_are_direct_then_transitive_in_plan_order_each_once() {
        let yaml = "name: p\ntasks:\n\
            - {task: gate, shell: 'true'}\n\
            - {task: other, shell: 'true'}\n\
            - {task: deploy, shell: 'true', depends_on: [gate]}\n\
            - {task: docs, shell: 'true', depends_on: [gate, other]}\n\
            - {task: notify, shell: 'true', depends_on: [deploy, docs]}\n\
            - {task: smoke, shell: 'true', depends_on: [notify]}\n";
        let plan = crate::plan::parse(std::path::Path::new("p.yaml"), yaml.to_owned()).unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            dependents(&plan.tasks, "gate"),
            Dependents {
                direct: strings(&["deploy", "docs"]),
                later: strings(&["notify", "smoke"]),
            }
        );
        assert_eq!(dependents(&plan.tasks, "smoke"), Dependents::default());
        assert_eq!(dependents(&plan.tasks, "missing"), Dependents::default());
    }
}
