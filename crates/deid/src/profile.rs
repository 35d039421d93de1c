//! DICOM PS3.15 Annex E, Table E.1-1: the Basic Application Level Confidentiality Profile actions
//! for the attributes that identify patients, staff, institutions, devices and dates, with the
//! options oncolens applies:
//! - **Retain Patient Characteristics** (113108): sex, age, size, weight kept (models use them);
//! - **Retain Longitudinal Temporal Information with Modified Dates** (113107): dates shifted by a
//!   keyed per-patient offset instead of removed, so intervals and ages survive.
//!
//! Every private attribute and every overlay/curve group is removed as well.

use dicom_core::Tag;

/// What to do with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replace with a non-identifying value (here: the pseudonym, or a shifted date).
    D,
    /// Replace with an empty value.
    Z,
    /// Remove.
    X,
    /// Keep.
    K,
    /// Replace the UID with a keyed remapped UID.
    U,
    /// Shift the date by the patient's keyed offset (Modified Dates option).
    ShiftDate,
}

macro_rules! t {
    ($g:expr, $e:expr) => {
        Tag($g, $e)
    };
}

/// The attribute table (tag, action, keyword).
pub const BASIC_PROFILE: &[(Tag, Action, &str)] = &[
    // Patient identity.
    (t!(0x0010, 0x0010), Action::D, "PatientName"),
    (t!(0x0010, 0x0020), Action::D, "PatientID"),
    (t!(0x0010, 0x0021), Action::X, "IssuerOfPatientID"),
    (t!(0x0010, 0x0030), Action::ShiftDate, "PatientBirthDate"),
    (t!(0x0010, 0x0032), Action::X, "PatientBirthTime"),
    (t!(0x0010, 0x0040), Action::K, "PatientSex"),
    (
        t!(0x0010, 0x0050),
        Action::X,
        "PatientInsurancePlanCodeSequence",
    ),
    (
        t!(0x0010, 0x0101),
        Action::X,
        "PatientPrimaryLanguageCodeSequence",
    ),
    (t!(0x0010, 0x1000), Action::X, "OtherPatientIDs"),
    (t!(0x0010, 0x1001), Action::X, "OtherPatientNames"),
    (t!(0x0010, 0x1002), Action::X, "OtherPatientIDsSequence"),
    (t!(0x0010, 0x1005), Action::X, "PatientBirthName"),
    (t!(0x0010, 0x1010), Action::K, "PatientAge"),
    (t!(0x0010, 0x1020), Action::K, "PatientSize"),
    (t!(0x0010, 0x1030), Action::K, "PatientWeight"),
    (t!(0x0010, 0x1040), Action::X, "PatientAddress"),
    (t!(0x0010, 0x1060), Action::X, "PatientMotherBirthName"),
    (t!(0x0010, 0x1080), Action::X, "MilitaryRank"),
    (t!(0x0010, 0x1081), Action::X, "BranchOfService"),
    (t!(0x0010, 0x1090), Action::X, "MedicalRecordLocator"),
    (t!(0x0010, 0x2000), Action::X, "MedicalAlerts"),
    (t!(0x0010, 0x2110), Action::X, "Allergies"),
    (t!(0x0010, 0x2150), Action::X, "CountryOfResidence"),
    (t!(0x0010, 0x2152), Action::X, "RegionOfResidence"),
    (t!(0x0010, 0x2154), Action::X, "PatientTelephoneNumbers"),
    (t!(0x0010, 0x2160), Action::X, "EthnicGroup"),
    (t!(0x0010, 0x2180), Action::X, "Occupation"),
    (t!(0x0010, 0x21A0), Action::X, "SmokingStatus"),
    (t!(0x0010, 0x21B0), Action::X, "AdditionalPatientHistory"),
    (t!(0x0010, 0x21C0), Action::X, "PregnancyStatus"),
    (t!(0x0010, 0x21F0), Action::X, "PatientReligiousPreference"),
    (t!(0x0010, 0x4000), Action::X, "PatientComments"),
    (t!(0x0038, 0x0010), Action::X, "AdmissionID"),
    (t!(0x0038, 0x0300), Action::X, "CurrentPatientLocation"),
    (t!(0x0038, 0x0400), Action::X, "PatientInstitutionResidence"),
    (t!(0x0038, 0x0500), Action::X, "PatientState"),
    (t!(0x0038, 0x4000), Action::X, "VisitComments"),
    // Study, visit and request.
    (t!(0x0008, 0x0020), Action::ShiftDate, "StudyDate"),
    (t!(0x0008, 0x0021), Action::ShiftDate, "SeriesDate"),
    (t!(0x0008, 0x0022), Action::ShiftDate, "AcquisitionDate"),
    (t!(0x0008, 0x0023), Action::ShiftDate, "ContentDate"),
    (t!(0x0008, 0x0024), Action::X, "OverlayDate"),
    (t!(0x0008, 0x0025), Action::X, "CurveDate"),
    (t!(0x0008, 0x002A), Action::X, "AcquisitionDateTime"),
    (t!(0x0008, 0x0050), Action::Z, "AccessionNumber"),
    (t!(0x0008, 0x0201), Action::X, "TimezoneOffsetFromUTC"),
    (t!(0x0008, 0x4000), Action::X, "IdentifyingComments"),
    (t!(0x0020, 0x0010), Action::Z, "StudyID"),
    (t!(0x0032, 0x1030), Action::X, "ReasonForStudy"),
    (t!(0x0032, 0x1032), Action::X, "RequestingPhysician"),
    (
        t!(0x0032, 0x1060),
        Action::X,
        "RequestedProcedureDescription",
    ),
    (t!(0x0032, 0x4000), Action::X, "StudyComments"),
    (
        t!(0x0040, 0x0244),
        Action::X,
        "PerformedProcedureStepStartDate",
    ),
    (t!(0x0040, 0x0253), Action::X, "PerformedProcedureStepID"),
    (
        t!(0x0040, 0x0254),
        Action::X,
        "PerformedProcedureStepDescription",
    ),
    (t!(0x0040, 0x0275), Action::X, "RequestAttributesSequence"),
    (t!(0x0040, 0x1001), Action::X, "RequestedProcedureID"),
    (
        t!(0x0040, 0x2016),
        Action::Z,
        "PlacerOrderNumberImagingServiceRequest",
    ),
    (
        t!(0x0040, 0x2017),
        Action::Z,
        "FillerOrderNumberImagingServiceRequest",
    ),
    (t!(0x0040, 0xA730), Action::X, "ContentSequence"),
    (t!(0x0400, 0x0561), Action::X, "OriginalAttributesSequence"),
    (t!(0x0008, 0x1110), Action::X, "ReferencedStudySequence"),
    (
        t!(0x0008, 0x1111),
        Action::X,
        "ReferencedPerformedProcedureStepSequence",
    ),
    (t!(0x0008, 0x1120), Action::X, "ReferencedPatientSequence"),
    (
        t!(0x0008, 0x1080),
        Action::X,
        "AdmittingDiagnosesDescription",
    ),
    (
        t!(0x0008, 0x1084),
        Action::X,
        "AdmittingDiagnosesCodeSequence",
    ),
    (t!(0x0008, 0x2111), Action::X, "DerivationDescription"),
    (t!(0x0020, 0x4000), Action::X, "ImageComments"),
    (t!(0x0018, 0x4000), Action::X, "AcquisitionComments"),
    (t!(0x0018, 0x1030), Action::X, "ProtocolName"),
    (
        t!(0x0018, 0x9424),
        Action::X,
        "AcquisitionProtocolDescription",
    ),
    (t!(0x0008, 0x1030), Action::X, "StudyDescription"),
    (t!(0x0008, 0x103E), Action::X, "SeriesDescription"),
    // Staff and institution.
    (t!(0x0008, 0x0080), Action::X, "InstitutionName"),
    (t!(0x0008, 0x0081), Action::X, "InstitutionAddress"),
    (t!(0x0008, 0x0082), Action::X, "InstitutionCodeSequence"),
    (t!(0x0008, 0x0090), Action::Z, "ReferringPhysicianName"),
    (t!(0x0008, 0x0092), Action::X, "ReferringPhysicianAddress"),
    (
        t!(0x0008, 0x0094),
        Action::X,
        "ReferringPhysicianTelephoneNumbers",
    ),
    (
        t!(0x0008, 0x0096),
        Action::X,
        "ReferringPhysicianIdentificationSequence",
    ),
    (t!(0x0008, 0x009C), Action::X, "ConsultingPhysicianName"),
    (t!(0x0008, 0x1040), Action::X, "InstitutionalDepartmentName"),
    (t!(0x0008, 0x1048), Action::X, "PhysiciansOfRecord"),
    (
        t!(0x0008, 0x1049),
        Action::X,
        "PhysiciansOfRecordIdentificationSequence",
    ),
    (t!(0x0008, 0x1050), Action::X, "PerformingPhysicianName"),
    (
        t!(0x0008, 0x1052),
        Action::X,
        "PerformingPhysicianIdentificationSequence",
    ),
    (
        t!(0x0008, 0x1060),
        Action::X,
        "NameOfPhysiciansReadingStudy",
    ),
    (
        t!(0x0008, 0x1062),
        Action::X,
        "PhysiciansReadingStudyIdentificationSequence",
    ),
    (t!(0x0008, 0x1070), Action::X, "OperatorsName"),
    (
        t!(0x0008, 0x1072),
        Action::X,
        "OperatorIdentificationSequence",
    ),
    (
        t!(0x0040, 0x0006),
        Action::X,
        "ScheduledPerformingPhysicianName",
    ),
    (
        t!(0x4008, 0x0114),
        Action::X,
        "PhysicianApprovingInterpretation",
    ),
    // Device identity (Retain Device Identity is not applied).
    (t!(0x0008, 0x1010), Action::X, "StationName"),
    (t!(0x0018, 0x1000), Action::X, "DeviceSerialNumber"),
    (t!(0x0018, 0x700A), Action::X, "DetectorID"),
    (
        t!(0x0018, 0x1400),
        Action::X,
        "AcquisitionDeviceProcessingDescription",
    ),
    // UIDs.
    (t!(0x0008, 0x0014), Action::U, "InstanceCreatorUID"),
    (t!(0x0008, 0x0018), Action::U, "SOPInstanceUID"),
    (t!(0x0008, 0x1155), Action::U, "ReferencedSOPInstanceUID"),
    (t!(0x0008, 0x3010), Action::U, "IrradiationEventUID"),
    (t!(0x0018, 0x1002), Action::U, "DeviceUID"),
    (t!(0x0020, 0x000D), Action::U, "StudyInstanceUID"),
    (t!(0x0020, 0x000E), Action::U, "SeriesInstanceUID"),
    (t!(0x0020, 0x0052), Action::U, "FrameOfReferenceUID"),
    (
        t!(0x0020, 0x0200),
        Action::U,
        "SynchronizationFrameOfReferenceUID",
    ),
    (t!(0x0020, 0x9161), Action::U, "ConcatenationUID"),
    (t!(0x0028, 0x1199), Action::U, "PaletteColorLookupTableUID"),
    (t!(0x0040, 0xA124), Action::U, "UID"),
    (t!(0x0088, 0x0140), Action::U, "StorageMediaFileSetUID"),
    (
        t!(0x3006, 0x0024),
        Action::U,
        "ReferencedFrameOfReferenceUID",
    ),
    (t!(0x3006, 0x00C2), Action::U, "RelatedFrameOfReferenceUID"),
];

/// The action for `tag`: the table's entry; `X` for private attributes (odd group) and overlay
/// and curve groups (50xx, 60xx); `K` otherwise.
pub fn action_for(tag: Tag) -> Action {
    if let Some((_, a, _)) = BASIC_PROFILE.iter().find(|(t, _, _)| *t == tag) {
        return *a;
    }
    let g = tag.group();
    if !g.is_multiple_of(2) || (0x5000..=0x50FF).contains(&g) || (0x6000..=0x60FF).contains(&g) {
        return Action::X;
    }
    Action::K
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicate_tags_and_private_tags_go() {
        for (i, (t, _, _)) in BASIC_PROFILE.iter().enumerate() {
            assert!(
                !BASIC_PROFILE[..i].iter().any(|(u, _, _)| u == t),
                "{t:?} twice"
            );
        }
        assert_eq!(action_for(Tag(0x0029, 0x1010)), Action::X);
        assert_eq!(action_for(Tag(0x6000, 0x3000)), Action::X);
        assert_eq!(action_for(Tag(0x0028, 0x0030)), Action::K);
        assert_eq!(action_for(Tag(0x0010, 0x0010)), Action::D);
    }
}
