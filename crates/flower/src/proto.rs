//! Protobuf messages of Flower's Fleet API, written by hand from the descriptors in the pinned
//! wheel (`flwr==1.42.0`: `flwr/proto/{fleet,message,recorddict,node,run,heartbeat,error,
//! transport}_pb2.py`; package `flwr.proto`). Only the messages a client node exchanges are here.
//! Field numbers and types are exactly those of the wheel; `fixtures/flower/dump_proto.py` prints
//! the wheel's descriptors for comparison when Flower is bumped.

use std::collections::HashMap;

/// `flwr.proto.Node`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    #[prost(uint64, tag = "1")]
    pub node_id: u64,
}

// ---- fleet.proto ----

/// `flwr.proto.RegisterNodeFleetRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegisterNodeFleetRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub public_key: Vec<u8>,
}

/// `flwr.proto.RegisterNodeFleetResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegisterNodeFleetResponse {
    #[prost(uint64, tag = "1")]
    pub node_id: u64,
}

/// `flwr.proto.ActivateNodeRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ActivateNodeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub public_key: Vec<u8>,
    #[prost(double, tag = "2")]
    pub heartbeat_interval: f64,
}

/// `flwr.proto.ActivateNodeResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ActivateNodeResponse {
    #[prost(uint64, tag = "1")]
    pub node_id: u64,
}

/// `flwr.proto.DeactivateNodeRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeactivateNodeRequest {
    #[prost(uint64, tag = "1")]
    pub node_id: u64,
}

/// `flwr.proto.DeactivateNodeResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeactivateNodeResponse {}

/// `flwr.proto.UnregisterNodeFleetRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnregisterNodeFleetRequest {
    #[prost(uint64, tag = "1")]
    pub node_id: u64,
}

/// `flwr.proto.UnregisterNodeFleetResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnregisterNodeFleetResponse {}

/// `flwr.proto.PullMessagesRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullMessagesRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(string, repeated, tag = "2")]
    pub message_ids: Vec<String>,
}

/// `flwr.proto.PullMessagesResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullMessagesResponse {
    #[prost(message, optional, tag = "1")]
    pub reconnect: Option<Reconnect>,
    #[prost(message, repeated, tag = "2")]
    pub messages_list: Vec<Message>,
    #[prost(message, repeated, tag = "3")]
    pub message_object_trees: Vec<ObjectTree>,
}

/// `flwr.proto.PushMessagesRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushMessagesRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(message, repeated, tag = "2")]
    pub messages_list: Vec<Message>,
    #[prost(message, repeated, tag = "3")]
    pub message_object_trees: Vec<ObjectTree>,
    #[prost(double, repeated, tag = "4")]
    pub clientapp_runtime_list: Vec<f64>,
}

/// `flwr.proto.PushMessagesResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushMessagesResponse {
    #[prost(message, optional, tag = "1")]
    pub reconnect: Option<Reconnect>,
    #[prost(map = "string, uint32", tag = "2")]
    pub results: HashMap<String, u32>,
    #[prost(string, repeated, tag = "3")]
    pub objects_to_push: Vec<String>,
    #[prost(string, tag = "4")]
    pub session_id: String,
}

/// `flwr.proto.Reconnect`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reconnect {
    #[prost(uint64, tag = "1")]
    pub reconnect: u64,
}

// ---- heartbeat.proto ----

/// `flwr.proto.SendNodeHeartbeatRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendNodeHeartbeatRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(double, tag = "2")]
    pub heartbeat_interval: f64,
}

/// `flwr.proto.SendNodeHeartbeatResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SendNodeHeartbeatResponse {
    #[prost(bool, tag = "1")]
    pub success: bool,
}

// ---- message.proto ----

/// `flwr.proto.Message`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<Metadata>,
    #[prost(message, optional, tag = "2")]
    pub content: Option<RecordDict>,
    #[prost(message, optional, tag = "3")]
    pub error: Option<Error>,
}

/// `flwr.proto.Metadata`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(uint64, tag = "1")]
    pub run_id: u64,
    #[prost(string, tag = "2")]
    pub message_id: String,
    #[prost(uint64, tag = "3")]
    pub src_node_id: u64,
    #[prost(uint64, tag = "4")]
    pub dst_node_id: u64,
    #[prost(string, tag = "5")]
    pub reply_to_message_id: String,
    #[prost(string, tag = "6")]
    pub group_id: String,
    #[prost(double, tag = "7")]
    pub ttl: f64,
    #[prost(string, tag = "8")]
    pub message_type: String,
    #[prost(double, tag = "9")]
    pub created_at: f64,
    #[prost(uint64, optional, tag = "10")]
    pub src_task_id: Option<u64>,
    #[prost(uint64, optional, tag = "11")]
    pub dst_task_id: Option<u64>,
}

/// `flwr.proto.ObjectTree`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectTree {
    #[prost(string, tag = "1")]
    pub object_id: String,
    #[prost(message, repeated, tag = "2")]
    pub children: Vec<ObjectTree>,
}

/// `flwr.proto.PushObjectRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushObjectRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(uint64, tag = "2")]
    pub run_id: u64,
    #[prost(string, tag = "3")]
    pub object_id: String,
    #[prost(bytes = "vec", tag = "4")]
    pub object_content: Vec<u8>,
    #[prost(string, tag = "5")]
    pub session_id: String,
}

/// `flwr.proto.PushObjectResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushObjectResponse {
    #[prost(bool, tag = "1")]
    pub stored: bool,
}

/// `flwr.proto.PullObjectRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullObjectRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(uint64, tag = "2")]
    pub run_id: u64,
    #[prost(string, tag = "3")]
    pub object_id: String,
}

/// `flwr.proto.PullObjectResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PullObjectResponse {
    #[prost(bool, tag = "1")]
    pub object_found: bool,
    #[prost(bool, tag = "2")]
    pub object_available: bool,
    #[prost(bytes = "vec", tag = "3")]
    pub object_content: Vec<u8>,
}

/// `flwr.proto.ConfirmMessageReceivedRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfirmMessageReceivedRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(uint64, tag = "2")]
    pub run_id: u64,
    #[prost(string, tag = "3")]
    pub message_object_id: String,
}

/// `flwr.proto.ConfirmMessageReceivedResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfirmMessageReceivedResponse {}

// ---- error.proto ----

/// `flwr.proto.Error`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Error {
    #[prost(sint64, tag = "1")]
    pub code: i64,
    #[prost(string, tag = "2")]
    pub reason: String,
}

// ---- run.proto / transport.proto ----

/// `flwr.proto.GetRunRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetRunRequest {
    #[prost(message, optional, tag = "1")]
    pub node: Option<Node>,
    #[prost(uint64, tag = "2")]
    pub run_id: u64,
}

/// `flwr.proto.GetRunResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetRunResponse {
    #[prost(message, optional, tag = "1")]
    pub run: Option<Run>,
}

/// `flwr.proto.Run` (the fields a node reads; unknown fields are skipped by prost).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Run {
    #[prost(uint64, tag = "1")]
    pub run_id: u64,
    #[prost(string, tag = "2")]
    pub fab_id: String,
    #[prost(string, tag = "3")]
    pub fab_version: String,
    #[prost(map = "string, message", tag = "4")]
    pub override_config: HashMap<String, Scalar>,
    #[prost(string, tag = "5")]
    pub fab_hash: String,
    #[prost(string, tag = "12")]
    pub federation: String,
}

/// `flwr.proto.Scalar`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Scalar {
    #[prost(oneof = "scalar::Scalar", tags = "1, 6, 8, 13, 14, 15")]
    pub scalar: Option<scalar::Scalar>,
}

/// Oneof of [`Scalar`].
pub mod scalar {
    /// `flwr.proto.Scalar.scalar`
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Scalar {
        #[prost(double, tag = "1")]
        Double(f64),
        #[prost(uint64, tag = "6")]
        Uint64(u64),
        #[prost(sint64, tag = "8")]
        Sint64(i64),
        #[prost(bool, tag = "13")]
        Bool(bool),
        #[prost(string, tag = "14")]
        String(String),
        #[prost(bytes = "vec", tag = "15")]
        Bytes(Vec<u8>),
    }
}

// ---- recorddict.proto ----

/// `flwr.proto.DoubleList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DoubleList {
    #[prost(double, repeated, tag = "1")]
    pub vals: Vec<f64>,
}

/// `flwr.proto.SintList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SintList {
    #[prost(sint64, repeated, tag = "1")]
    pub vals: Vec<i64>,
}

/// `flwr.proto.UintList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UintList {
    #[prost(uint64, repeated, tag = "1")]
    pub vals: Vec<u64>,
}

/// `flwr.proto.BoolList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct BoolList {
    #[prost(bool, repeated, tag = "1")]
    pub vals: Vec<bool>,
}

/// `flwr.proto.StringList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringList {
    #[prost(string, repeated, tag = "1")]
    pub vals: Vec<String>,
}

/// `flwr.proto.BytesList`
#[derive(Clone, PartialEq, prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub vals: Vec<Vec<u8>>,
}

/// `flwr.proto.MetricRecordValue`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricRecordValue {
    #[prost(oneof = "metric_record_value::Value", tags = "1, 2, 3, 21, 22, 23")]
    pub value: Option<metric_record_value::Value>,
}

/// Oneof of [`MetricRecordValue`].
pub mod metric_record_value {
    /// `flwr.proto.MetricRecordValue.value`
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(double, tag = "1")]
        Double(f64),
        #[prost(sint64, tag = "2")]
        Sint64(i64),
        #[prost(uint64, tag = "3")]
        Uint64(u64),
        #[prost(message, tag = "21")]
        DoubleList(super::DoubleList),
        #[prost(message, tag = "22")]
        SintList(super::SintList),
        #[prost(message, tag = "23")]
        UintList(super::UintList),
    }
}

/// `flwr.proto.ConfigRecordValue`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigRecordValue {
    #[prost(
        oneof = "config_record_value::Value",
        tags = "1, 2, 3, 4, 5, 6, 21, 22, 23, 24, 25, 26"
    )]
    pub value: Option<config_record_value::Value>,
}

/// Oneof of [`ConfigRecordValue`].
pub mod config_record_value {
    /// `flwr.proto.ConfigRecordValue.value`
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(double, tag = "1")]
        Double(f64),
        #[prost(sint64, tag = "2")]
        Sint64(i64),
        #[prost(uint64, tag = "3")]
        Uint64(u64),
        #[prost(bool, tag = "4")]
        Bool(bool),
        #[prost(string, tag = "5")]
        String(String),
        #[prost(bytes = "vec", tag = "6")]
        Bytes(Vec<u8>),
        #[prost(message, tag = "21")]
        DoubleList(super::DoubleList),
        #[prost(message, tag = "22")]
        SintList(super::SintList),
        #[prost(message, tag = "23")]
        UintList(super::UintList),
        #[prost(message, tag = "24")]
        BoolList(super::BoolList),
        #[prost(message, tag = "25")]
        StringList(super::StringList),
        #[prost(message, tag = "26")]
        BytesList(super::BytesList),
    }
}

/// `flwr.proto.MetricRecord`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricRecord {
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<MetricRecordItem>,
}

/// `flwr.proto.MetricRecord.Item`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricRecordItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<MetricRecordValue>,
}

/// `flwr.proto.ConfigRecord`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigRecord {
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<ConfigRecordItem>,
}

/// `flwr.proto.ConfigRecord.Item`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigRecordItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<ConfigRecordValue>,
}

/// `flwr.proto.RecordDict`. Content travels as objects; the node only ever sends it empty.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecordDict {
    #[prost(message, repeated, tag = "1")]
    pub items: Vec<RecordDictItem>,
}

/// `flwr.proto.RecordDict.Item` with its record oneof left opaque: a node never receives inline
/// records in 1.4x (content travels as objects), so the record bodies are skipped when decoding.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecordDictItem {
    #[prost(string, tag = "1")]
    pub key: String,
}
