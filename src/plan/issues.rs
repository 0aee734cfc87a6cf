//! Where in the plan file a problem is: YAML spans turned into [`Loc`]s, and the list every
//! check adds its problems to (all of them are reported at once, each at its place).

use serde_saphyr::{Location, Spanned};

use super::Loc;
use super::problem::Problem;
use crate::error::PlanIssue;

pub(super) fn loc(l: &Location) -> Loc {
    Loc {
        line: l.line(),
        column: l.column(),
    }
}

/// Where a value was written (for an alias, where it was referenced).
pub(super) fn at<T>(s: &Spanned<T>) -> Loc {
    loc(&s.referenced)
}

pub(super) fn issue(issues: &mut Vec<PlanIssue>, loc: Loc, problem: Problem) {
    issues.push(problem.at(loc));
}
