//! Sorting producer errors: retriable, final, unknown (STYLE.md "The exporter sorts its
//! errors"). Pure: an error code in, a class out; the table is tested below.

use rdkafka::types::RDKafkaErrorCode as C;

/// What a failed delivery means for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The cluster was unreachable or busy for longer than `message_timeout_ms` (broker
    /// down, leader election, too few replicas). More buffer or time would have helped.
    Retriable,
    /// The record can never be accepted as it is (too large, not authorised, invalid topic,
    /// producer fenced). Retrying is useless; the config or the cluster must change.
    Final,
    /// An error code not listed here.
    Unknown,
    /// The record was purged at shutdown after `flush_timeout_ms`: its fate is not known.
    Shutdown,
}

impl ErrorClass {
    /// The counter key in `ExportStats::delivery_failed` (and in log lines).
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Retriable => "retriable",
            ErrorClass::Final => "final",
            ErrorClass::Unknown => "unknown",
            ErrorClass::Shutdown => "undelivered_at_shutdown",
        }
    }
}

/// The class of an error code reported for one record (delivery report or `send`).
pub fn classify(code: C) -> ErrorClass {
    match code {
        C::PurgeQueue | C::PurgeInflight => ErrorClass::Shutdown,
        // The record itself is refused.
        C::MessageSizeTooLarge
        | C::MessageBatchTooLarge
        | C::InvalidMessageSize
        | C::InvalidMessage
        | C::BadMessage
        | C::InvalidRecord
        | C::InvalidTimestamp
        | C::BadCompression
        | C::UnsupportedCompressionType
        | C::UnsupportedForMessageFormat
        | C::KeySerialization
        | C::ValueSerialization
        | C::InvalidArgument
        | C::PolicyViolation
        // Where it goes does not exist or cannot exist.
        | C::InvalidTopic
        | C::UnknownTopic
        | C::UnknownPartition
        | C::TopicDeletionDisabled
        // Reported only after `topic.metadata.propagation.max.ms`: the topic does not exist
        // and the cluster does not create it.
        | C::UnknownTopicOrPartition
        // Not allowed.
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::UnsupportedSASLMechanism
        | C::IllegalSASLState
        | C::SecurityDisabled
        // The producer can no longer produce (idempotence guarantees were broken).
        | C::Fatal
        | C::Fenced
        | C::ProducerFenced
        | C::InvalidProducerEpoch
        | C::InvalidProducerIdMapping
        | C::OutOfOrderSequenceNumber
        | C::UnknownProducerId
        | C::InvalidRequiredAcks
        | C::UnsupportedVersion
        | C::UnsupportedFeature => ErrorClass::Final,
        // The cluster was unavailable or slow until the record timed out.
        C::MessageTimedOut
        | C::TimedOutQueue
        | C::RequestTimedOut
        | C::OperationTimedOut
        | C::QueueFull
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::ISRInsufficient
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::PreferredLeaderNotAvailable
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::NetworkException
        | C::BrokerNotAvailable
        | C::ReplicaNotAvailable
        | C::AllBrokersDown
        | C::BrokerTransportFailure
        | C::Resolve
        | C::KafkaStorageError
        | C::NotController
        | C::ThrottlingQuotaExceeded
        | C::Retry
        | C::Interrupted => ErrorClass::Retriable,
        _ => ErrorClass::Unknown,
    }
}

/// Why `send` refused a record before queueing it: the `ExportStats::dropped` key.
pub fn drop_reason(code: C) -> &'static str {
    match code {
        C::QueueFull => "queue_full",
        C::MessageSizeTooLarge => "message_too_large",
        C::UnknownTopic | C::UnknownPartition | C::InvalidTopic => "unknown_topic",
        C::Fatal => "producer_fatal",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_the_documented_codes() {
        let table = [
            (C::MessageSizeTooLarge, ErrorClass::Final),
            (C::TopicAuthorizationFailed, ErrorClass::Final),
            (C::ClusterAuthorizationFailed, ErrorClass::Final),
            (C::SaslAuthenticationFailed, ErrorClass::Final),
            (C::InvalidRecord, ErrorClass::Final),
            (C::Fatal, ErrorClass::Final),
            (C::MessageTimedOut, ErrorClass::Retriable),
            (C::NotEnoughReplicas, ErrorClass::Retriable),
            (C::LeaderNotAvailable, ErrorClass::Retriable),
            (C::NetworkException, ErrorClass::Retriable),
            (C::RequestTimedOut, ErrorClass::Retriable),
            (C::AllBrokersDown, ErrorClass::Retriable),
            (C::PurgeQueue, ErrorClass::Shutdown),
            (C::PurgeInflight, ErrorClass::Shutdown),
            (C::CoordinatorLoadInProgress, ErrorClass::Unknown),
        ];
        for (code, class) in table {
            assert_eq!(classify(code), class, "{code:?}");
        }
    }

    #[test]
    fn drop_reasons() {
        assert_eq!(drop_reason(C::QueueFull), "queue_full");
        assert_eq!(drop_reason(C::MessageSizeTooLarge), "message_too_large");
        assert_eq!(drop_reason(C::Fatal), "producer_fatal");
        assert_eq!(drop_reason(C::Conflict), "other");
    }
}
