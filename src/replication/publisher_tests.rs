//! Unit tests of `publisher`.

use super::*;

#[test]
fn only_errors_repeating_cannot_fix_give_up() {
    use RDKafkaErrorCode::*;
    for (code, expected) in [
        (QueueFull, Failure::Retry),
        (MessageTimedOut, Failure::Retry),
        (NotLeaderForPartition, Failure::Retry),
        (MessageSizeTooLarge, Failure::GiveUp),
        (TopicAuthorizationFailed, Failure::GiveUp),
    ] {
        let error = KafkaError::MessageProduction(code);
        assert_eq!(classify(&error), expected, "{code:?}");
    }
}
