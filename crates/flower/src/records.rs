//! Flower's `ConfigRecord` and `MetricRecord` as ordered key/value lists.

use crate::proto;
use crate::proto::{config_record_value::Value as CV, metric_record_value::Value as MV};

/// One value of a Flower `ConfigRecord`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// Python `float`.
    Double(f64),
    /// Python `int` (signed 64-bit).
    Int(i64),
    /// Python `int` above `i64::MAX`.
    Uint(u64),
    /// Python `bool`.
    Bool(bool),
    /// Python `str`.
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// `list[float]`.
    DoubleList(Vec<f64>),
    /// `list[int]`.
    IntList(Vec<i64>),
    /// `list[int]` with a value above `i64::MAX`.
    UintList(Vec<u64>),
    /// `list[bool]`.
    BoolList(Vec<bool>),
    /// `list[str]`.
    StrList(Vec<String>),
    /// `list[bytes]`.
    BytesList(Vec<Vec<u8>>),
}

/// One value of a Flower `MetricRecord`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// Python `float`.
    Double(f64),
    /// Python `int` (signed 64-bit).
    Int(i64),
    /// Python `int` above `i64::MAX`.
    Uint(u64),
    /// `list[float]`.
    DoubleList(Vec<f64>),
    /// `list[int]`.
    IntList(Vec<i64>),
    /// `list[int]` with a value above `i64::MAX`.
    UintList(Vec<u64>),
}

/// A Flower `ConfigRecord`: the configuration the ServerApp sends with a message (FedAvg adds
/// `server-round`). Keys keep their order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    items: Vec<(String, ConfigValue)>,
}

impl Config {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (replacing an earlier value, keeping its position).
    pub fn insert(&mut self, key: impl Into<String>, value: ConfigValue) {
        let key = key.into();
        match self.items.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.items.push((key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A number as f64 (`Double`, `Int` or `Uint`).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            ConfigValue::Double(v) => Some(*v),
            ConfigValue::Int(v) => Some(*v as f64),
            ConfigValue::Uint(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// An integer (`Int`, or `Uint` that fits).
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            ConfigValue::Int(v) => Some(*v),
            ConfigValue::Uint(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// A string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            ConfigValue::Str(v) => Some(v),
            _ => None,
        }
    }

    /// A boolean.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            ConfigValue::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ConfigValue)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn to_proto(&self) -> proto::ConfigRecord {
        let items = self
            .items
            .iter()
            .map(|(k, v)| proto::ConfigRecordItem {
                key: k.clone(),
                value: Some(proto::ConfigRecordValue {
                    value: Some(match v.clone() {
                        ConfigValue::Double(x) => CV::Double(x),
                        ConfigValue::Int(x) => CV::Sint64(x),
                        ConfigValue::Uint(x) => CV::Uint64(x),
                        ConfigValue::Bool(x) => CV::Bool(x),
                        ConfigValue::Str(x) => CV::String(x),
                        ConfigValue::Bytes(x) => CV::Bytes(x),
                        ConfigValue::DoubleList(vals) => CV::DoubleList(proto::DoubleList { vals }),
                        ConfigValue::IntList(vals) => CV::SintList(proto::SintList { vals }),
                        ConfigValue::UintList(vals) => CV::UintList(proto::UintList { vals }),
                        ConfigValue::BoolList(vals) => CV::BoolList(proto::BoolList { vals }),
                        ConfigValue::StrList(vals) => CV::StringList(proto::StringList { vals }),
                        ConfigValue::BytesList(vals) => CV::BytesList(proto::BytesList { vals }),
                    }),
                }),
            })
            .collect();
        proto::ConfigRecord { items }
    }

    pub(crate) fn from_proto(p: proto::ConfigRecord) -> Self {
        let mut out = Config::new();
        for item in p.items {
            let Some(value) = item.value.and_then(|v| v.value) else {
                continue;
            };
            let v = match value {
                CV::Double(x) => ConfigValue::Double(x),
                CV::Sint64(x) => ConfigValue::Int(x),
                CV::Uint64(x) => ConfigValue::Uint(x),
                CV::Bool(x) => ConfigValue::Bool(x),
                CV::String(x) => ConfigValue::Str(x),
                CV::Bytes(x) => ConfigValue::Bytes(x),
                CV::DoubleList(l) => ConfigValue::DoubleList(l.vals),
                CV::SintList(l) => ConfigValue::IntList(l.vals),
                CV::UintList(l) => ConfigValue::UintList(l.vals),
                CV::BoolList(l) => ConfigValue::BoolList(l.vals),
                CV::StringList(l) => ConfigValue::StrList(l.vals),
                CV::BytesList(l) => ConfigValue::BytesList(l.vals),
            };
            out.insert(item.key, v);
        }
        out
    }
}

/// A Flower `MetricRecord`: what a station reports besides its arrays. Keys keep their order.
/// The node adds `num-examples` (the weight FedAvg averages with) itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    items: Vec<(String, MetricValue)>,
}

impl Metrics {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (replacing an earlier value, keeping its position).
    pub fn insert(&mut self, key: impl Into<String>, value: MetricValue) {
        let key = key.into();
        match self.items.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.items.push((key, value)),
        }
    }

    /// Sets a float metric; returns `self` for chaining.
    pub fn with_f64(mut self, key: impl Into<String>, value: f64) -> Self {
        self.insert(key, MetricValue::Double(value));
        self
    }

    /// Sets an integer metric; returns `self` for chaining.
    pub fn with_i64(mut self, key: impl Into<String>, value: i64) -> Self {
        self.insert(key, MetricValue::Int(value));
        self
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&MetricValue> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A number as f64.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            MetricValue::Double(v) => Some(*v),
            MetricValue::Int(v) => Some(*v as f64),
            MetricValue::Uint(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetricValue)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn to_proto(&self) -> proto::MetricRecord {
        let items = self
            .items
            .iter()
            .map(|(k, v)| proto::MetricRecordItem {
                key: k.clone(),
                value: Some(proto::MetricRecordValue {
                    value: Some(match v.clone() {
                        MetricValue::Double(x) => MV::Double(x),
                        MetricValue::Int(x) => MV::Sint64(x),
                        MetricValue::Uint(x) => MV::Uint64(x),
                        MetricValue::DoubleList(vals) => MV::DoubleList(proto::DoubleList { vals }),
                        MetricValue::IntList(vals) => MV::SintList(proto::SintList { vals }),
                        MetricValue::UintList(vals) => MV::UintList(proto::UintList { vals }),
                    }),
                }),
            })
            .collect();
        proto::MetricRecord { items }
    }

    pub(crate) fn from_proto(p: proto::MetricRecord) -> Self {
        let mut out = Metrics::new();
        for item in p.items {
            let Some(value) = item.value.and_then(|v| v.value) else {
                continue;
            };
            let v = match value {
                MV::Double(x) => MetricValue::Double(x),
                MV::Sint64(x) => MetricValue::Int(x),
                MV::Uint64(x) => MetricValue::Uint(x),
                MV::DoubleList(l) => MetricValue::DoubleList(l.vals),
                MV::SintList(l) => MetricValue::IntList(l.vals),
                MV::UintList(l) => MetricValue::UintList(l.vals),
            };
            out.insert(item.key, v);
        }
        out
    }
}
