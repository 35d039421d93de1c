//! The LIDC-IDRI reading XML (`LidcReadMessage`, namespace `http://www.nih.gov`): one
//! `readingSession` per radiologist, each with `unblindedReadNodule`s (nodule id, optional
//! `characteristics` with the 1–5 `malignancy` rating, and one `roi` per slice: `imageZposition`,
//! `imageSOP_UID`, `inclusion`, and the contour as `edgeMap` pixel coordinates `xCoord`
//! (column) / `yCoord` (row)). `nonNodule` marks are not read.
//!
//! Nodules ≥ 3 mm are outlined on every slice; nodules < 3 mm get a single edge point (their
//! centre) and no characteristics. [`LidcNodule::is_outlined`] tells them apart.

use std::path::Path;

use roxmltree::{Document, Node};

use crate::error::{ImportError, Result, read_err};

/// One contour on one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcRoi {
    pub z_mm: Option<f64>,
    pub sop_uid: String,
    /// `false` marks a region cut out of the nodule (a hole).
    pub inclusion: bool,
    /// Contour pixels as (column, row).
    pub points: Vec<[i64; 2]>,
}

/// One reader's mark of one nodule.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcNodule {
    pub id: String,
    /// The reader's malignancy rating (1 highly unlikely … 5 highly suspicious), when given.
    pub malignancy: Option<u8>,
    pub rois: Vec<LidcRoi>,
}

impl LidcNodule {
    /// Whether the nodule was outlined (≥ 3 mm): some roi has a contour of at least 3 points.
    pub fn is_outlined(&self) -> bool {
        self.rois.iter().any(|r| r.points.len() >= 3)
    }
}

/// One radiologist's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcReading {
    pub reader_id: Option<String>,
    pub nodules: Vec<LidcNodule>,
}

/// A parsed LIDC XML file.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcAnnotation {
    pub series_uid: Option<String>,
    pub study_uid: Option<String>,
    pub readings: Vec<LidcReading>,
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a
where
    'i: 'a,
{
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(n: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(n, name).and_then(|c| c.text()).map(str::trim)
}

/// Whether `path` holds an LIDC reading message (root element `LidcReadMessage`).
pub fn is_lidc_xml(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    Document::parse(&text)
        .map(|d| d.root_element().tag_name().name() == "LidcReadMessage")
        .unwrap_or(false)
}

/// Parses an LIDC XML file; errors name the file and the element.
pub fn parse_lidc_xml(path: &Path) -> Result<LidcAnnotation> {
    let source = std::fs::read_to_string(path).map_err(read_err(path))?;
    parse_lidc_str(&source, path)
}

/// Parses LIDC XML text; `path` names the source in errors.
pub fn parse_lidc_str(source: &str, path: &Path) -> Result<LidcAnnotation> {
    let doc = Document::parse(source)
        .map_err(|e| ImportError::format(path, format!("invalid XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "LidcReadMessage" {
        return Err(ImportError::format(
            path,
            format!(
                "root element is `{}`, expected `LidcReadMessage`",
                root.tag_name().name()
            ),
        ));
    }
    let header = child(root, "ResponseHeader");
    let series_uid = header
        .and_then(|h| text(h, "SeriesInstanceUid"))
        .map(str::to_owned);
    let study_uid = header
        .and_then(|h| text(h, "StudyInstanceUID"))
        .map(str::to_owned);
    let mut readings = Vec::new();
    for (si, session) in children(root, "readingSession").enumerate() {
        let mut nodules = Vec::new();
        for (ni, nodule) in children(session, "unblindedReadNodule").enumerate() {
            let at = format!("readingSession[{si}].unblindedReadNodule[{ni}]");
            let malignancy =
                match child(nodule, "characteristics").and_then(|c| text(c, "malignancy")) {
                    None | Some("") => None,
                    Some(v) => Some(
                        v.parse::<u8>()
                            .ok()
                            .filter(|m| (1..=5).contains(m))
                            .ok_or_else(|| {
                                ImportError::field(
                                    path,
                                    format!("{at}.characteristics.malignancy"),
                                    format!("`{v}` is not a rating 1..5"),
                                )
                            })?,
                    ),
                };
            let mut rois = Vec::new();
            for (ri, roi) in children(nodule, "roi").enumerate() {
                let rat = format!("{at}.roi[{ri}]");
                let z_mm = match text(roi, "imageZposition") {
                    None | Some("") => None,
                    Some(z) => Some(z.parse::<f64>().map_err(|_| {
                        ImportError::field(
                            path,
                            format!("{rat}.imageZposition"),
                            format!("`{z}` is not a number"),
                        )
                    })?),
                };
                let sop_uid = text(roi, "imageSOP_UID").unwrap_or("").to_owned();
                let inclusion = !matches!(
                    text(roi, "inclusion")
                        .map(str::to_ascii_uppercase)
                        .as_deref(),
                    Some("FALSE")
                );
                let mut points = Vec::new();
                for (ei, edge) in children(roi, "edgeMap").enumerate() {
                    let coord = |name: &str| -> Result<i64> {
                        let v = text(edge, name).ok_or_else(|| {
                            ImportError::field(
                                path,
                                format!("{rat}.edgeMap[{ei}].{name}"),
                                "missing",
                            )
                        })?;
                        v.parse::<i64>().map_err(|_| {
                            ImportError::field(
                                path,
                                format!("{rat}.edgeMap[{ei}].{name}"),
                                format!("`{v}` is not a pixel index"),
                            )
                        })
                    };
                    points.push([coord("xCoord")?, coord("yCoord")?]);
                }
                if sop_uid.is_empty() && z_mm.is_none() {
                    return Err(ImportError::field(
                        path,
                        rat,
                        "neither imageSOP_UID nor imageZposition: the slice is unknown",
                    ));
                }
                rois.push(LidcRoi {
                    z_mm,
                    sop_uid,
                    inclusion,
                    points,
                });
            }
            nodules.push(LidcNodule {
                id: text(nodule, "noduleID").unwrap_or("").to_owned(),
                malignancy,
                rois,
            });
        }
        readings.push(LidcReading {
            reader_id: text(session, "servicingRadiologistID").map(str::to_owned),
            nodules,
        });
    }
    Ok(LidcAnnotation {
        series_uid,
        study_uid,
        readings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LidcReadMessage xmlns="http://www.nih.gov">
  <ResponseHeader><SeriesInstanceUid>1.2.3</SeriesInstanceUid></ResponseHeader>
  <readingSession>
    <servicingRadiologistID>r1</servicingRadiologistID>
    <unblindedReadNodule>
      <noduleID>N1</noduleID>
      <characteristics><malignancy>4</malignancy></characteristics>
      <roi>
        <imageZposition>-10.5 </imageZposition><imageSOP_UID>1.2.3.4</imageSOP_UID>
        <inclusion>TRUE</inclusion>
        <edgeMap><xCoord>1</xCoord><yCoord>2</yCoord></edgeMap>
        <edgeMap><xCoord>3</xCoord><yCoord>2</yCoord></edgeMap>
        <edgeMap><xCoord>2</xCoord><yCoord>4</yCoord></edgeMap>
      </roi>
    </unblindedReadNodule>
    <unblindedReadNodule>
      <noduleID>small</noduleID>
      <roi><imageZposition>1</imageZposition><imageSOP_UID>1.2.3.5</imageSOP_UID>
        <inclusion>TRUE</inclusion><edgeMap><xCoord>7</xCoord><yCoord>7</yCoord></edgeMap></roi>
    </unblindedReadNodule>
    <nonNodule><nonNoduleID>x</nonNoduleID></nonNodule>
  </readingSession>
</LidcReadMessage>"#;

    #[test]
    fn parses_sessions_nodules_and_contours() {
        let a = parse_lidc_str(XML, Path::new("t.xml")).unwrap();
        assert_eq!(a.series_uid.as_deref(), Some("1.2.3"));
        assert_eq!(a.readings.len(), 1);
        let n = &a.readings[0].nodules;
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].malignancy, Some(4));
        assert_eq!(n[0].rois[0].z_mm, Some(-10.5));
        assert_eq!(n[0].rois[0].points, vec![[1, 2], [3, 2], [2, 4]]);
        assert!(n[0].is_outlined());
        assert!(!n[1].is_outlined());
        assert_eq!(n[1].malignancy, None);
    }

    #[test]
    fn bad_rating_names_the_element() {
        let bad = XML.replace("<malignancy>4", "<malignancy>9");
        let e = parse_lidc_str(&bad, Path::new("t.xml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.xml") && e.contains("malignancy") && e.contains('9'),
            "{e}"
        );
    }
}
