//! Unit tests of `broker`.

use super::*;

fn id(n: u8) -> Option<TopicId> {
    Some(TopicId([n; 16]))
}

#[test]
fn the_epoch_moves_on_when_the_broker_or_a_topic_changes_and_only_then() {
    let broker = Broker::default();
    let topics = Topics {
        state: id(1),
        config: id(2),
    };
    assert_eq!(broker.wait_up(Duration::ZERO), None);
    broker.up(topics);
    let (first, seen) = broker.wait_up(Duration::ZERO).unwrap();
    assert_eq!(seen, topics);
    broker.up(topics);
    assert_eq!(
        broker.epoch(),
        first,
        "the same answer again changes nothing"
    );
    broker.down();
    broker.down();
    assert_eq!(broker.epoch(), first + 1);
    broker.up(topics);
    assert_eq!(broker.epoch(), first + 2);
    broker.up(Topics {
        state: id(3),
        ..topics
    });
    assert_eq!(
        broker.epoch(),
        first + 3,
        "a re-created topic is a new epoch"
    );
}
