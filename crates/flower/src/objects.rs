//! Flower's content-addressed objects ("inflatable objects", `flwr/supercore/inflatable`).
//!
//! Every object is `"<Type> <comma-separated child ids> <body length>\0<body>"` and its id is the
//! SHA-256 hex digest of those bytes. A `Message` object's body is the protobuf `Message` without
//! its content and without its own id; its only child is a `RecordDict`, whose body is the JSON
//! map `record name -> record id`. An `ArrayRecord` body is the JSON map `array name -> array id`;
//! an `Array` body is the JSON `{"dtype", "shape", "stype", "arraychunk_ids"}` (indices into the
//! head's child list); an `ArrayChunk` body is a slice (at most 5 MiB) of the `.npy` bytes.
//! `ConfigRecord` and `MetricRecord` bodies are their protobuf. Child lists hold unique ids in
//! first-appearance order (Python builds them from dicts keyed by id).

use std::collections::HashMap;

use prost::Message as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::FlowerError;
use crate::npy::NdArray;
use crate::proto;
use crate::records::{Config, Metrics};

/// Flower's default maximum `ArrayChunk` size (`FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE`, 5 MiB).
pub const MAX_ARRAY_CHUNK_SIZE: usize = 5 * 1024 * 1024;

/// The `stype` of arrays serialised with `np.save`.
pub const STYPE_NUMPY: &str = "numpy.ndarray";

/// One record of a [`RecordDict`].
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An `ArrayRecord`: named arrays in order.
    Arrays(Vec<(String, NdArray)>),
    /// A `ConfigRecord`.
    Config(Config),
    /// A `MetricRecord`.
    Metrics(Metrics),
}

/// Flower's `RecordDict`: the content of a message, named records in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordDict {
    /// Records in order.
    pub items: Vec<(String, Record)>,
}

impl RecordDict {
    /// The first `ArrayRecord` (name and arrays).
    pub fn first_arrays(&self) -> Option<(&str, &[(String, NdArray)])> {
        self.items.iter().find_map(|(k, r)| match r {
            Record::Arrays(a) => Some((k.as_str(), a.as_slice())),
            _ => None,
        })
    }

    /// The first `ConfigRecord`.
    pub fn first_config(&self) -> Option<&Config> {
        self.items.iter().find_map(|(_, r)| match r {
            Record::Config(c) => Some(c),
            _ => None,
        })
    }
}

/// SHA-256 hex of an object's bytes: its Flower object id.
pub fn object_id(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `id` looks like an object id (64 hex digits).
pub fn is_object_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Assembles an object's bytes from its type, child ids and body.
pub fn make_object(type_name: &str, children: &[String], body: &[u8]) -> Vec<u8> {
    let head = format!("{} {} {}", type_name, children.join(","), body.len());
    let mut out = Vec::with_capacity(head.len() + 1 + body.len());
    out.extend_from_slice(head.as_bytes());
    out.push(0);
    out.extend_from_slice(body);
    out
}

/// The parts of an object: type, child ids, body. Checks the declared body length.
pub fn split_object(content: &[u8]) -> Result<(&str, Vec<&str>, &[u8]), FlowerError> {
    let bad = |why: &str| FlowerError::Protocol(format!("malformed object: {why}"));
    let nul = content
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("no head/body divider"))?;
    let head = std::str::from_utf8(&content[..nul]).map_err(|_| bad("head is not UTF-8"))?;
    let mut parts = head.split(' ');
    let (Some(ty), Some(children), Some(len), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("head must have three parts"));
    };
    let body = &content[nul + 1..];
    let len: usize = len
        .parse()
        .map_err(|_| bad("body length is not a number"))?;
    if len != body.len() {
        return Err(bad("body length differs from the head"));
    }
    let children: Vec<&str> = if children.is_empty() {
        Vec::new()
    } else {
        children.split(',').collect()
    };
    if children.iter().any(|c| !is_object_id(c)) {
        return Err(bad("child id is not a SHA-256 hex digest"));
    }
    Ok((ty, children, body))
}

/// An encoded object with its encoded children (unique, in first-appearance order).
#[derive(Debug, Clone)]
pub struct Built {
    /// Object id.
    pub id: String,
    /// Object bytes.
    pub content: Vec<u8>,
    /// Children.
    pub children: Vec<Built>,
}

impl Built {
    fn new(type_name: &str, children: Vec<Built>, body: &[u8]) -> Built {
        let ids: Vec<String> = children.iter().map(|c| c.id.clone()).collect();
        let content = make_object(type_name, &ids, body);
        Built {
            id: object_id(&content),
            content,
            children,
        }
    }

    /// The object tree Flower expects next to a pushed message.
    pub fn tree(&self) -> proto::ObjectTree {
        proto::ObjectTree {
            object_id: self.id.clone(),
            children: self.children.iter().map(Built::tree).collect(),
        }
    }

    /// Visits objects in post-order (children before parents), as Flower pushes them.
    pub fn post_order<'a>(&'a self, out: &mut Vec<&'a Built>) {
        for c in &self.children {
            c.post_order(out);
        }
        out.push(self);
    }

    /// Total bytes of this object and its descendants.
    pub fn total_bytes(&self) -> usize {
        self.content.len() + self.children.iter().map(Built::total_bytes).sum::<usize>()
    }
}

fn dedup(children: Vec<Built>) -> Vec<Built> {
    let mut seen = std::collections::HashSet::new();
    children
        .into_iter()
        .filter(|c| seen.insert(c.id.clone()))
        .collect()
}

/// JSON map written the way Python's `json.dumps` writes it (`{"a": "x", "b": "y"}`).
fn json_map<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&json_str(k));
        s.push_str(": ");
        s.push_str(&json_str(v));
    }
    s.push('}');
    s
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Encodes an array as an `Array` object with its `ArrayChunk` children.
pub fn build_array(a: &NdArray, max_chunk: usize) -> Built {
    let npy = a.to_npy();
    let max_chunk = max_chunk.max(1);
    let mut chunks: Vec<Built> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    for piece in npy.chunks(max_chunk) {
        let c = Built::new("ArrayChunk", Vec::new(), piece);
        order.push(c.id.clone());
        chunks.push(c);
    }
    let children = dedup(chunks);
    let indices: Vec<String> = order
        .iter()
        .map(|id| {
            children
                .iter()
                .position(|c| &c.id == id)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let shape: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let body = format!(
        "{{\"dtype\": {}, \"shape\": [{}], \"stype\": {}, \"arraychunk_ids\": [{}]}}",
        json_str(a.dtype.name()),
        shape.join(", "),
        json_str(STYPE_NUMPY),
        indices.join(", ")
    );
    Built::new("Array", children, body.as_bytes())
}

/// Encodes a record.
pub fn build_record(record: &Record, max_chunk: usize) -> Built {
    match record {
        Record::Arrays(arrays) => {
            let built: Vec<Built> = arrays
                .iter()
                .map(|(_, a)| build_array(a, max_chunk))
                .collect();
            let body = json_map(
                arrays
                    .iter()
                    .zip(&built)
                    .map(|((name, _), b)| (name.as_str(), b.id.as_str())),
            );
            Built::new("ArrayRecord", dedup(built), body.as_bytes())
        }
        Record::Config(c) => Built::new("ConfigRecord", Vec::new(), &c.to_proto().encode_to_vec()),
        Record::Metrics(m) => Built::new("MetricRecord", Vec::new(), &m.to_proto().encode_to_vec()),
    }
}

/// Encodes a `RecordDict`.
pub fn build_record_dict(rd: &RecordDict, max_chunk: usize) -> Built {
    let built: Vec<Built> = rd
        .items
        .iter()
        .map(|(_, r)| build_record(r, max_chunk))
        .collect();
    let body = json_map(
        rd.items
            .iter()
            .zip(&built)
            .map(|((name, _), b)| (name.as_str(), b.id.as_str())),
    );
    Built::new("RecordDict", dedup(built), body.as_bytes())
}

/// Encodes a `Message` object. `metadata.message_id` is cleared in the body (Flower leaves a
/// message's own id out of it); the returned object's id is the message id.
pub fn build_message(
    metadata: &proto::Metadata,
    content: Option<&RecordDict>,
    error: Option<&proto::Error>,
    max_chunk: usize,
) -> Built {
    let mut md = metadata.clone();
    md.message_id.clear();
    let body = proto::Message {
        metadata: Some(md),
        content: None,
        error: error.cloned(),
    }
    .encode_to_vec();
    let children = match (content, error) {
        (Some(rd), None) => vec![build_record_dict(rd, max_chunk)],
        _ => Vec::new(),
    };
    Built::new("Message", children, &body)
}

/// Keys in JSON order (serde_json's map would sort them).
struct OrderedStrMap(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedStrMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedStrMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedStrMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct ArrayMeta {
    dtype: String,
    shape: Vec<usize>,
    stype: String,
    arraychunk_ids: Vec<usize>,
}

/// A decoded message: metadata plus content or error.
#[derive(Debug, Clone)]
pub struct DecodedMessage {
    /// Metadata from the object body (its `message_id` is empty there; the caller sets it).
    pub metadata: proto::Metadata,
    /// Content, when the message carries no error.
    pub content: Option<RecordDict>,
    /// Error, when the message carries one.
    pub error: Option<proto::Error>,
}

/// Decodes objects fetched by id.
pub struct Inflater<'a> {
    objects: &'a HashMap<String, Vec<u8>>,
}

impl<'a> Inflater<'a> {
    /// Wraps a map id -> object bytes.
    pub fn new(objects: &'a HashMap<String, Vec<u8>>) -> Self {
        Inflater { objects }
    }

    fn get(&self, id: &str, expect: &str) -> Result<(Vec<&'a str>, &'a [u8]), FlowerError> {
        let content = self
            .objects
            .get(id)
            .ok_or_else(|| FlowerError::Protocol(format!("object {id} was not received")))?;
        let (ty, children, body) = split_object(content)?;
        if ty != expect {
            return Err(FlowerError::Protocol(format!(
                "object {id} is a {ty}, expected {expect}"
            )));
        }
        Ok((children, body))
    }

    /// Decodes a `Message` object and its content.
    pub fn message(&self, id: &str) -> Result<DecodedMessage, FlowerError> {
        let (children, body) = self.get(id, "Message")?;
        let msg = proto::Message::decode(body)
            .map_err(|e| FlowerError::Protocol(format!("Message body: {e}")))?;
        let metadata = msg
            .metadata
            .ok_or_else(|| FlowerError::Protocol("Message without metadata".into()))?;
        if let Some(error) = msg.error {
            return Ok(DecodedMessage {
                metadata,
                content: None,
                error: Some(error),
            });
        }
        let rd_id = children
            .first()
            .ok_or_else(|| FlowerError::Protocol("Message has neither content nor error".into()))?;
        Ok(DecodedMessage {
            metadata,
            content: Some(self.record_dict(rd_id)?),
            error: None,
        })
    }

    /// Decodes a `RecordDict` object.
    pub fn record_dict(&self, id: &str) -> Result<RecordDict, FlowerError> {
        let (_, body) = self.get(id, "RecordDict")?;
        let refs: OrderedStrMap = serde_json::from_slice(body)
            .map_err(|e| FlowerError::Protocol(format!("RecordDict body: {e}")))?;
        let mut items = Vec::with_capacity(refs.0.len());
        for (name, rid) in refs.0 {
            let content = self
                .objects
                .get(&rid)
                .ok_or_else(|| FlowerError::Protocol(format!("record {rid} was not received")))?;
            let (ty, _, _) = split_object(content)?;
            let record = match ty {
                "ArrayRecord" => Record::Arrays(self.array_record(&rid)?),
                "ConfigRecord" => {
                    let (_, body) = self.get(&rid, "ConfigRecord")?;
                    Record::Config(Config::from_proto(
                        proto::ConfigRecord::decode(body)
                            .map_err(|e| FlowerError::Protocol(format!("ConfigRecord: {e}")))?,
                    ))
                }
                "MetricRecord" => {
                    let (_, body) = self.get(&rid, "MetricRecord")?;
                    Record::Metrics(Metrics::from_proto(
                        proto::MetricRecord::decode(body)
                            .map_err(|e| FlowerError::Protocol(format!("MetricRecord: {e}")))?,
                    ))
                }
                other => {
                    return Err(FlowerError::Protocol(format!(
                        "unsupported record type {other}"
                    )));
                }
            };
            items.push((name, record));
        }
        Ok(RecordDict { items })
    }

    /// Decodes an `ArrayRecord` object.
    pub fn array_record(&self, id: &str) -> Result<Vec<(String, NdArray)>, FlowerError> {
        let (_, body) = self.get(id, "ArrayRecord")?;
        let refs: OrderedStrMap = serde_json::from_slice(body)
            .map_err(|e| FlowerError::Protocol(format!("ArrayRecord body: {e}")))?;
        refs.0
            .into_iter()
            .map(|(name, aid)| Ok((name, self.array(&aid)?)))
            .collect()
    }

    /// Decodes an `Array` object from its chunks.
    pub fn array(&self, id: &str) -> Result<NdArray, FlowerError> {
        let (children, body) = self.get(id, "Array")?;
        let meta: ArrayMeta = serde_json::from_slice(body)
            .map_err(|e| FlowerError::Protocol(format!("Array body: {e}")))?;
        if meta.stype != STYPE_NUMPY {
            return Err(FlowerError::Protocol(format!(
                "array {id} has stype {:?}; only {STYPE_NUMPY:?} is supported",
                meta.stype
            )));
        }
        let mut npy = Vec::new();
        for &i in &meta.arraychunk_ids {
            let cid = children.get(i).ok_or_else(|| {
                FlowerError::Protocol(format!("array {id}: chunk index {i} out of range"))
            })?;
            let (_, chunk) = self.get(cid, "ArrayChunk")?;
            npy.extend_from_slice(chunk);
        }
        let a = NdArray::from_npy(&npy)?;
        if a.shape != meta.shape || a.dtype.name() != meta.dtype {
            return Err(FlowerError::Protocol(format!(
                "array {id}: header says {} {:?}, data holds {} {:?}",
                meta.dtype,
                meta.shape,
                a.dtype.name(),
                a.shape
            )));
        }
        Ok(a)
    }
}

/// Every object id of a tree in post-order (children first), as Flower pulls them.
pub fn tree_ids_post_order(tree: &proto::ObjectTree, out: &mut Vec<String>) {
    for c in &tree.children {
        tree_ids_post_order(c, out);
    }
    out.push(tree.object_id.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ConfigValue, MetricValue};

    fn sample() -> RecordDict {
        let mut cfg = Config::new();
        cfg.insert("lr", ConfigValue::Double(0.5));
        cfg.insert("server-round", ConfigValue::Int(1));
        cfg.insert("name", ConfigValue::Str("é\"x".into()));
        RecordDict {
            items: vec![
                (
                    "arrays".into(),
                    Record::Arrays(vec![
                        (
                            "w".into(),
                            NdArray::from_f32(vec![3], &[1.0, 2.0, 3.0]).unwrap(),
                        ),
                        (
                            "b".into(),
                            NdArray::from_f64(vec![2, 1], &[0.5, -0.5]).unwrap(),
                        ),
                        (
                            "w_copy".into(),
                            NdArray::from_f32(vec![3], &[1.0, 2.0, 3.0]).unwrap(),
                        ),
                    ]),
                ),
                ("config".into(), Record::Config(cfg)),
                (
                    "metrics".into(),
                    Record::Metrics(
                        Metrics::new()
                            .with_i64("num-examples", 10)
                            .with_f64("loss", 0.25),
                    ),
                ),
            ],
        }
    }

    #[test]
    fn object_format_and_id() {
        let obj = make_object("ArrayChunk", &[], b"abc");
        assert_eq!(obj, b"ArrayChunk  3\0abc");
        assert_eq!(
            object_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let (ty, ch, body) = split_object(&obj).unwrap();
        assert_eq!((ty, ch.len(), body), ("ArrayChunk", 0, &b"abc"[..]));
        assert!(split_object(b"ArrayChunk  4\0abc").is_err());
        assert!(split_object(b"no divider").is_err());
        assert!(split_object(b"Array xyz 0\0").is_err());
    }

    #[test]
    fn record_dict_round_trip_with_dedup_and_chunks() {
        let rd = sample();
        // Tiny chunks force several chunks per array, some identical.
        let built = build_record_dict(&rd, 16);
        let mut all = Vec::new();
        built.post_order(&mut all);
        let objects: HashMap<String, Vec<u8>> = all
            .iter()
            .map(|b| (b.id.clone(), b.content.clone()))
            .collect();
        for b in &all {
            assert_eq!(object_id(&b.content), b.id);
            let ids: Vec<&str> = b.children.iter().map(|c| c.id.as_str()).collect();
            let uniq: std::collections::HashSet<_> = ids.iter().collect();
            assert_eq!(uniq.len(), ids.len(), "children must be unique");
        }
        let back = Inflater::new(&objects).record_dict(&built.id).unwrap();
        assert_eq!(back, rd);
        // The two identical arrays are a single child of the ArrayRecord.
        assert_eq!(built.children[0].children.len(), 2);
        let tree = built.tree();
        let mut ids = Vec::new();
        tree_ids_post_order(&tree, &mut ids);
        assert_eq!(ids.last().unwrap(), &built.id);
    }

    #[test]
    fn message_round_trip() {
        let md = proto::Metadata {
            run_id: 7,
            message_id: "ignored".into(),
            src_node_id: 5,
            dst_node_id: 1,
            reply_to_message_id: "a".repeat(64),
            group_id: "1".into(),
            ttl: 100.0,
            message_type: "train".into(),
            created_at: 1.8e9,
            src_task_id: None,
            dst_task_id: Some(3),
        };
        let rd = sample();
        let built = build_message(&md, Some(&rd), None, MAX_ARRAY_CHUNK_SIZE);
        let mut all = Vec::new();
        built.post_order(&mut all);
        let objects: HashMap<String, Vec<u8>> = all
            .iter()
            .map(|b| (b.id.clone(), b.content.clone()))
            .collect();
        let dec = Inflater::new(&objects).message(&built.id).unwrap();
        assert_eq!(dec.metadata.message_id, "");
        assert_eq!(dec.metadata.dst_task_id, Some(3));
        assert_eq!(dec.content.unwrap(), rd);
        let err = proto::Error {
            code: 2,
            reason: "boom".into(),
        };
        let built = build_message(&md, None, Some(&err), MAX_ARRAY_CHUNK_SIZE);
        assert!(built.children.is_empty());
        let objects: HashMap<String, Vec<u8>> = [(built.id.clone(), built.content.clone())].into();
        let dec = Inflater::new(&objects).message(&built.id).unwrap();
        assert_eq!(dec.error.unwrap().reason, "boom");
    }

    #[test]
    fn json_like_python() {
        assert_eq!(
            json_map([("a", "x"), ("é", "y")].into_iter()),
            "{\"a\": \"x\", \"\\u00e9\": \"y\"}"
        );
        let m = Metrics::new().with_i64("n", 3);
        assert_eq!(m.get("n"), Some(&MetricValue::Int(3)));
    }

    #[test]
    fn mismatched_objects_are_refused() {
        let a = NdArray::from_f32(vec![2], &[1.0, 2.0]).unwrap();
        let built = build_array(&a, MAX_ARRAY_CHUNK_SIZE);
        let mut objects: HashMap<String, Vec<u8>> = HashMap::new();
        objects.insert(built.id.clone(), built.content.clone());
        // Chunk missing.
        assert!(Inflater::new(&objects).array(&built.id).is_err());
        objects.insert(
            built.children[0].id.clone(),
            built.children[0].content.clone(),
        );
        assert_eq!(Inflater::new(&objects).array(&built.id).unwrap(), a);
        // Wrong type requested.
        assert!(Inflater::new(&objects).record_dict(&built.id).is_err());
    }
    #[test]
    fn objects_match_flwr() {
        // fixtures/flower/object_ids.py computed these ids with flwr itself.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/flower/object_ids.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let want: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = |k: &str| want[k].as_str().unwrap().to_string();
        let a32 = NdArray::from_f32(vec![2, 3], &[0.0, 1.5, -2.0, 3.25, 4.0, 5.0]).unwrap();
        let a64 = NdArray::from_f64(vec![], &[7.0]).unwrap();
        let ai = NdArray::from_i64(vec![4], &[0, 1, 2, 3]).unwrap();
        assert_eq!(build_array(&a32, MAX_ARRAY_CHUNK_SIZE).id, id("array_w"));
        assert_eq!(build_array(&a64, MAX_ARRAY_CHUNK_SIZE).id, id("array_b"));
        assert_eq!(build_array(&ai, MAX_ARRAY_CHUNK_SIZE).id, id("array_i"));
        let arrays = Record::Arrays(vec![
            ("w".into(), a32.clone()),
            ("b".into(), a64),
            ("i".into(), ai),
            ("w2".into(), a32),
        ]);
        assert_eq!(
            build_record(&arrays, MAX_ARRAY_CHUNK_SIZE).id,
            id("array_record")
        );
        let mut cfg = Config::new();
        cfg.insert("lr", ConfigValue::Double(0.5));
        cfg.insert("server-round", ConfigValue::Int(1));
        cfg.insert("name", ConfigValue::Str("x".into()));
        cfg.insert("flag", ConfigValue::Bool(true));
        cfg.insert("ls", ConfigValue::DoubleList(vec![1.0, 2.0]));
        let cfg = Record::Config(cfg);
        assert_eq!(
            build_record(&cfg, MAX_ARRAY_CHUNK_SIZE).id,
            id("config_record")
        );
        let mut metrics = Metrics::new()
            .with_i64("num-examples", 10)
            .with_f64("loss", 0.25);
        metrics.insert("big", MetricValue::Uint((1u64 << 63) + 1));
        let metrics = Record::Metrics(metrics);
        assert_eq!(
            build_record(&metrics, MAX_ARRAY_CHUNK_SIZE).id,
            id("metric_record")
        );
        let rd = RecordDict {
            items: vec![
                ("arrays".into(), arrays),
                ("config".into(), cfg),
                ("metrics".into(), metrics),
            ],
        };
        assert_eq!(
            build_record_dict(&rd, MAX_ARRAY_CHUNK_SIZE).id,
            id("record_dict")
        );
        let md = proto::Metadata {
            run_id: 7,
            message_id: String::new(),
            src_node_id: 5,
            dst_node_id: 1,
            reply_to_message_id: "a".repeat(64),
            group_id: "1".into(),
            ttl: 100.0,
            message_type: "train".into(),
            created_at: 1.8e9,
            src_task_id: None,
            dst_task_id: Some(3),
        };
        let msg = build_message(&md, Some(&rd), None, MAX_ARRAY_CHUNK_SIZE);
        assert_eq!(msg.id, id("message"));
        let mut all: Vec<&Built> = Vec::new();
        msg.post_order(&mut all);
        let mut ids: Vec<String> = all.iter().map(|b| b.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let want_ids: Vec<String> = want["message_objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, want_ids);
    }
}
