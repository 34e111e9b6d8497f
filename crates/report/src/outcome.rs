//! Per framework requirement, the outcome a compliance officer reads
//! ([`RequirementStatus`], the rule `keytrail evaluate --framework` uses too) with the
//! evaluations behind it.

use keytrail_query::controls::{Control, Evaluation, Framework, Requirement, Verdict};
pub(crate) use keytrail_query::outcome::RequirementStatus as Status;

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
                .map(|(requirement, controls, status)| {
                    let evaluations: Vec<&Evaluation> = evaluations.iter().filter(|e| controls.contains(&e.control.id.as_str())).collect();
                    RequirementOutcome { requirement, evaluations, status }
                })
                .collect();
            FrameworkOutcome { framework, requirements }
        })
        .collect()
}
