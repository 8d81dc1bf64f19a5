//! The sections a chunk of a `.baler` file holds, as a type: the container stores each under
//! its name, and this is the one place those names are spelled. Some are written only by
//! earlier versions of balerc and are kept so that their files still decode.

/// A section of a chunk, by what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionName {
    /// Each latent dimension's (min, max), as f64, f32 or f16: the narrowest that holds them.
    LatentRange,
    LatentRange32,
    LatentRange16,
    /// The latent codes, entropy coded.
    LatentCodes,
    /// The latent codes in byte planes, as balerc wrote them before it entropy coded them.
    LatentPlanes,
    /// How each feature's residuals are predicted.
    ResidualPlan,
    /// Residual codes entropy coded with one model per feature, in four interleaved states.
    ResidualPerFeatureInLanes,
    /// Residual codes entropy coded with one model per feature in one state, as balerc wrote
    /// them before it interleaved states.
    ResidualPerFeature,
    /// A field's residual codes in static models per neighbourhood context.
    ResidualInContexts,
    /// A field's residual codes in adaptive models per neighbourhood context.
    ResidualAdaptive,
    /// Residual codes as zigzag varints, as balerc wrote them before it entropy coded them.
    ResidualVarints,
    /// Values the residuals could not bring within the bound: their indices and exact values.
    OutlierIndex,
    OutlierValue,
    /// Samples the latent density flagged, stored in full: their indices and values.
    FlaggedIndex,
    FlaggedValue,
    /// Columns stored exactly.
    Lossless,
}

impl SectionName {
    pub const ALL: [SectionName; 16] = [
        SectionName::LatentRange,
        SectionName::LatentRange32,
        SectionName::LatentRange16,
        SectionName::LatentCodes,
        SectionName::LatentPlanes,
        SectionName::ResidualPlan,
        SectionName::ResidualPerFeatureInLanes,
        SectionName::ResidualPerFeature,
        SectionName::ResidualInContexts,
        SectionName::ResidualAdaptive,
        SectionName::ResidualVarints,
        SectionName::OutlierIndex,
        SectionName::OutlierValue,
        SectionName::FlaggedIndex,
        SectionName::FlaggedValue,
        SectionName::Lossless,
    ];

    /// The name the container stores the section under.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionName::LatentRange => "latent_range",
            SectionName::LatentRange32 => "latent_range32",
            SectionName::LatentRange16 => "latent_range16",
            SectionName::LatentCodes => "latent_ans",
            SectionName::LatentPlanes => "latent",
            SectionName::ResidualPlan => "residual_plan",
            SectionName::ResidualPerFeatureInLanes => "residual_ans4",
            SectionName::ResidualPerFeature => "residual_ans",
            SectionName::ResidualInContexts => "residual_ctx",
            SectionName::ResidualAdaptive => "residual_adaptive",
            SectionName::ResidualVarints => "residual",
            SectionName::OutlierIndex => "outlier_index",
            SectionName::OutlierValue => "outlier_value",
            SectionName::FlaggedIndex => "flagged_index",
            SectionName::FlaggedValue => "flagged_value",
            SectionName::Lossless => "lossless",
        }
    }

    pub fn parse(name: &str) -> Option<SectionName> {
        SectionName::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Writers leave these out when they are empty; readers take a missing one as empty.
    pub fn is_optional(self) -> bool {
        matches!(
            self,
            SectionName::OutlierIndex
                | SectionName::OutlierValue
                | SectionName::Lossless
                | SectionName::FlaggedIndex
                | SectionName::FlaggedValue
        )
    }

    /// Read, but no longer written: the layouts of earlier versions.
    pub fn is_earlier_layout(self) -> bool {
        matches!(self, SectionName::LatentPlanes | SectionName::ResidualVarints | SectionName::ResidualPerFeature)
    }
}

impl std::fmt::Display for SectionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_spelled_once_and_reads_back() {
        let mut names: Vec<&str> = SectionName::ALL.iter().map(|s| s.as_str()).collect();
        for section in SectionName::ALL {
            assert_eq!(SectionName::parse(section.as_str()), Some(section));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SectionName::ALL.len());
        assert_eq!(SectionName::parse("latent_ans "), None);
    }
}
