//! Outcomes as types: what a control's row says ([`FindingStatus`]), what a control
//! concludes for a period ([`VerdictStatus`]) and what a framework requirement's covering
//! controls add up to ([`RequirementStatus`]). Text from a query is parsed once, at the
//! edge; a value that does not parse is an error naming it, never a default, so a typo in
//! a control's SQL cannot pass.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One judged thing's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// Judged and fine.
    Ok,
    /// Shown for context, not judged.
    Info,
    /// Out of the control's scope.
    Skip,
    /// Could not be judged: the evidence does not say (the reason says what is missing).
    /// Never a pass.
    Unknown,
    /// An alarm an exception in force accepts.
    Excepted,
    /// A problem.
    Alarm,
    /// Judging it failed.
    Error,
}

impl FindingStatus {
    /// The statuses a control's query may return.
    pub const FROM_QUERIES: [FindingStatus; 6] =
        [FindingStatus::Ok, FindingStatus::Alarm, FindingStatus::Info, FindingStatus::Skip, FindingStatus::Unknown, FindingStatus::Error];

    /// Its name (`ok`, `alarm`, …), as queries, JSON and evidence files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Ok => "ok",
            FindingStatus::Info => "info",
            FindingStatus::Skip => "skip",
            FindingStatus::Unknown => "unknown",
            FindingStatus::Excepted => "excepted",
            FindingStatus::Alarm => "alarm",
            FindingStatus::Error => "error",
        }
    }

    /// A status as a control's query returns it; anything else (`'ALARM'`, `'fail'`,
    /// `'excepted'`, which only an exception gives) is an error naming it.
    pub fn from_query(text: &str) -> Result<Self, String> {
        Self::FROM_QUERIES.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            let known: Vec<&str> = Self::FROM_QUERIES.iter().map(|s| s.as_str()).collect();
            format!("status '{text}' is not one of {}", known.join(", "))
        })
    }
}

impl fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A control's conclusion for a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    /// Evidence exists and every finding is fine (or excepted, or context).
    Ok,
    /// Evidence is missing, or some findings could not be judged: never a pass.
    InsufficientEvidence,
    /// The control could not be evaluated (its query failed or returned what it must not).
    Error,
    /// At least one finding is a problem.
    Alarm,
}

impl VerdictStatus {
    /// Its name, as JSON and the pack write it.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Ok => "ok",
            VerdictStatus::InsufficientEvidence => "insufficient_evidence",
            VerdictStatus::Error => "error",
            VerdictStatus::Alarm => "alarm",
        }
    }

    /// The verdict of a control whose findings have these statuses: any alarm is an
    /// alarm; else any error an error; else anything unknown is insufficient evidence;
    /// else ok.
    pub fn of_findings(mut statuses: impl Iterator<Item = FindingStatus>) -> Self {
        let mut verdict = VerdictStatus::Ok;
        statuses
            .try_for_each(|s| {
                let this = match s {
                    FindingStatus::Alarm => VerdictStatus::Alarm,
                    FindingStatus::Error => VerdictStatus::Error,
                    FindingStatus::Unknown => VerdictStatus::InsufficientEvidence,
                    FindingStatus::Ok | FindingStatus::Info | FindingStatus::Skip | FindingStatus::Excepted => VerdictStatus::Ok,
                };
                verdict = verdict.max(this);
                if verdict == VerdictStatus::Alarm { Err(()) } else { Ok(()) }
            })
            .ok();
        verdict
    }
}

impl fmt::Display for VerdictStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A framework requirement's outcome from the verdicts of the controls that cover it —
/// the one rule `evaluate --framework`, the pack and its OSCAL share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementStatus {
    /// Every covering control is ok and none needed an exception.
    Satisfied,
    /// A covering control found a problem.
    NotSatisfied,
    /// A covering control could not be evaluated.
    Error,
    /// A covering control lacks evidence (and none found a problem).
    InsufficientEvidence,
    /// Every covering control is ok, some only thanks to exceptions in force.
    Excepted,
    /// Its evidence lies outside keytrail.
    Manual,
    /// No control of the evaluated catalog covers it.
    NotCovered,
}

impl RequirementStatus {
    /// Every status, in the order a summary lists them.
    pub const ALL: [RequirementStatus; 7] = [
        RequirementStatus::Satisfied,
        RequirementStatus::NotSatisfied,
        RequirementStatus::Error,
        RequirementStatus::InsufficientEvidence,
        RequirementStatus::Excepted,
        RequirementStatus::Manual,
        RequirementStatus::NotCovered,
    ];

    /// Machine name (JSON, `controls.json`, CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            RequirementStatus::Satisfied => "satisfied",
            RequirementStatus::NotSatisfied => "not_satisfied",
            RequirementStatus::Error => "error",
            RequirementStatus::InsufficientEvidence => "insufficient_evidence",
            RequirementStatus::Excepted => "excepted",
            RequirementStatus::Manual => "manual",
            RequirementStatus::NotCovered => "not_covered",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            RequirementStatus::Satisfied => "Satisfied",
            RequirementStatus::NotSatisfied => "Not satisfied",
            RequirementStatus::Error => "Not evaluated (error)",
            RequirementStatus::InsufficientEvidence => "Insufficient evidence",
            RequirementStatus::Excepted => "Excepted",
            RequirementStatus::Manual => "Manual",
            RequirementStatus::NotCovered => "Not covered",
        }
    }

    /// The outcome of a requirement covered by controls with these verdicts (each with
    /// whether an exception turned one of its findings into `excepted`).
    pub fn of(manual: bool, verdicts: &[(VerdictStatus, bool)]) -> Self {
        if manual {
            return RequirementStatus::Manual;
        }
        let Some(worst) = verdicts.iter().map(|(v, _)| *v).max() else { return RequirementStatus::NotCovered };
        match worst {
            VerdictStatus::Alarm => RequirementStatus::NotSatisfied,
            VerdictStatus::Error => RequirementStatus::Error,
            VerdictStatus::InsufficientEvidence => RequirementStatus::InsufficientEvidence,
            VerdictStatus::Ok if verdicts.iter().any(|(_, excepted)| *excepted) => RequirementStatus::Excepted,
            VerdictStatus::Ok => RequirementStatus::Satisfied,
        }
    }
}

impl fmt::Display for RequirementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_statuses_parse_exactly_and_anything_else_is_named() {
        assert_eq!(FindingStatus::from_query("unknown"), Ok(FindingStatus::Unknown));
        for bad in ["ALARM", "fail", "", "excepted", "ok "] {
            let err = FindingStatus::from_query(bad).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn unknown_is_never_a_pass_and_alarms_win() {
        use FindingStatus::*;
        assert_eq!(VerdictStatus::of_findings([Ok, Info, Skip, Excepted].into_iter()), VerdictStatus::Ok);
        assert_eq!(VerdictStatus::of_findings([Ok, Unknown].into_iter()), VerdictStatus::InsufficientEvidence);
        assert_eq!(VerdictStatus::of_findings([Unknown, Error].into_iter()), VerdictStatus::Error);
        assert_eq!(VerdictStatus::of_findings([Error, Alarm, Unknown].into_iter()), VerdictStatus::Alarm);
        assert_eq!(VerdictStatus::of_findings(std::iter::empty()), VerdictStatus::Ok);
    }

    #[test]
    fn a_requirement_is_only_satisfied_when_every_control_is() {
        use VerdictStatus as V;
        assert_eq!(RequirementStatus::of(false, &[(V::Ok, false), (V::Ok, true)]), RequirementStatus::Excepted);
        assert_eq!(RequirementStatus::of(false, &[(V::Ok, false)]), RequirementStatus::Satisfied);
        assert_eq!(RequirementStatus::of(false, &[(V::Ok, true), (V::InsufficientEvidence, false)]), RequirementStatus::InsufficientEvidence);
        assert_eq!(RequirementStatus::of(false, &[(V::Error, false), (V::InsufficientEvidence, false)]), RequirementStatus::Error);
        assert_eq!(RequirementStatus::of(false, &[(V::Alarm, false), (V::Error, false)]), RequirementStatus::NotSatisfied);
        assert_eq!(RequirementStatus::of(false, &[]), RequirementStatus::NotCovered);
        assert_eq!(RequirementStatus::of(true, &[(V::Alarm, false)]), RequirementStatus::Manual);
    }
}
