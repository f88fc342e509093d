//! Between the relay's events and the engine's inputs and outputs: unicast
//! parameter objects with the keys JS gives each event (their order does
//! not matter to JS receivers).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::meld::{Input, Params};
use crate::relay::{PeerEvent, UnicastKind};

/// The engine input for a relay event, or `None` for a malformed one.
pub(super) fn input_of(event: PeerEvent) -> Option<Input> {
    Some(match event {
        PeerEvent::Presence(ids) => Input::Presence(ids),
        PeerEvent::Operation(payload) => Input::Operation(payload.to_vec()),
        PeerEvent::Unicast { event, params, payload } => {
            let params = params_of(&params)?;
            let payload = payload.to_vec();
            match event {
                "send" => Input::Send(params, payload),
                "reply" => Input::Reply(params, payload),
                "notify" => Input::Notify(params, payload),
                _ => return None,
            }
        }
    })
}

fn params_of(json: &Value) -> Option<Params> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(Params {
        from_id: text("fromId")?,
        to_id: text("toId")?,
        message_id: text("messageId"),
        sent_message_id: text("sentMessageId"),
        channel_id: text("channelId"),
    })
}

/// The params object of an outgoing unicast: `send` `{fromId, toId,
/// messageId}`, `reply` `{…, sentMessageId}`, `notify` `{toId, fromId,
/// channelId}`.
pub(super) fn json_of(kind: UnicastKind, params: &Params) -> Value {
    let mut o = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.to_owned(), Value::String(v.clone()));
        }
    };
    let (from, to) = (Some(params.from_id.clone()), Some(params.to_id.clone()));
    match kind {
        UnicastKind::Notify => {
            put("toId", &to);
            put("fromId", &from);
            put("channelId", &params.channel_id);
        }
        UnicastKind::Send | UnicastKind::Reply => {
            put("fromId", &from);
            put("toId", &to);
            put("messageId", &params.message_id);
            put("sentMessageId", &params.sent_message_id);
        }
    }
    Value::Object(o)
}

/// Payload bytes for the relay.
pub(super) fn bytes(payload: Vec<u8>) -> Bytes {
    Bytes::from(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_round_trip_in_js_order() {
        let json = json!({"fromId": "a", "toId": "b", "messageId": "m", "sentMessageId": "s"});
        let Some(Input::Reply(params, payload)) =
            input_of(PeerEvent::Unicast { event: "reply", params: json.clone(), payload: Bytes::from_static(b"\xc0") })
        else {
            panic!("not a reply")
        };
        assert_eq!(payload, b"\xc0");
        assert_eq!(json_of(UnicastKind::Reply, &params), json);
        let notify =
            Params { from_id: "a".into(), to_id: "b".into(), channel_id: Some("c".into()), ..Default::default() };
        assert_eq!(json_of(UnicastKind::Notify, &notify), json!({"toId": "b", "fromId": "a", "channelId": "c"}));
        assert!(
            input_of(PeerEvent::Unicast { event: "send", params: json!({"toId": "b"}), payload: Bytes::new() })
                .is_none()
        );
    }
}
