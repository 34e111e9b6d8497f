//! Per framework requirement, the outcome a compliance officer reads: satisfied, not
//! satisfied, insufficient evidence, excepted, manual (or not covered).

use keytrail_query::controls::{Control, Evaluation, Framework, Requirement, Verdict};

/// A requirement's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    Satisfied,
    NotSatisfied,
    InsufficientEvidence,
    Excepted,
    Manual,
    NotCovered,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Satisfied, Status::NotSatisfied, Status::InsufficientEvidence, Status::Excepted, Status::Manual, Status::NotCovered];

    /// Machine name (`controls.json`, CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::NotSatisfied => "not_satisfied",
            Status::InsufficientEvidence => "insufficient_evidence",
            Status::Excepted => "excepted",
            Status::Manual => "manual",
            Status::NotCovered => "not_covered",
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Status::Satisfied => "Satisfied",
            Status::NotSatisfied => "Not satisfied",
            Status::InsufficientEvidence => "Insufficient evidence",
            Status::Excepted => "Excepted",
            Status::Manual => "Manual",
            Status::NotCovered => "Not covered",
        }
    }
}

pub(crate) struct RequirementOutcome<'a> {
    pub requirement: &'a Requirement,
    /// The evaluations of the controls that cover it, in catalog order.
    pub evaluations: Vec<&'a Evaluation>,
    pub status: Status,
}

pub(crate) struct FrameworkOutcome<'a> {
    pub framework: &'a Framework,
    pub requirements: Vec<RequirementOutcome<'a>>,
}

impl FrameworkOutcome<'_> {
    /// Requirements per status, every status listed.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        Status::ALL.iter().map(|s| (*s, self.requirements.iter().filter(|r| r.status == *s).count())).collect()
    }
}

pub(crate) fn outcomes<'a>(frameworks: &'a [Framework], evaluations: &'a [Evaluation]) -> Vec<FrameworkOutcome<'a>> {
    let catalog: Vec<Control> = evaluations.iter().map(|e| e.control.clone()).collect();
    let verdicts: Vec<Verdict> = evaluations.iter().map(|e| e.verdict.clone()).collect();
    frameworks
        .iter()
        .map(|framework| {
            let requirements = framework
                .requirement_status(&catalog, &verdicts)
                .into_iter()
                .map(|(requirement, controls, worst)| {
                    let evaluations: Vec<&Evaluation> = evaluations.iter().filter(|e| controls.contains(&e.control.id.as_str())).collect();
                    let excepted = evaluations.iter().any(|e| e.verdict.counts.contains_key("excepted"));
                    let status = match worst.as_str() {
                        "manual" => Status::Manual,
                        "not_covered" => Status::NotCovered,
                        "alarm" | "error" => Status::NotSatisfied,
                        "insufficient_evidence" => Status::InsufficientEvidence,
                        _ if excepted => Status::Excepted,
                        _ => Status::Satisfied,
                    };
                    RequirementOutcome { requirement, evaluations, status }
                })
                .collect();
            FrameworkOutcome { framework, requirements }
        })
        .collect()
}
